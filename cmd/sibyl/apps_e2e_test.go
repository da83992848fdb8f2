package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sibylmcp/sibyl/mcp"
)

// These tests render sibyl's MCP Apps views and its /ui page in headless
// Chromium (Debian's chromium package; .ci/run installs it). They skip when
// chromium is missing, unless CI=true. SIBYL_SCREENSHOTS=DIR keeps the
// screenshots in DIR (the README's pictures are made with DIR=docs/img).

// chromiumBin finds Chromium or skips the test (fails it under CI=true).
func chromiumBin(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install chromium; scripts/install-tools.sh does it): CI=true needs it")
	}
	t.Skip("chromium is not installed (apt-get install chromium): skipping the headless browser tests")
	return ""
}

// consoleLine matches Chromium's log line for any console message of the
// page, uncaught exceptions included (with --enable-logging=stderr every
// level is logged as INFO:CONSOLE, so any message counts: the views and the
// page write none).
// sameOriginWarning is Chromium's own warning about the test host's
// allow-same-origin frame (used only to copy the drawn DOM out): not the view's.
const sameOriginWarning = "An iframe which has both allow-scripts and allow-same-origin for its sandbox attribute can escape its sandboxing."

var consoleLine = regexp.MustCompile(`:CONSOLE[:(]\d+|Uncaught `)

// runChromium loads u (a loopback URL) headless with flags and returns its
// stdout; it fails the test on a console error or an uncaught exception.
func runChromium(t *testing.T, bin, u string, flags ...string) string {
	t.Helper()
	if pu, err := url.Parse(u); err != nil || pu.Hostname() != "127.0.0.1" {
		t.Fatalf("only loopback URLs are loaded: %q", u)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0", "--virtual-time-budget=4000",
		"--hide-scrollbars"}, flags...)
	cmd := exec.CommandContext(ctx, bin, append(args, u)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", flags, err, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if consoleLine.MatchString(line) && !strings.Contains(line, sameOriginWarning) {
			t.Errorf("console message from the page (none expected): %s", line)
		}
	}
	return stdout.String()
}

// screenshot takes a PNG of u and returns its bytes; it keeps it in
// $SIBYL_SCREENSHOTS/name when that is set.
func screenshot(t *testing.T, bin, u, name string, w, h int) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	// The view's sandboxed (opaque-origin) frame would get a renderer process
	// of its own, and headless Chromium's virtual time does not wait for
	// another process: the screenshot could catch the view before the host
	// handed it the result. One process keeps the sandbox and the timing.
	runChromium(t, bin, u, "--screenshot="+out, fmt.Sprintf("--window-size=%d,%d", w, h),
		"--disable-site-isolation-trials", "--disable-features=site-per-process,IsolateOrigins")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if len(b) < 2000 || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s: not a PNG of a page (%d bytes)", name, len(b))
	}
	// A view still waiting for its result is one line of text on a blank
	// page (under 10 kB here); every drawn chart is over 30 kB.
	if len(b) < 20000 {
		t.Errorf("screenshot %s: %d bytes, too small for a drawn chart (the view may not have had its result yet)", name, len(b))
	}
	if dir := os.Getenv("SIBYL_SCREENSHOTS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// connect opens an official SDK client session on endpoint with token; with
// ui, the client declares the MCP Apps extension.
func appsConnect(ctx context.Context, t *testing.T, endpoint, token string, ui bool) *sdk.ClientSession {
	t.Helper()
	opts := &sdk.ClientOptions{}
	if ui {
		caps := &sdk.ClientCapabilities{}
		caps.AddExtension(mcp.UIExtension, map[string]any{"mimeTypes": []string{mcp.UIMimeType}})
		opts.Capabilities = caps
	}
	client := sdk.NewClient(&sdk.Implementation{Name: "apps-e2e", Version: "1"}, opts)
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{token: token, rt: http.DefaultTransport}}}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func appsCall(ctx context.Context, t *testing.T, cs *sdk.ClientSession, tool string, args map[string]any) (json.RawMessage, *sdk.CallToolResult) {
	t.Helper()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return b, res
}

