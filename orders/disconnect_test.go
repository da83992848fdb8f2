package orders

import (
	"context"
	"testing"

	"github.com/sibylmcp/sibyl/venues/faulty"
)

func TestCancelOnDisconnectBySession(t *testing.T) {
	h := newHarness(t, faulty.Options{}, nil)
	ctx := context.Background()
	var ids []string
	for i, key := range []string{"k-dc-000001", "k-dc-000002", "k-dc-000003"} {
		res, err := h.svc.Place(ctx, placeAt(key, "paper:BTC", "buy", float64(i+1), 0.3))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Order.ID)
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
