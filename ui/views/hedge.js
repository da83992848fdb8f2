// hedge_position / plan_hedge: hedged and unhedged P&L against the token's
// price at expiry, the protection level, the strikes, the legs, the worst case.
SIBYL.views.hedge = function (root, d) {
  var legs = d.legs || [], sc = d.scenarios || [];
  if (!d.plan && d.legs === undefined && d.scenarios === undefined) {
    SIBYL.message(root, "This answer has no hedge plan to draw (no legs and no scenarios).", true); return;
  }
  if (!legs.length || !sc.length) { SIBYL.message(root, "The hedge has no legs or no scenarios: there is no payoff to draw.", true); return; }
  var q = +d.quantity, entry = +(d.entry_price || d.spot), cost = +d.total_cost || 0;
  function payoff(p) { var s = 0; legs.forEach(function (l) { if (p < +l.strike) s += +l.contracts; }); return s; }
  function unhedged(p) { return q * (p - entry); }
  function hedged(p) { return unhedged(p) + payoff(p) - cost; }
  var xs = sc.map(function (s) { return +s.price; });
  var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
  // Curve points: both sides of every strike, and the scenario prices.
  var pts = xs.slice();
  legs.forEach(function (l) { var k = +l.strike; if (k > x0 && k < x1) pts.push(k - 1e-6 * k, k); });
  pts.push(x0, x1); pts.sort(function (a, b) { return a - b; });
  var ys = [];
  pts.forEach(function (p) { ys.push(hedged(p), unhedged(p)); });
  sc.forEach(function (s) { ys.push(+s.hedged_pnl, +s.unhedged_pnl); });
  var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys), pad = (y1 - y0) * 0.08;
  SIBYL.html(root, "h2", {}, "Hedge: " + SIBYL.num(q, 8) + " " + (d.symbol || "") + " protected below " + SIBYL.usd(+d.protect_below));
  SIBYL.html(root, "p", {"class": "sub"}, legs.length + " legs expiring " + String(legs[0].expiry || d.expiry || "").slice(0, 10) +
    " · cost " + SIBYL.usd(cost) + " · worst hedged loss " + SIBYL.usd(-Math.abs(+d.max_loss)) + " at " + SIBYL.usd(+d.worst_price) +
    (d.simulated ? " · simulated" : ""));
  SIBYL.legend(root, [["unhedged P&L", "var(--bad)"], ["hedged P&L", "var(--good)"], ["protection level", "var(--warn)"], ["strikes", "var(--accent)"]]);
  var f = SIBYL.frame(root, {x0: x0, x1: x1, y0: y0 - pad, y1: y1 + pad, height: 360, label: "hedged and unhedged P&L against the price at expiry",
    xfmt: SIBYL.usd, yfmt: SIBYL.usd, xlabel: (d.symbol || "token") + " price at expiry"});
  var svg = f.svg, x = f.x, y = f.y;
  var strikes = {};
  legs.forEach(function (l) { strikes[+l.strike] = (strikes[+l.strike] || 0) + (+l.contracts); });
  Object.keys(strikes).forEach(function (k) {
    k = +k; if (k < x0 || k > x1) return;
    var g = SIBYL.el(svg, "g", {"class": "strike"});
    SIBYL.el(g, "line", {"class": "strike", x1: x(k), x2: x(k), y1: f.m.t, y2: f.H - f.m.b});
    SIBYL.el(g, "text", {x: x(k) + 3, y: f.m.t + 10, "class": "muted"}, "K " + SIBYL.usd(k));
  });
  if (y0 < 0 && y1 > 0) SIBYL.el(svg, "line", {"class": "zero", x1: f.m.l, x2: f.W - f.m.r, y1: y(0), y2: y(0)});
  var pb = +d.protect_below;
  if (pb >= x0 && pb <= x1) {
    SIBYL.el(svg, "line", {"class": "protect", x1: x(pb), x2: x(pb), y1: f.m.t, y2: f.H - f.m.b});
    SIBYL.el(svg, "text", {x: x(pb) + 3, y: f.H - f.m.b - 6}, "protection " + SIBYL.usd(pb));
  }
  if (entry >= x0 && entry <= x1) {
    SIBYL.el(svg, "line", {"class": "spot", x1: x(entry), x2: x(entry), y1: f.m.t, y2: f.H - f.m.b});
    SIBYL.el(svg, "text", {x: x(entry) + 3, y: f.m.t + 24, "class": "muted"}, "spot " + SIBYL.usd(entry));
  }
  function path(fn) {
    var s = "";
    pts.forEach(function (p, i) { s += (i ? "L" : "M") + x(p).toFixed(1) + "," + y(fn(p)).toFixed(1); });
    return s;
  }
  SIBYL.el(svg, "path", {"class": "unhedged", d: path(unhedged)});
  SIBYL.el(svg, "path", {"class": "hedged", d: path(hedged)});
  sc.forEach(function (s) {
    var c = SIBYL.el(svg, "circle", {"class": "scenario", cx: x(+s.price), cy: y(+s.hedged_pnl), r: 3});
    SIBYL.el(c, "title", {}, SIBYL.usd(+s.price) + ": hedged " + SIBYL.usd(+s.hedged_pnl) + ", unhedged " + SIBYL.usd(+s.unhedged_pnl) + (s.label ? " (" + s.label + ")" : ""));
  });
  var wp = +d.worst_price, wl = -Math.abs(+d.max_loss);
  if (wp >= x0 && wp <= x1) {
    SIBYL.el(svg, "circle", {"class": "worst", cx: x(wp), cy: y(wl), r: 6});
    var right = x(wp) < f.W / 2;
    SIBYL.el(svg, "text", {"class": "worst-label", x: x(wp) + (right ? 10 : -10), y: y(wl) + 14, "text-anchor": right ? "start" : "end"},
      "worst case " + SIBYL.usd(wl) + " at " + SIBYL.usd(wp));
  }
  SIBYL.table(root, ["leg", "buy", "pays below", "contracts", "price", "cost"], legs.map(function (l) {
    return [l.market, l.outcome, SIBYL.usd(+l.strike), SIBYL.num(l.contracts, 0), "$" + SIBYL.num(l.price, 4), SIBYL.usd(+l.cost)];
  }));
};