// hostPage is a minimal MCP Apps host: it puts the view's HTML in a sandboxed
// frame, answers ui/initialize with the theme, sends the tool's input and
// result once the view says initialized, and copies the drawn DOM and the
// messages it saw into its own page for --dump-dom.
const hostPage = `<!doctype html><html><head><meta charset="utf-8"><style>
html,body{margin:0;background:%[4]s}iframe{width:100%%;height:700px;border:0;display:block}#dump,#log{display:none}</style></head><body>
<script type="application/json" id="view">%[1]s</script><script type="application/json" id="result">%[2]s</script>
<pre id="log"></pre><pre id="dump"></pre>
<script>
var f = document.createElement("iframe"), log = [], sent = false;
f.setAttribute("sandbox", %[5]q);
f.srcdoc = JSON.parse(document.getElementById("view").textContent);
document.body.insertBefore(f, document.body.firstChild);
function post(m) { f.contentWindow.postMessage(m, "*"); }
function dump() {
  document.getElementById("log").textContent = log.join(",");
  var app = f.contentDocument && f.contentDocument.getElementById("app");
  document.getElementById("dump").textContent = app ? app.outerHTML : "no #app";
}
window.addEventListener("message", function (ev) {
  if (ev.source !== f.contentWindow) return;
  var m = ev.data; log.push(m.method || ("response:" + m.id));
  if (m.method === "ui/initialize") {
    post({jsonrpc: "2.0", id: m.id, result: {protocolVersion: "2026-01-26", hostInfo: {name: "sibyl-test-host", version: "1"},
      hostCapabilities: {}, hostContext: {theme: %[3]q, displayMode: "inline"}}});
  } else if (m.method === "ui/notifications/initialized" && !sent) {
    sent = true;
    var result = JSON.parse(document.getElementById("result").textContent);
    post({jsonrpc: "2.0", method: "ui/notifications/tool-input", params: {arguments: {}}});
    post({jsonrpc: "2.0", method: "ui/notifications/tool-result", params: result});
    setTimeout(dump, 200);
  } else if (m.method === "ui/notifications/size-changed") {
    f.style.height = m.params.height + "px";
    if (sent) dump();
  }
});
</script></body></html>`

