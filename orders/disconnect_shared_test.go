package orders

import (
	"context"
	"testing"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/faulty"
)

// TestSessionEndedOnAnotherInstance: on a shared store a session's requests
// may be served by several instances (HTTP sessions shared through the
// store), so the instance that sees the session end cancels the orders its
// requests placed through any instance.
func TestSessionEndedOnAnotherInstance(t *testing.T) {
	forEachBackend(t, testSessionEndedOnAnotherInstance)
}

func testSessionEndedOnAnotherInstance(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, func(o *Options) { o.Owner = "instance-a" })
	ctx := context.Background()
	res, err := h.svc.Place(ctx, placeAt("k-dcs-000001", "paper:BTC", "buy", 1, 0.3))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Order.NativeID
	h.svc.Flush()
	if err := h.svc.CancelOnDisconnect("shared-session", "local", "paper", id); err != nil {
		t.Fatal(err)
	}
	b := New(Options{Store: h.store, Venues: map[string]sibyl.Venue{"paper": h.venue}, Now: h.clock.Now,
		WaitInFlight: 2 * time.Second, Owner: "instance-b"})
	defer b.Flush()
	if got := b.SessionEnded(ctx, "shared-session"); got.Cancelled != 1 || got.Unwatched != 1 {
		t.Errorf("session ended on instance b: %+v, want the order placed through instance a cancelled", got)
	}
	o, err := h.x.venue().getOrder(ctx, "local", id)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != sibyl.OrderCancelled {
		t.Errorf("order status: %s, want cancelled", o.Status)
	}
	if got := h.svc.SessionEnded(ctx, "shared-session"); got != (DisconnectResult{}) {
		t.Errorf("the session's end seen again on instance a: %+v, want nothing left", got)
	}
}

// TestStdioSessionEndStaysOnItsInstance: the stdio session has no id; its
// end on one instance leaves the stdio orders of another instance watched.
func TestStdioSessionEndStaysOnItsInstance(t *testing.T) {
	forEachBackend(t, testStdioSessionEndStaysOnItsInstance)
}

func testStdioSessionEndStaysOnItsInstance(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, func(o *Options) { o.Owner = "instance-a" })
	ctx := context.Background()
	res, err := h.svc.Place(ctx, placeAt("k-dcs-000002", "paper:BTC", "buy", 1, 0.3))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Order.NativeID
	h.svc.Flush()
	if err := h.svc.CancelOnDisconnect("", "local", "paper", id); err != nil {
		t.Fatal(err)
	}
	b := New(Options{Store: h.store, Venues: map[string]sibyl.Venue{"paper": h.venue}, Now: h.clock.Now,
		WaitInFlight: 2 * time.Second, Owner: "instance-b"})
	defer b.Flush()
	if got := b.SessionEnded(ctx, ""); got != (DisconnectResult{}) {
		t.Errorf("instance b's stdio session ended: %+v, want instance a's stdio order left alone", got)
	}
	if got := h.svc.SessionEnded(ctx, ""); got.Cancelled != 1 {
		t.Errorf("instance a's stdio session ended: %+v, want its order cancelled", got)
	}
}

// TestOrphanedWatchOfLiveSession: the watches of an instance that is gone
// are orphans, except those of a session that goes on elsewhere
// (Options.SessionLive); when that session is gone too, they are cancelled.
func TestOrphanedWatchOfLiveSession(t *testing.T) {
	forEachBackend(t, testOrphanedWatchOfLiveSession)
}

func testOrphanedWatchOfLiveSession(t *testing.T, be backend) {
	live := map[string]bool{"s-live": true}
	h := newHarnessOn(t, be, faulty.Options{}, func(o *Options) {
		o.Owner = "instance-a"
		o.SessionLive = func(sess string) bool { return live[sess] }
	})
	ctx := context.Background()
	res, err := h.svc.Place(ctx, placeAt("k-dcs-000003", "paper:BTC", "buy", 1, 0.3))
	if err != nil {
		t.Fatal(err)
	}
	h.svc.Flush()
	// Watched by an instance that wrote nothing since: the store knows it gone.
	gone := New(Options{Store: h.store, Venues: map[string]sibyl.Venue{"paper": h.venue}, Now: h.clock.Now,
		WaitInFlight: 2 * time.Second, Owner: "instance-gone"})
	if err := gone.CancelOnDisconnect("s-live", "local", "paper", res.Order.NativeID); err != nil {
		t.Fatal(err)
	}
	if got := h.svc.CancelOrphaned(ctx); got != (DisconnectResult{}) {
		t.Errorf("orphans while the session goes on: %+v, want none cancelled", got)
	}
	live["s-live"] = false
	if got := h.svc.CancelOrphaned(ctx); got.Cancelled != 1 {
		t.Errorf("orphans once the session is gone: %+v, want its order cancelled", got)
	}
}
