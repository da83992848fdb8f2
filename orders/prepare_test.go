package orders

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/venues/faulty"
)

// preparingVenue is a sibyl.Preparer in the way of Polymarket: the order id
// is fixed by the prepared (signed) payload, every PrepareOrder call makes a
// new payload (a fresh salt), and the venue can look an order up only by that
// id. It records every payload it was sent.
type preparingVenue struct {
	*fakeVenue

	mu        sync.Mutex
	prepares  int
	salt      int
	sent      [][]byte               // every payload received by PlaceOrder
	orders    map[string]sibyl.Order // by native id (the payload's hash)
	faults    []faulty.Fault         // the next PlaceOrder calls' faults
	block     chan struct{}          // when set, the next PrepareOrder waits for it to close
	lookedFor []sibyl.LookupHint     // the hints OrderByClientID was given
}

var (
	_ sibyl.Venue    = (*preparingVenue)(nil)
	_ sibyl.Preparer = (*preparingVenue)(nil)
)

func newPreparingVenue(x *exchange) *preparingVenue {
	return &preparingVenue{fakeVenue: x.venue(), orders: map[string]sibyl.Order{}}
}

func (p *preparingVenue) PrepareOrder(ctx context.Context, req sibyl.OrderRequest) (sibyl.PreparedOrder, error) {
	p.mu.Lock()
	p.prepares++
	p.salt++
	salt, block := p.salt, p.block
	p.block = nil
	p.mu.Unlock()
	if block != nil {
		<-block
	}
	payload := fmt.Appendf(nil, `{"market":%q,"qty":"%s","price":"%s","salt":%d}`, req.NativeMarketID, req.Quantity, req.LimitPrice, salt)
	return sibyl.PreparedOrder{NativeOrderID: fmt.Sprintf("0xhash-%d", salt), Payload: payload}, nil
}

func (p *preparingVenue) PlaceOrder(ctx context.Context, req sibyl.OrderRequest) (sibyl.Order, error) {
	if req.Prepared == nil {
		return sibyl.Order{}, sibyl.Errorf(sibyl.Invalid, "no prepared order")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, bytes.Clone(req.Prepared.Payload))
	var f faulty.Fault
	if len(p.faults) > 0 {
		f, p.faults = p.faults[0], p.faults[1:]
	}
	if f == faulty.ErrorBeforeSend {
		return sibyl.Order{}, sibyl.Errorf(sibyl.Unavailable, "connection refused")
	}
	id := req.Prepared.NativeOrderID
	o, ok := p.orders[id]
	if !ok {
		o = sibyl.Order{NativeID: id, ClientOrderID: req.ClientOrderID, Venue: "paper", MarketID: "paper:" + req.NativeMarketID,
			Outcome: req.Outcome, Side: req.Side, Type: req.Type, TimeInForce: req.TimeInForce,
			Quantity: req.Quantity, LimitPrice: req.LimitPrice, Status: sibyl.OrderOpen}
		p.orders[id] = o
	}
	if f == faulty.LostResponse {
		return sibyl.Order{}, sibyl.Errorf(sibyl.Unavailable, "connection reset after the order was accepted")
	}
	return o, nil
}

func (p *preparingVenue) OrderByClientID(ctx context.Context, principal, coid string, hint sibyl.LookupHint) (sibyl.Order, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lookedFor = append(p.lookedFor, hint)
	if hint.Prepared == nil {
		return sibyl.Order{}, sibyl.Errorf(sibyl.Unavailable, "cannot look up an order without its hash")
	}
	o, ok := p.orders[hint.Prepared.NativeOrderID]
	if !ok {
		return sibyl.Order{}, sibyl.Errorf(sibyl.NotFound, "no order %s", hint.Prepared.NativeOrderID)
	}
	return o, nil
}

func (p *preparingVenue) snapshot() (prepares int, sent [][]byte, orders int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.prepares, append([][]byte(nil), p.sent...), len(p.orders)
}

func withVenue(v sibyl.Venue) func(*Options) {
	return func(o *Options) { o.Venues = map[string]sibyl.Venue{"paper": v} }
}

// The prepared order is stored in the claim, and every resend after an
// unknown outcome sends exactly those bytes: the venue sees one order.
func TestPreparedOrderResentByteIdentical(t *testing.T) {
	forEachBackend(t, testPreparedOrderResentByteIdentical)
}

