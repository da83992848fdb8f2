// Package venuetest is the venue contract suite: the checks every
// sibyl.Venue adapter must pass, written once and run by each adapter's own
// tests (paper, faulty, kalshi over its httptest Kalshi, polymarket over its
// httptest Polymarket).
//
// An adapter plugs in with a test in its package:
//
//	func TestContract(t *testing.T) {
//		venuetest.Run(t, func(t *testing.T) venuetest.Harness {
//			srv := kalshitest.New(t)            // an httptest venue
//			v := kalshi.New(kalshi.Options{URL: srv.URL, ...})
//			return venuetest.Harness{Venue: v, Faults: srv, Sent: srv.OrdersCreated}
//		})
//	}
//
// newVenue is called once per subtest, so each starts from a fresh venue.
// Harness.Faults lets the suite inject the faults of a real connection into
// the next state-changing call (an httptest-backed harness implements it in
// its handler); the fault checks are skipped when it is nil or a fault is not
// supported. It never talks to anything but the venue it is given.
package venuetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	sibyl "github.com/sibylmcp/sibyl"
)

// Fault is a failure of the next state-changing call (PlaceOrder or
// CancelOrder) that Faults.Inject arranges.
type Fault int

// The faults. Each says what the venue does and what the adapter must answer.
const (
	// LostResponse: the venue accepts the order and the connection drops
	// before the answer arrives. The adapter answers Unavailable (or an error
	// that is not an *Error); OrderByClientID then finds the order.
	LostResponse Fault = iota + 1
	// ServerErrorAfterAccept: the venue accepts the order and answers 5xx.
	// As LostResponse.
	ServerErrorAfterAccept
	// RateLimited: the venue refuses before accepting (HTTP 429, no
	// Retry-After). The adapter answers RateLimited (after its own backoff,
	// if any); no order exists.
	RateLimited
	// Timeout: the venue accepts the order and never answers. The adapter
	// gives up when ctx ends (the suite gives it a short deadline) and
	// answers Unavailable; OrderByClientID then finds the order.
	Timeout
	// Slow: the venue answers correctly, but only after a while (well within
	// the suite's deadline). The call succeeds.
	Slow
)

var faultNames = map[Fault]string{LostResponse: "lost_response", ServerErrorAfterAccept: "5xx_after_accept",
	RateLimited: "429", Timeout: "timeout", Slow: "slow_answer"}

// String returns the fault's name.
func (f Fault) String() string { return faultNames[f] }

// Faults injects faults into a venue under test.
type Faults interface {
	// Inject makes the next state-changing call fail with f. It returns false
	// when the harness cannot produce f (the check is then skipped).
	Inject(f Fault) bool
}

// Harness is one venue under test and what the suite needs to know about it.
type Harness struct {
	// Venue is the adapter under test (required).
	Venue sibyl.Venue
	// Principal places the suite's orders; default "venuetest".
	Principal string
	// MarketID is the native id of an open market to trade; default: the
	// first open market SearchMarkets returns.
	MarketID string
	// Outcome is the outcome to buy; default: the market's first outcome.
	Outcome string
	// RestingPrice is a limit price, on the market's steps, at which a buy
	// rests without filling; default: the lowest valid price.
	RestingPrice decimal.Decimal
	// Quantity is an order size on the market's steps; default: the
	// minimum quantity.
	Quantity decimal.Decimal
	// Faults injects connection faults; nil skips the fault checks.
	Faults Faults
	// Sent returns how many orders the venue has received (the httptest
	// venue's count); nil skips the "nothing was sent" checks.
	Sent func() int
	// Timeout bounds the suite's calls under the Timeout fault (default 2s).
	Timeout time.Duration
}

