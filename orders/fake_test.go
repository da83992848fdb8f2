package orders

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"
	sibyl "github.com/sibylmcp/sibyl"
)

// fakeVenue is a hand-written sibyl.Venue whose behaviour is in function fields.
// Unset fields answer Internal.
type fakeVenue struct {
	name            string
	placeOrder      func(ctx context.Context, req sibyl.OrderRequest) (sibyl.Order, error)
	cancelOrder     func(ctx context.Context, principal, orderID string) (sibyl.Order, error)
	getOrder        func(ctx context.Context, principal, orderID string) (sibyl.Order, error)
	orderByClientID func(ctx context.Context, principal, clientOrderID string, hint sibyl.LookupHint) (sibyl.Order, error)
	market          func(ctx context.Context, nativeID string) (sibyl.Market, error)
}

var _ sibyl.Venue = (*fakeVenue)(nil)

var errNotImplemented = sibyl.Errorf(sibyl.Internal, "fake: not implemented")

func (f *fakeVenue) Info() sibyl.VenueInfo {
	return sibyl.VenueInfo{Name: f.name, Mode: sibyl.ModePaper, Simulated: true, Available: true}
}
func (f *fakeVenue) SearchMarkets(context.Context, sibyl.MarketQuery) (sibyl.MarketPage, error) {
	return sibyl.MarketPage{}, errNotImplemented
}
func (f *fakeVenue) Market(ctx context.Context, nativeID string) (sibyl.Market, error) {
	if f.market == nil {
		return sibyl.Market{}, errNotImplemented
	}
	return f.market(ctx, nativeID)
}
func (f *fakeVenue) OrderBook(context.Context, string, string, int) (sibyl.OrderBook, error) {
	return sibyl.OrderBook{}, errNotImplemented
}
func (f *fakeVenue) PlaceOrder(ctx context.Context, req sibyl.OrderRequest) (sibyl.Order, error) {
	if f.placeOrder == nil {
		return sibyl.Order{}, errNotImplemented
	}
	return f.placeOrder(ctx, req)
}
func (f *fakeVenue) CancelOrder(ctx context.Context, principal, orderID string) (sibyl.Order, error) {
	if f.cancelOrder == nil {
		return sibyl.Order{}, errNotImplemented
	}
	return f.cancelOrder(ctx, principal, orderID)
}
func (f *fakeVenue) GetOrder(ctx context.Context, principal, orderID string) (sibyl.Order, error) {
	if f.getOrder == nil {
		return sibyl.Order{}, errNotImplemented
	}
	return f.getOrder(ctx, principal, orderID)
}
func (f *fakeVenue) OrderByClientID(ctx context.Context, principal, clientOrderID string, hint sibyl.LookupHint) (sibyl.Order, error) {
	if f.orderByClientID == nil {
		return sibyl.Order{}, errNotImplemented
	}
	return f.orderByClientID(ctx, principal, clientOrderID, hint)
}
func (f *fakeVenue) ListOrders(context.Context, string, sibyl.OrderQuery) (sibyl.OrderPage, error) {
	return sibyl.OrderPage{}, errNotImplemented
}
func (f *fakeVenue) Portfolio(context.Context, string) (sibyl.Portfolio, error) {
	return sibyl.Portfolio{}, errNotImplemented
}

// exchange is a tiny in-memory venue behind a fakeVenue. Like Coinbase, it
// returns the existing order for a repeated client order id, and it counts the
// orders it created, so a test sees a duplicate even if a wrapper hides calls.
type exchange struct {
	latency time.Duration
	status  sibyl.OrderStatus           // status of new orders (default open)
	refuse  atomic.Pointer[sibyl.Error] // when set, PlaceOrder refuses with it
	mid     float64                     // when set, Market quotes every outcome at this mid
	rules   *sibyl.OrderRules           // the markets' order rules (default: $0.01 ticks, whole contracts)

	mu          sync.Mutex
	marketCalls int                    // Market calls (the order rules' lookups)
	orders      map[string]sibyl.Order // by order id
	byClient    map[string]string      // principal\x00client id -> order id
	created     int
}

