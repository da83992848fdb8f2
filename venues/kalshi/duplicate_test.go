package kalshi

import (
	"context"
	"testing"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/kalshi/kalshitest"
)

// TestDuplicateUnreadableIsUnknown: Kalshi's 409 to a client_order_id says it
// has an order under that id. When that order cannot be read back (the order
// list fails), the outcome is unknown (Unavailable), never the 409 as a
// conflict refusal that sibyl would store and replay as "nothing was placed".
func TestDuplicateUnreadableIsUnknown(t *testing.T) {
	f := newFixture(t, kalshitest.Options{}, Config{})
	ctx := context.Background()
	first := newVenue(t, f, EnvDemo, false)
	if _, err := first.PlaceOrder(ctx, req("dup-unread", btcTicker, "Yes", sibyl.Buy, 2, 0.30, sibyl.GTC)); err != nil {
		t.Fatal(err)
	}
	// A restarted process (no memory of the attempt) resends the id; the
	// order list then fails.
	again := newVenue(t, f, EnvDemo, false)
	f.srv.Inject(kalshitest.Fault{Route: "GET /portfolio/orders", Kind: kalshitest.UnavailableBefore})
	_, err := again.PlaceOrder(ctx, req("dup-unread", btcTicker, "Yes", sibyl.Buy, 2, 0.30, sibyl.GTC))
	wantCode(t, err, sibyl.Unavailable)
	if n := len(f.srv.Orders()); n != 1 {
		t.Errorf("orders at the venue: %d, want 1", n)
	}
}