// Run runs the contract suite, one subtest per rule. newVenue gives each
// subtest a fresh venue.
func Run(t *testing.T, newVenue func(t *testing.T) Harness) {
	t.Run("SearchCursor", func(t *testing.T) { searchCursor(t, newVenue(t)) })
	t.Run("MarketByID", func(t *testing.T) { marketByID(t, setup(t, newVenue(t))) })
	t.Run("OrderBookOrdering", func(t *testing.T) { orderBook(t, setup(t, newVenue(t))) })
	t.Run("PlaceGetListCancel", func(t *testing.T) { lifecycle(t, setup(t, newVenue(t))) })
	t.Run("DuplicateClientOrderID", func(t *testing.T) { duplicate(t, setup(t, newVenue(t))) })
	t.Run("OffStepRefused", func(t *testing.T) { offStep(t, setup(t, newVenue(t))) })
	for _, f := range []Fault{LostResponse, ServerErrorAfterAccept, RateLimited, Timeout, Slow} {
		t.Run("Fault/"+f.String(), func(t *testing.T) { fault(t, setup(t, newVenue(t)), f) })
	}
}

// fixture is a harness with its defaults filled in.
type fixture struct {
	Harness
	market sibyl.Market
	n      int // client order ids made so far
}

func setup(t *testing.T, h Harness) *fixture {
	t.Helper()
	if h.Venue == nil {
		t.Fatal("venuetest: Harness.Venue is nil")
	}
	if h.Principal == "" {
		h.Principal = "venuetest"
	}
	if h.Timeout <= 0 {
		h.Timeout = 2 * time.Second
	}
	ctx := context.Background()
	if h.MarketID == "" {
		page, err := h.Venue.SearchMarkets(ctx, sibyl.MarketQuery{Status: sibyl.StatusOpen, Limit: 5})
		if err != nil || len(page.Markets) == 0 {
			t.Fatalf("SearchMarkets(open): %d markets, %v; want at least one open market to trade", len(page.Markets), err)
		}
		h.MarketID = page.Markets[0].NativeID
	}
	m, err := h.Venue.Market(ctx, h.MarketID)
	if err != nil {
		t.Fatalf("Market(%q): %v", h.MarketID, err)
	}
	if err := m.OrderRules.Valid(); err != nil {
		t.Fatalf("Market(%q).OrderRules: %v; every market must say its price and quantity steps", h.MarketID, err)
	}
	if h.Outcome == "" {
		if len(m.Outcomes) == 0 {
			t.Fatalf("Market(%q) has no outcomes", h.MarketID)
		}
		h.Outcome = m.Outcomes[0].Name
	}
	if h.RestingPrice.IsZero() {
		h.RestingPrice = m.OrderRules.PriceRanges[0].Start
	}
	if h.Quantity.IsZero() {
		h.Quantity = m.OrderRules.MinQuantity
		if h.Quantity.IsZero() {
			h.Quantity = m.OrderRules.QuantityStep
		}
	}
	if err := m.OrderRules.CheckOrder(sibyl.OrderRequest{Type: sibyl.LimitOrder, Quantity: h.Quantity, LimitPrice: h.RestingPrice}); err != nil {
		t.Fatalf("the harness's resting order is off the market's steps: %v", err)
	}
	return &fixture{Harness: h, market: m}
}

// request returns a resting buy with a new client order id.
func (f *fixture) request(t *testing.T) sibyl.OrderRequest {
	f.n++
	return sibyl.OrderRequest{
		Principal: f.Principal, ClientOrderID: fmt.Sprintf("venuetest-%s-%d-%d", t.Name(), time.Now().UnixNano(), f.n),
		NativeMarketID: f.MarketID, Outcome: f.Outcome, Side: sibyl.Buy, Type: sibyl.LimitOrder,
		Quantity: f.Quantity, LimitPrice: f.RestingPrice, TimeInForce: sibyl.GTC,
	}
}

// hint is what the idempotency record would know about req, claimed at claimed.
func hint(req sibyl.OrderRequest, claimed time.Time) sibyl.LookupHint {
	return sibyl.LookupHint{NativeMarketID: req.NativeMarketID, ClaimedAt: claimed, Prepared: req.Prepared}
}

