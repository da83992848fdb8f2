package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Caller calls one tool on behalf of the person who asked for the page (r
// carries who they are) and returns the tool's CallToolResult as JSON, or an
// error when the call could not be made at all (a tool's own failure is a
// result with isError).
type Caller func(r *http.Request, tool string, args map[string]any) (json.RawMessage, error)

// toolResult is the part of a CallToolResult the page reads.
type toolResult struct {
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	IsError           bool            `json:"isError"`
}

// decode puts the structured answer of raw into v; it returns the tool's
// error message when the tool failed.
func decode(raw json.RawMessage, v any) error {
	var r toolResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("unreadable tool result: %v", err)
	}
	body := r.StructuredContent
	if len(body) == 0 && len(r.Content) > 0 {
		body = json.RawMessage(r.Content[0].Text)
	}
	if r.IsError {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("%s", e.Error.Message)
		}
		return fmt.Errorf("the tool failed")
	}
	return json.Unmarshal(body, v)
}

type auditEntry struct {
	Seq       int       `json:"seq"`
	Time      time.Time `json:"time"`
	Tool      string    `json:"tool"`
	Outcome   string    `json:"outcome"`
	Principal string    `json:"principal"`
	Transport string    `json:"transport"`
	Error     string    `json:"error"`
}

type auditLog struct {
	Entries         []auditEntry `json:"entries"`
	ChainLength     int          `json:"chain_length"`
	Verified        bool         `json:"verified"`
	ChainOK         bool         `json:"chain_ok"`
	VerifiedThrough int          `json:"verified_through"`
}

type order struct {
	OrderID      string    `json:"order_id"`
	Market       string    `json:"market"`
	Outcome      string    `json:"outcome"`
	Side         string    `json:"side"`
	Quantity     float64   `json:"quantity"`
	LimitPrice   *float64  `json:"limit_price"`
	FilledQty    float64   `json:"filled_quantity"`
	Status       string    `json:"status"`
	CreatedAt    time.Time `json:"created_at"`
	RejectReason string    `json:"reject_reason"`
}

type position struct {
	Market       string   `json:"market"`
	Outcome      string   `json:"outcome"`
	Quantity     float64  `json:"quantity"`
	AveragePrice *float64 `json:"average_price"`
	MarkPrice    *float64 `json:"mark_price"`
	Value        *float64 `json:"market_value"`
	PnL          *float64 `json:"unrealized_pnl"`
}

type venueView struct {
	Name, Title  string
	Simulated    bool
	Orders       []order
	OrdersErr    string
	Positions    []position
	Cash, Equity *float64
	PositionsErr string
}

type chart struct {
	Name, Title, Err string
	Data             template.JS // the CallToolResult, HTML-escaped JSON
}

type pageData struct {
	Now       string
	Audit     auditLog
	AuditErr  string
	Venues    []venueView
	VenuesErr string
	Charts    []chart
	Market    string
	Symbol    string
	Style     template.CSS
	Scripts   template.JS
}

// Page returns the /ui handler: the audit log (newest first, with its
// verification status), orders and positions per venue, and the order book
// and grade charts (the MCP Apps views' drawing code), all from tools called
// through call as the person asking. Query parameters: market (the order
// book to draw; default the first position's market, else an open BTC
// market) and symbol (the grade to draw; default BTC). The page loads
// nothing from anywhere: its CSS and scripts are inline.
func Page(call Caller) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		d := build(r, call)
		var b bytes.Buffer
		if err := pageTmpl.Execute(&b, d); err != nil {
			http.Error(w, "could not render the page", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(b.Bytes())
	})
}

