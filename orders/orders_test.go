package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/venues/faulty"
)

// clock is an injectable Now that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 27, 4, 30, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type harness struct {
	be    backend
	ref   string // where the backend keeps the data: a file, an etcd key prefix
	store store.Store
	x     *exchange
	venue *faulty.Venue
	clock *clock
	svc   *Service
}

// newHarness is newHarnessOn a bbolt file.
func newHarness(t *testing.T, fopts faulty.Options, mod func(*Options)) *harness {
	t.Helper()
	return newHarnessOn(t, boltBackend, fopts, mod)
}

// newHarnessOn opens a fresh store of backend be (a real bbolt file in a temp
// dir, a prefix on a real etcd cluster) with a Service over an exchange
// wrapped by faulty. In cleanup it checks the audit chain (and a bbolt file's
// consistency).
func newHarnessOn(t *testing.T, be backend, fopts faulty.Options, mod func(*Options)) *harness {
	t.Helper()
	h := &harness{be: be, ref: be.fresh(t), x: newExchange(), clock: newClock()}
	h.venue = faulty.New(h.x.venue(), fopts)
	h.open(t, mod)
	return h
}

// open (re)opens the store and builds a new Service, as a restarted process would.
func (h *harness) open(t *testing.T, mod func(*Options)) {
	t.Helper()
	st := h.be.open(t, h.ref)
	h.store = st
	opts := Options{Store: st, Venues: map[string]sibyl.Venue{"paper": h.venue}, Now: h.clock.Now, WaitInFlight: 2 * time.Second}
	if mod != nil {
		mod(&opts)
	}
	h.svc = New(opts)
	svc := h.svc
	t.Cleanup(func() {
		svc.Flush()
		if err := st.FlushAudit(context.Background()); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("flushing audit: %v", err)
		}
		if b, ok := st.(*store.Bolt); ok {
			if err := b.Check(); err != nil && !strings.Contains(err.Error(), "not open") {
				t.Errorf("bbolt check: %v", err)
			}
		}
		if res, err := st.VerifyAudit(); err == nil && !res.OK {
			t.Errorf("audit chain: got %+v, want OK", res)
		}
		st.Close()
	})
}

func placeReq(key string, qty float64) PlaceRequest {
	args, _ := json.Marshal(map[string]any{
		"idempotency_key": key, "market_id": "paper:BTC-ABOVE-120000", "outcome": "Yes",
		"side": "buy", "type": "limit", "quantity": qty, "limit_price": 0.42, "time_in_force": "gtc",
	})
	return PlaceRequest{
		Principal: "local", Session: "sess-1", Transport: "stdio", Key: key, MarketID: "paper:BTC-ABOVE-120000",
		Order: sibyl.OrderRequest{Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(qty), LimitPrice: decimal.NewFromFloat(0.42), TimeInForce: sibyl.GTC},
		Args:  args,
	}
}