// prepare fills req.Prepared for a Preparer venue, as orders/ does.
func (f *fixture) prepare(t *testing.T, req *sibyl.OrderRequest) {
	t.Helper()
	p, ok := f.Venue.(sibyl.Preparer)
	if !ok {
		return
	}
	po, err := p.PrepareOrder(context.Background(), *req)
	if err != nil {
		t.Fatalf("PrepareOrder: %v", err)
	}
	req.Prepared = &po
}

func wantCode(t *testing.T, what string, err error, code sibyl.Code) {
	t.Helper()
	if sibyl.ErrorCode(err) != code {
		t.Errorf("%s: got %v (code %q), want %s", what, err, sibyl.ErrorCode(err), code)
	}
}

// outcomeUnknown reports whether err leaves the outcome unknown: Unavailable,
// or an error that is not an *Error (the order path treats both alike).
func outcomeUnknown(err error) bool {
	var e *sibyl.Error
	return err != nil && (!errors.As(err, &e) || e.Code == sibyl.Unavailable)
}

func searchCursor(t *testing.T, h Harness) {
	ctx := context.Background()
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for ; pages < 4; pages++ {
		page, err := h.Venue.SearchMarkets(ctx, sibyl.MarketQuery{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatalf("SearchMarkets page %d: %v", pages+1, err)
		}
		if len(page.Markets) > 2 {
			t.Errorf("page %d: %d markets, want at most the limit 2", pages+1, len(page.Markets))
		}
		for _, m := range page.Markets {
			if seen[m.ID] {
				t.Errorf("market %s on two pages", m.ID)
			}
			seen[m.ID] = true
			if v, n, ok := sibyl.SplitMarketID(m.ID); !ok || v != h.Venue.Info().Name || n != m.NativeID {
				t.Errorf("market id %q, native %q: want %s:<native id>", m.ID, m.NativeID, h.Venue.Info().Name)
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) == 0 {
		t.Fatal("SearchMarkets found no markets")
	}
}

func marketByID(t *testing.T, f *fixture) {
	ctx := context.Background()
	if f.market.NativeID != f.MarketID || f.market.ID != f.Venue.Info().Name+":"+f.MarketID {
		t.Errorf("Market(%q): ID %q, NativeID %q", f.MarketID, f.market.ID, f.market.NativeID)
	}
	_, err := f.Venue.Market(ctx, "NO-SUCH-MARKET-VENUETEST")
	wantCode(t, "Market(unknown)", err, sibyl.NotFound)
	_, err = f.Venue.OrderBook(ctx, "NO-SUCH-MARKET-VENUETEST", f.Outcome, 5)
	wantCode(t, "OrderBook(unknown market)", err, sibyl.NotFound)
	_, err = f.Venue.GetOrder(ctx, f.Principal, "no-such-order-venuetest")
	wantCode(t, "GetOrder(unknown)", err, sibyl.NotFound)
	_, err = f.Venue.OrderByClientID(ctx, f.Principal, "no-such-client-id-venuetest", sibyl.LookupHint{NativeMarketID: f.MarketID, ClaimedAt: time.Now().Add(-time.Minute)})
	wantCode(t, "OrderByClientID(unknown)", err, sibyl.NotFound)
}

func orderBook(t *testing.T, f *fixture) {
	b, err := f.Venue.OrderBook(context.Background(), f.MarketID, f.Outcome, 0)
	if err != nil {
		t.Fatalf("OrderBook: %v", err)
	}
	for i := 1; i < len(b.Bids); i++ {
		if b.Bids[i].Price >= b.Bids[i-1].Price {
			t.Errorf("bids not best (highest) first: %v then %v", b.Bids[i-1].Price, b.Bids[i].Price)
		}
	}
	for i := 1; i < len(b.Asks); i++ {
		if b.Asks[i].Price <= b.Asks[i-1].Price {
			t.Errorf("asks not best (lowest) first: %v then %v", b.Asks[i-1].Price, b.Asks[i].Price)
		}
	}
	if len(b.Bids) > 0 && len(b.Asks) > 0 && b.Bids[0].Price >= b.Asks[0].Price {
		t.Errorf("crossed book: best bid %v, best ask %v", b.Bids[0].Price, b.Asks[0].Price)
	}
	if d, err := f.Venue.OrderBook(context.Background(), f.MarketID, f.Outcome, 1); err == nil && (len(d.Bids) > 1 || len(d.Asks) > 1) {
		t.Errorf("depth 1: %d bids, %d asks; want at most 1 each", len(d.Bids), len(d.Asks))
	}
}

func lifecycle(t *testing.T, f *fixture) {
	ctx := context.Background()
	req := f.request(t)
	f.prepare(t, &req)
	o, err := f.Venue.PlaceOrder(ctx, req)
	if err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	if o.NativeID == "" || o.ClientOrderID != req.ClientOrderID || o.Status.Final() {
		t.Fatalf("placed order %+v: want a native id, the client order id and a status that is not final (it rests)", o)
	}
	if !o.Quantity.IsZero() && !o.Quantity.Equal(req.Quantity) {
		t.Errorf("order quantity %s, want %s exactly", o.Quantity, req.Quantity)
	}
	got, err := f.Venue.GetOrder(ctx, f.Principal, o.NativeID)
	if err != nil || got.NativeID != o.NativeID || !got.LimitPrice.Equal(req.LimitPrice) || got.MarketID != f.Venue.Info().Name+":"+f.MarketID {
		t.Errorf("GetOrder: %+v, %v; want the order with limit %s in market %s:%s", got, err, req.LimitPrice, f.Venue.Info().Name, f.MarketID)
	}
	page, err := f.Venue.ListOrders(ctx, f.Principal, sibyl.OrderQuery{NativeMarketID: f.MarketID, Limit: 50})
	if err != nil {
		t.Fatalf("ListOrders: %v", err)
	}
	found := false
	for _, x := range page.Orders {
		found = found || x.NativeID == o.NativeID
	}
	if !found {
		t.Errorf("ListOrders(market) does not list the order %s", o.NativeID)
	}
	c, err := f.Venue.CancelOrder(ctx, f.Principal, o.NativeID)
	if err != nil || c.Status != sibyl.OrderCancelled {
		t.Fatalf("CancelOrder: %+v, %v; want cancelled", c, err)
	}
	_, err = f.Venue.CancelOrder(ctx, f.Principal, o.NativeID)
	wantCode(t, "CancelOrder of a cancelled order", err, sibyl.Conflict)
	_, err = f.Venue.CancelOrder(ctx, f.Principal, "no-such-order-venuetest")
	wantCode(t, "CancelOrder(unknown)", err, sibyl.NotFound)
}

func duplicate(t *testing.T, f *fixture) {
	ctx := context.Background()
	req := f.request(t)
	f.prepare(t, &req)
	first, err := f.Venue.PlaceOrder(ctx, req)
	if err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	again, err := f.Venue.PlaceOrder(ctx, req)
	switch {
	case err == nil && again.NativeID != first.NativeID:
		t.Errorf("the same client order id gave a second order: %s and %s", first.NativeID, again.NativeID)
	case err != nil && sibyl.ErrorCode(err) != sibyl.Conflict:
		t.Errorf("resend of the same client order id: %v; want the same order or conflict", err)
	}
	page, err := f.Venue.ListOrders(ctx, f.Principal, sibyl.OrderQuery{NativeMarketID: f.MarketID, Limit: 100})
	if err != nil {
		t.Fatalf("ListOrders: %v", err)
	}
	n := 0
	for _, o := range page.Orders {
		if o.ClientOrderID == req.ClientOrderID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d orders with client order id %s, want 1", n, req.ClientOrderID)
	}
	if _, err := f.Venue.CancelOrder(ctx, f.Principal, first.NativeID); err != nil {
		t.Errorf("CancelOrder: %v", err)
	}
}

func offStep(t *testing.T, f *fixture) {
	ctx := context.Background()
	rules := f.market.OrderRules
	half := rules.TickSize().Div(decimal.NewFromInt(2))
	before := 0
	if f.Sent != nil {
		before = f.Sent()
	}
	for _, tt := range []struct {
		name, field string
		mod         func(*sibyl.OrderRequest)
	}{
		{"price between steps", "limit_price", func(r *sibyl.OrderRequest) { r.LimitPrice = r.LimitPrice.Add(half) }},
		{"quantity between steps", "quantity", func(r *sibyl.OrderRequest) {
			r.Quantity = r.Quantity.Add(rules.QuantityStep.Div(decimal.NewFromInt(2)))
		}},
	} {
		req := f.request(t)
		tt.mod(&req)
		// The rules themselves refuse it, naming the steps.
		err := rules.CheckOrder(req)
		if sibyl.ErrorCode(err) != sibyl.Invalid || sibyl.ErrorField(err) != tt.field {
			t.Errorf("%s: OrderRules.CheckOrder: %v, want invalid %s", tt.name, err, tt.field)
		}
		// And so does the adapter, before anything is sent.
		if p, ok := f.Venue.(sibyl.Preparer); ok {
			_, err = p.PrepareOrder(ctx, req)
		} else {
			_, err = f.Venue.PlaceOrder(ctx, req)
		}
		if sibyl.ErrorCode(err) != sibyl.Invalid || sibyl.ErrorField(err) != tt.field {
			t.Errorf("%s: the venue answered %v (field %q), want invalid %s", tt.name, err, sibyl.ErrorField(err), tt.field)
		}
		if _, err := f.Venue.OrderByClientID(ctx, f.Principal, req.ClientOrderID, hint(req, time.Now().Add(-time.Minute))); sibyl.ErrorCode(err) != sibyl.NotFound {
			t.Errorf("%s: OrderByClientID after the refusal: %v, want not_found (no order)", tt.name, err)
		}
	}
	if f.Sent != nil && f.Sent() != before {
		t.Errorf("%d orders reached the venue for off-step requests, want 0", f.Sent()-before)
	}
}

func fault(t *testing.T, f *fixture, fl Fault) {
	if f.Faults == nil || !f.Faults.Inject(fl) {
		t.Skipf("the harness cannot inject %s", fl)
	}
	req := f.request(t)
	f.prepare(t, &req)
	claimed := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), f.Timeout)
	defer cancel()
	o, err := f.Venue.PlaceOrder(ctx, req)
	find := func() (sibyl.Order, error) {
		return f.Venue.OrderByClientID(context.Background(), f.Principal, req.ClientOrderID, hint(req, claimed))
	}
	switch fl {
	case LostResponse, ServerErrorAfterAccept, Timeout:
		if !outcomeUnknown(err) {
			t.Fatalf("PlaceOrder under %s: %+v, %v; want unavailable (outcome unknown)", fl, o, err)
		}
		got, err := find()
		if err != nil || got.ClientOrderID != req.ClientOrderID {
			t.Fatalf("OrderByClientID after %s: %+v, %v; want the accepted order", fl, got, err)
		}
		// The resend of the same request creates nothing new.
		again, err := f.Venue.PlaceOrder(context.Background(), req)
		if err == nil && again.NativeID != got.NativeID {
			t.Errorf("resend after %s created a second order: %s, first %s", fl, again.NativeID, got.NativeID)
		}
		_, _ = f.Venue.CancelOrder(context.Background(), f.Principal, got.NativeID)
	case RateLimited:
		wantCode(t, "PlaceOrder under 429", err, sibyl.RateLimited)
		_, err := find()
		wantCode(t, "OrderByClientID after a 429", err, sibyl.NotFound)
	case Slow:
		if err != nil || o.ClientOrderID != req.ClientOrderID {
			t.Fatalf("PlaceOrder with a slow answer: %+v, %v; want the order", o, err)
		}
		_, _ = f.Venue.CancelOrder(context.Background(), f.Principal, o.NativeID)
	}
}
