package orders

import (
	"context"
	"sync"
	"testing"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/faulty"
)

// TestCancelAllOpenWaitsForInFlightPlace: an order claimed before the halt
// whose venue call is still in flight when 'sibyl halt --cancel-open' runs
// must be cancelled too. Without waiting for it, CancelAllOpen finds nothing
// at the venue (the order is not there yet), and the order then rests after
// the kill switch said every resting order was cancelled.
func TestCancelAllOpenWaitsForInFlightPlace(t *testing.T) {
	forEachBackend(t, testCancelAllOpenWaitsForInFlightPlace)
}

func testCancelAllOpenWaitsForInFlightPlace(t *testing.T, be backend) {
	x := newExchange()
	fv := x.venue()
	place := fv.placeOrder
	entered, release := make(chan struct{}), make(chan struct{})
	fv.placeOrder = func(ctx context.Context, req sibyl.OrderRequest) (sibyl.Order, error) {
		close(entered)
		<-release
		return place(ctx, req)
	}
	halt := &Halt{}
	h := newHarnessOn(t, be, faulty.Options{}, func(o *Options) {
		o.Venues = map[string]sibyl.Venue{"paper": fv}
		o.Halt = halt
		o.SendTimeout = 10 * time.Second
	})
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(1)
	var placeErr error
	go func() {
		defer wg.Done()
		_, placeErr = h.svc.Place(ctx, placeReq("halt-inflight-1", 2))
	}()
	<-entered // claimed, and the venue call is under way
	halt.Set(HaltState{Halted: true, ID: "h1", Since: time.Now()})
	done := make(chan CancelAllResult, 1)
	go func() { done <- h.svc.CancelAllOpen(ctx, "halt-h1", "control") }()
	var res CancelAllResult
	select {
	case res = <-done: // did not wait for the order in flight
		close(release)
	case <-time.After(300 * time.Millisecond): // scheduling only: a correct CancelAllOpen waits however long
		close(release)
		res = <-done
	}
	wg.Wait()
	if placeErr != nil {
		t.Fatalf("place: %v", placeErr)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for id, o := range x.orders {
		if o.Status != sibyl.OrderCancelled {
			t.Errorf("order %s is %s after halt --cancel-open (result %+v), want cancelled", id, o.Status, res)
		}
	}
	if len(x.orders) != 1 || res.Cancelled != 1 {
		t.Errorf("orders %d, result %+v; want 1 order, cancelled", len(x.orders), res)
	}
}
