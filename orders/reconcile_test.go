package orders

import (
	"context"
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
	h := newHarness(t, faulty.Options{}, nil)
	ctx := context.Background()
	ids := map[string]string{} // key -> order id
	for i, key := range []string{"fills-later-1", "expires-later", "still-open-01", "venue-forgot1"} {
		res, err := h.svc.Place(ctx, placeReq(key, float64(i+1))) // distinct, so no possible_duplicate
		if err != nil {
			t.Fatal(err)
		}
		ids[key] = res.Order.ID
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
	o := h.x.orders[recent.Order.ID]
	o.Status = sibyl.OrderFilled // final, but its record is within the window: not asked about
	h.x.orders[recent.Order.ID] = o
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
	// Asked again: only what is still open or unanswered.
	if res, err := h.svc.ReconcileOpen(ctx, cutoff, 0); err != nil || res != (ReconcileResult{Checked: 2, Open: 1, Failed: 1}) {
		t.Errorf("second ReconcileOpen: %+v, %v", res, err)
	}
	// A cancelled context stops it before any venue call.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if res, err := h.svc.ReconcileOpen(cctx, cutoff, 0); err == nil || res.Checked != 0 {
		t.Errorf("ReconcileOpen with a cancelled context: %+v, %v", res, err)
	}
}