// retryUntilDone is the agent's retry loop: a retryable error (in_progress,
// unavailable) is retried with the same key after a short pause.
func retryUntilDone(ctx context.Context, svc *Service, req PlaceRequest) (PlaceResult, error, int) {
	for attempt := 1; ; attempt++ {
		res, err := svc.Place(ctx, req)
		if err == nil || !sibyl.ErrorCode(err).Retryable() || attempt >= 500 {
			return res, err, attempt
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wantCode(t *testing.T, err error, want sibyl.Code) {
	t.Helper()
	if got := sibyl.ErrorCode(err); got != want {
		t.Fatalf("error code: got %q (%v), want %q", got, err, want)
	}
}

func TestConcurrentSameKeyPlacesOnce(t *testing.T) {
	forEachBackend(t, testConcurrentSameKeyPlacesOnce)
}

func testConcurrentSameKeyPlacesOnce(t *testing.T, be backend) {
	tests := []struct {
		name    string
		latency time.Duration
		wait    time.Duration // WaitInFlight
	}{
		{"callers wait for the owner", 20 * time.Millisecond, 2 * time.Second},
		{"callers get in_progress and retry", 150 * time.Millisecond, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarnessOn(t, be, faulty.Options{Latency: tt.latency}, func(o *Options) { o.WaitInFlight = tt.wait })
			const callers = 1000
			req := placeReq("agent-7f3a-order-1", 10)
			type answer struct {
				res      PlaceResult
				err      error
				attempts int
			}
			answers := make([]answer, callers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := 0; i < callers; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					res, err, n := retryUntilDone(context.Background(), h.svc, req)
					answers[i] = answer{res, err, n}
				}()
			}
			close(start)
			wg.Wait()
			if got := h.venue.Calls("PlaceOrder"); got != 1 {
				t.Errorf("venue PlaceOrder calls: got %d, want 1", got)
			}
			if got := h.x.count(); got != 1 {
				t.Errorf("orders at the venue: got %d, want 1", got)
			}
			fresh, retries := 0, 0
			for i, a := range answers {
				if a.err != nil {
					t.Fatalf("caller %d: got error %v, want the order", i, a.err)
				}
				if a.res.Order.NativeID != "o-1" {
					t.Errorf("caller %d: got order %q, want o-1", i, a.res.Order.NativeID)
				}
				if !a.res.Replayed {
					fresh++
				}
				retries += a.attempts - 1
			}
			if fresh != 1 {
				t.Errorf("callers with a fresh (not replayed) result: got %d, want 1", fresh)
			}
			if tt.wait < tt.latency && retries == 0 {
				t.Errorf("got no in_progress retries, want some (WaitInFlight %v < venue latency %v)", tt.wait, tt.latency)
			}
			t.Logf("%d callers, %d in_progress retries", callers, retries)
		})
	}
}

func TestHooksSeeDurableState(t *testing.T) { forEachBackend(t, testHooksSeeDurableState) }

func testHooksSeeDurableState(t *testing.T, be backend) {
	var h *harness
	var seen []string
	check := func(stage string, want store.RecordState) func(string) {
		return func(key string) {
			rec, ok, err := h.store.Record(store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: key})
			if err != nil || !ok || rec.State != want {
				t.Errorf("%s: got record %+v (ok %v, err %v), want %s", stage, rec, ok, err, want)
			}
			seen = append(seen, stage)
		}
	}
	h = newHarnessOn(t, be, faulty.Options{}, func(o *Options) {
		o.Hooks = Hooks{
			AfterClaim:    check("after claim", store.Pending),
			AfterSend:     check("after send", store.Pending),
			AfterComplete: check("after complete", store.Done),
		}
	})
	if _, err := h.svc.Place(context.Background(), placeReq("hooks-key-001", 1)); err != nil {
		t.Fatal(err)
	}
	h.svc.Flush()
	if got := strings.Join(seen, ","); got != "after claim,after send,after complete" {
		t.Errorf("hooks: got %s", got)
	}
}

func TestHedgeLegsAreIndependent(t *testing.T) { forEachBackend(t, testHedgeLegsAreIndependent) }

func testHedgeLegsAreIndependent(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, nil)
	ctx := context.Background()
	base := "hedge-7c1e-2f"
	for round := 0; round < 2; round++ { // the second round is the agent's retry of the whole hedge
		for leg := 1; leg <= 3; leg++ {
			req := placeReq(LegKey(base, leg), float64(leg))
			req.AllowDuplicate = true
			res, err := h.svc.Place(ctx, req)
			if err != nil {
				t.Fatalf("round %d leg %d: %v", round, leg, err)
			}
			if res.Replayed != (round == 1) || res.Order.NativeID != fmt.Sprintf("o-%d", leg) {
				t.Errorf("round %d leg %d: got %+v", round, leg, res)
			}
		}
	}
	if got := h.x.count(); got != 3 {
		t.Errorf("orders at the venue: got %d, want 3", got)
	}
}

func TestKeyReusedWithDifferentArgs(t *testing.T) { forEachBackend(t, testKeyReusedWithDifferentArgs) }

