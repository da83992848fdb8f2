package orders

import (
	"context"
	"testing"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/faulty"
)

func TestCancelOnDisconnectBySession(t *testing.T) {
	forEachBackend(t, testCancelOnDisconnectBySession)
}

func testCancelOnDisconnectBySession(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, nil)
	ctx := context.Background()
	var ids []string
	for i, key := range []string{"k-dc-000001", "k-dc-000002", "k-dc-000003"} {
		res, err := h.svc.Place(ctx, placeAt(key, "paper:BTC", "buy", float64(i+1), 0.3))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Order.NativeID)
	}
	h.svc.Flush()
	for i, sess := range []string{"s1", "s1", "s2"} {
		if err := h.svc.CancelOnDisconnect(sess, "local", "paper", ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	if res := h.svc.SessionEnded(ctx, "s1"); res.Cancelled != 2 || res.Unwatched != 2 {
		t.Errorf("session s1 ended: %+v, want its 2 orders cancelled", res)
	}
	if res := h.svc.SessionEnded(ctx, "s1"); res != (DisconnectResult{}) {
		t.Errorf("s1 ended again: %+v, want nothing left", res)
	}
	status := func(id string) string {
		o, err := h.x.venue().getOrder(ctx, "local", id)
		if err != nil {
			t.Fatal(err)
		}
		return string(o.Status)
	}
	if status(ids[0]) != "cancelled" || status(ids[1]) != "cancelled" || status(ids[2]) != "open" {
		t.Errorf("statuses %s %s %s, want cancelled cancelled open", status(ids[0]), status(ids[1]), status(ids[2]))
	}
	// A restarted process: s2 ended with the old one.
	h.svc.Flush()
	h.store.Close()
	h.open(t, nil)
	if res := h.svc.CancelOrphaned(ctx); res.Cancelled != 1 {
		t.Errorf("orphans at start: %+v, want s2's order cancelled", res)
	}
	if status(ids[2]) != "cancelled" {
		t.Errorf("s2's order: %s, want cancelled", status(ids[2]))
	}
}

// CancelAllOpen (sibyl halt --cancel-open) cancels the open orders and the
// resting order of a record whose answer was lost, exactly once each: a
// second run with the same tag replays.
func TestCancelAllOpen(t *testing.T) { forEachBackend(t, testCancelAllOpen) }

func testCancelAllOpen(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, nil)
	ctx := context.Background()
	for _, key := range []string{"k-ca-000001", "k-ca-000002"} {
		if _, err := h.svc.Place(ctx, placeAt(key, "paper:BTC", "buy", 1, 0.3)); err != nil {
			t.Fatal(err)
		}
	}
	h.venue.Push(faulty.LostResponse) // accepted at the venue, the answer lost: the record stays pending
	if _, err := h.svc.Place(ctx, placeAt("k-ca-000003", "paper:BTC", "buy", 3, 0.3)); sibyl.ErrorCode(err) != sibyl.Unavailable {
		t.Fatalf("lost answer: %v, want unavailable", err)
	}
	h.svc.Flush()
	if res := h.svc.CancelAllOpen(ctx, "halt-test", "control"); res != (CancelAllResult{Cancelled: 3}) {
		t.Errorf("first run: %+v, want 3 cancelled", res)
	}
	h.x.mu.Lock()
	for id, o := range h.x.orders {
		if o.Status != "cancelled" {
			t.Errorf("order %s: %s, want cancelled", id, o.Status)
		}
	}
	h.x.mu.Unlock()
	res := h.svc.CancelAllOpen(ctx, "halt-test", "control")
	if res != (CancelAllResult{}) {
		t.Errorf("second run: %+v, want nothing left to cancel", res)
	}
	if n := h.venue.Calls("CancelOrder"); n != 3 {
		t.Errorf("cancels sent to the venue: %d, want 3", n)
	}
}
