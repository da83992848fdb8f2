package grades

import (
	"math"
	"sort"

	"github.com/sibylmcp/sibyl"
)

// MinHistory is the fewest contiguous daily candles, ending at the grade's date,
// that a grade needs: the 200-day moving average and the 180-day components.
const MinHistory = 200

// Lookback is how many daily candles, ending at the grade's date, a grade reads.
// A grade depends on exactly these candles (and BTC's over the same days), so the
// Grader, Rank and the backtest all give the same number for the same day.
const Lookback = 250

// Grade names, usable as Rank's by.
const (
	ByTrader   = "trader"
	ByInvestor = "investor"
)

// componentSpec documents one component: its name, its grade, and how it turns
// its raw value into a 0-100 score.
type componentSpec struct {
	name, grade, unit, desc, label string
}

// The components, in the order they are reported. Each Score is 100*Phi(z) for a
// documented z (Phi is the standard normal CDF), so 50 is neutral, 84 is one
// "standard" unit bullish and 16 one unit bearish. sigma is the token's own daily
// log-return volatility over the last 90 days, which makes momentum comparable
// across tokens of different volatility.
var specs = []componentSpec{
	// Trader Grade: short-term momentum, technical and quantitative.
	{"momentum_7d", "trader", "sigma", "7-day log return divided by sigma*sqrt(7)", "7-day momentum"},
	{"momentum_30d", "trader", "sigma", "30-day log return divided by sigma*sqrt(30)", "30-day momentum"},
	{"trend_20_50", "trader", "sigma", "log(SMA20/SMA50) divided by sigma*sqrt(20)", "20/50-day trend"},
	{"rsi_14", "trader", "RSI", "14-day Wilder RSI; the score is the RSI itself (high = strong momentum)", "RSI"},
	{"macd_histogram", "trader", "sigma", "MACD(12,26,9) histogram divided by close*sigma", "MACD"},
	{"directional_14", "trader", "DI points", "+DI minus -DI of ADX(14), divided by 20", "directional movement"},
	{"relative_strength_btc_30d", "trader", "sigma", "30-day log return minus BTC's, divided by sigma*sqrt(30)", "30-day strength against BTC"},
	{"volume_trend", "trader", "log ratio", "log(7-day / 30-day mean volume), signed by the 7-day price move, divided by 0.5", "volume confirmation"},
	// Investor Grade: long-term trend, risk and liquidity (no fundamentals: see GRADES.md).
	{"trend_200", "investor", "sigma", "log(close/SMA200) divided by sigma*sqrt(100)", "position against the 200-day average"},
	{"trend_50_200", "investor", "sigma", "log(SMA50/SMA200) divided by sigma*sqrt(50)", "50/200-day trend"},
	{"momentum_180d", "investor", "sigma", "180-day log return divided by sigma*sqrt(180)", "180-day momentum"},
	{"relative_strength_btc_180d", "investor", "sigma", "180-day log return minus BTC's, divided by sigma*sqrt(180)", "180-day strength against BTC"},
	{"low_volatility", "investor", "annualised", "90-day realised volatility; z = (0.8 - vol)/0.3", "low volatility"},
	{"drawdown_180d", "investor", "fraction", "fall from the 180-day high; z = (drawdown + 0.3)/0.2", "distance from the 180-day high"},
	{"max_drawdown_180d", "investor", "fraction", "deepest fall within 180 days; z = (max drawdown + 0.5)/0.2", "worst 180-day drawdown"},
	{"liquidity", "investor", "log10 USD/day", "median daily dollar volume over 90 days; z = log10(USD) - 7.5", "liquidity"},
}

// ComponentNames returns every component's name, Trader components first, in the
// order grades list them. Each is a valid Rank key.
func ComponentNames() []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.name
	}
	return out
}

// RankKeys returns every valid Rank key: "trader", "investor", then the component
// names (a closed set, for a tool schema's enum).
func RankKeys() []string { return append([]string{ByTrader, ByInvestor}, ComponentNames()...) }

func phi(z float64) float64 { return 0.5 * (1 + math.Erf(z/math.Sqrt2)) }

