// Computes reference indicator values with the npm package technicalindicators
// (version pinned below) for a fixed synthetic OHLC series, and prints JSON.
// Run once:  npm install technicalindicators@3.1.0 && node gen_reference.js > reference_technicalindicators.json
const ti = require('technicalindicators');
const version = require('technicalindicators/package.json').version;

// Deterministic synthetic series: a seeded LCG random walk with a cycle.
let seed = 42;
function rnd() { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; }
const n = 300, open = [], high = [], low = [], close = [], volume = [];
let p = 100;
for (let i = 0; i < n; i++) {
  const o = p;
  p = p * (1 + (rnd() - 0.5) * 0.08 + 0.01 * Math.sin(i / 15));
  const c = Math.round(p * 100) / 100;
  const h = Math.round((Math.max(o, c) * (1 + rnd() * 0.03)) * 100) / 100;
  const l = Math.round((Math.min(o, c) * (1 - rnd() * 0.03)) * 100) / 100;
  open.push(Math.round(o * 100) / 100); high.push(h); low.push(l); close.push(c);
  volume.push(Math.round(1000 + rnd() * 9000));
  p = c;
}
const raw = v => v;
const out = {
  source: `npm technicalindicators@${version} (https://www.npmjs.com/package/technicalindicators), computed by gen_reference.js with number formatting off`,
  note: 'Outputs omit warm-up values: the last value of each output aligns with the last input bar.',
  input: { open, high, low, close, volume },
  sma20: ti.SMA.calculate({ period: 20, values: close, format: raw }),
  ema20: ti.EMA.calculate({ period: 20, values: close, format: raw }),
  wma9: ti.WMA.calculate({ period: 9, values: close, format: raw }),
  rsi14: ti.RSI.calculate({ period: 14, values: close, format: raw }),
  macd: ti.MACD.calculate({ values: close, fastPeriod: 12, slowPeriod: 26, signalPeriod: 9, SimpleMAOscillator: false, SimpleMASignal: false, format: raw }),
  atr14: ti.ATR.calculate({ high, low, close, period: 14, format: raw }),
  roc10: ti.ROC.calculate({ period: 10, values: close, format: raw }),
  stoch14_3: ti.Stochastic.calculate({ high, low, close, period: 14, signalPeriod: 3, format: raw }),
  williamsr14: ti.WilliamsR.calculate({ high, low, close, period: 14, format: raw }),
  cci20: ti.CCI.calculate({ high, low, close, period: 20, format: raw }),
  adx14: ti.ADX.calculate({ high, low, close, period: 14, format: raw }),
  ao: ti.AwesomeOscillator.calculate({ high, low, fastPeriod: 5, slowPeriod: 34, format: raw }),
  sd20: ti.SD.calculate({ period: 20, values: close, format: raw }),
};
console.log(JSON.stringify(out));