func testKeyReusedWithDifferentArgs(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, nil)
	ctx := context.Background()
	if _, err := h.svc.Place(ctx, placeReq("key-reuse-0001", 10)); err != nil {
		t.Fatal(err)
	}
	res, err := h.svc.Place(ctx, placeReq("key-reuse-0001", 11))
	wantCode(t, err, sibyl.IdempotencyKeyReused)
	if !strings.Contains(sibyl.ErrorMessage(err), "new idempotency_key") || res.Order.NativeID != "" {
		t.Errorf("got message %q and order %q, want advice to use a new key and no order", sibyl.ErrorMessage(err), res.Order.NativeID)
	}
	if got := h.venue.Calls("PlaceOrder"); got != 1 {
		t.Errorf("venue PlaceOrder calls: got %d, want 1", got)
	}
	// Same arguments in another layout (and another number spelling) are the same request.
	req := placeReq("key-reuse-0001", 10)
	req.Args = json.RawMessage(`{"time_in_force":"gtc","quantity":10.0,"limit_price":0.42,"type":"limit","side":"buy",
		"outcome":"Yes","market_id":"paper:BTC-ABOVE-120000","idempotency_key":"key-reuse-0001"}`)
	res, err = h.svc.Place(ctx, req)
	if err != nil || !res.Replayed || res.Order.NativeID != "o-1" {
		t.Errorf("reformatted retry: got %+v, %v; want replay of o-1", res, err)
	}
}

func TestUnknownOutcomeReconciles(t *testing.T) { forEachBackend(t, testUnknownOutcomeReconciles) }

func testUnknownOutcomeReconciles(t *testing.T, be backend) {
	tests := []struct {
		fault      faulty.Fault
		wantPlaces int // PlaceOrder calls in total
	}{
		{faulty.LostResponse, 1},
		{faulty.ServerErrorAfterAccept, 1},
		{faulty.Timeout, 1},
		{faulty.ErrorBeforeSend, 2}, // never reached the venue: reconcile finds nothing, then resends
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			h := newHarnessOn(t, be, faulty.Options{Script: []faulty.Fault{tt.fault}, TimeoutAfter: 5 * time.Second},
				func(o *Options) { o.SendTimeout = 100 * time.Millisecond })
			ctx := context.Background()
			req := placeReq("lost-response-1", 5)
			_, err := h.svc.Place(ctx, req)
			wantCode(t, err, sibyl.Unavailable)
			h.svc.Flush()
			if !strings.Contains(sibyl.ErrorMessage(err), "retry with the same idempotency_key") {
				t.Errorf("got message %q, want advice to retry with the same key", sibyl.ErrorMessage(err))
			}
			rec, _, _ := h.store.Record(store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: req.Key})
			if rec.State != store.Pending || rec.LeaseUntil.After(h.clock.Now()) {
				t.Errorf("record after unknown outcome: got %s lease %v, want pending with the lease released", rec.State, rec.LeaseUntil)
			}
			res, err := h.svc.Place(ctx, req)
			// The retry places nothing when the venue already has the order: its
			// answer is a replay even though no answer reached the caller before.
			if wantReplayed := tt.wantPlaces == 1; err != nil || res.Order.NativeID != "o-1" || res.Replayed != wantReplayed {
				t.Fatalf("retry: got %+v, %v; want order o-1, replayed=%v", res, err, wantReplayed)
			}
			if got := h.venue.Calls("OrderByClientID"); got != 1 {
				t.Errorf("OrderByClientID calls: got %d, want 1", got)
			}
			if got := h.venue.Calls("PlaceOrder"); got != tt.wantPlaces {
				t.Errorf("PlaceOrder calls: got %d, want %d", got, tt.wantPlaces)
			}
			if got := h.x.count(); got != 1 {
				t.Errorf("orders at the venue: got %d, want 1", got)
			}
			res, err = h.svc.Place(ctx, req)
			if err != nil || !res.Replayed || res.Order.NativeID != "o-1" {
				t.Errorf("third call: got %+v, %v; want replay of o-1", res, err)
			}
		})
	}
}

func TestCrashRecovery(t *testing.T) { forEachBackend(t, testCrashRecovery) }