func newExchange() *exchange {
	return &exchange{orders: map[string]sibyl.Order{}, byClient: map[string]string{}}
}

// venue returns a fakeVenue named "paper" served by the exchange.
func (x *exchange) venue() *fakeVenue {
	return &fakeVenue{
		name: "paper",
		market: func(_ context.Context, id string) (sibyl.Market, error) {
			x.mu.Lock()
			x.marketCalls++
			x.mu.Unlock()
			rules := sibyl.TickRules(decimal.New(1, -2), decimal.NewFromInt(1), decimal.Zero)
			if x.rules != nil {
				rules = *x.rules
			}
			if x.mid == 0 {
				return sibyl.Market{ID: "paper:" + id, NativeID: id, OrderRules: rules}, nil
			}
			// Quoted a cent either side, so the midpoint is x.mid.
			return sibyl.Market{ID: "paper:" + id, NativeID: id, OrderRules: rules, Outcomes: []sibyl.Outcome{{Name: "Yes", Bid: x.mid - 0.01, Ask: x.mid + 0.01}, {Name: "No", Bid: 1 - x.mid - 0.01, Ask: 1 - x.mid + 0.01}}}, nil
		},
		placeOrder: func(ctx context.Context, req sibyl.OrderRequest) (sibyl.Order, error) {
			if x.latency > 0 {
				select {
				case <-time.After(x.latency):
				case <-ctx.Done():
					return sibyl.Order{}, sibyl.WrapError(sibyl.Unavailable, ctx.Err(), "timeout")
				}
			}
			if e := x.refuse.Load(); e != nil {
				return sibyl.Order{}, e
			}
			x.mu.Lock()
			defer x.mu.Unlock()
			if id, ok := x.byClient[req.Principal+"\x00"+req.ClientOrderID]; ok {
				return x.orders[id], nil
			}
			x.created++
			status := x.status
			if status == "" {
				status = sibyl.OrderOpen
			}
			o := sibyl.Order{
				NativeID: fmt.Sprintf("o-%d", x.created), ClientOrderID: req.ClientOrderID, Venue: "paper",
				MarketID: "paper:" + req.NativeMarketID, Outcome: req.Outcome, Side: req.Side, Type: req.Type,
				TimeInForce: req.TimeInForce, Quantity: req.Quantity, LimitPrice: req.LimitPrice,
				Status: status, Simulated: true,
				CreatedAt: time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC),
			}
			x.orders[o.NativeID] = o
			x.byClient[req.Principal+"\x00"+req.ClientOrderID] = o.NativeID
			return o, nil
		},
		orderByClientID: func(ctx context.Context, principal, coid string, _ sibyl.LookupHint) (sibyl.Order, error) {
			x.mu.Lock()
			defer x.mu.Unlock()
			id, ok := x.byClient[principal+"\x00"+coid]
			if !ok {
				return sibyl.Order{}, sibyl.Errorf(sibyl.NotFound, "no order with client id %s", coid)
			}
			return x.orders[id], nil
		},
		getOrder: func(ctx context.Context, principal, orderID string) (sibyl.Order, error) {
			x.mu.Lock()
			defer x.mu.Unlock()
			o, ok := x.orders[orderID]
			if !ok {
				return sibyl.Order{}, sibyl.Errorf(sibyl.NotFound, "no order %s", orderID)
			}
			return o, nil
		},
		cancelOrder: func(ctx context.Context, principal, orderID string) (sibyl.Order, error) {
			x.mu.Lock()
			defer x.mu.Unlock()
			o, ok := x.orders[orderID]
			if !ok {
				return sibyl.Order{}, sibyl.Errorf(sibyl.NotFound, "no order %s", orderID)
			}
			if o.Status.Final() {
				return o, sibyl.Errorf(sibyl.Conflict, "order %s is already %s", orderID, o.Status)
			}
			o.Status = sibyl.OrderCancelled
			x.orders[orderID] = o
			return o, nil
		},
	}
}

func (x *exchange) count() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.created
}
