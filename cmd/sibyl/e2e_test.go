package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// sibylBin is the sibyl binary built once for the end-to-end tests.
var sibylBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sibyl-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sibylBin = filepath.Join(dir, "sibyl")
	out, err := exec.Command("go", "build", "-o", sibylBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building sibyl: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sampleArgs holds arguments for one successful call of every tool. The
// end-to-end test fails when a tool is served that has no entry here, so every
// new tool gets exercised by a real client.
func sampleArgs(marketID, restingOrderID string, btcSpot float64) map[string]map[string]any {
	return map[string]map[string]any{
		"place_order":   {"market": marketID, "outcome": "No", "side": "buy", "quantity": 2, "limit_price": 0.02, "idempotency_key": "e2e-sample-place"},
		"cancel_order":  {"order_id": restingOrderID, "idempotency_key": "e2e-sample-cancel"},
		"get_order":     {"idempotency_key": "e2e-setup-place"},
		"list_orders":   {"status": "open"},
		"get_positions": {},
		"get_audit_log": {"verify": true, "limit": 10},
		"hedge_position": {"symbol": "BTC", "quantity": 0.1, "protect_below": btcSpot * 0.85,
			"by": time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)},
		"plan_hedge": {"symbol": "BTC", "quantity": 0.1, "protect_below": btcSpot * 0.85,
			"by": time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)},
		"get_spot_price":     {"symbol": "BTC"},
		"get_market_history": {"market": marketID, "hours": 24, "points": 10},
		"list_venues":        {},
		"search_markets":     {"query": "BTC above", "status": "open", "limit": 3},
		"get_market":         {"market": marketID, "depth": 2},
		"get_orderbook":      {"market": marketID, "outcome": "No", "depth": 5},
		"compare_markets":    {"market": marketID, "outcome": "No", "quantity": 10},
		"get_token_grade":    {"symbol": "ETH"},
		"rank_tokens":        {"by": "trader", "limit": 3},
		"get_price_history":  {"symbol": "BTC", "interval": "1w"},
	}
}

// startHTTP runs `sibyl serve --http 127.0.0.1:0` and returns its endpoint, read
// from the banner on stderr.
func startHTTP(t *testing.T, extra ...string) string {
	t.Helper()
	return startHTTPDir(t, t.TempDir(), extra...)
}

// startHTTPDir is startHTTP on a given data dir.
func startHTTPDir(t *testing.T, dataDir string, extra ...string) string {
	t.Helper()
	url, _ := startServer(t, dataDir, nil, extra...)
	return url
}

