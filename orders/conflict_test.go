package orders

import (
	"context"
	"sync/atomic"
	"testing"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/venues/faulty"
)

// TestConflictWithUnknownLookupIsUnknown: a venue that answers Conflict to a
// client order id says it already has an order under that id. When the lookup
// that should fetch that order fails, the outcome is unknown: Place must not
// store the Conflict as a refusal (the order exists, and an agent told
// "refused" would place it again under a new key). The retry reconciles and
// finds the one order.
func TestConflictWithUnknownLookupIsUnknown(t *testing.T) {
	forEachBackend(t, testConflictWithUnknownLookupIsUnknown)
}

func testConflictWithUnknownLookupIsUnknown(t *testing.T, be backend) {
	x := newExchange()
	fv := x.venue()
	place, lookup := fv.placeOrder, fv.orderByClientID
	fv.placeOrder = func(ctx context.Context, req sibyl.OrderRequest) (sibyl.Order, error) {
		if _, err := place(ctx, req); err != nil { // the order is created (or already was)...
			return sibyl.Order{}, err
		}
		// ...but the answer is the venue's "client order id already in use".
		return sibyl.Order{}, sibyl.Errorf(sibyl.Conflict, "client_order_id already exists")
	}
	var lookups atomic.Int32
	fv.orderByClientID = func(ctx context.Context, principal, coid string, hint sibyl.LookupHint) (sibyl.Order, error) {
		if lookups.Add(1) == 1 {
			return sibyl.Order{}, sibyl.Errorf(sibyl.Unavailable, "venue did not answer")
		}
		return lookup(ctx, principal, coid, hint)
	}
	h := newHarnessOn(t, be, faulty.Options{}, func(o *Options) { o.Venues = map[string]sibyl.Venue{"paper": fv} })
	ctx := context.Background()
	req := placeReq("conflict-1", 5)
	_, err := h.svc.Place(ctx, req)
	wantCode(t, err, sibyl.Unavailable)
	h.svc.Flush()
	rec, _, _ := h.store.Record(store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: req.Key})
	if rec.State != store.Pending {
		t.Fatalf("record after a Conflict whose lookup failed: got %s (error %+v), want pending (outcome unknown)", rec.State, rec.Error)
	}
	res, err := h.svc.Place(ctx, req)
	if err != nil || res.Order.NativeID != "o-1" {
		t.Fatalf("retry: got %+v, %v; want the existing order o-1", res, err)
	}
	if got := x.count(); got != 1 {
		t.Errorf("orders at the venue: got %d, want 1", got)
	}
}
