package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/venues/polymarket/clob"
	"github.com/sibylmcp/sibyl/venues/polymarket/pmtest"
)

const (
	pmTestKey = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" // public Hardhat test key
	pmCondA   = "0x5555555555555555555555555555555555555555555555555555555555555555"
	pmCondB   = "0x6666666666666666666666666666666666666666666666666666666666666666"
)

var pmCreds = clob.Credentials{Key: "22222222-2222-2222-2222-222222222222", Secret: "c2lieWwtcG9seW1hcmtldC1lMmUtc2VjcmV0LWtleS0=", Passphrase: "e2e-passphrase-do-not-leak"}

// pmWorld starts an httptest Polymarket with two markets and deep books, and
// writes the wallet key to a file (0600).
func pmWorld(t *testing.T) (*pmtest.Server, string) {
	t.Helper()
	srv := pmtest.New(pmCreds)
	t.Cleanup(srv.Close)
	srv.AddMarket(pmtest.Market{ConditionID: pmCondA, Question: "Will the e2e market A resolve yes?", TokenIDs: []string{"501", "502"}, Tags: []string{"Crypto"}})
	srv.AddMarket(pmtest.Market{ConditionID: pmCondB, Question: "Will the e2e market B resolve yes?", TokenIDs: []string{"601", "602"}, Version: "v2", TickSize: "0.001"})
	for _, tok := range []string{"501", "601"} { // Yes books; No books mirror them
		srv.SetBook(tok, []pmtest.Level{{Price: "0.40", Size: "100000"}}, []pmtest.Level{{Price: "0.45", Size: "100000"}})
	}
	for _, tok := range []string{"502", "602"} {
		srv.SetBook(tok, []pmtest.Level{{Price: "0.55", Size: "100000"}}, []pmtest.Level{{Price: "0.60", Size: "100000"}})
	}
	keyPath := filepath.Join(t.TempDir(), "polymarket.key")
	if err := os.WriteFile(keyPath, []byte(pmTestKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, keyPath
}

// pmEnv is the environment of a sibyl serve that trades the fake Polymarket.
func pmEnv(srv *pmtest.Server, keyPath string, live bool) []string {
	env := []string{
		"SIBYL_VENUES=paper,polymarket",
		"SIBYL_POLYMARKET_GAMMA_URL=" + srv.URL, "SIBYL_POLYMARKET_CLOB_URL=" + srv.URL, "SIBYL_POLYMARKET_DATA_URL=" + srv.URL,
		"POLYMARKET_PRIVATE_KEY_PATH=" + keyPath,
	}
	if live {
		env = append(env, "SIBYL_LIVE=true")
	}
	return env
}

// TestPolymarketServeNeedsLive: sibyl serve with a Polymarket key but without
// --live lists Polymarket and its markets, and refuses orders and cancels with
// nothing sent: the fake venue sees no order, no cancel and no credential
// request.
func TestPolymarketServeNeedsLive(t *testing.T) {
	srv, keyPath := pmWorld(t)
	p := mustLaunchHTTP(t, t.TempDir(), pmEnv(srv, keyPath, false))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := dialRawHTTP(ctx, newCTHTTPClient(), p.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.callTool(ctx, "list_venues", map[string]any{})
	if err != nil || a.IsError || !strings.Contains(string(a.Structured), `"polymarket"`) {
		t.Fatalf("list_venues: %v %v", a, err)
	}
	a, err = s.callTool(ctx, "get_market", map[string]any{"market": "polymarket:" + pmCondA})
	if err != nil || a.IsError || !strings.Contains(string(a.Structured), "e2e market A") {
		t.Fatalf("get_market: %v %v", a, err)
	}
	a, err = s.callTool(ctx, "place_order", map[string]any{"market": "polymarket:" + pmCondA, "outcome": "Yes", "side": "buy",
		"quantity": 10, "limit_price": 0.3, "idempotency_key": "pm-no-live-0001"})
	if err != nil || !a.IsError {
		t.Fatalf("place_order without --live: %v %v, want a refusal", a, err)
	}
	a, err = s.callTool(ctx, "cancel_order", map[string]any{"venue": "polymarket", "order_id": "0x" + strings.Repeat("ab", 32), "idempotency_key": "pm-no-live-0002"})
	if err != nil || !a.IsError {
		t.Fatalf("cancel_order without --live: %v %v, want a refusal", a, err)
	}
	for _, route := range []string{"POST /order", "DELETE /order", "POST /auth/api-key", "GET /auth/derive-api-key", "GET /data/order/"} {
		if n := srv.Count(route); n != 0 {
			t.Errorf("%s reached the venue %d times without --live", route, n)
		}
	}
}

// TestPolymarketServeKeyNeverLeaks plants the wallet key (and lets sibyl derive
// its API secret through L1), trades through the whole server — a resting
// order, a marketable one, a lost answer retried, get/list/cancel, positions,
// a refused order — and then looks for the key, the secret and the passphrase
// in everything sibyl wrote: its log, every tool answer, the audit export and
// the data file itself.
func TestPolymarketServeKeyNeverLeaks(t *testing.T) {
	srv, keyPath := pmWorld(t)
	signer, err := clob.ParseSigner(pmTestKey)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetPositions(signer.Address().Hex(), []map[string]any{{"asset": "501", "conditionId": pmCondA, "outcome": "Yes", "size": 3, "avgPrice": 0.4, "curPrice": 0.42}})
	dir := t.TempDir()
	p := mustLaunchHTTP(t, dir, pmEnv(srv, keyPath, true))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := dialRawHTTP(ctx, newCTHTTPClient(), p.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var answers bytes.Buffer
	call := func(name string, args map[string]any) toolAnswer {
		t.Helper()
		a, err := s.callTool(ctx, name, args)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		answers.WriteString(a.String() + "\n" + string(a.Structured) + "\n")
		return a
	}
	rest := call("place_order", map[string]any{"market": "polymarket:" + pmCondA, "outcome": "Yes", "side": "buy", "quantity": 10, "limit_price": 0.35, "idempotency_key": "pm-leak-rest-01"})
	if rest.IsError {
		t.Fatalf("resting order: %v", rest)
	}
	var o ctOrder
	if err := rest.decode(&o); err != nil || o.Status != "open" || !strings.HasPrefix(o.OrderID, "0x") {
		t.Fatalf("resting order: %+v %v", o, err)
	}
	if fill := call("place_order", map[string]any{"market": "polymarket:" + pmCondB, "outcome": "No", "side": "buy", "quantity": 20, "limit_price": 0.62, "time_in_force": "ioc", "idempotency_key": "pm-leak-fill-01"}); fill.IsError {
		t.Fatalf("marketable order: %v", fill)
	}
	srv.Fault("POST /order", pmtest.DropAfter)
	args := map[string]any{"market": "polymarket:" + pmCondA, "outcome": "No", "side": "buy", "quantity": 7, "limit_price": 0.56, "idempotency_key": "pm-leak-lost-01"}
	if lost := call("place_order", args); !lost.IsError || !lost.Retryable {
		t.Fatalf("lost answer: %v, want a retryable error", lost)
	}
	again := call("place_order", args)
	var o2 ctOrder
	if again.IsError || again.decode(&o2) != nil || !o2.Replayed {
		t.Fatalf("retry after a lost answer: %v, want the reconciled order, replayed", again)
	}
	call("get_order", map[string]any{"venue": "polymarket", "order_id": o.OrderID})
	call("list_orders", map[string]any{"venue": "polymarket"})
	call("get_positions", map[string]any{"venue": "polymarket"})
	if c := call("cancel_order", map[string]any{"venue": "polymarket", "order_id": o.OrderID, "idempotency_key": "pm-leak-cancel-01"}); c.IsError {
		t.Fatalf("cancel: %v", c)
	}
	if bad := call("place_order", map[string]any{"market": "polymarket:" + pmCondA, "outcome": "Yes", "side": "buy", "quantity": 10, "limit_price": 0.335, "idempotency_key": "pm-leak-bad-01"}); !bad.IsError {
		t.Fatalf("off-tick price: %v, want a refusal", bad)
	}
	if err := p.stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	code, export, err := runSibylStdout(ctx, "audit", "export", "--jsonl", "--data-dir", dir)
	if err != nil || code != 0 || !strings.Contains(export, "pm-leak-rest-01") {
		t.Fatalf("audit export: code %d err %v: %.300s", code, err, export)
	}
	db, err := os.ReadFile(filepath.Join(dir, "sibyl.db"))
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Orders()) != 3 || srv.Count("GET /auth/derive-api-key")+srv.Count("POST /auth/api-key") == 0 || srv.BadAuth() != 0 {
		t.Errorf("venue: %d orders (want 3), %d credential requests, %d bad auth", len(srv.Orders()),
			srv.Count("GET /auth/derive-api-key")+srv.Count("POST /auth/api-key"), srv.BadAuth())
	}
	secrets := map[string]string{
		"private key":       strings.TrimPrefix(pmTestKey, "0x"),
		"private key (hex)": strings.ToUpper(pmTestKey[2:34]),
		"API secret":        pmCreds.Secret,
		"API secret (body)": strings.TrimRight(pmCreds.Secret, "="),
		"passphrase":        pmCreds.Passphrase,
	}
	for where, text := range map[string][]byte{"server log": []byte(p.stderr.String()), "tool answers": answers.Bytes(), "audit export": []byte(export), "data file": db} {
		low := bytes.ToLower(text)
		for what, secret := range secrets {
			if bytes.Contains(low, bytes.ToLower([]byte(secret))) {
				t.Errorf("the %s appears in the %s", what, where)
			}
		}
	}
	if !strings.Contains(p.stderr.String(), signer.Address().Hex()) {
		t.Errorf("the log does not name the wallet address; stderr:\n%s", p.stderr)
	}
}

// TestPolymarketServeReadOnly: with no key, sibyl serve --venues
// paper,polymarket serves Polymarket's market data through the tools —
// list_venues says read-only, search_markets finds the fake's markets by words,
// get_market and get_orderbook answer with the venue's prices, the book best
// first — and refuses orders, with nothing authenticated ever sent.
func TestPolymarketServeReadOnly(t *testing.T) {
	srv, _ := pmWorld(t)
	env := []string{"SIBYL_VENUES=paper,polymarket",
		"SIBYL_POLYMARKET_GAMMA_URL=" + srv.URL, "SIBYL_POLYMARKET_CLOB_URL=" + srv.URL, "SIBYL_POLYMARKET_DATA_URL=" + srv.URL}
	srv.SetBook("501", []pmtest.Level{{Price: "0.40", Size: "100"}, {Price: "0.38", Size: "250"}}, []pmtest.Level{{Price: "0.45", Size: "70"}, {Price: "0.47", Size: "300"}})
	p := mustLaunchHTTP(t, t.TempDir(), env)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := dialRawHTTP(ctx, newCTHTTPClient(), p.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.callTool(ctx, "list_venues", map[string]any{})
	if err != nil || a.IsError {
		t.Fatalf("list_venues: %v %v", a, err)
	}
	var lv struct {
		Venues []struct {
			Name, Mode string
		} `json:"venues"`
	}
	if err := a.decode(&lv); err != nil {
		t.Fatal(err)
	}
	modes := map[string]string{}
	for _, v := range lv.Venues {
		modes[v.Name] = v.Mode
	}
	if modes["polymarket"] != "read-only" || modes["paper"] != "paper" {
		t.Errorf("venues %v, want polymarket read-only beside paper", modes)
	}
	a, err = s.callTool(ctx, "search_markets", map[string]any{"query": "e2e market", "venue": "polymarket"})
	if err != nil || a.IsError || !strings.Contains(string(a.Structured), "polymarket:"+pmCondA) {
		t.Fatalf("search_markets: %v %v", a, err)
	}
	a, err = s.callTool(ctx, "get_orderbook", map[string]any{"market": "polymarket:" + pmCondA, "outcome": "Yes"})
	if err != nil || a.IsError {
		t.Fatalf("get_orderbook: %v %v", a, err)
	}
	var ob struct {
		Bids []struct{ Price, Size float64 } `json:"bids"`
		Asks []struct{ Price, Size float64 } `json:"asks"`
	}
	if err := a.decode(&ob); err != nil {
		t.Fatal(err)
	}
	if len(ob.Bids) != 2 || len(ob.Asks) != 2 || ob.Bids[0].Price != 0.40 || ob.Asks[0].Price != 0.45 || ob.Asks[1].Size != 300 {
		t.Errorf("book %+v, want 0.40/0.38 bids and 0.45/0.47 asks, best first", ob)
	}
	a, err = s.callTool(ctx, "place_order", map[string]any{"market": "polymarket:" + pmCondA, "outcome": "Yes", "side": "buy",
		"quantity": 10, "limit_price": 0.41, "idempotency_key": "pm-read-only-01"})
	if err != nil || !a.IsError {
		t.Fatalf("place_order read-only: %v %v, want a refusal", a, err)
	}
	if n := srv.Count("POST /order") + srv.Count("POST /auth/api-key") + srv.Count("GET /auth/derive-api-key"); n != 0 {
		t.Errorf("%d order or credential requests reached the venue without a key", n)
	}
}