func testCrashRecovery(t *testing.T, be backend) {
	tests := []struct {
		name       string
		crashAt    func(h *Hooks, crash func(string))
		wantPlaces int
	}{
		{"after claim, before send", func(h *Hooks, crash func(string)) { h.AfterClaim = crash }, 1},
		{"after send, before complete", func(h *Hooks, crash func(string)) { h.AfterSend = crash }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h *harness
			h = newHarnessOn(t, be, faulty.Options{}, func(o *Options) {
				tt.crashAt(&o.Hooks, func(string) { runtime.Goexit() }) // the process dies here
			})
			req := placeReq("crash-test-01", 3)
			done := make(chan struct{})
			go func() { defer close(done); h.svc.Place(context.Background(), req) }()
			<-done
			rec, ok, err := h.store.Record(store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: req.Key})
			if err != nil || !ok || rec.State != store.Pending {
				t.Fatalf("record after the crash: got %+v (ok %v, err %v), want pending", rec, ok, err)
			}
			// While the dead owner's lease is live, a retry waits and then says in_progress.
			h2 := New(Options{Store: h.store, Venues: map[string]sibyl.Venue{"paper": h.venue}, Now: h.clock.Now, WaitInFlight: 100 * time.Millisecond})
			_, err = h2.Place(context.Background(), req)
			wantCode(t, err, sibyl.InProgress)

			// A new process on the same file, after the lease expired, recovers.
			h.store.Close()
			h.clock.Add(31 * time.Second)
			h.open(t, nil)
			res, err := h.svc.Place(context.Background(), req)
			if err != nil || res.Order.NativeID != "o-1" {
				t.Fatalf("after restart: got %+v, %v; want order o-1", res, err)
			}
			if got := h.venue.Calls("PlaceOrder"); got != tt.wantPlaces {
				t.Errorf("PlaceOrder calls: got %d, want %d", got, tt.wantPlaces)
			}
			if got := h.x.count(); got != 1 {
				t.Errorf("orders at the venue: got %d, want 1", got)
			}
			entries, _ := h.store.ReadAudit(0, 100, ToolPlaceOrder)
			var outcomes []string
			for _, e := range entries {
				outcomes = append(outcomes, e.Outcome)
			}
			if got := strings.Join(outcomes, ","); !strings.HasPrefix(got, "intent,") || !strings.Contains(got, "recover") {
				t.Errorf("audit outcomes: got %s, want intent ... recover ...", got)
			}
		})
	}
}

func TestDeterministicRejectionReplayed(t *testing.T) {
	forEachBackend(t, testDeterministicRejectionReplayed)
}

func testDeterministicRejectionReplayed(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, nil)
	ctx := context.Background()
	h.x.refuse.Store(sibyl.FieldErrorf(sibyl.InsufficientFunds, "quantity", "balance $3.00 does not cover $4.20"))
	req := placeReq("reject-0001", 10)
	_, err := h.svc.Place(ctx, req)
	wantCode(t, err, sibyl.InsufficientFunds)
	h.x.refuse.Store(nil) // funds arrive; the stored answer still stands for this key
	res, err := h.svc.Place(ctx, req)
	wantCode(t, err, sibyl.InsufficientFunds)
	if !res.Replayed || sibyl.ErrorField(err) != "quantity" || sibyl.ErrorMessage(err) != "balance $3.00 does not cover $4.20" {
		t.Errorf("replay: got replayed %v, field %q, message %q", res.Replayed, sibyl.ErrorField(err), sibyl.ErrorMessage(err))
	}
	if got := h.venue.Calls("PlaceOrder"); got != 1 {
		t.Errorf("PlaceOrder calls: got %d, want 1", got)
	}
	// A rate limit is not stored: the retry goes through.
	h.x.refuse.Store(sibyl.Errorf(sibyl.RateLimited, "slow down"))
	req = placeReq("ratelimit-01", 10)
	_, err = h.svc.Place(ctx, req)
	wantCode(t, err, sibyl.RateLimited)
	h.x.refuse.Store(nil)
	if res, err := h.svc.Place(ctx, req); err != nil || res.Replayed {
		t.Errorf("after the rate limit: got %+v, %v; want a fresh order", res, err)
	}
}

