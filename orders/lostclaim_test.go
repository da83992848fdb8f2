package orders

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/venues/faulty"
)

// lostAnswerStore is a store whose next Commit calls are applied but
// answered with store.ErrUnavailable: what a caller sees when etcd loses its
// quorum after taking a transaction (the Txn may still commit later) or the
// answer is lost on the way back.
type lostAnswerStore struct {
	store.Store
	lose atomic.Int32 // Commit answers to lose, from the next one on
}

func (s *lostAnswerStore) Commit(fn func(store.Txn) error) error {
	err := s.Store.Commit(fn)
	if err == nil && s.lose.Add(-1) >= 0 {
		return fmt.Errorf("%w: the answer to this commit was lost (test)", store.ErrUnavailable)
	}
	return err
}

// TestLostClaimAnswerReleased: a claim that was recorded but whose answer was
// lost (the caller was told unavailable, nothing was sent) does not hold the
// key for its whole lease: once the store answers again, its lease is
// released, and the retry reconciles with the venue and places the order
// then (one order), instead of answering in_progress until the lease runs
// out.
func TestLostClaimAnswerReleased(t *testing.T) { forEachBackend(t, testLostClaimAnswerReleased) }

func testLostClaimAnswerReleased(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, nil)
	lossy := &lostAnswerStore{Store: h.store}
	// The clock does not move: the claim's 30 s lease never runs out by itself.
	svc := New(Options{Store: lossy, Venues: h.svc.opts.Venues, Now: h.clock.Now, WaitInFlight: h.svc.opts.WaitInFlight})
	t.Cleanup(svc.Flush)
	ctx := context.Background()
	req := placeReq("lost-claim-1", 3)
	lossy.lose.Store(1)
	_, err := svc.Place(ctx, req)
	wantCode(t, err, sibyl.Unavailable)
	if n := h.x.count(); n != 0 {
		t.Fatalf("%d orders at the venue after a claim whose answer was lost, want 0 (nothing is sent)", n)
	}
	rec, ok, _ := h.store.Record(store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: req.Key})
	if !ok || rec.State != store.Pending {
		t.Fatalf("the claim was applied: got %+v, %v; want a pending record (the test's premise)", rec, ok)
	}

	// The agent retries; the release runs in the background, so a retry may
	// still find the lease held (in_progress) on a loaded machine. The fake
	// clock never moves, so without the release the lease never runs out and
	// every retry is in_progress.
	var res PlaceResult
	for start := time.Now(); ; {
		res, err = svc.Place(ctx, req)
		if err == nil || sibyl.ErrorCode(err) != sibyl.InProgress || time.Since(start) > 20*time.Second {
			break
		}
	}
	if err != nil || res.Order.NativeID == "" {
		t.Fatalf("retry after the lost answer: %+v, %v; want the order", res, err)
	}
	if n := h.x.count(); n != 1 {
		t.Errorf("orders at the venue: %d, want 1", n)
	}
	if got := h.venue.Calls("OrderByClientID"); got != 1 {
		t.Errorf("OrderByClientID calls: %d, want 1 (the takeover reconciles first)", got)
	}
	again, err := svc.Place(ctx, req)
	if err != nil || !again.Replayed || again.Order.NativeID != res.Order.NativeID {
		t.Errorf("third call: %+v, %v; want a replay of %s", again, err, res.Order.NativeID)
	}
	svc.Flush()
	var outcomes []string
	if err := h.store.FlushAudit(ctx); err != nil {
		t.Fatal(err)
	}
	entries, err := h.store.ReadAudit(0, 10000, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Key == req.Key {
			outcomes = append(outcomes, e.Outcome)
		}
	}
	if got := strings.Join(outcomes, ","); got != "intent,unknown,recover,placed,replay" {
		t.Errorf("audit outcomes for the key: %s, want intent,unknown,recover,placed,replay", got)
	}
}
