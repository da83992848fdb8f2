package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/feeds"
)

// sharedOHLCV returns the real data directory: SIBYL_OHLCV_DIR, else the first
// shared/data/ohlcv found walking up from this package (../shared/data/ohlcv
// from the repository root of /work/main or of a worktree's parent), or skips.
func sharedOHLCV(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("SIBYL_OHLCV_DIR"); d != "" {
		return d
	}
	dir, _ := filepath.Abs(".")
	for {
		p := filepath.Join(dir, "shared", "data", "ohlcv")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("real OHLCV data (shared/data/ohlcv, ../shared/data/ohlcv from the repository root) not found above this package; set SIBYL_OHLCV_DIR to it")
		}
		dir = parent
	}
}

// fmtNum writes v as Binance does (a decimal string) such that it parses back
// to the same float64.
func fmtNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// binanceFromCSV is an httptest Binance spot API (GET /api/v3/klines, the
// documented array-of-arrays shape) serving the CSV directory's candles, with
// startTime/endTime/limit honoured. Symbols named in fault answer as their
// fault: "429" (rate limit, Retry-After), "502", "gap" (a day missing).
func binanceFromCSV(t *testing.T, dir *feeds.Dir, fault map[string]string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v3/klines" || r.URL.Query().Get("interval") != "1d" {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"code":-1100,"msg":"Illegal characters found in parameter."}`))
			return
		}
		q := r.URL.Query()
		sym := strings.TrimSuffix(q.Get("symbol"), "USDT")
		switch fault[sym] {
		case "429":
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"code":-1003,"msg":"Too many requests; current limit of IP is 6000 request weight per 1 MINUTE."}`))
			return
		case "502":
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		start, _ := strconv.ParseInt(q.Get("startTime"), 10, 64)
		end, _ := strconv.ParseInt(q.Get("endTime"), 10, 64)
		limit, _ := strconv.Atoi(q.Get("limit"))
		cs, err := dir.Daily(r.Context(), sym, time.UnixMilli(start).UTC(), time.UnixMilli(end).UTC())
		if sibyl.ErrorCode(err) == sibyl.NotFound {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"code":-1121,"msg":"Invalid symbol."}`))
			return
		}
		rows := [][]any{}
		for i, c := range cs {
			if fault[sym] == "gap" && i == len(cs)/2 {
				continue
			}
			if len(rows) == limit {
				break
			}
			open := c.Time.UnixMilli()
			rows = append(rows, []any{open, fmtNum(c.Open), fmtNum(c.High), fmtNum(c.Low), fmtNum(c.Close), fmtNum(c.Volume),
				open + 86400000 - 1, "0", 100, "0", "0", "0"})
		}
		json.NewEncoder(w).Encode(rows)
	}))
}

// gradeFields is a grade answer without what names its feed or its time.
func gradeFields(t *testing.T, res *sdk.CallToolResult) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(text(res)), &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "source")
	delete(m, "simulated")
	withoutClock(m)
	return m
}

// withoutClock deletes, at any depth, what depends on the moment an answer
// was made rather than on the candles: its timestamp, the data's age in
// seconds and the stale reason (which counts days). Two calls a moment apart
// can straddle a second (or midnight), so these may differ between answers
// computed from the same candles; "stale" itself is kept and compared.
func withoutClock(v any) {
	switch v := v.(type) {
	case map[string]any:
		delete(v, "timestamp")
		delete(v, "age_seconds")
		delete(v, "stale_reason")
		for _, e := range v {
			withoutClock(e)
		}
	case []any:
		for _, e := range v {
			withoutClock(e)
		}
	}
}

func callTool(ctx context.Context, t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) *sdk.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// toolError returns the error object of an isError result.
func toolError(t *testing.T, res *sdk.CallToolResult) (code, message string) {
	t.Helper()
	if !res.IsError {
		t.Fatalf("got a result, want an error: %s", text(res))
	}
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	json.Unmarshal([]byte(text(res)), &e)
	return e.Error.Code, e.Error.Message
}

