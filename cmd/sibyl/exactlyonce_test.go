package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/orders"
)

// The exactly-once tests: many concurrent place_order calls with ONE
// idempotency key against the real server, over HTTP (real concurrent requests
// on several sessions) and over stdio (one process, every request in flight at
// once on one pipe). Every caller retries in_progress and unavailable with the
// same key and arguments until it gets a final answer.

// eoCallers is how many concurrent callers share the one key.
func eoCallers() int {
	if testing.Short() {
		return 200
	}
	return 1000
}

// eoOutcome is what one caller finally got.
type eoOutcome struct {
	answer  toolAnswer
	order   ctOrder
	retries map[string]int // retryable error code (or "transport") -> count
	err     error          // the caller gave up (deadline)
}

// hammerOneKey runs n callers, caller i using callers[i%len(callers)], all
// sending args to place_order at once, and returns their final answers.
func hammerOneKey(ctx context.Context, callers []toolCaller, n int, args map[string]any) []eoOutcome {
	out := make([]eoOutcome, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := callers[i%len(callers)]
			o := &out[i]
			o.retries = map[string]int{}
			<-start
			for {
				if err := ctx.Err(); err != nil {
					o.err = fmt.Errorf("no final answer before the deadline (retries %v): %w", o.retries, err)
					return
				}
				a, err := c.callTool(ctx, "place_order", args)
				switch {
				case err != nil:
					o.retries["transport"]++
					time.Sleep(20 * time.Millisecond)
					continue
				case a.IsError && a.Retryable:
					o.retries[a.Code]++
					time.Sleep(10 * time.Millisecond)
					continue
				}
				o.answer = a
				if !a.IsError {
					if err := a.decode(&o.order); err != nil {
						o.err = err
					}
				}
				return
			}
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// checkOneKey asserts what every caller of one key must see: the same order,
// whose client_order_id is the key's, placed (replayed=false) at most once, and
// exactly one order at the venue. It returns the order.
func checkOneKey(ctx context.Context, t *testing.T, c toolCaller, outs []eoOutcome, wantCOID string) ctOrder {
	t.Helper()
	var first ctOrder
	fresh, replayed, transport := 0, 0, 0
	retries := map[string]int{}
	for i, o := range outs {
		for k, v := range o.retries {
			retries[k] += v
		}
		transport += o.retries["transport"]
		if o.err != nil {
			t.Errorf("caller %d: %v", i, o.err)
			continue
		}
		if o.answer.IsError {
			t.Errorf("caller %d: got %v, want an order", i, o.answer)
			continue
		}
		if first.OrderID == "" {
			first = o.order
		}
		if o.order.OrderID != first.OrderID || o.order.ClientOrderID != first.ClientOrderID {
			t.Errorf("caller %d: got order %s (client id %s), want %s (client id %s): a second order", i, o.order.OrderID, o.order.ClientOrderID, first.OrderID, first.ClientOrderID)
		}
		if o.order.Replayed {
			replayed++
		} else {
			fresh++
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if first.ClientOrderID != wantCOID {
		t.Errorf("client_order_id: got %s, want %s (UUIDv5 of principal, tool and key)", first.ClientOrderID, wantCOID)
	}
	// The caller whose attempt reached the venue hears replayed=false; every
	// other answer is a replay. A lost response (a transport error here) could
	// hide that one answer, so with one only "at most once" holds.
	switch {
	case fresh > 1:
		t.Errorf("replayed=false in %d answers, want at most 1: more than one call claims to have placed the order", fresh)
	case fresh == 0 && transport == 0:
		t.Errorf("replayed=false in no answer although no response was lost, want exactly 1")
	}
	all, err := listAllOrders(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].OrderID != first.OrderID || all[0].ClientOrderID != wantCOID {
		t.Fatalf("list_orders: got %+v, want exactly the one order %s with client id %s", all, first.OrderID, wantCOID)
	}
	t.Logf("%d callers: 1 order %s, replayed=false %d, replayed=true %d, retries %v", len(outs), first.OrderID, fresh, replayed, retries)
	return first
}

// checkKeyReused asserts that the key with other arguments is refused and
// creates nothing.
func checkKeyReused(ctx context.Context, t *testing.T, c toolCaller, args map[string]any, want ctOrder) {
	t.Helper()
	other := map[string]any{}
	for k, v := range args {
		other[k] = v
	}
	other["quantity"] = args["quantity"].(int) + 1
	a, err := c.callTool(ctx, "place_order", other)
	if err != nil {
		t.Fatal(err)
	}
	if !a.IsError || a.Code != "idempotency_key_reused" || a.Retryable {
		t.Errorf("same key, other quantity: got %v, want isError idempotency_key_reused (not retryable)", a)
	}
	all, err := listAllOrders(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].OrderID != want.OrderID {
		t.Errorf("list_orders after the reused key: got %+v, want only %s", all, want.OrderID)
	}
}

// checkOneKeyAudit asserts the audit trail of the key: a verified chain, one
// intent, one placed naming the order, a replay per replayed answer (when no
// answer was lost), one key_reused.
func checkOneKeyAudit(ctx context.Context, t *testing.T, c toolCaller, key, principal string, outs []eoOutcome, want ctOrder) {
	t.Helper()
	entries, ok, problem, err := readAuditLog(ctx, c, "place_order")
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Errorf("get_audit_log verify: chain_ok false: %s", problem)
	}
	counts := map[string]int{}
	for _, e := range entries {
		if e.Key != key {
			continue
		}
		counts[e.Outcome]++
		if e.Principal != principal {
			t.Errorf("audit entry %d: principal %q, want %q", e.Seq, e.Principal, principal)
		}
		for _, id := range e.OrderIDs {
			if id != want.OrderID {
				t.Errorf("audit entry %d (%s) names order %s, want only %s", e.Seq, e.Outcome, id, want.OrderID)
			}
		}
	}
	replayed, lost := 0, 0
	for _, o := range outs {
		lost += o.retries["transport"]
		if o.order.Replayed {
			replayed++
		}
	}
	if counts["intent"] != 1 || counts["placed"]+counts["reconciled"] != 1 || counts["key_reused"] != 1 {
		t.Errorf("audit outcomes for the key: got %v, want intent 1, placed 1, key_reused 1", counts)
	}
	if lost == 0 && counts["replay"] != replayed {
		t.Errorf("audit replay entries: got %d, want %d (one per replayed answer)", counts["replay"], replayed)
	}
	if lost > 0 && counts["replay"] < replayed {
		t.Errorf("audit replay entries: got %d, want at least %d", counts["replay"], replayed)
	}
	t.Logf("audit for the key: %v", counts)
}

func eoArgs(market, key string) map[string]any {
	// A bid far under the market: it rests, so nothing about it changes while
	// the callers run.
	return map[string]any{"market": market, "outcome": "Yes", "side": "buy", "quantity": 7, "limit_price": 0.02, "idempotency_key": key}
}

// TestExactlyOnceHTTP sends place_order with one key from many goroutines over
// real concurrent HTTP requests (on 25 sessions) to one `sibyl serve --http`.
func TestExactlyOnceHTTP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	dir := t.TempDir()
	srv := mustLaunchHTTP(t, dir, nil)
	hc := newCTHTTPClient()
	defer hc.CloseIdleConnections()
	var sessions []toolCaller
	for range 25 {
		s, err := dialRawHTTP(ctx, hc, srv.endpoint)
		if err != nil {
			t.Fatalf("%v; stderr:\n%s", err, srv.stderr)
		}
		sessions = append(sessions, s)
	}
	ms, err := findOpenMarkets(ctx, sessions[0], 1)
	if err != nil {
		t.Fatal(err)
	}
	const key = "exactly-once-http-0001"
	args := eoArgs(ms[0].ID, key)
	n := eoCallers()
	outs := hammerOneKey(ctx, sessions, n, args)
	order := checkOneKey(ctx, t, sessions[0], outs, orders.ClientOrderID("anonymous", "place_order", key))
	checkKeyReused(ctx, t, sessions[1], args, order)
	checkOneKeyAudit(ctx, t, sessions[2], key, "anonymous", outs, order)

	calls := time.Since(began)
	hc.CloseIdleConnections()
	stopped := time.Now()
	if err := srv.stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	stopDur := time.Since(stopped)
	if code, out, err := runSibyl(ctx, "audit", "verify", "--data-dir", dir); err != nil || code != 0 {
		t.Fatalf("sibyl audit verify: exit %d, %v: %s", code, err, out)
	}
	t.Logf("HTTP: %d concurrent callers, one key: calls and checks %v, server stop (SIGINT) %v, total %v", n, calls.Round(time.Millisecond), stopDur.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// TestExactlyOnceStdio sends place_order with one key as many concurrent
// requests on one stdio connection: all of them in flight at once, answers
// matched by id.
func TestExactlyOnceStdio(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	dir := t.TempDir()
	c := startStdio(ctx, t, dir)
	ms, err := findOpenMarkets(ctx, c, 1)
	if err != nil {
		t.Fatal(err)
	}
	const key = "exactly-once-stdio-0001"
	args := eoArgs(ms[0].ID, key)
	n := eoCallers()
	var inflight, peak atomic.Int64
	counting := countingCaller{c: c, inflight: &inflight, peak: &peak}
	outs := hammerOneKey(ctx, []toolCaller{counting}, n, args)
	order := checkOneKey(ctx, t, c, outs, orders.ClientOrderID("local", "place_order", key))
	checkKeyReused(ctx, t, c, args, order)
	checkOneKeyAudit(ctx, t, c, key, "local", outs, order)

	if err := c.close(15 * time.Second); err != nil {
		t.Fatalf("%v; stderr:\n%s", err, c.stderr)
	}
	if code, out, err := runSibyl(ctx, "audit", "verify", "--data-dir", dir); err != nil || code != 0 {
		t.Fatalf("sibyl audit verify: exit %d, %v: %s", code, err, out)
	}
	t.Logf("stdio: %d concurrent callers, one key, at most %d requests in flight at once, %v", n, peak.Load(), time.Since(began).Round(time.Millisecond))
}

// countingCaller measures how many calls are in flight at once.
type countingCaller struct {
	c              toolCaller
	inflight, peak *atomic.Int64
}

func (cc countingCaller) callTool(ctx context.Context, name string, args any) (toolAnswer, error) {
	n := cc.inflight.Add(1)
	for {
		p := cc.peak.Load()
		if n <= p || cc.peak.CompareAndSwap(p, n) {
			break
		}
	}
	defer cc.inflight.Add(-1)
	return cc.c.callTool(ctx, name, args)
}