func build(r *http.Request, call Caller) pageData {
	d := pageData{Now: time.Now().UTC().Format(time.RFC3339), Style: template.CSS(file("style.css"))}
	var scripts strings.Builder
	scripts.WriteString(file("common.js"))
	for _, v := range Views {
		scripts.WriteString(file(v.Name + ".js"))
	}
	d.Scripts = template.JS(inlineScript(scripts.String()))

	get := func(tool string, args map[string]any, v any) error {
		raw, err := call(r, tool, args)
		if err != nil {
			return err
		}
		return decode(raw, v)
	}
	// Audit log: verify the chain, then read the newest 50 entries.
	const auditRows = 50
	var head auditLog
	if err := get("get_audit_log", map[string]any{"verify": true, "limit": 1}, &head); err != nil {
		d.AuditErr = err.Error()
	} else {
		d.Audit = head
		var page auditLog
		if err := get("get_audit_log", map[string]any{"after_seq": max(0, head.ChainLength-auditRows), "limit": auditRows}, &page); err != nil {
			d.AuditErr = err.Error()
		} else {
			d.Audit.Entries = page.Entries
			slices.Reverse(d.Audit.Entries)
		}
	}
	// Orders and positions per venue.
	var venues struct {
		Venues []struct {
			Name      string `json:"name"`
			Title     string `json:"title"`
			Simulated bool   `json:"simulated"`
			Available bool   `json:"available"`
		} `json:"venues"`
	}
	if err := get("list_venues", map[string]any{}, &venues); err != nil {
		d.VenuesErr = err.Error()
	}
	firstMarket := ""
	for _, v := range venues.Venues {
		vv := venueView{Name: v.Name, Title: v.Title, Simulated: v.Simulated}
		var os struct {
			Orders []order `json:"orders"`
		}
		if err := get("list_orders", map[string]any{"venue": v.Name}, &os); err != nil {
			vv.OrdersErr = err.Error()
		}
		vv.Orders = os.Orders
		var ps struct {
			Cash      *float64   `json:"cash"`
			Equity    *float64   `json:"equity"`
			Positions []position `json:"positions"`
		}
		if err := get("get_positions", map[string]any{"venue": v.Name}, &ps); err != nil {
			vv.PositionsErr = err.Error()
		}
		vv.Positions, vv.Cash, vv.Equity = ps.Positions, ps.Cash, ps.Equity
		if firstMarket == "" && len(ps.Positions) > 0 {
			firstMarket = ps.Positions[0].Market
		}
		d.Venues = append(d.Venues, vv)
	}
	// Charts.
	d.Market = strings.TrimSpace(r.URL.Query().Get("market"))
	if d.Market == "" {
		d.Market = firstMarket
	}
	if d.Market == "" {
		var found struct {
			Markets []struct {
				ID string `json:"id"`
			} `json:"markets"`
		}
		if get("search_markets", map[string]any{"query": "BTC above", "status": "open", "limit": 1}, &found) == nil && len(found.Markets) > 0 {
			d.Market = found.Markets[0].ID
		}
	}
	d.Symbol = strings.TrimSpace(r.URL.Query().Get("symbol"))
	if d.Symbol == "" {
		d.Symbol = "BTC"
	}
	addChart := func(name, title, tool string, args map[string]any) {
		c := chart{Name: name, Title: title}
		raw, err := call(r, tool, args)
		if err != nil {
			c.Err = err.Error()
		} else {
			var b bytes.Buffer
			json.HTMLEscape(&b, raw)
			c.Data = template.JS(b.String())
		}
		d.Charts = append(d.Charts, c)
	}
	if d.Market != "" {
		addChart("orderbook", "Order book", "get_orderbook", map[string]any{"market": d.Market, "depth": 10})
		addChart("history", "Probability over the last 7 days", "get_market_history", map[string]any{"market": d.Market, "hours": 168, "points": 60})
	} else {
		d.Charts = append(d.Charts, chart{Name: "orderbook", Title: "Order book", Err: "no market to draw: pass ?market=venue:id"})
	}
	addChart("grade", "Token grade", "get_token_grade", map[string]any{"symbol": d.Symbol, "history_days": 30})
	// A hedge preview (plan_hedge, read-only): ?hedge_quantity=N tokens of the
	// symbol (default 1), protected below 90% of spot for 30 days.
	quantity := 1.0
	if q := strings.TrimSpace(r.URL.Query().Get("hedge_quantity")); q != "" {
		if v, err := strconv.ParseFloat(q, 64); err == nil && v > 0 && v <= 1e6 {
			quantity = v
		}
	}
	var spot struct {
		Price float64 `json:"price"`
	}
	if err := get("get_spot_price", map[string]any{"symbol": d.Symbol}, &spot); err != nil || spot.Price <= 0 {
		d.Charts = append(d.Charts, chart{Name: "hedge", Title: "Hedge preview", Err: "no spot price for " + d.Symbol + ": no hedge to preview"})
		return d
	}
	by := time.Now().UTC().AddDate(0, 0, 30).Format(time.DateOnly)
	addChart("hedge", fmt.Sprintf("Hedge preview: %g %s protected below 90%% of spot until %s", quantity, d.Symbol, by), "plan_hedge",
		map[string]any{"symbol": d.Symbol, "quantity": quantity, "protect_below": math.Floor(spot.Price * 0.9), "by": by})
	return d
}

func usd(p *float64) string {
	if p == nil {
		return "—"
	}
	if *p < 0 {
		return fmt.Sprintf("-$%.2f", -*p)
	}
	return fmt.Sprintf("$%.2f", *p)
}

func price(p *float64) string {
	if p == nil {
		return "market"
	}
	return fmt.Sprintf("$%.4g", *p)
}