// TestFeedBinance: sibyl serve --feed binance (base URL pointed at an httptest
// Binance built from the documented klines shape, serving the real CSV data):
// the grades equal the grades of the same candles read from CSV; a 429, a 502,
// a gap in the history and stale data each give a clear unavailable error; a
// token Binance does not list is not_found.
func TestFeedBinance(t *testing.T) {
	csvDir := sharedOHLCV(t)
	dir, err := feeds.NewDir(csvDir)
	if err != nil {
		t.Fatal(err)
	}
	up := binanceFromCSV(t, dir, map[string]string{"ETH": "429", "SOL": "502", "XRP": "gap"})
	defer up.Close()
	url := startHTTP(t, "--feed", "binance", "--binance-url", up.URL, "--ohlcv-dir", csvDir)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c := sdk.NewClient(&sdk.Implementation{Name: "feeds", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	var lv struct {
		Feeds []struct {
			Name      string `json:"name"`
			Simulated bool   `json:"simulated"`
		} `json:"feeds"`
	}
	json.Unmarshal([]byte(text(callTool(ctx, t, cs, "list_venues", map[string]any{}))), &lv)
	if len(lv.Feeds) == 0 || lv.Feeds[0].Name != "binance" || lv.Feeds[0].Simulated {
		t.Errorf("list_venues feeds: got %+v, want binance first (the default), not simulated", lv.Feeds)
	}

	compared := 0
	for _, sym := range []string{"BTC", "BNB", "DOGE"} {
		for _, asOf := range []string{"2021-05-19", "2024-12-31"} {
			live := callTool(ctx, t, cs, "get_token_grade", map[string]any{"symbol": sym, "as_of": asOf})
			if live.IsError {
				t.Fatalf("%s %s on binance: %s", sym, asOf, text(live))
			}
			if !strings.Contains(text(live), `"source":"binance"`) {
				t.Errorf("%s: the grade does not name binance: %s", sym, text(live))
			}
			fromCSV := callTool(ctx, t, cs, "get_token_grade", map[string]any{"symbol": sym, "as_of": asOf, "source": "csv"})
			if fromCSV.IsError {
				t.Fatalf("%s %s on csv: %s", sym, asOf, text(fromCSV))
			}
			a, b := gradeFields(t, live), gradeFields(t, fromCSV)
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("%s as of %s: the grade on binance candles differs from the grade on the same candles from CSV:\n%v\n%v", sym, asOf, a, b)
			}
			compared++
		}
	}
	rank := callTool(ctx, t, cs, "rank_tokens", map[string]any{"as_of": "2024-12-31", "universe": []string{"BTC", "BNB", "DOGE"}})
	rankCSV := callTool(ctx, t, cs, "rank_tokens", map[string]any{"as_of": "2024-12-31", "universe": []string{"BTC", "BNB", "DOGE"}, "source": "csv"})
	var r1, r2 struct {
		Ranking []map[string]any `json:"ranking"`
	}
	json.Unmarshal([]byte(text(rank)), &r1)
	json.Unmarshal([]byte(text(rankCSV)), &r2)
	for _, e := range append(r1.Ranking, r2.Ranking...) {
		withoutClock(e)
	}
	if len(r1.Ranking) != 3 || fmt.Sprint(r1.Ranking) != fmt.Sprint(r2.Ranking) {
		t.Errorf("rank_tokens on binance and on csv differ:\n%v\n%v", r1.Ranking, r2.Ranking)
	}

	for _, c := range []struct {
		sym, asOf, code, msg string
	}{
		{"ETH", "2024-12-31", "unavailable", "rate limit reached; retry after 30 seconds"},
		{"SOL", "2024-12-31", "unavailable", "HTTP 502"},
		{"XRP", "2024-12-31", "unavailable", "gap"},
		{"BTC", "", "unavailable", "stale"}, // the data ends 2024-12-31, long before today
		{"NOPE", "2024-12-31", "not_found", "unknown symbol"},
	} {
		args := map[string]any{"symbol": c.sym}
		if c.asOf != "" {
			args["as_of"] = c.asOf
		}
		res := callTool(ctx, t, cs, "get_token_grade", args)
		code, msg := toolError(t, res)
		if code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: got %s %q, want %s containing %q", c.sym, code, msg, c.code, c.msg)
		}
	}
	t.Logf("%d grades compared on binance and csv", compared)
}