// startServer runs `sibyl serve --http 127.0.0.1:0` on dataDir with extra
// environment variables and flags, and returns its endpoint (read from the
// banner on stderr) and the process. Cleanup interrupts it and waits.
func startServer(t *testing.T, dataDir string, env []string, extra ...string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(sibylBin, append([]string{"serve", "--http", "127.0.0.1:0", "--data-dir", dataDir}, extra...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`http://127\.0\.0\.1:\d+/mcp`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if u := re.FindString(sc.Text()); u != "" {
				found <- u
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case u := <-found:
		return u, cmd
	case <-time.After(30 * time.Second):
		t.Fatal("sibyl serve --http printed no endpoint within 30s")
		return "", nil
	}
}

// TestOfficialClientCallsEveryTool connects the official MCP Go SDK client to
// `sibyl serve` over stdio and over HTTP, lists the tools and calls each one.
func TestOfficialClientCallsEveryTool(t *testing.T) {
	transports := map[string]func(t *testing.T) sdk.Transport{
		"stdio": func(t *testing.T) sdk.Transport {
			return &sdk.CommandTransport{Command: exec.Command(sibylBin, "serve", "--data-dir", t.TempDir())}
		},
		"http": func(t *testing.T) sdk.Transport {
			return &sdk.StreamableClientTransport{Endpoint: startHTTP(t), MaxRetries: -1}
		},
	}
	for name, transport := range transports {
		for _, version := range []string{"", "2025-06-18", "2025-03-26"} {
			t.Run(name+"/"+version, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				client := sdk.NewClient(&sdk.Implementation{Name: "e2e", Version: "1"}, nil)
				cs, err := client.Connect(ctx, transport(t), &sdk.ClientSessionOptions{ProtocolVersion: version})
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				defer cs.Close()
				callEveryTool(ctx, t, cs)
			})
		}
	}
}

func callEveryTool(ctx context.Context, t *testing.T, cs *sdk.ClientSession) {
	t.Helper()
	var names []string
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatalf("listing tools: %v", err)
		}
		names = append(names, tool.Name)
		if tool.OutputSchema == nil {
			t.Errorf("tool %s has no output schema", tool.Name)
		}
	}
	sort.Strings(names)
	// A market in the middle of its ladder, for the market tools.
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "search_markets", Arguments: map[string]any{"query": "BTC above", "status": "open", "limit": 100}})
	if err != nil || res.IsError {
		t.Fatalf("search_markets: %v %+v", err, res)
	}
	marketID := pickMarket(t, res)
	// A bid far under the market rests, for cancel_order and get_order.
	res, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "place_order", Arguments: map[string]any{
		"market": marketID, "outcome": "Yes", "side": "buy", "quantity": 3, "limit_price": 0.01, "idempotency_key": "e2e-setup-place"}})
	if err != nil || res.IsError {
		t.Fatalf("place_order: %v %s", err, text(res))
	}
	raw, _ := json.Marshal(res.StructuredContent)
	var placed struct {
		OrderID string `json:"order_id"`
		Status  string `json:"status"`
	}
	if err := json.Unmarshal(raw, &placed); err != nil || placed.Status != "open" {
		t.Fatalf("place_order: got %s, want an open order", raw)
	}
	// BTC's spot price, for hedge_position, from the last candle of its history.
	res, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_price_history", Arguments: map[string]any{"symbol": "BTC"}})
	if err != nil || res.IsError {
		t.Fatalf("get_price_history: %v %s", err, text(res))
	}
	raw, _ = json.Marshal(res.StructuredContent)
	var hist struct {
		Candles []struct {
			Close float64 `json:"close"`
		} `json:"candles"`
	}
	if err := json.Unmarshal(raw, &hist); err != nil || len(hist.Candles) == 0 {
		t.Fatalf("get_price_history: %s", raw)
	}
	samples := sampleArgs(marketID, placed.OrderID, hist.Candles[len(hist.Candles)-1].Close)
	for _, n := range names {
		args, ok := samples[n]
		if !ok {
			t.Errorf("tool %s is served but has no sample arguments in the end-to-end test", n)
			continue
		}
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: n, Arguments: args})
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if res.IsError {
			t.Errorf("%s: isError result: %s", n, text(res))
			continue
		}
		if res.StructuredContent == nil || len(res.Content) == 0 {
			t.Errorf("%s: want structuredContent and a text block, got %+v", n, res)
		}
	}
	if len(names) < len(samples) {
		t.Errorf("got tools %v, want at least %d", names, len(samples))
	}
	// A bad argument is a tool error the model can read, not a protocol failure.
	res, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_market", Arguments: map[string]any{"market": marketID, "depth": 999}})
	if err != nil {
		t.Fatalf("get_market with depth 999: %v", err)
	}
	if !res.IsError || !strings.Contains(text(res), `"field":"depth"`) {
		t.Errorf("get_market depth 999: got %.300s, want an isError result naming the field depth", text(res))
	}
}

func pickMarket(t *testing.T, res *sdk.CallToolResult) string {
	t.Helper()
	raw, _ := json.Marshal(res.StructuredContent)
	var out struct {
		Markets []struct {
			ID       string `json:"id"`
			Outcomes []struct {
				ImpliedProbability float64 `json:"implied_probability"`
			} `json:"outcomes"`
		} `json:"markets"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	for _, m := range out.Markets {
		if p := m.Outcomes[0].ImpliedProbability; p > 0.2 && p < 0.8 {
			return m.ID
		}
	}
	t.Fatalf("no open BTC market with a probability in (0.2, 0.8) among %d", len(out.Markets))
	return ""
}

func text(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}
