// Shared drawing helpers of sibyl's MCP Apps views (no network, inline SVG).
var SIBYL = window.SIBYL || (window.SIBYL = {views: {}});
SIBYL.NS = "http://www.w3.org/2000/svg";
SIBYL.el = function (parent, name, attrs, text) {
  var e = document.createElementNS(SIBYL.NS, name);
  for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
};
SIBYL.html = function (parent, name, attrs, text) {
  var e = document.createElement(name);
  for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
};
SIBYL.scale = function (d0, d1, r0, r1) {
  if (d1 === d0) d1 = d0 + 1;
  return function (v) { return r0 + (v - d0) * (r1 - r0) / (d1 - d0); };
};
// ticks returns about n round values covering [lo, hi].
SIBYL.ticks = function (lo, hi, n) {
  var span = hi - lo || 1, step = Math.pow(10, Math.floor(Math.log10(span / n))), err = span / n / step;
  if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
  var out = [];
  for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
};
SIBYL.usd = function (v) {
  var a = Math.abs(v), s = v < 0 ? "-$" : "$";
  if (a >= 1e6) return s + (a / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
  if (a >= 1e4) return s + (a / 1e3).toFixed(0) + "k";
  return s + a.toLocaleString("en-US", {maximumFractionDigits: a < 10 ? 2 : 0});
};
SIBYL.num = function (v, d) { return (+v).toLocaleString("en-US", {maximumFractionDigits: d === undefined ? 2 : d}); };
SIBYL.message = function (root, text, isError) {
  root.textContent = "";
  SIBYL.html(root, "div", {"class": "msg" + (isError ? " error" : ""), role: "status"}, text);
};
// payload returns the structured answer of a CallToolResult, or an error text.
SIBYL.payload = function (result) {
  if (!result || typeof result !== "object") return {error: "No tool result was handed to this view."};
  var text = "";
  (result.content || []).forEach(function (c) { if (c && c.type === "text" && !text) text = c.text; });
  var data = result.structuredContent;
  if (!data && text) { try { data = JSON.parse(text); } catch (e) { data = null; } }
  if (result.isError) {
    var m = data && data.error && data.error.message ? data.error.message : (text || "the tool failed");
    return {error: "The tool answered with an error: " + m};
  }
  if (!data || typeof data !== "object") return {error: "The tool result carries no data to draw."};
  return {data: data};
};
// frame draws axes and grid; returns {svg, x, y, plot}.
SIBYL.frame = function (parent, o) {
  var W = 720, H = o.height || 340, m = {l: 64, r: 16, t: 14, b: 40};
  var svg = SIBYL.el(parent, "svg", {viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": o.label || "chart"});
  var x = SIBYL.scale(o.x0, o.x1, m.l, W - m.r), y = SIBYL.scale(o.y0, o.y1, H - m.b, m.t);
  var g = SIBYL.el(svg, "g", {"class": "grid axis"});
  SIBYL.ticks(o.y0, o.y1, 5).forEach(function (v) {
    SIBYL.el(g, "line", {x1: m.l, x2: W - m.r, y1: y(v), y2: y(v)});
    SIBYL.el(g, "text", {x: m.l - 6, y: y(v) + 4, "text-anchor": "end"}, o.yfmt(v));
  });
  (o.xticks || SIBYL.ticks(o.x0, o.x1, 7)).forEach(function (v) {
    SIBYL.el(g, "text", {x: x(v), y: H - m.b + 16, "text-anchor": "middle"}, o.xfmt(v));
  });
  if (o.xlabel) SIBYL.el(svg, "text", {x: (m.l + W - m.r) / 2, y: H - 6, "text-anchor": "middle", "class": "muted"}, o.xlabel);
  return {svg: svg, x: x, y: y, W: W, H: H, m: m};
};
SIBYL.legend = function (parent, items) {
  var d = SIBYL.html(parent, "div", {"class": "legend"});
  items.forEach(function (it) {
    var s = SIBYL.html(d, "span");
    SIBYL.html(s, "i", {style: "background:" + it[1]});
    s.appendChild(document.createTextNode(it[0]));
  });
};
SIBYL.table = function (parent, head, rows) {
  var t = SIBYL.html(parent, "table"), tr = SIBYL.html(t, "tr");
  head.forEach(function (h) { SIBYL.html(tr, "th", {}, h); });
  rows.forEach(function (r) {
    var row = SIBYL.html(t, "tr");
    r.forEach(function (c) { SIBYL.html(row, "td", {}, String(c)); });
  });
  return t;
};