// scoreOf maps z to 0-100, rounded to 0.1 so scores print and compare stably.
func scoreOf(z float64) float64 {
	if math.IsNaN(z) {
		return 50
	}
	return math.Round(1000*phi(z)) / 10
}

func last(x []float64) float64 { return x[len(x)-1] }

// rawComponents computes every component's raw value and z for a window of
// candles ending at the grade's day (at least MinHistory long) and BTC's candles
// over the same days (nil or misaligned: the BTC-relative components are neutral).
// Values and z for the i-th spec are at index i.
func rawComponents(c, btc []sibyl.Candle) (value, z []float64) {
	n := len(c)
	cl, hi, lo, vol := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i, k := range c {
		cl[i], hi[i], lo[i], vol[i] = k.Close, k.High, k.Low, k.Volume
	}
	// sigma and the low_volatility component both come from the last 90 daily
	// log returns: one standard deviation, daily for sigma, annualised for rv.
	sd := sampleStdDev(LogReturns(cl)[n-90:])
	rv := sd * math.Sqrt(365)
	sigma := max(sd, 1e-4) // a flat series (a stablecoin) must not divide by zero
	lr := func(k int) float64 { return math.Log(cl[n-1] / cl[n-1-k]) }
	var btcR30, btcR180 = math.NaN(), math.NaN()
	if len(btc) >= 181 && btc[len(btc)-1].Time.Equal(c[n-1].Time) {
		b := btc[len(btc)-1].Close
		btcR30 = math.Log(b / btc[len(btc)-31].Close)
		btcR180 = math.Log(b / btc[len(btc)-181].Close)
	}
	sma20, sma50, sma200 := last(SMA(cl, 20)), last(SMA(cl, 50)), last(SMA(cl, 200))
	_, _, hist := MACD(cl, 12, 26, 9)
	_, pdi, mdi := ADX(hi, lo, cl, 14)
	v7, v30 := last(SMA(vol, 7)), last(SMA(vol, 30))
	volTrend := 0.0
	if v7 > 0 && v30 > 0 {
		volTrend = math.Log(v7/v30) * sign(lr(7))
	}
	dd := last(Drawdown(cl[n-180:], 180))
	mdd := last(MaxDrawdown(cl[n-180:], 180))
	dv := make([]float64, 90)
	for i := range dv {
		dv[i] = cl[n-90+i] * vol[n-90+i]
	}
	liq := math.Log10(math.Max(median(dv), 1))
	rsi := last(RSI(cl, 14))

	value = []float64{
		lr(7), lr(30), math.Log(sma20 / sma50), rsi, last(hist) / cl[n-1], last(pdi) - last(mdi), lr(30) - btcR30, volTrend,
		math.Log(cl[n-1] / sma200), math.Log(sma50 / sma200), lr(180), lr(180) - btcR180, rv, dd, mdd, liq,
	}
	z = []float64{
		lr(7) / (sigma * math.Sqrt(7)),
		lr(30) / (sigma * math.Sqrt(30)),
		math.Log(sma20/sma50) / (sigma * math.Sqrt(20)),
		math.NaN(), // rsi: scored directly
		last(hist) / cl[n-1] / sigma,
		(last(pdi) - last(mdi)) / 20,
		(lr(30) - btcR30) / (sigma * math.Sqrt(30)),
		volTrend / 0.5,
		math.Log(cl[n-1]/sma200) / (sigma * math.Sqrt(100)),
		math.Log(sma50/sma200) / (sigma * math.Sqrt(50)),
		lr(180) / (sigma * math.Sqrt(180)),
		(lr(180) - btcR180) / (sigma * math.Sqrt(180)),
		(0.8 - rv) / 0.3,
		(dd + 0.3) / 0.2,
		(mdd + 0.5) / 0.2,
		liq - 7.5,
	}
	return value, z
}

// scores turns rawComponents' output into 0-100 scores.
func scores(value, z []float64) []float64 {
	out := make([]float64, len(z))
	for i := range z {
		if specs[i].name == "rsi_14" {
			out[i] = math.Round(10*value[i]) / 10
			continue
		}
		out[i] = scoreOf(z[i])
	}
	return out
}

func sign(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

func median(x []float64) float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