var pageTmpl = template.Must(template.New("ui").Funcs(template.FuncMap{
	"usd": usd, "price": price,
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>sibyl</title><style>{{.Style}}
body{padding:16px} section{margin:0 0 24px;max-width:980px} h1{font-size:18px;margin:0 0 4px}
h3{font-size:14px;margin:12px 0 4px} .ok{color:var(--good)} .bad{color:var(--bad)} .chart{max-width:760px}
</style></head><body>
<h1>sibyl</h1><p class="sub">Rendered {{.Now}} from the same tools an MCP client calls, as your API key. Reload to refresh.</p>
<section id="charts"><h2>Charts</h2>
{{range .Charts}}<h3>{{.Title}}</h3>{{if .Err}}<div class="msg error">{{.Err}}</div>{{else}}<div class="chart view" id="chart-{{.Name}}" data-view="{{.Name}}"></div><script type="application/json" id="data-{{.Name}}">{{.Data}}</script>{{end}}
{{end}}</section>
<section id="venues"><h2>Orders and positions</h2>
{{if .VenuesErr}}<div class="msg error">{{.VenuesErr}}</div>{{end}}
{{range .Venues}}<h3>{{.Name}} — {{.Title}}{{if .Simulated}} <span class="sim">(simulated)</span>{{end}}</h3>
{{if .PositionsErr}}<div class="msg error">positions: {{.PositionsErr}}</div>{{else}}<p class="sub">cash {{usd .Cash}} · equity {{usd .Equity}}</p>
{{if .Positions}}<table class="positions"><tr><th>market</th><th>outcome</th><th>quantity</th><th>average price</th><th>mark</th><th>value</th><th>unrealized P&amp;L</th></tr>
{{range .Positions}}<tr><td>{{.Market}}</td><td>{{.Outcome}}</td><td>{{.Quantity}}</td><td>{{usd .AveragePrice}}</td><td>{{usd .MarkPrice}}</td><td>{{usd .Value}}</td><td>{{usd .PnL}}</td></tr>{{end}}</table>
{{else}}<div class="msg">No positions on {{.Name}}.</div>{{end}}{{end}}
{{if .OrdersErr}}<div class="msg error">orders: {{.OrdersErr}}</div>{{else if .Orders}}<table class="orders"><tr><th>order</th><th>market</th><th>side</th><th>outcome</th><th>quantity</th><th>filled</th><th>limit</th><th>status</th><th>created</th></tr>
{{range .Orders}}<tr><td>{{.OrderID}}</td><td>{{.Market}}</td><td>{{.Side}}</td><td>{{.Outcome}}</td><td>{{.Quantity}}</td><td>{{.FilledQty}}</td><td>{{price .LimitPrice}}</td><td>{{.Status}}</td><td>{{time .CreatedAt}}</td></tr>{{end}}</table>
{{else}}<div class="msg">No orders on {{.Name}}.</div>{{end}}
{{end}}</section>
<section id="audit"><h2>Audit log</h2>
{{if .AuditErr}}<div class="msg error">{{.AuditErr}}</div>{{else}}
<p id="audit-status" class="{{if and .Audit.Verified .Audit.ChainOK}}ok{{else}}bad{{end}}">{{if and .Audit.Verified .Audit.ChainOK}}✔ hash chain verified through entry {{.Audit.VerifiedThrough}} of {{.Audit.ChainLength}}{{else}}✘ hash chain NOT verified (checked through entry {{.Audit.VerifiedThrough}} of {{.Audit.ChainLength}}): run 'sibyl audit verify'{{end}}</p>
<table class="audit"><tr><th>seq</th><th>time (UTC)</th><th>principal</th><th>transport</th><th>tool</th><th>outcome</th></tr>
{{range .Audit.Entries}}<tr><td>{{.Seq}}</td><td>{{time .Time}}</td><td>{{.Principal}}</td><td>{{.Transport}}</td><td>{{.Tool}}</td><td class="{{if eq .Outcome "ok"}}ok{{else}}bad{{end}}">{{.Outcome}}{{if .Error}} ({{.Error}}){{end}}</td></tr>{{end}}</table>
<p class="sub">Newest first; the latest {{len .Audit.Entries}} entries.</p>{{end}}
</section>
<script>{{.Scripts}}
document.querySelectorAll("[data-view]").forEach(function (el) {
  var p = SIBYL.payload(JSON.parse(document.getElementById("data-" + el.getAttribute("data-view")).textContent));
  if (p.error) SIBYL.message(el, p.error, true); else SIBYL.views[el.getAttribute("data-view")](el, p.data);
});
</script></body></html>
`))
