// A small MCP Apps (SEP-1865) view-side bridge: JSON-RPC 2.0 over postMessage
// with the host. It sends ui/initialize, applies the host's theme, answers
// ui/resource-teardown, draws each ui/notifications/tool-result and reports
// its size with ui/notifications/size-changed.
(function () {
  var root = document.getElementById("app"), nextId = 1, pending = {};
  var host = window.parent && window.parent !== window ? window.parent : null;
  function send(msg) { if (host) host.postMessage(msg, "*"); }
  function request(method, params) {
    var id = nextId++;
    send({jsonrpc: "2.0", id: id, method: method, params: params});
    return new Promise(function (resolve, reject) { pending[id] = {resolve: resolve, reject: reject}; });
  }
  function notify(method, params) { send({jsonrpc: "2.0", method: method, params: params || {}}); }
  function theme(ctx) {
    if (ctx && (ctx.theme === "dark" || ctx.theme === "light")) document.documentElement.setAttribute("data-theme", ctx.theme);
  }
  var lastSize = "";
  function reportSize() {
    var w = Math.ceil(document.documentElement.scrollWidth), h = Math.ceil(document.documentElement.scrollHeight);
    if (w + "x" + h === lastSize) return;
    lastSize = w + "x" + h;
    notify("ui/notifications/size-changed", {width: w, height: h});
  }
  function draw(result) {
    var p = SIBYL.payload(result);
    if (p.error) SIBYL.message(root, p.error, true);
    else {
      root.textContent = "";
      try { SIBYL.views[SIBYL.view](root, p.data); }
      catch (e) { SIBYL.message(root, "This view could not draw the result: " + e.message, true); }
    }
    reportSize();
  }
  SIBYL.draw = draw;
  window.addEventListener("message", function (ev) {
    if (host && ev.source !== host) return;
    var m = ev.data;
    if (!m || m.jsonrpc !== "2.0") return;
    if (m.id !== undefined && !m.method) {
      var p = pending[m.id];
      if (p) { delete pending[m.id]; if (m.error) p.reject(m.error); else p.resolve(m.result); }
      return;
    }
    switch (m.method) {
      case "ui/notifications/tool-result": draw(m.params); break;
      case "ui/notifications/tool-input":
        if (root.getAttribute("data-state") === "waiting") SIBYL.message(root, "Waiting for the tool result…");
        break;
      case "ui/notifications/tool-cancelled": SIBYL.message(root, "The tool call was cancelled: nothing to draw.", true); reportSize(); break;
      case "ui/notifications/host-context-changed": theme(m.params); break;
      case "ui/resource-teardown": if (m.id !== undefined) send({jsonrpc: "2.0", id: m.id, result: {}}); break;
      default:
        if (m.id !== undefined) send({jsonrpc: "2.0", id: m.id, error: {code: -32601, message: "method not found: " + m.method}});
    }
  });
  if (!host) { SIBYL.message(root, "This view is shown by an MCP Apps host next to the tool's answer; opened on its own it has no data."); return; }
  request("ui/initialize", {protocolVersion: "2026-01-26", appInfo: {name: "sibyl-" + SIBYL.view, version: "1"}, appCapabilities: {}})
    .then(function (res) { theme(res && res.hostContext); notify("ui/notifications/initialized"); reportSize(); },
          function (err) { SIBYL.message(root, "The host refused to initialize this view: " + (err && err.message), true); });
  if (window.ResizeObserver) new ResizeObserver(reportSize).observe(document.documentElement);
})();