func testPreparedOrderResentByteIdentical(t *testing.T, be backend) {
	for _, tt := range []struct {
		name  string
		fault faulty.Fault
	}{
		{"not sent", faulty.ErrorBeforeSend},
		{"lost response", faulty.LostResponse},
	} {
		t.Run(tt.name, func(t *testing.T) {
			x := newExchange()
			pv := newPreparingVenue(x)
			pv.faults = []faulty.Fault{tt.fault}
			h := newHarnessOn(t, be, faulty.Options{}, withVenue(pv))
			ctx := context.Background()
			req := placeReq("prepared-0001", 3)
			if _, err := h.svc.Place(ctx, req); sibyl.ErrorCode(err) != sibyl.Unavailable {
				t.Fatalf("first call: %v, want unavailable", err)
			}
			h.svc.Flush()
			rec, ok, err := h.store.Record(store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: req.Key})
			if err != nil || !ok || rec.Prepared == nil {
				t.Fatalf("record after the unknown outcome: %+v, %v, %v; want the prepared order stored", rec, ok, err)
			}
			res, err := h.svc.Place(ctx, req)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			prepares, sent, orders := pv.snapshot()
			if prepares != 1 || orders != 1 {
				t.Errorf("prepares %d, orders at the venue %d; want 1 and 1", prepares, orders)
			}
			for i, b := range sent {
				if !bytes.Equal(b, rec.Prepared.Payload) {
					t.Errorf("send %d: payload %s, want the stored %s", i, b, rec.Prepared.Payload)
				}
			}
			if res.Order.NativeID != rec.Prepared.NativeOrderID {
				t.Errorf("order %q, want the prepared id %q", res.Order.NativeID, rec.Prepared.NativeOrderID)
			}
			wantSends := 2
			if tt.fault == faulty.LostResponse {
				wantSends = 1 // the retry found the order by its hash and sent nothing
				if !res.Replayed {
					t.Errorf("retry after a lost response: Replayed false, want true")
				}
			}
			if len(sent) != wantSends {
				t.Errorf("%d sends, want %d", len(sent), wantSends)
			}
			pv.mu.Lock()
			hints := append([]sibyl.LookupHint(nil), pv.lookedFor...)
			pv.mu.Unlock()
			if len(hints) != 1 || hints[0].NativeMarketID != "BTC-ABOVE-120000" || !hints[0].ClaimedAt.Equal(rec.Created) ||
				hints[0].Prepared == nil || !bytes.Equal(hints[0].Prepared.Payload, rec.Prepared.Payload) {
				t.Errorf("lookup hints %+v; want one with the market, the claim's time %v and the stored prepared order", hints, rec.Created)
			}
		})
	}
}

// The stored prepared order survives a restart: the process that resends
// after reopening the file sends the bytes the first process stored, and
// prepares nothing new.
func TestPreparedOrderSurvivesRestart(t *testing.T) {
	forEachBackend(t, testPreparedOrderSurvivesRestart)
}

func testPreparedOrderSurvivesRestart(t *testing.T, be backend) {
	x := newExchange()
	pv := newPreparingVenue(x)
	pv.faults = []faulty.Fault{faulty.ErrorBeforeSend}
	h := newHarnessOn(t, be, faulty.Options{}, withVenue(pv))
	ctx := context.Background()
	req := placeReq("prepared-restart", 2)
	if _, err := h.svc.Place(ctx, req); sibyl.ErrorCode(err) != sibyl.Unavailable {
		t.Fatalf("first call: %v, want unavailable", err)
	}
	h.svc.Flush()
	if err := h.store.Close(); err != nil {
		t.Fatal(err)
	}
	h.open(t, withVenue(pv)) // a new process on the same file
	h.clock.Add(time.Minute)
	if _, err := h.svc.Place(ctx, req); err != nil {
		t.Fatalf("retry after restart: %v", err)
	}
	prepares, sent, orders := pv.snapshot()
	if prepares != 1 || orders != 1 || len(sent) != 2 || !bytes.Equal(sent[0], sent[1]) {
		t.Errorf("prepares %d, orders %d, sends %q; want 1 prepare, 1 order, two identical sends", prepares, orders, sent)
	}
}

// Two first calls with one key race: the loser of the claim discards what it
// prepared, and every send uses the winner's stored bytes.
func TestPreparedOrderClaimRace(t *testing.T) { forEachBackend(t, testPreparedOrderClaimRace) }

func testPreparedOrderClaimRace(t *testing.T, be backend) {
	x := newExchange()
	pv := newPreparingVenue(x)
	h := newHarnessOn(t, be, faulty.Options{}, withVenue(pv))
	ctx := context.Background()
	req := placeReq("prepared-race", 1)
	release := make(chan struct{})
	pv.block = release // the first call prepares, then waits before it claims
	slow := make(chan error, 1)
	go func() {
		_, err := h.svc.Place(ctx, req)
		slow <- err
	}()
	for {
		pv.mu.Lock()
		started := pv.prepares == 1
		pv.mu.Unlock()
		if started {
			break
		}
		time.Sleep(time.Millisecond)
	}
	fast, err := h.svc.Place(ctx, req) // prepares its own, claims first, sends
	if err != nil {
		t.Fatalf("fast call: %v", err)
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatalf("slow call: %v", err)
	}
	h.svc.Flush()
	rec, _, _ := h.store.Record(store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: req.Key})
	prepares, sent, orders := pv.snapshot()
	if prepares != 2 || orders != 1 || len(sent) != 1 {
		t.Fatalf("prepares %d, orders %d, sends %d; want 2 prepared, 1 order, 1 send", prepares, orders, len(sent))
	}
	if rec.Prepared == nil || !bytes.Equal(sent[0], rec.Prepared.Payload) || fast.Order.NativeID != rec.Prepared.NativeOrderID {
		t.Errorf("sent %s as %s, stored %+v; want the stored (winner's) order", sent[0], fast.Order.NativeID, rec.Prepared)
	}
}
