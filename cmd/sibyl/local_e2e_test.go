package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// shortTempDir is a data dir whose socket path fits a unix socket.
func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "sx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

type placed struct {
	OrderID  string `json:"order_id"`
	Replayed bool   `json:"replayed"`
}

// TestOneSibylPerDataFile runs an HTTP server and two stdio 'sibyl serve'
// processes on one data file and drives all three at once with the official
// Go SDK client: the stdio ones bridge to the HTTP one (which holds the file),
// every client is served, the two local clients share one exactly-once record
// set (the same key places one order), there is one audit chain, and a key
// created with 'sibyl keys create' while serving is accepted at once.
func TestOneSibylPerDataFile(t *testing.T) {
	data := shortTempDir(t)
	out, err := exec.Command(sibylBin, "keys", "create", "--name", "first", "--scopes", "read,trade", "--data-dir", data).Output()
	if err != nil {
		t.Fatal(err)
	}
	first := strings.TrimSpace(string(out))
	url := startHTTPDir(t, data)
	if fi, err := os.Stat(filepath.Join(data, "sibyl.sock")); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("local socket: %v %v, want a 0600 socket in the data dir", fi, err)
	}
	if fi, _ := os.Stat(data); fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v, want 0700", fi.Mode().Perm())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// A key created while the server runs goes through its socket and works at once.
	out, err = exec.Command(sibylBin, "keys", "create", "--name", "second", "--scopes", "read,trade", "--data-dir", data).Output()
	if err != nil {
		t.Fatalf("keys create while serving: %v", err)
	}
	second := strings.TrimSpace(string(out))
	if !strings.HasPrefix(second, "sibyl_") {
		t.Fatalf("keys create while serving printed %q, want a token", second)
	}
	connectHTTPKey := func(tok string) *sdk.ClientSession {
		cs, err := sdk.NewClient(&sdk.Implementation{Name: "http-agent", Version: "1"}, nil).Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url, MaxRetries: -1,
			HTTPClient: &http.Client{Transport: bearer{tok, http.DefaultTransport}}}, nil)
		if err != nil {
			t.Fatalf("HTTP client with a key: %v", err)
		}
		t.Cleanup(func() { cs.Close() })
		return cs
	}
	httpCS := connectHTTPKey(second)
	_ = connectHTTPKey(first)

	var stdio []*sdk.ClientSession
	for i := 0; i < 2; i++ {
		cmd := exec.Command(sibylBin, "serve", "--data-dir", data)
		cs, err := sdk.NewClient(&sdk.Implementation{Name: "stdio-agent", Version: "1"}, nil).Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
		if err != nil {
			t.Fatalf("stdio client %d: %v", i, err)
		}
		t.Cleanup(func() { cs.Close() })
		stdio = append(stdio, cs)
	}

	// A market to trade.
	var found struct {
		Markets []struct {
			ID string `json:"id"`
		} `json:"markets"`
	}
	if e := callJSON(ctx, t, stdio[0], "search_markets", map[string]any{"query": "bitcoin", "limit": 1}, &found); e != nil || len(found.Markets) == 0 {
		t.Fatalf("search over the bridge: %+v", e)
	}
	market := found.Markets[0].ID
	order := func(key string) map[string]any {
		return map[string]any{"market": market, "outcome": "Yes", "side": "buy", "quantity": 1, "limit_price": 0.01, "idempotency_key": key}
	}

	// All three at once: the two local clients place the same order under one
	// key (one principal, one record set), the HTTP client its own.
	var wg sync.WaitGroup
	results := make([]placed, 3)
	errs := make([]string, 3)
	for i, cs := range []*sdk.ClientSession{stdio[0], stdio[1], httpCS} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "local-shared-0001"
			if i == 2 {
				key = "http-own-0001"
			}
			res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "place_order", Arguments: order(key)})
			if err != nil || res.IsError {
				errs[i] = "call failed"
				if res != nil {
					errs[i] = text(res)
				}
				return
			}
			raw, _ := json.Marshal(res.StructuredContent)
			_ = json.Unmarshal(raw, &results[i])
		}()
	}
	wg.Wait()
	for i, e := range errs {
		if e != "" {
			t.Fatalf("client %d: %s", i, e)
		}
	}
	if results[0].OrderID == "" || results[0].OrderID != results[1].OrderID || results[0].Replayed == results[1].Replayed {
		t.Errorf("the two local clients' one key: orders %s (replayed %v) and %s (replayed %v), want one order, placed once and replayed once",
			results[0].OrderID, results[0].Replayed, results[1].OrderID, results[1].Replayed)
	}
	if results[2].OrderID == "" || results[2].OrderID == results[0].OrderID {
		t.Errorf("HTTP order %s, want its own", results[2].OrderID)
	}
	// The local principal's orders, seen from either bridge, are one set.
	var list struct {
		Orders []struct {
			OrderID string `json:"order_id"`
		} `json:"orders"`
	}
	for i, cs := range stdio {
		if e := callJSON(ctx, t, cs, "list_orders", map[string]any{}, &list); e != nil || len(list.Orders) != 1 || list.Orders[0].OrderID != results[0].OrderID {
			t.Errorf("list_orders from stdio client %d: %+v %+v, want the one local order", i, list.Orders, e)
		}
	}

	// One audit chain: verified in the server through its socket while it runs,
	// with the calls of all three clients in it.
	vout, err := exec.Command(sibylBin, "audit", "verify", "--data-dir", data).CombinedOutput()
	if err != nil || !strings.Contains(string(vout), "audit chain intact") {
		t.Fatalf("audit verify while serving: %v %s", err, vout)
	}
	tout, err := exec.Command(sibylBin, "audit", "tail", "-n", "200", "--data-dir", data).Output()
	if err != nil {
		t.Fatal(err)
	}
	placedBy := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(tout)), "\n") {
		var e struct{ Tool, Outcome, Principal, Transport string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Tool == "place_order" {
			placedBy[e.Transport+":"+e.Outcome]++
		}
	}
	if placedBy["stdio:placed"] != 1 || placedBy["stdio:replay"] != 1 || placedBy["http:placed"] != 1 {
		t.Errorf("audit entries of place_order: %v, want one placed and one replay over stdio, one placed over http", placedBy)
	}
	t.Logf("%s", strings.TrimSpace(string(vout)))
}