func TestPossibleDuplicate(t *testing.T) { forEachBackend(t, testPossibleDuplicate) }

func testPossibleDuplicate(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, nil)
	ctx := context.Background()
	if _, err := h.svc.Place(ctx, placeReq("first-key-001", 10)); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(10 * time.Second)
	_, err := h.svc.Place(ctx, placeReq("made-up-key-02", 10))
	wantCode(t, err, sibyl.PossibleDuplicate)
	if msg := sibyl.ErrorMessage(err); !strings.Contains(msg, "original idempotency_key") || !strings.Contains(msg, "allow_duplicate") {
		t.Errorf("message %q: want advice on the original key and allow_duplicate", msg)
	}
	if got := h.venue.Calls("PlaceOrder"); got != 1 {
		t.Errorf("PlaceOrder calls: got %d, want 1", got)
	}
	// The refusal left no record: the same key may go ahead with allow_duplicate.
	req := placeReq("made-up-key-02", 10)
	req.AllowDuplicate = true
	var args map[string]any
	json.Unmarshal(req.Args, &args)
	args["allow_duplicate"] = true
	req.Args, _ = json.Marshal(args)
	res, err := h.svc.Place(ctx, req)
	if err != nil || res.Order.NativeID != "o-2" {
		t.Fatalf("allow_duplicate: got %+v, %v; want a second order", res, err)
	}
	// Its retry without the flag is the same request (the flag is not fingerprinted).
	if res, err := h.svc.Place(ctx, placeReq("made-up-key-02", 10)); err != nil || !res.Replayed || res.Order.NativeID != "o-2" {
		t.Errorf("retry without the flag: got %+v, %v; want replay of o-2", res, err)
	}
	// After the window, a new key is a new order.
	h.clock.Add(61 * time.Second)
	if res, err := h.svc.Place(ctx, placeReq("later-key-003", 10)); err != nil || res.Order.NativeID != "o-3" {
		t.Errorf("after the window: got %+v, %v; want a new order", res, err)
	}
}

func TestRetentionKeepsOpenOrders(t *testing.T) { forEachBackend(t, testRetentionKeepsOpenOrders) }

func testRetentionKeepsOpenOrders(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, nil)
	ctx := context.Background()
	open, err := h.svc.Place(ctx, placeReq("open-order-01", 1))
	if err != nil {
		t.Fatal(err)
	}
	h.x.status = sibyl.OrderFilled
	if _, err := h.svc.Place(ctx, placeReq("filled-order-1", 2)); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(25 * time.Hour)
	res, err := h.svc.Sweep()
	if err != nil || res.Deleted != 1 || res.KeptOpen != 1 {
		t.Fatalf("Sweep: got %+v, %v; want 1 deleted, 1 kept open", res, err)
	}
	exists := func(tool, key string) bool {
		_, ok, _ := h.store.Record(store.RecordID{Principal: "local", Tool: tool, Key: key})
		return ok
	}
	if !exists(ToolPlaceOrder, "open-order-01") || exists(ToolPlaceOrder, "filled-order-1") {
		t.Fatalf("after sweep: want the open order's record kept and the filled one's gone")
	}
	// Cancelling the stale open order marks its record final; the next sweep drops it.
	c, err := h.svc.Cancel(ctx, CancelRequest{Principal: "local", Key: "cancel-open-01", OrderID: open.Order.NativeID})
	if err != nil || c.Order.Status != sibyl.OrderCancelled {
		t.Fatalf("Cancel: got %+v, %v", c, err)
	}
	h.clock.Add(25 * time.Hour)
	if res, err := h.svc.Sweep(); err != nil || res.Deleted != 2 || exists(ToolPlaceOrder, "open-order-01") {
		t.Errorf("second sweep: got %+v, %v; want the place and cancel records deleted", res, err)
	}
}

func TestCancelExactlyOnce(t *testing.T) { forEachBackend(t, testCancelExactlyOnce) }

