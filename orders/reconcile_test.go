package orders

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/venues/faulty"
)

// An order that rests and then fills or expires at the venue on its own keeps
// its record until ReconcileOpen asks the venue and marks it final; orders
// still open, and those the venue does not answer for, keep theirs.
func TestReconcileOpenLetsTheSweepGo(t *testing.T) {
	forEachBackend(t, testReconcileOpenLetsTheSweepGo)
}

func testReconcileOpenLetsTheSweepGo(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, nil)
	ctx := context.Background()
	ids := map[string]string{} // key -> order id
	for i, key := range []string{"fills-later-1", "expires-later", "still-open-01", "venue-forgot1"} {
		res, err := h.svc.Place(ctx, placeReq(key, float64(i+1))) // distinct, so no possible_duplicate
		if err != nil {
			t.Fatal(err)
		}
		ids[key] = res.Order.NativeID
	}
	h.clock.Add(time.Hour)
	recent, err := h.svc.Place(ctx, placeReq("recent-open-1", 9))
	if err != nil {
		t.Fatal(err)
	}
	h.svc.Flush()
	exists := func(key string) bool {
		_, ok, _ := h.store.Record(store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: key})
		return ok
	}

	// Nothing is older than the window yet.
	if res, err := h.svc.ReconcileOpen(ctx, h.clock.Now().Add(-24*time.Hour), 0); err != nil || res != (ReconcileResult{}) {
		t.Fatalf("ReconcileOpen with nothing old: %+v, %v", res, err)
	}

	h.clock.Add(24 * time.Hour) // 25 h after the first four, 24 h after the last
	h.x.mu.Lock()
	for key, status := range map[string]sibyl.OrderStatus{"fills-later-1": sibyl.OrderFilled, "expires-later": sibyl.OrderExpired} {
		o := h.x.orders[ids[key]]
		o.Status = status
		h.x.orders[ids[key]] = o
	}
	delete(h.x.orders, ids["venue-forgot1"]) // GetOrder answers not_found
	o := h.x.orders[recent.Order.NativeID]
	o.Status = sibyl.OrderFilled // final, but its record is within the window: not asked about
	h.x.orders[recent.Order.NativeID] = o
	h.x.mu.Unlock()

	cutoff := h.clock.Now().Add(-24 * time.Hour)
	if got := len(h.store.OpenOrders(cutoff, 2)); got != 2 {
		t.Errorf("OpenOrders with limit 2: %d orders", got)
	}
	res, err := h.svc.ReconcileOpen(ctx, cutoff, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ReconcileResult{Checked: 4, Final: 2, Open: 1, Failed: 1}, res); diff != "" {
		t.Errorf("ReconcileOpen (-want +got):\n%s", diff)
	}
	sw, err := h.svc.Sweep()
	if err != nil || sw.Deleted != 2 || sw.KeptOpen != 2 {
		t.Errorf("Sweep: %+v, %v; want the 2 final orders' records deleted, 2 kept open", sw, err)
	}
	for key, want := range map[string]bool{"fills-later-1": false, "expires-later": false, "still-open-01": true, "venue-forgot1": true, "recent-open-1": true} {
		if got := exists(key); got != want {
			t.Errorf("record %s exists: %v, want %v", key, got, want)
		}
	}
	// Within the hour nothing is asked about again; after it, only what is
	// still open or unanswered, one per call with limit 1: the second call
	// moves on to the order the first did not ask about.
	if res, err := h.svc.ReconcileOpen(ctx, cutoff, 0); err != nil || res != (ReconcileResult{}) {
		t.Errorf("ReconcileOpen again at once: %+v, %v; want nothing asked", res, err)
	}
	h.clock.Add(time.Hour)
	first, err1 := h.svc.ReconcileOpen(ctx, cutoff, 1)
	second, err2 := h.svc.ReconcileOpen(ctx, cutoff, 1)
	if err1 != nil || err2 != nil || first.Checked != 1 || second.Checked != 1 || first == second {
		t.Errorf("two ReconcileOpen calls with limit 1: %+v %v, %+v %v; want one order each, not the same", first, err1, second, err2)
	}
	// A cancelled context stops it before any venue call.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if res, err := h.svc.ReconcileOpen(cctx, cutoff, 0); err == nil || res.Checked != 0 {
		t.Errorf("ReconcileOpen with a cancelled context: %+v, %v", res, err)
	}
}

// A place_order whose outcome was left unknown and whose key was never retried:
// ReconcilePending completes the record when the venue has the order (and a
// later retry replays it), and leaves it pending, writing nothing and sending
// nothing, when the venue has none.
func TestReconcilePending(t *testing.T) { forEachBackend(t, testReconcilePending) }