// TestCLIWhileServing: with a stdio server holding the data file, 'sibyl
// paper fund' runs in it through the socket and takes effect at once.
func TestCLIWhileServing(t *testing.T) {
	data := shortTempDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.Command(sibylBin, "serve", "--data-dir", data)
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "stdio-agent", Version: "1"}, nil).Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	var pos struct {
		Cash float64 `json:"cash"`
	}
	if e := callJSON(ctx, t, cs, "get_positions", map[string]any{}, &pos); e != nil || pos.Cash != 10000 {
		t.Fatalf("get_positions: %v %+v", pos.Cash, e)
	}
	out, err := exec.Command(sibylBin, "paper", "fund", "--principal", "local", "--amount", "2500", "--data-dir", data).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "$12,500.00") {
		t.Fatalf("paper fund while serving: %v %s", err, out)
	}
	if e := callJSON(ctx, t, cs, "get_positions", map[string]any{}, &pos); e != nil || pos.Cash != 12500 {
		t.Fatalf("get_positions after the fund: %v %+v, want 12500", pos.Cash, e)
	}
	out, err = exec.Command(sibylBin, "paper", "reset", "--principal", "local", "--cash", "100", "--data-dir", data).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "$100.00") {
		t.Fatalf("paper reset while serving: %v %s", err, out)
	}
	if e := callJSON(ctx, t, cs, "get_positions", map[string]any{}, &pos); e != nil || pos.Cash != 100 {
		t.Fatalf("get_positions after the reset: %v %+v, want 100", pos.Cash, e)
	}
	// A second server on the file over HTTP says what to do.
	hout, _ := exec.CommandContext(ctx, sibylBin, "serve", "--http", "127.0.0.1:0", "--data-dir", data).CombinedOutput()
	if !strings.Contains(string(hout), "holds this data file") {
		t.Errorf("second HTTP server: %s", hout)
	}
	cs.Close()
	// Without a server the commands open the file themselves, and serve says
	// when --paper-cash differs from the existing account.
	if out, err := exec.Command(sibylBin, "paper", "show", "--data-dir", data).CombinedOutput(); err != nil || !strings.Contains(string(out), "$100.00") {
		t.Fatalf("paper show without a server: %v %s", err, out)
	}
	srv := exec.Command(sibylBin, "serve", "--data-dir", data, "--paper-cash", "50000")
	srv.Stdin = strings.NewReader("")
	sout, _ := srv.CombinedOutput()
	if !strings.Contains(string(sout), "--paper-cash $50,000.00 opens new paper accounts only: local's existing account holds $100.00") {
		t.Errorf("serve --paper-cash on an existing account: %s", sout)
	}
}