func testCancelExactlyOnce(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, nil)
	ctx := context.Background()
	placed, err := h.svc.Place(ctx, placeReq("place-then-cancel", 4))
	if err != nil {
		t.Fatal(err)
	}
	h.venue.Push(faulty.LostResponse)
	creq := CancelRequest{Principal: "local", Venue: "paper", Key: "cancel-key-0001", OrderID: placed.Order.NativeID}
	_, err = h.svc.Cancel(ctx, creq)
	wantCode(t, err, sibyl.Unavailable)
	res, err := h.svc.Cancel(ctx, creq)
	if err != nil || res.Order.Status != sibyl.OrderCancelled {
		t.Fatalf("retry: got %+v, %v; want the cancelled order", res, err)
	}
	res, err = h.svc.Cancel(ctx, creq)
	if err != nil || !res.Replayed {
		t.Fatalf("second retry: got %+v, %v; want a replay", res, err)
	}
	if got := h.venue.Calls("CancelOrder"); got != 1 {
		t.Errorf("CancelOrder calls: got %d, want 1 (the retry reconciles with GetOrder)", got)
	}
	// Cancelling it again under a new key is a conflict, stored and replayed.
	again := CancelRequest{Principal: "local", Venue: "paper", Key: "cancel-key-0002", OrderID: placed.Order.NativeID}
	_, err = h.svc.Cancel(ctx, again)
	wantCode(t, err, sibyl.Conflict)
	res, err = h.svc.Cancel(ctx, again)
	wantCode(t, err, sibyl.Conflict)
	if !res.Replayed {
		t.Error("conflict retry: want Replayed")
	}
}

func TestBadInputsLeaveNoRecord(t *testing.T) { forEachBackend(t, testBadInputsLeaveNoRecord) }

func testBadInputsLeaveNoRecord(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, nil)
	ctx := context.Background()
	long := strings.Repeat("k", 129)
	tests := []struct {
		name  string
		req   func() PlaceRequest
		field string
	}{
		{"short key", func() PlaceRequest { return placeReq("short", 1) }, "idempotency_key"},
		{"long key", func() PlaceRequest { return placeReq(long, 1) }, "idempotency_key"},
		{"bad characters", func() PlaceRequest { return placeReq("key with spaces", 1) }, "idempotency_key"},
		{"unknown venue", func() PlaceRequest {
			r := placeReq("unknown-venue-1", 1)
			r.MarketID = "kalshi:KXBTC"
			return r
		}, "market_id"},
		{"no venue prefix", func() PlaceRequest {
			r := placeReq("no-prefix-0001", 1)
			r.MarketID = "BTC"
			return r
		}, "market_id"},
		{"zero quantity", func() PlaceRequest { return placeReq("zero-qty-00001", 0) }, "quantity"},
		{"args not an object", func() PlaceRequest {
			r := placeReq("bad-args-00001", 1)
			r.Args = json.RawMessage(`[1,2]`)
			return r
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req()
			_, err := h.svc.Place(ctx, req)
			wantCode(t, err, sibyl.Invalid)
			if got := sibyl.ErrorField(err); got != tt.field {
				t.Errorf("field: got %q, want %q", got, tt.field)
			}
			if req.Key == "" || len(req.Key) > 128 || strings.ContainsRune(req.Key, ' ') {
				return // not a storable key; the scan below covers it
			}
			if _, ok, _ := h.store.Record(store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: req.Key}); ok {
				t.Errorf("a record was left for key %q", req.Key)
			}
		})
	}
	if got := h.venue.Calls("PlaceOrder"); got != 0 {
		t.Errorf("PlaceOrder calls: got %d, want 0", got)
	}
	if got := h.store.IdemStats(); got.Versions != 0 {
		t.Errorf("idempotency records: got %+v, want none", got)
	}
	// Every refused call is still in the audit log (asynchronously).
	h.store.FlushAudit(ctx)
	entries, _ := h.store.ReadAudit(0, 100, ToolPlaceOrder)
	if len(entries) != len(tests) {
		t.Errorf("audit entries: got %d, want %d", len(entries), len(tests))
	}
	for _, e := range entries {
		if e.Outcome != store.OutcomeInvalid {
			t.Errorf("audit entry %d: outcome %q, want invalid", e.Seq, e.Outcome)
		}
	}
}