func scriptJSON(v any) string {
	b, err := json.Marshal(v) // escapes <, > and & as \u003c etc.
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestMCPAppsInChromium plays the MCP Apps host for each view with real
// tool results from a running sibyl, over HTTP with an API key, in headless
// Chromium; it checks the drawn SVG, the messages exchanged and that no
// console error occurred, and takes the screenshots.
func TestMCPAppsInChromium(t *testing.T) {
	bin := chromiumBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	data := t.TempDir()
	token, _ := makeKey(t, data, "read,trade")
	endpoint := startHTTPDir(t, data)
	cs := appsConnect(ctx, t, endpoint, token, true)

	// The views are linked from their tools and readable as ui:// resources.
	links := map[string]string{}
	tl, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tl.Tools {
		if ui, ok := tool.Meta["ui"].(map[string]any); ok {
			links[tool.Name], _ = ui["resourceUri"].(string)
		}
	}
	for tool, want := range map[string]string{"hedge_position": "ui://sibyl/hedge", "plan_hedge": "ui://sibyl/hedge",
		"get_orderbook": "ui://sibyl/orderbook", "get_token_grade": "ui://sibyl/grade", "get_market_history": "ui://sibyl/history"} {
		if links[tool] != want {
			t.Errorf("%s: _meta.ui.resourceUri = %q, want %q", tool, links[tool], want)
		}
	}
	views := map[string]string{}
	for _, uri := range []string{"ui://sibyl/hedge", "ui://sibyl/orderbook", "ui://sibyl/grade", "ui://sibyl/history"} {
		rr, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: uri})
		if err != nil {
			t.Fatalf("resources/read %s: %v", uri, err)
		}
		if len(rr.Contents) != 1 || rr.Contents[0].MIMEType != mcp.UIMimeType || !strings.HasPrefix(rr.Contents[0].Text, "<!doctype html>") {
			t.Fatalf("resources/read %s: %+v", uri, rr.Contents)
		}
		// The SVG namespace name is the only URL allowed (it is never fetched).
		if rest := strings.ReplaceAll(rr.Contents[0].Text, `"http://www.w3.org/2000/svg"`, ""); strings.Contains(rest, "http://") || strings.Contains(rest, "https://") {
			t.Errorf("%s refers to a network address; views must be self-contained", uri)
		}
		views[uri] = rr.Contents[0].Text
	}

	// Real tool results.
	_, spotRes := appsCall(ctx, t, cs, "get_spot_price", map[string]any{"symbol": "BTC"})
	spot, _ := spotRes.StructuredContent.(map[string]any)["price"].(float64)
	if spot <= 0 {
		t.Fatalf("get_spot_price: %s", text(spotRes))
	}
	by := time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
	hedge, hres := appsCall(ctx, t, cs, "hedge_position", map[string]any{"symbol": "BTC", "quantity": 1, "protect_below": float64(int(spot * 0.9)), "by": by})
	if hres.IsError {
		t.Fatalf("hedge_position: %s", text(hres))
	}
	_, sres := appsCall(ctx, t, cs, "search_markets", map[string]any{"query": "BTC above", "status": "open", "limit": 20})
	market := pickMarket(t, sres)
	book, _ := appsCall(ctx, t, cs, "get_orderbook", map[string]any{"market": market, "depth": 8})
	grade, _ := appsCall(ctx, t, cs, "get_token_grade", map[string]any{"symbol": "BTC", "history_days": 30})
	history, _ := appsCall(ctx, t, cs, "get_market_history", map[string]any{"market": market, "hours": 168, "points": 60})
	bad, bres := appsCall(ctx, t, cs, "get_token_grade", map[string]any{"symbol": "NOSUCHTOKEN"})
	if !bres.IsError {
		t.Fatalf("get_token_grade NOSUCHTOKEN: want an error result, got %s", text(bres))
	}

	type page struct{ view, result, theme string }
	pages := map[string]page{
		"hedge": {views["ui://sibyl/hedge"], string(hedge), "light"}, "hedge-dark": {views["ui://sibyl/hedge"], string(hedge), "dark"},
		"orderbook": {views["ui://sibyl/orderbook"], string(book), "light"},
		"history":   {views["ui://sibyl/history"], string(history), "light"},
		"grade":     {views["ui://sibyl/grade"], string(grade), "light"}, "grade-error": {views["ui://sibyl/grade"], string(bad), "light"},
	}
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := pages[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		bg := "#ffffff"
		if p.theme == "dark" {
			bg = "#0d1117"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// Screenshots run the view as hosts do, in a sandbox with scripts only;
		// to copy the drawn DOM out, the host needs the frame same-origin.
		sandbox := "allow-scripts"
		if r.URL.Query().Has("dump") {
			sandbox = "allow-scripts allow-same-origin"
		}
		fmt.Fprintf(w, hostPage, scriptJSON(p.view), p.result, p.theme, bg, sandbox)
	}))
	defer host.Close()

	dumped := func(name string) (log, dom string) {
		out := runChromium(t, bin, host.URL+"/"+name+"?dump=1", "--dump-dom")
		m := regexp.MustCompile(`(?s)<pre id="log">(.*?)</pre><pre id="dump">(.*?)</pre>`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s: no dump in the host page:\n%s", name, out)
		}
		return html.UnescapeString(m[1]), html.UnescapeString(m[2])
	}
	wantAll := func(t *testing.T, name, dom string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(dom, w) {
				t.Errorf("%s view: %q missing from the drawn DOM", name, w)
			}
		}
	}
	pathD := regexp.MustCompile(`<path class="(\w+)" d="M[-0-9.]+,[-0-9.]+(L[-0-9.]+,[-0-9.]+){3,}`)
	hasPath := func(t *testing.T, name, dom, class string) {
		t.Helper()
		for _, m := range pathD.FindAllStringSubmatch(dom, -1) {
			if m[1] == class {
				return
			}
		}
		t.Errorf("%s view: no drawn <path class=%q> with points", name, class)
	}

	for _, name := range []string{"hedge", "orderbook", "history", "grade", "grade-error"} {
		log, dom := dumped(name)
		for _, m := range []string{"ui/initialize", "ui/notifications/initialized", "ui/notifications/size-changed"} {
			if !strings.Contains(log, m) {
				t.Errorf("%s: the view never sent %s (messages: %s)", name, m, log)
			}
		}
		switch name {
		case "hedge":
			hasPath(t, name, dom, "hedged")
			hasPath(t, name, dom, "unhedged")
			wantAll(t, name, dom, `class="protect"`, `class="worst"`, "worst case", "protection $", `<g class="strike">`, "<table>", "BTC price at expiry")
			if n := strings.Count(dom, `<circle class="scenario"`); n < 5 {
				t.Errorf("hedge view: %d scenario points drawn", n)
			}
		case "orderbook":
			hasPath(t, name, dom, "bids")
			hasPath(t, name, dom, "asks")
			wantAll(t, name, dom, `class="mid"`, "mid $", "spread $", market)
		case "history":
			hasPath(t, name, dom, "prob")
			wantAll(t, name, dom, "Probability: "+market, "time (UTC)", "%</text>")
			if n := strings.Count(dom, `<circle class="point"`); n < 10 {
				t.Errorf("history view: %d points drawn", n)
			}
		case "grade":
			if n := strings.Count(dom, `<rect class="bar`); n < 8 {
				t.Errorf("grade view: %d bars drawn, want one per component", n)
			}
			wantAll(t, name, dom, "Trader Grade", "Investor Grade", "momentum_7d", "low_volatility", "Grades over the last 31 days")
			hasPath(t, name, dom, "traderline")
			hasPath(t, name, dom, "investorline")
		case "grade-error":
			wantAll(t, name, dom, `class="msg error"`, "The tool answered with an error")
			if strings.Contains(dom, "<svg") {
				t.Error("grade view drew a chart for an error result")
			}
		}
	}
	screenshot(t, bin, host.URL+"/hedge", "view-hedge.png", 800, 760)
	screenshot(t, bin, host.URL+"/hedge-dark", "view-hedge-dark.png", 800, 760)
	screenshot(t, bin, host.URL+"/orderbook", "view-orderbook.png", 800, 640)
	screenshot(t, bin, host.URL+"/grade", "view-grade.png", 800, 1060)
	screenshot(t, bin, host.URL+"/history", "view-history.png", 800, 420)

	t.Run("ui page", func(t *testing.T) {
		// A position and an order, so the tables have rows.
		if _, r := appsCall(ctx, t, cs, "place_order", map[string]any{"market": market, "outcome": "Yes", "side": "buy", "quantity": 5,
			"limit_price": 0.99, "idempotency_key": "apps-e2e-fill"}); r.IsError {
			t.Fatalf("place_order: %s", text(r))
		}
		if _, r := appsCall(ctx, t, cs, "place_order", map[string]any{"market": market, "outcome": "Yes", "side": "buy", "quantity": 3,
			"limit_price": 0.01, "idempotency_key": "apps-e2e-rest"}); r.IsError {
			t.Fatalf("place_order: %s", text(r))
		}
		base := strings.TrimSuffix(endpoint, "/mcp")
		// Without a key, /ui is refused like /mcp.
		resp, err := http.Get(base + "/ui")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("/ui without a key: HTTP %d, want 401", resp.StatusCode)
		}
		// Chromium reaches /ui through a loopback proxy that adds the key.
		target, _ := url.Parse(base)
		rp := httputil.NewSingleHostReverseProxy(target)
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+token)
			rp.ServeHTTP(w, r)
		}))
		defer proxy.Close()
		dom := html.UnescapeString(runChromium(t, bin, proxy.URL+"/ui", "--dump-dom"))
		hasPath(t, "ui", dom, "bids")
		hasPath(t, "ui", dom, "asks")
		hasPath(t, "ui", dom, "prob")
		hasPath(t, "ui", dom, "hedged")
		hasPath(t, "ui", dom, "traderline")
		wantAll(t, "ui", dom, "hash chain verified through entry", `<table class="audit">`, `<table class="orders">`, `<table class="positions">`,
			"<td>buy</td>", market, "place_order", "Trader Grade", `class="bar`)
		if strings.Contains(dom, `class="msg error"`) {
			t.Errorf("/ui shows an error:\n%s", dom)
		}
		// Newest first: the audit rows' sequence numbers decrease.
		seqs := regexp.MustCompile(`<tr><td>(\d+)</td><td>\d{4}-`).FindAllStringSubmatch(dom, -1)
		if len(seqs) < 3 {
			t.Fatalf("/ui: %d audit rows", len(seqs))
		}
		for i := 1; i < len(seqs); i++ {
			if len(seqs[i][1]) > len(seqs[i-1][1]) || (len(seqs[i][1]) == len(seqs[i-1][1]) && seqs[i][1] >= seqs[i-1][1]) {
				t.Errorf("/ui: audit rows not newest first: %s after %s", seqs[i][1], seqs[i-1][1])
			}
		}
		screenshot(t, bin, proxy.URL+"/ui", "ui-page.png", 1000, 3800)
	})
}

