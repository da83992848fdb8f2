// get_orderbook: cumulative depth of both sides with the mid and the spread.
SIBYL.views.orderbook = function (root, d) {
  var bids = (d.bids || []).slice().sort(function (a, b) { return b.price - a.price; });
  var asks = (d.asks || []).slice().sort(function (a, b) { return a.price - b.price; });
  if (!bids.length && !asks.length) { SIBYL.message(root, "The order book of " + (d.market || "this market") + " is empty: no bids and no asks to draw.", true); return; }
  function cum(levels) { var t = 0; return levels.map(function (l) { t += +l.size; return {p: +l.price, s: t}; }); }
  var cb = cum(bids), ca = cum(asks);
  var all = cb.concat(ca), ps = all.map(function (l) { return l.p; });
  var tick = +d.tick_size || 0.01;
  var x0 = Math.max(0, Math.min.apply(null, ps) - tick), x1 = Math.min(1, Math.max.apply(null, ps) + tick);
  // Around the mid: a far-off level (a stray $0.01 bid) would squeeze the
  // book into a corner; levels beyond the window are drawn at its edge.
  var m0 = d.mid !== undefined ? +d.mid : (bids.length && asks.length ? (bids[0].price + asks[0].price) / 2 : undefined);
  if (m0 !== undefined) {
    var near = cb.slice(0, 5).concat(ca.slice(0, 5)).map(function (l) { return Math.abs(l.p - m0); });
    var win = Math.max(tick * 3, Math.max.apply(null, near) * 1.6);
    x0 = Math.max(x0, m0 - win); x1 = Math.min(x1, m0 + win);
  }
  function clampX(p) { return Math.max(x0, Math.min(x1, p)); }
  var ymax = Math.max.apply(null, all.map(function (l) { return l.s; }));
  SIBYL.html(root, "h2", {}, "Order book: " + (d.market || "") + (d.outcome ? " · " + d.outcome : ""));
  var sub = [];
  if (d.mid !== undefined) sub.push("mid $" + SIBYL.num(d.mid, 4));
  if (d.spread !== undefined) sub.push("spread $" + SIBYL.num(d.spread, 4));
  if (d.last !== undefined) sub.push("last $" + SIBYL.num(d.last, 4));
  if (d.simulated) sub.push("simulated");
  SIBYL.html(root, "p", {"class": "sub"}, sub.join(" · "));
  SIBYL.legend(root, [["bids (cumulative)", "var(--good)"], ["asks (cumulative)", "var(--bad)"], ["mid", "var(--fg)"]]);
  var f = SIBYL.frame(root, {x0: x0, x1: x1, y0: 0, y1: ymax * 1.08, height: 300, label: "order book depth",
    xfmt: function (v) { return "$" + v.toFixed(2); }, yfmt: function (v) { return SIBYL.num(v, 0); }, xlabel: "price per contract (contracts available at that price or better)"});
  var x = f.x, y = f.y, base = y(0);
  function area(levels, toward) {
    if (!levels.length) return "";
    var s = "M" + x(clampX(levels[0].p)).toFixed(1) + "," + base, prevY = base;
    levels.forEach(function (l) { var px = x(clampX(l.p)).toFixed(1); s += "L" + px + "," + prevY.toFixed(1) + "L" + px + "," + y(l.s).toFixed(1); prevY = y(l.s); });
    s += "L" + x(toward).toFixed(1) + "," + prevY.toFixed(1) + "L" + x(toward).toFixed(1) + "," + base + "Z";
    return s;
  }
  SIBYL.el(f.svg, "path", {"class": "bids", d: area(cb, x0)});
  SIBYL.el(f.svg, "path", {"class": "asks", d: area(ca, x1)});
  var mid = d.mid !== undefined ? +d.mid : (bids.length && asks.length ? (bids[0].price + asks[0].price) / 2 : undefined);
  if (mid !== undefined) {
    SIBYL.el(f.svg, "line", {"class": "mid", x1: x(mid), x2: x(mid), y1: f.m.t, y2: base});
    SIBYL.el(f.svg, "text", {x: x(mid), y: f.m.t + 10, "text-anchor": "middle"}, "mid $" + SIBYL.num(mid, 4));
    if (bids.length && asks.length)
      SIBYL.el(f.svg, "text", {"class": "spread", x: x(mid), y: f.m.t + 24, "text-anchor": "middle"}, "spread $" + SIBYL.num(asks[0].price - bids[0].price, 4));
  }
  var rows = [], n = Math.max(bids.length, asks.length);
  for (var i = 0; i < n; i++) {
    var b = bids[i], a = asks[i];
    rows.push([b ? SIBYL.num(b.size, 0) : "", b ? "$" + SIBYL.num(b.price, 4) : "", a ? "$" + SIBYL.num(a.price, 4) : "", a ? SIBYL.num(a.size, 0) : ""]);
  }
  SIBYL.table(root, ["bid size", "bid", "ask", "ask size"], rows);
};