func TestRandomFaultsNeverDuplicate(t *testing.T) { forEachBackend(t, testRandomFaultsNeverDuplicate) }

func testRandomFaultsNeverDuplicate(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{Seed: 42, LostResponse: 0.15, ServerError: 0.1, ErrorBeforeSend: 0.1, Timeout: 0.05,
		TimeoutAfter: time.Second, Latency: time.Millisecond, Jitter: 2 * time.Millisecond},
		func(o *Options) { o.SendTimeout = 50 * time.Millisecond })
	const keys, callersPerKey = 40, 5
	var wg sync.WaitGroup
	ids := make([][]string, keys)
	for k := 0; k < keys; k++ {
		ids[k] = make([]string, callersPerKey)
		for c := 0; c < callersPerKey; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err, _ := retryUntilDone(context.Background(), h.svc, placeReq(fmt.Sprintf("random-fault-%03d", k), float64(k+1)))
				if err != nil {
					t.Errorf("key %d caller %d: %v", k, c, err)
				}
				ids[k][c] = res.Order.NativeID
			}()
		}
	}
	wg.Wait()
	for k := range ids {
		for c := range ids[k] {
			if ids[k][c] != ids[k][0] {
				t.Errorf("key %d: callers got orders %v, want one", k, ids[k])
				break
			}
		}
	}
	if got := h.x.count(); got != keys {
		t.Errorf("orders at the venue: got %d, want %d", got, keys)
	}
	t.Logf("PlaceOrder calls %d, faults lost=%d 5xx=%d before=%d timeout=%d", h.venue.Calls("PlaceOrder"),
		h.venue.Injected(faulty.LostResponse), h.venue.Injected(faulty.ServerErrorAfterAccept),
		h.venue.Injected(faulty.ErrorBeforeSend), h.venue.Injected(faulty.Timeout))
}

func TestClientOrderIDIsStable(t *testing.T) {
	a := ClientOrderID("local", ToolPlaceOrder, "key-00000001")
	if a != ClientOrderID("local", ToolPlaceOrder, "key-00000001") {
		t.Fatal("not deterministic")
	}
	for _, other := range []string{
		ClientOrderID("other", ToolPlaceOrder, "key-00000001"),
		ClientOrderID("local", ToolCancelOrder, "key-00000001"),
		ClientOrderID("local", ToolPlaceOrder, LegKey("key-00000001", 1)),
	} {
		if other == a {
			t.Errorf("got the same id %s for a different scope", a)
		}
	}
	if a[14] != '5' {
		t.Errorf("got %s, want a version 5 UUID", a)
	}
}

func TestRecordWaitsForCompletion(t *testing.T) { forEachBackend(t, testRecordWaitsForCompletion) }

func testRecordWaitsForCompletion(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, nil)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		key := fmt.Sprintf("lookup-key-%03d", i)
		res, err := h.svc.Place(ctx, placeReq(key, float64(i+1)))
		if err != nil {
			t.Fatal(err)
		}
		rec, ok, err := h.svc.Record(ctx, "local", ToolPlaceOrder, key)
		if err != nil || !ok || rec.State != store.Done || rec.OrderID != res.Order.NativeID {
			t.Fatalf("Record right after Place: got %+v (ok %v, err %v), want done with order %s", rec, ok, err, res.Order.NativeID)
		}
	}
	if _, ok, err := h.svc.Record(ctx, "local", ToolPlaceOrder, "no-such-key-1"); ok || err != nil {
		t.Errorf("unknown key: got ok %v, err %v", ok, err)
	}
}