// TestClientWithoutAppsSeesNoChange: the official Go SDK client, which does
// not declare the MCP Apps extension, sees no _meta on any tool, no ui://
// resource, no extension in the capabilities, and cannot read the views.
func TestClientWithoutAppsSeesNoChange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data := t.TempDir()
	token, _ := makeKey(t, data, "read,trade")
	endpoint := startHTTPDir(t, data)
	for _, ui := range []bool{false, true} {
		cs := appsConnect(ctx, t, endpoint, token, ui)
		caps := cs.InitializeResult().Capabilities
		tl, err := cs.ListTools(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		withMeta := 0
		for _, tool := range tl.Tools {
			if tool.Meta != nil {
				withMeta++
			}
		}
		_, readErr := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "ui://sibyl/hedge"})
		if !ui {
			if withMeta != 0 {
				t.Errorf("without the extension: %d tools carry _meta", withMeta)
			}
			if caps.Resources != nil || caps.Extensions != nil {
				t.Errorf("without the extension: capabilities changed: resources %+v, extensions %+v", caps.Resources, caps.Extensions)
			}
			if readErr == nil {
				t.Error("without the extension: ui://sibyl/hedge was readable")
			}
			continue
		}
		// The same server, with the extension declared: the additions are there,
		// so the checks above can fail.
		if withMeta != 5 || caps.Extensions[mcp.UIExtension] == nil || readErr != nil {
			t.Errorf("with the extension: %d tools with _meta (want 5), extensions %v, read error %v", withMeta, caps.Extensions, readErr)
		}
		rl, err := cs.ListResources(ctx, nil)
		if err != nil || len(rl.Resources) != 4 {
			t.Errorf("with the extension: resources/list = %v, %v; want the 4 views", rl, err)
		}
	}
}