func testReconcilePending(t *testing.T, be backend) {
	for _, tt := range []struct {
		fault      faulty.Fault
		atVenue    bool
		wantPlaces int // PlaceOrder calls at the venue in all, the retry's included
	}{
		{faulty.LostResponse, true, 1},
		{faulty.ErrorBeforeSend, false, 2},
	} {
		t.Run(tt.fault.String(), func(t *testing.T) {
			h := newHarnessOn(t, be, faulty.Options{Script: []faulty.Fault{tt.fault}}, nil)
			ctx := context.Background()
			req := placeReq("abandoned-01", 3)
			if _, err := h.svc.Place(ctx, req); sibyl.ErrorCode(err) != sibyl.Unavailable {
				t.Fatalf("first call: %v, want unavailable", err)
			}
			h.svc.Flush()
			id := store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: req.Key}
			auditBefore := auditCount(t, h)

			// Too recent: not looked at.
			if res, err := h.svc.ReconcilePending(ctx, h.clock.Now().Add(-10*time.Minute), 0); err != nil || res != (PendingResult{}) {
				t.Fatalf("ReconcilePending of a recent record: %+v, %v", res, err)
			}
			h.clock.Add(11 * time.Minute)
			res, err := h.svc.ReconcilePending(ctx, h.clock.Now().Add(-10*time.Minute), 0)
			h.svc.Flush()
			if err != nil {
				t.Fatal(err)
			}
			rec, _, _ := h.store.Record(id)
			if tt.atVenue {
				if res != (PendingResult{Checked: 1, Completed: 1}) {
					t.Errorf("ReconcilePending: %+v, want 1 completed", res)
				}
				if rec.State != store.Done || rec.OrderID != "o-1" {
					t.Errorf("record after reconciling: %+v, want done with o-1", rec)
				}
				if got := auditOutcomes(t, h, auditBefore); !equalStrings(got, []string{store.OutcomeRecover, store.OutcomeReconciled}) {
					t.Errorf("audit entries written: %v, want recover, reconciled", got)
				}
			} else {
				if res != (PendingResult{Checked: 1, NotAtVenue: 1}) {
					t.Errorf("ReconcilePending: %+v, want 1 not at the venue", res)
				}
				if rec.State != store.Pending {
					t.Errorf("record after reconciling: %+v, want still pending", rec)
				}
				if got := auditOutcomes(t, h, auditBefore); len(got) != 0 {
					t.Errorf("audit entries written: %v, want none", got)
				}
			}
			// The agent's retry, whenever it comes: one order in all.
			got, err := h.svc.Place(ctx, req)
			if err != nil || got.Order.NativeID != "o-1" || got.Replayed != tt.atVenue {
				t.Errorf("retry: %+v, %v; want o-1, replayed=%v", got, err, tt.atVenue)
			}
			if n := h.venue.Calls("PlaceOrder"); n != tt.wantPlaces {
				t.Errorf("PlaceOrder calls: %d, want %d", n, tt.wantPlaces)
			}
			if n := h.x.count(); n != 1 {
				t.Errorf("orders at the venue: %d, want 1", n)
			}
			h.svc.Flush()
			if res, err := h.svc.ReconcilePending(ctx, h.clock.Now(), 0); err != nil || res != (PendingResult{}) {
				t.Errorf("ReconcilePending after the retry: %+v, %v; want nothing pending", res, err)
			}
		})
	}
}

func auditCount(t *testing.T, h *harness) int {
	t.Helper()
	return len(auditOutcomes(t, h, 0))
}

// auditOutcomes returns the outcomes of the audit entries after the first skip.
func auditOutcomes(t *testing.T, h *harness, skip int) []string {
	t.Helper()
	if err := h.store.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out []string
	entries, err := h.store.ReadAudit(0, 100000, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if i >= skip {
			out = append(out, e.Outcome)
		}
	}
	return out
}

func equalStrings(a, b []string) bool { return slices.Equal(a, b) }

// ReconcilePending racing the agent's own retry of the same key: one order,
// one completion, whichever takes the record first.
func TestReconcilePendingRacesRetry(t *testing.T) { forEachBackend(t, testReconcilePendingRacesRetry) }