// TestSoleOwnerRecoversAtOnce: a sole owner (sibyl serve, which holds the bbolt
// file lock) knows a pending record of another owner was left by a dead process,
// and recovers it without waiting for the lease.
func TestSoleOwnerRecoversAtOnce(t *testing.T) {
	h := newHarness(t, faulty.Options{}, func(o *Options) {
		o.Hooks.AfterSend = func(string) { runtime.Goexit() } // dies after the venue took the order
	})
	req := placeReq("sole-owner-01", 2)
	done := make(chan struct{})
	go func() { defer close(done); h.svc.Place(context.Background(), req) }()
	<-done
	h2 := New(Options{Store: h.store, Venues: map[string]sibyl.Venue{"paper": h.venue}, Now: h.clock.Now,
		WaitInFlight: time.Hour, SoleOwner: true}) // the clock has not moved: the lease is live
	res, err := h2.Place(context.Background(), req)
	if err != nil || res.Order.NativeID != "o-1" {
		t.Fatalf("got %+v, %v; want order o-1 recovered at once", res, err)
	}
	if got := h.venue.Calls("PlaceOrder"); got != 1 {
		t.Errorf("PlaceOrder calls: got %d, want 1 (recovered by OrderByClientID, not resent)", got)
	}
	h2.Flush()
}

// An owner whose venue call outlived its lease completes after a retry took
// the record over: its completion must start from the record as the retry left
// it (not from what its own claim wrote), whether the retry has completed it
// already or is still running.
func TestCompletionAfterTakeover(t *testing.T) { forEachBackend(t, testCompletionAfterTakeover) }

func testCompletionAfterTakeover(t *testing.T, be backend) {
	for _, tt := range []struct {
		name          string
		retryFinishes bool // the retry completes before the first owner does
	}{
		{"retry completed first", true},
		{"retry still running", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var sends atomic.Int32
			firstSent, releaseFirst := make(chan struct{}), make(chan struct{})
			retrySent, releaseRetry := make(chan struct{}), make(chan struct{})
			h := newHarnessOn(t, be, faulty.Options{}, func(o *Options) {
				o.Hooks.AfterSend = func(string) {
					switch sends.Add(1) {
					case 1:
						close(firstSent)
						<-releaseFirst
					case 2:
						close(retrySent)
						if !tt.retryFinishes {
							<-releaseRetry
						}
					}
				}
			})
			req := placeReq("takeover-0001", 2)
			first := make(chan Result, 1)
			go func() {
				res, err := h.svc.Place(context.Background(), req)
				if err != nil {
					t.Errorf("first owner: %v", err)
				}
				first <- res
			}()
			<-firstSent
			h.clock.Add(31 * time.Second) // the first owner's lease expires
			retry := make(chan Result, 1)
			go func() {
				res, err := h.svc.Place(context.Background(), req)
				if err != nil {
					t.Errorf("retry: %v", err)
				}
				retry <- res
			}()
			<-retrySent
			var r Result
			if tt.retryFinishes {
				r = <-retry
				h.svc.Flush()
			}
			close(releaseFirst)
			f := <-first
			h.svc.Flush()
			if !tt.retryFinishes {
				close(releaseRetry)
				r = <-retry
				h.svc.Flush()
			}
			if f.Order.NativeID != "o-1" || r.Order.NativeID != "o-1" || f.Replayed || !r.Replayed {
				t.Errorf("answers: first %+v, retry %+v; want o-1 for both, the retry replayed", f, r)
			}
			rec, ok, err := h.store.Record(store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: req.Key})
			if err != nil || !ok || rec.State != store.Done || rec.OrderID != "o-1" || rec.Attempt != 2 {
				t.Errorf("record: %+v (ok %v, err %v); want done with o-1 at attempt 2", rec, ok, err)
			}
			if got := h.x.count(); got != 1 {
				t.Errorf("orders at the venue: got %d, want 1", got)
			}
			h.store.FlushAudit(context.Background())
			entries, _ := h.store.ReadAudit(0, 100, ToolPlaceOrder)
			var outcomes []string
			for _, e := range entries {
				outcomes = append(outcomes, e.Outcome)
			}
			// Exactly one completion is written: the later one finds the record done.
			if got, want := strings.Join(outcomes, ","), "intent,recover"; !strings.HasPrefix(got, want) || strings.Count(got, store.OutcomePlaced)+strings.Count(got, store.OutcomeReconciled) != 1 {
				t.Errorf("audit outcomes: %s; want %s then one completion", got, want)
			}
		})
	}
}
