// get_market_history: the market's implied probability as a line over time.
SIBYL.views.history = function (root, d) {
  var pts = (d.points || []).map(function (p) { return {t: Date.parse(p.time), p: p.implied_probability}; })
    .filter(function (p) { return !isNaN(p.t); });
  var known = pts.filter(function (p) { return typeof p.p === "number"; });
  if (!known.length) { SIBYL.message(root, "No probability is known for " + (d.market || "this market") + " in this period: nothing to draw.", true); return; }
  var t0 = pts[0].t, t1 = pts[pts.length - 1].t;
  var lo = Math.min.apply(null, known.map(function (p) { return p.p; })), hi = Math.max.apply(null, known.map(function (p) { return p.p; }));
  var pad = Math.max(0.02, (hi - lo) * 0.15);
  SIBYL.html(root, "h2", {}, "Probability: " + (d.market || "") + (d.outcome ? " · " + d.outcome : ""));
  var last = known[known.length - 1], first = known[0];
  SIBYL.html(root, "p", {"class": "sub"}, "now " + (last.p * 100).toFixed(1) + "% · " + ((last.p - first.p) * 100 >= 0 ? "+" : "") +
    ((last.p - first.p) * 100).toFixed(1) + " points over the period · " + known.length + " of " + pts.length + " points known" + (d.simulated ? " · simulated" : ""));
  var span = t1 - t0, day = 864e5;
  // Time ticks on UTC midnights (or whole hours for short spans).
  var hour = 36e5, steps = [hour, 2 * hour, 3 * hour, 6 * hour, 12 * hour, day, 2 * day, 7 * day, 14 * day, 30 * day], step = steps[steps.length - 1];
  for (var i = 0; i < steps.length; i++) if (span / steps[i] <= 8) { step = steps[i]; break; }
  var xticks = [];
  for (var v = Math.ceil(t0 / step) * step; v <= t1; v += step) xticks.push(v);
  var f = SIBYL.frame(root, {x0: t0, x1: t1, xticks: xticks, y0: Math.max(0, lo - pad), y1: Math.min(1, hi + pad), height: 300, label: "implied probability over time",
    xfmt: function (v) { var dt = new Date(v); return step >= day ? dt.toISOString().slice(5, 10) : dt.toISOString().slice(5, 16).replace("T", " "); },
    yfmt: function (v) { return (v * 100).toFixed(0) + "%"; }, xlabel: "time (UTC)"});
  var s = "", pen = false;
  pts.forEach(function (p) {
    if (typeof p.p !== "number") { pen = false; return; }
    s += (pen ? "L" : "M") + f.x(p.t).toFixed(1) + "," + f.y(p.p).toFixed(1); pen = true;
  });
  SIBYL.el(f.svg, "path", {"class": "prob", d: s});
  known.forEach(function (p) {
    var c = SIBYL.el(f.svg, "circle", {"class": "point", cx: f.x(p.t), cy: f.y(p.p), r: 2.5, fill: "var(--accent)"});
    SIBYL.el(c, "title", {}, new Date(p.t).toISOString().slice(0, 16).replace("T", " ") + ": " + (p.p * 100).toFixed(1) + "%");
  });
};