func testReconcilePendingRacesRetry(t *testing.T, be backend) {
	for i := range 20 {
		h := newHarnessOn(t, be, faulty.Options{Script: []faulty.Fault{faulty.LostResponse}}, nil)
		ctx := context.Background()
		req := placeReq(fmt.Sprintf("race-key-%03d", i), 3)
		if _, err := h.svc.Place(ctx, req); sibyl.ErrorCode(err) != sibyl.Unavailable {
			t.Fatalf("first call: %v, want unavailable", err)
		}
		h.svc.Flush()
		h.clock.Add(11 * time.Minute)
		var wg sync.WaitGroup
		var retry PlaceResult
		var retryErr error
		wg.Add(2)
		go func() { defer wg.Done(); retry, retryErr, _ = retryUntilDone(ctx, h.svc, req) }()
		go func() {
			defer wg.Done()
			if _, err := h.svc.ReconcilePending(ctx, h.clock.Now().Add(-10*time.Minute), 0); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		h.svc.Flush()
		if retryErr != nil || retry.Order.NativeID != "o-1" || !retry.Replayed {
			t.Fatalf("retry: %+v, %v; want a replay of o-1", retry, retryErr)
		}
		rec, _, _ := h.store.Record(store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: req.Key})
		if rec.State != store.Done || rec.OrderID != "o-1" {
			t.Fatalf("record: %+v, want done with o-1", rec)
		}
		if n := h.x.count(); n != 1 || h.venue.Calls("PlaceOrder") != 1 {
			t.Fatalf("venue: %d orders, %d PlaceOrder calls; want 1 and 1", n, h.venue.Calls("PlaceOrder"))
		}
		reconciled := 0
		for _, o := range auditOutcomes(t, h, 0) {
			if o == store.OutcomeReconciled {
				reconciled++
			}
		}
		if reconciled != 1 {
			t.Fatalf("audit: %d reconciled entries, want 1", reconciled)
		}
	}
}

// Records that stay pending (the venue has nothing for them, and their keys
// are never retried) do not take every round: with a limit of one, each call
// asks about the next record, and the abandoned order behind them is reached.
// A venue that keeps failing ends the pass after a few errors.
func TestReconcilePendingMovesOn(t *testing.T) { forEachBackend(t, testReconcilePendingMovesOn) }

func testReconcilePendingMovesOn(t *testing.T, be backend) {
	script := []faulty.Fault{faulty.ErrorBeforeSend, faulty.ErrorBeforeSend, faulty.ErrorBeforeSend, faulty.LostResponse}
	h := newHarnessOn(t, be, faulty.Options{Script: script}, nil)
	ctx := context.Background()
	for i := range script {
		if _, err := h.svc.Place(ctx, placeReq(fmt.Sprintf("stays-pending-%d", i), float64(i+1))); sibyl.ErrorCode(err) != sibyl.Unavailable {
			t.Fatalf("call %d: %v, want unavailable", i, err)
		}
		h.clock.Add(time.Second)
	}
	h.svc.Flush()
	h.clock.Add(11 * time.Minute)
	cutoff := h.clock.Now().Add(-10 * time.Minute)
	var all PendingResult
	for call := range 4 {
		res, err := h.svc.ReconcilePending(ctx, cutoff, 1)
		if err != nil || res.Checked != 1 {
			t.Fatalf("call %d: %+v, %v; want one record asked about", call, res, err)
		}
		all.NotAtVenue += res.NotAtVenue
		all.Completed += res.Completed
	}
	h.svc.Flush()
	if all.NotAtVenue != 3 || all.Completed != 1 {
		t.Errorf("four calls with limit 1: %+v; want 3 not at the venue, then the abandoned order completed", all)
	}
	rec, _, _ := h.store.Record(store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: "stays-pending-3"})
	if rec.State != store.Done || rec.OrderID != "o-1" {
		t.Errorf("abandoned record: %+v, want done with o-1", rec)
	}

	// A venue that fails every lookup: the pass stops after maxVenueFailures.
	script = make([]faulty.Fault, 2*maxVenueFailures)
	for i := range script {
		script[i] = faulty.ErrorBeforeSend
	}
	h = newHarnessOn(t, be, faulty.Options{Script: script, ReadErrorRate: 1}, nil)
	// The market's order rules were read while the venue still answered
	// reads (a venue that answers no read refuses every new order before
	// anything is recorded).
	if _, err := h.svc.marketRules(ctx, "paper", h.x.venue(), "BTC-ABOVE-120000"); err != nil {
		t.Fatal(err)
	}
	for i := range script {
		if _, err := h.svc.Place(ctx, placeReq(fmt.Sprintf("venue-down-%02d", i), float64(i+1))); sibyl.ErrorCode(err) != sibyl.Unavailable {
			t.Fatalf("call %d: %v, want unavailable", i, err)
		}
	}
	h.svc.Flush()
	h.clock.Add(11 * time.Minute)
	res, err := h.svc.ReconcilePending(ctx, h.clock.Now().Add(-10*time.Minute), 0)
	if err != nil || res != (PendingResult{Checked: maxVenueFailures, Failed: maxVenueFailures}) {
		t.Errorf("with the venue down: %+v, %v; want the pass ended after %d failures", res, err, maxVenueFailures)
	}
}