// coingeckoServer is an httptest CoinGecko API (GET
// /api/v3/coins/{id}/market_chart/range, the documented {prices, market_caps,
// total_volumes} shape, each point [ms, value], the close of day D at 00:00 UTC
// of D+1 plus a latest point that is not at midnight) serving closes. Coins
// named in fault answer as their fault: "429", "500", "gap", "401".
func coingeckoServer(t *testing.T, closes map[string][]sibyl.Candle, fault map[string]string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutPrefix(r.URL.Path, "/api/v3/coins/")
		id, ok2 := strings.CutSuffix(id, "/market_chart/range")
		if !ok || !ok2 || r.URL.Query().Get("vs_currency") != "usd" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"Not Found"}`))
			return
		}
		switch fault[id] {
		case "429":
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit."}}`))
			return
		case "500":
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		cs, ok := closes[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"coin not found"}`))
			return
		}
		from, _ := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
		to, _ := strconv.ParseInt(r.URL.Query().Get("to"), 10, 64)
		body := struct {
			Prices       [][2]float64 `json:"prices"`
			MarketCaps   [][2]float64 `json:"market_caps"`
			TotalVolumes [][2]float64 `json:"total_volumes"`
		}{[][2]float64{}, [][2]float64{}, [][2]float64{}}
		for i, c := range cs {
			at := c.Time.Add(feeds.Day)
			if at.Unix() < from || at.Unix() > to || fault[id] == "gap" && i == len(cs)-40 {
				continue
			}
			ms := float64(at.UnixMilli())
			body.Prices = append(body.Prices, [2]float64{ms, c.Close})
			body.MarketCaps = append(body.MarketCaps, [2]float64{ms, c.Close * 1e7})
			body.TotalVolumes = append(body.TotalVolumes, [2]float64{ms, c.Volume})
		}
		now := float64(time.Now().UnixMilli())
		body.Prices = append(body.Prices, [2]float64{now, cs[len(cs)-1].Close * 1.01})
		json.NewEncoder(w).Encode(body)
	}))
}

// TestFeedCoinGecko: sibyl serve --feed coingecko against an httptest
// CoinGecko built from the documented shape, serving the real closes moved so
// that the last one is yesterday's: grades (latest and as of a past day) equal
// the grades of the same candles from a CSV directory; hedge_position's spot is
// the feed's latest close; 429, 500 and a gap each give a clear error.
func TestFeedCoinGecko(t *testing.T) {
	src, err := feeds.NewDir(sharedOHLCV(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	shift := feeds.LastCompleteDay(time.Now()).Sub(time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC))
	ids := map[string]string{"BTC": "bitcoin", "ETH": "ethereum", "SOL": "solana", "XRP": "ripple", "DOGE": "dogecoin"}
	closes := map[string][]sibyl.Candle{}
	csvDir := t.TempDir()
	for sym, id := range ids {
		cs, err := src.Daily(ctx, sym, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		b.WriteString("timestamp,open,high,low,close,volume\n")
		for i := range cs {
			c := &cs[i]
			c.Time = c.Time.Add(shift)
			c.Volume = c.Volume * c.Close // CoinGecko's volume is in USD
			c.Open, c.High, c.Low = c.Close, c.Close, c.Close
			fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s\n", c.Time.Format(time.DateOnly), fmtNum(c.Open), fmtNum(c.High), fmtNum(c.Low), fmtNum(c.Close), fmtNum(c.Volume))
		}
		closes[id] = cs
		if err := os.WriteFile(filepath.Join(csvDir, sym+"USDT_1d.csv"), []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	up := coingeckoServer(t, closes, map[string]string{"ethereum": "429", "solana": "500", "ripple": "gap"})
	defer up.Close()
	url := startHTTP(t, "--feed", "coingecko", "--coingecko-url", up.URL, "--ohlcv-dir", csvDir)
	c := sdk.NewClient(&sdk.Implementation{Name: "feeds", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	past := feeds.LastCompleteDay(time.Now()).Add(-200 * feeds.Day).Format(time.DateOnly)
	for _, sym := range []string{"BTC", "DOGE"} {
		for _, asOf := range []string{"", past} {
			args := map[string]any{"symbol": sym}
			if asOf != "" {
				args["as_of"] = asOf
			}
			live := callTool(ctx, t, cs, "get_token_grade", args)
			if live.IsError || !strings.Contains(text(live), `"source":"coingecko"`) {
				t.Fatalf("%s %q on coingecko: %s", sym, asOf, text(live))
			}
			args["source"] = "csv"
			fromCSV := callTool(ctx, t, cs, "get_token_grade", args)
			if fromCSV.IsError {
				t.Fatalf("%s %q on csv: %s", sym, asOf, text(fromCSV))
			}
			if a, b := gradeFields(t, live), gradeFields(t, fromCSV); fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("%s as of %q: the grade on coingecko differs from the same candles from CSV:\n%v\n%v", sym, asOf, a, b)
			}
		}
	}

	btc := closes["bitcoin"]
	by := time.Now().UTC().AddDate(0, 0, 20).Format(time.DateOnly)
	h := callTool(ctx, t, cs, "hedge_position", map[string]any{"symbol": "BTC", "quantity": 0.1, "protect_below": btc[len(btc)-1].Close * 0.85, "by": by})
	var plan struct {
		Spot float64 `json:"spot"`
	}
	json.Unmarshal([]byte(text(h)), &plan)
	if plan.Spot != btc[len(btc)-1].Close {
		t.Errorf("hedge_position spot: got %v (%s), want the feed's latest close %v", plan.Spot, text(h), btc[len(btc)-1].Close)
	}

	for _, c := range []struct{ sym, code, msg string }{
		{"ETH", "unavailable", "rate limit"},
		{"SOL", "unavailable", "HTTP 500"},
		{"XRP", "unavailable", "gap"},
	} {
		code, msg := toolError(t, callTool(ctx, t, cs, "get_token_grade", map[string]any{"symbol": c.sym}))
		if code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: got %s %q, want %s containing %q", c.sym, code, msg, c.code, c.msg)
		}
	}
}
