// get_token_grade: the components as bars (score 0-100) with the grades.
SIBYL.views.grade = function (root, d) {
  var comps = d.components || [];
  if (!comps.length) { SIBYL.message(root, "The grade of " + (d.symbol || "this token") + " has no components to draw.", true); return; }
  SIBYL.html(root, "h2", {}, "Grades of " + (d.symbol || "") + (d.as_of ? " on " + d.as_of : ""));
  var g = SIBYL.html(root, "div", {"class": "grades"});
  [["Trader Grade", d.trader_grade], ["Investor Grade", d.investor_grade]].forEach(function (p) {
    if (p[1] === undefined || p[1] === null) return;
    var b = SIBYL.html(g, "div", {"class": "grade"});
    b.appendChild(document.createTextNode(p[0] + " "));
    SIBYL.html(b, "b", {}, SIBYL.num(p[1], 1));
    b.appendChild(document.createTextNode(" / 100"));
  });
  if (d.signal) { var s = SIBYL.html(g, "div", {}); s.appendChild(document.createTextNode("signal ")); SIBYL.html(s, "b", {}, d.signal); }
  if (d.explanation) SIBYL.html(root, "p", {"class": "sub"}, d.explanation);
  var rowH = 22, W = 720, L = 210, R = 110, top = 8, groups = {}, order = [];
  comps.forEach(function (c) { var k = c.grade || "grade"; if (!groups[k]) { groups[k] = []; order.push(k); } groups[k].push(c); });
  var H = top + order.length * 22 + comps.length * rowH + 24;
  var svg = SIBYL.el(root, "svg", {viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "grade components"});
  var x = SIBYL.scale(0, 100, L, W - R), yy = top;
  [0, 25, 50, 75, 100].forEach(function (v) {
    SIBYL.el(svg, "line", {x1: x(v), x2: x(v), y1: top, y2: H - 20, stroke: "var(--grid)"});
    SIBYL.el(svg, "text", {x: x(v), y: H - 6, "text-anchor": "middle", "class": "muted"}, String(v));
  });
  order.forEach(function (k) {
    SIBYL.el(svg, "text", {x: 4, y: yy + 14, "font-weight": "600"}, k.charAt(0).toUpperCase() + k.slice(1) + " components");
    yy += 22;
    groups[k].forEach(function (c) {
      var sc = Math.max(0, Math.min(100, +c.score)), w = +c.weight || 0;
      SIBYL.el(svg, "text", {x: 12, y: yy + 14, "class": w ? "" : "muted"}, c.name);
      SIBYL.el(svg, "rect", {"class": "track", x: x(0), y: yy + 3, width: x(100) - x(0), height: rowH - 8, rx: 2});
      var bar = SIBYL.el(svg, "rect", {"class": "bar" + (sc < 35 ? " low" : sc > 65 ? " high" : ""), x: x(0), y: yy + 3, width: x(sc) - x(0), height: rowH - 8, rx: 2, opacity: w ? 1 : 0.45});
      SIBYL.el(bar, "title", {}, c.name + ": " + (c.description || "") + " (value " + c.value + " " + (c.unit || "") + ")");
      SIBYL.el(svg, "text", {x: W - R + 6, y: yy + 14}, SIBYL.num(sc, 1) + "  w " + SIBYL.num(w, 3));
      yy += rowH;
    });
  });
  SIBYL.html(root, "p", {"class": "sub"}, "Bars are each component's score (0-100); faded bars carry no weight in the grade." +
    (d.source ? " Source: " + d.source + "." : "") + (d.simulated ? " Simulated data." : ""));
  SIBYL.gradeHistory(root, d);
};

// gradeHistory draws the trader and investor grades over the days before
// as_of (get_token_grade with history_days) and as_of itself, when there are
// at least two days to draw.
SIBYL.gradeHistory = function (root, d) {
  var pts = (d.history || []).concat(d.as_of ? [{as_of: d.as_of, trader_grade: d.trader_grade, investor_grade: d.investor_grade}] : [])
    .map(function (p) { return {t: Date.parse(p.as_of + "T00:00:00Z"), tg: p.trader_grade, ig: p.investor_grade}; })
    .filter(function (p) { return !isNaN(p.t) && typeof p.tg === "number" && typeof p.ig === "number"; });
  if (pts.length < 2) return;
  SIBYL.html(root, "h3", {}, "Grades over the last " + pts.length + " days");
  SIBYL.legend(root, [["Trader Grade", "var(--accent)"], ["Investor Grade", "var(--good)"]]);
  var t0 = pts[0].t, t1 = pts[pts.length - 1].t, day = 864e5, step = Math.max(1, Math.ceil((t1 - t0) / day / 7)) * day, xticks = [];
  for (var v = t0; v <= t1; v += step) xticks.push(v);
  var f = SIBYL.frame(root, {x0: t0, x1: t1, xticks: xticks, y0: 0, y1: 100, height: 240, label: "grades over time",
    xfmt: function (v) { return new Date(v).toISOString().slice(5, 10); }, yfmt: function (v) { return String(v); }, xlabel: "day (UTC)"});
  [["traderline", "tg", "var(--accent)"], ["investorline", "ig", "var(--good)"]].forEach(function (l) {
    var s = "";
    pts.forEach(function (p, i) { s += (i ? "L" : "M") + f.x(p.t).toFixed(1) + "," + f.y(p[l[1]]).toFixed(1); });
    SIBYL.el(f.svg, "path", {"class": l[0], d: s, fill: "none", stroke: l[2], "stroke-width": 2});
  });
};
