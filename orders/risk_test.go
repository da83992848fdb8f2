package orders

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/risk"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/venues/faulty"
)

func usd(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// withLimits sets the paper venue's limits.
func withLimits(l risk.Limits) func(*Options) {
	return func(o *Options) { o.Limits = map[string]risk.Limits{"paper": l} }
}

// placeAt is placeReq with another market, side and price.
func placeAt(key, market string, side sibyl.Side, qty, price float64) PlaceRequest {
	r := placeReq(key, qty)
	r.MarketID, r.Order.Side, r.Order.LimitPrice = market, side, decimal.NewFromFloat(price)
	r.Args, r.AllowDuplicate = nil, true // fingerprint from the order fields; several identical orders on purpose
	return r
}

// wantRiskRefusal checks a risk_limit refusal naming limit, and that a retry
// with the same key replays it without sending.
func wantRiskRefusal(t *testing.T, h *harness, req PlaceRequest, limit string) {
	t.Helper()
	before := h.x.count()
	res, err := h.svc.Place(context.Background(), req)
	if got := sibyl.ErrorCode(err); got != sibyl.RiskLimit {
		t.Fatalf("error code: got %q (%v), want risk_limit", got, err)
	}
	msg := sibyl.ErrorMessage(err)
	if !strings.Contains(msg, "risk limit "+limit+":") || !strings.Contains(msg, "headroom") {
		t.Errorf("message %q: want the limit %s and the headroom", msg, limit)
	}
	if res.Replayed {
		t.Errorf("first refusal: replayed=true, want false")
	}
	res2, err2 := h.svc.Place(context.Background(), req)
	if sibyl.ErrorMessage(err2) != msg || sibyl.ErrorCode(err2) != sibyl.RiskLimit || !res2.Replayed {
		t.Errorf("retry: got %v (replayed %v), want the stored refusal replayed", err2, res2.Replayed)
	}
	if got := h.x.count(); got != before {
		t.Errorf("orders at the venue: got %d, want %d (nothing sent)", got, before)
	}
	rec, ok, _ := h.store.Record(store.RecordID{Principal: req.Principal, Tool: ToolPlaceOrder, Key: req.Key})
	if !ok || rec.State != store.Done || rec.Error == nil || rec.Error.Code != sibyl.RiskLimit {
		t.Errorf("record: got %+v (found %v), want done with risk_limit", rec, ok)
	}
}

func TestRiskLimitsRefuseBeforeSending(t *testing.T) {
	forEachBackend(t, testRiskLimitsRefuseBeforeSending)
}

func testRiskLimitsRefuseBeforeSending(t *testing.T, be backend) {
	const mkt = "paper:BTC-ABOVE-120000"
	tests := []struct {
		name   string
		limits risk.Limits
		before []PlaceRequest // placed first, must pass
		order  PlaceRequest
		limit  string
	}{
		{"max order", risk.Limits{MaxOrder: usd("100")}, []PlaceRequest{placeAt("k-ok-0001", mkt, sibyl.Buy, 200, 0.5)},
			placeAt("k-big-0001", mkt, sibyl.Buy, 201, 0.5), "risk-max-order"},
		{"max daily", risk.Limits{MaxDaily: usd("50")}, []PlaceRequest{placeAt("k-d1-00001", mkt, sibyl.Buy, 60, 0.5), placeAt("k-d2-00001", "paper:ETH", sibyl.Sell, 40, 0.5)},
			placeAt("k-d3-00001", "paper:SOL", sibyl.Buy, 1, 0.01), "risk-max-daily"},
		{"total daily", risk.Limits{TotalDaily: usd("10")}, []PlaceRequest{placeAt("k-t1-00001", mkt, sibyl.Buy, 20, 0.5)},
			func() PlaceRequest {
				r := placeAt("k-t2-00001", mkt, sibyl.Buy, 1, 0.5)
				r.Principal = "other"
				return r
			}(), "risk-total-max-daily"},
		{"max market", risk.Limits{MaxMarket: usd("30")}, []PlaceRequest{placeAt("k-m1-00001", mkt, sibyl.Buy, 50, 0.5), placeAt("k-m2-00001", "paper:ETH", sibyl.Buy, 50, 0.5), placeAt("k-m3-00001", mkt, sibyl.Sell, 100, 0.5)},
			placeAt("k-m4-00001", mkt, sibyl.Buy, 11, 0.5), "risk-max-market"},
		{"max open", risk.Limits{MaxOpen: 2}, []PlaceRequest{placeAt("k-o1-00001", mkt, sibyl.Buy, 1, 0.5), placeAt("k-o2-00001", mkt, sibyl.Buy, 1, 0.5)},
			placeAt("k-o3-00001", mkt, sibyl.Buy, 1, 0.5), "risk-max-open"},
		{"deny list", risk.Limits{Deny: []string{"paper:BTC"}}, []PlaceRequest{placeAt("k-n1-00001", "paper:ETH-X", sibyl.Buy, 1, 0.5)},
			placeAt("k-n2-00001", mkt, sibyl.Buy, 1, 0.5), "risk-deny-markets"},
		{"allow list", risk.Limits{Allow: []string{"paper:ETH"}}, []PlaceRequest{placeAt("k-a1-00001", "paper:eth-x", sibyl.Buy, 1, 0.5)},
			placeAt("k-a2-00001", mkt, sibyl.Buy, 1, 0.5), "risk-allow-markets"},
		{"collar", risk.Limits{Collar: usd("0.05")}, []PlaceRequest{placeAt("k-c1-00001", mkt, sibyl.Buy, 1, 0.45)},
			placeAt("k-c2-00001", mkt, sibyl.Buy, 1, 0.56), "risk-price-collar"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := newExchange()
			x.mid = 0.5
			h := &harness{be: be, ref: be.fresh(t), x: x, clock: newClock()}
			h.venue = faulty.New(x.venue(), faulty.Options{})
			h.open(t, withLimits(tc.limits))
			for _, r := range tc.before {
				if _, err := h.svc.Place(context.Background(), r); err != nil {
					t.Fatalf("order %s within the limits: %v", r.Key, err)
				}
			}
			wantRiskRefusal(t, h, tc.order, tc.limit)
		})
	}
}

func TestRiskMarketOrderNeedsWorstPrice(t *testing.T) {
	forEachBackend(t, testRiskMarketOrderNeedsWorstPrice)
}

func testRiskMarketOrderNeedsWorstPrice(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, withLimits(risk.Limits{RequireWorstPrice: true}))
	r := placeReq("k-mkt-00001", 3)
	r.Order.Type, r.Order.LimitPrice, r.Order.TimeInForce, r.Args = sibyl.MarketOrder, decimal.Zero, sibyl.IOC, nil
	_, err := h.svc.Place(context.Background(), r)
	wantCode(t, err, sibyl.RiskLimit)
	if sibyl.ErrorField(err) != "worst_price" || h.x.count() != 0 {
		t.Errorf("got field %q and %d orders sent, want worst_price and 0", sibyl.ErrorField(err), h.x.count())
	}
}

// Concurrent orders cannot together pass a limit that each passes alone:
// the check and the reservation are one transaction with the claim.
func TestRiskCountersUnderConcurrency(t *testing.T) {
	forEachBackend(t, testRiskCountersUnderConcurrency)
}

func testRiskCountersUnderConcurrency(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, withLimits(risk.Limits{MaxOpen: 5, MaxDaily: usd("7.5")}))
	var wg sync.WaitGroup
	var mu sync.Mutex
	placed, refused := 0, 0
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.svc.Place(context.Background(), placeAt(fmt.Sprintf("k-conc-%04d", i), "paper:BTC", sibyl.Buy, 3, 0.5))
			mu.Lock()
			defer mu.Unlock()
			switch sibyl.ErrorCode(err) {
			case "":
				placed++
			case sibyl.RiskLimit:
				refused++
			default:
				t.Errorf("order %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	// $1.50 each: the daily limit of $7.50 allows five, as does the open limit.
	if placed != 5 || refused != 19 || h.x.count() != 5 {
		t.Errorf("got %d placed, %d refused, %d at the venue; want 5, 19, 5", placed, refused, h.x.count())
	}
}

// The counters are on disk: a restarted service sees the orders placed
// before; a cancel gives back the open slot and the unfilled exposure.
func TestRiskCountersSurviveRestartAndCancel(t *testing.T) {
	forEachBackend(t, testRiskCountersSurviveRestartAndCancel)
}

func testRiskCountersSurviveRestartAndCancel(t *testing.T, be backend) {
	lim := withLimits(risk.Limits{MaxOpen: 2, MaxMarket: usd("2")})
	h := newHarnessOn(t, be, faulty.Options{}, lim)
	ctx := context.Background()
	first, err := h.svc.Place(ctx, placeAt("k-rs-00001", "paper:BTC", sibyl.Buy, 2, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Place(ctx, placeAt("k-rs-00002", "paper:BTC", sibyl.Buy, 2, 0.5)); err != nil {
		t.Fatal(err)
	}
	h.svc.Flush()
	h.store.Close()
	h.open(t, lim)
	_, err = h.svc.Place(ctx, placeAt("k-rs-00003", "paper:ETH", sibyl.Buy, 1, 0.5))
	wantCode(t, err, sibyl.RiskLimit) // two open orders survive the restart
	if _, err := h.svc.Cancel(ctx, CancelRequest{Principal: "local", Key: "k-cancel-0001", Venue: "paper", OrderID: first.Order.NativeID}); err != nil {
		t.Fatal(err)
	}
	h.svc.Flush()
	if _, err := h.svc.Place(ctx, placeAt("k-rs-00004", "paper:BTC", sibyl.Buy, 2, 0.5)); err != nil {
		t.Errorf("after the cancel, an order within the freed slot and exposure: %v", err)
	}
	_, err = h.svc.Place(ctx, placeAt("k-rs-00005", "paper:BTC", sibyl.Buy, 1, 0.5))
	wantCode(t, err, sibyl.RiskLimit)
}

// A venue's deterministic refusal gives its reservation back.
func TestRiskVenueRefusalReleases(t *testing.T) { forEachBackend(t, testRiskVenueRefusalReleases) }

func testRiskVenueRefusalReleases(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, withLimits(risk.Limits{MaxDaily: usd("1")}))
	h.x.refuse.Store(sibyl.Errorf(sibyl.InsufficientFunds, "no money"))
	_, err := h.svc.Place(context.Background(), placeAt("k-vr-00001", "paper:BTC", sibyl.Buy, 2, 0.5))
	wantCode(t, err, sibyl.InsufficientFunds)
	h.x.refuse.Store(nil)
	if _, err := h.svc.Place(context.Background(), placeAt("k-vr-00002", "paper:BTC", sibyl.Buy, 2, 0.5)); err != nil {
		t.Errorf("after a refused order, the full daily limit: %v", err)
	}
}

func TestCheckRiskCountsEarlierLegs(t *testing.T) { forEachBackend(t, testCheckRiskCountsEarlierLegs) }

func testCheckRiskCountsEarlierLegs(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, withLimits(risk.Limits{MaxDaily: usd("10")}))
	legs := []Leg{
		{MarketID: "paper:A", Order: sibyl.OrderRequest{Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(10), LimitPrice: decimal.NewFromFloat(0.5)}},
		{MarketID: "paper:B", Order: sibyl.OrderRequest{Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(10), LimitPrice: decimal.NewFromFloat(0.5)}},
		{MarketID: "paper:C", Order: sibyl.OrderRequest{Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(1), LimitPrice: decimal.NewFromFloat(0.5)}},
	}
	if err := h.svc.CheckRisk(context.Background(), "local", legs[:2]); err != nil {
		t.Fatalf("two legs of $5 within $10: %v", err)
	}
	err := h.svc.CheckRisk(context.Background(), "local", legs)
	wantCode(t, err, sibyl.RiskLimit)
	if !strings.HasPrefix(sibyl.ErrorMessage(err), "leg 3 (paper:C)") {
		t.Errorf("message %q: want it to name leg 3", sibyl.ErrorMessage(err))
	}
	if h.x.count() != 0 {
		t.Errorf("CheckRisk sent %d orders", h.x.count())
	}
}

func TestHaltRefusesNewOrdersNotCancels(t *testing.T) {
	forEachBackend(t, testHaltRefusesNewOrdersNotCancels)
}

func testHaltRefusesNewOrdersNotCancels(t *testing.T, be backend) {
	halt := &Halt{}
	h := newHarnessOn(t, be, faulty.Options{}, func(o *Options) { o.Halt = halt })
	ctx := context.Background()
	open, err := h.svc.Place(ctx, placeReq("k-h-000001", 1))
	if err != nil {
		t.Fatal(err)
	}
	halt.Set(HaltState{Halted: true, By: "ops@host", Reason: "drill"})
	_, err = h.svc.Place(ctx, placeReq("k-h-000002", 2))
	wantCode(t, err, sibyl.RiskLimit)
	if !strings.Contains(sibyl.ErrorMessage(err), "halted") || h.x.count() != 1 {
		t.Errorf("got %q with %d orders sent, want a halt refusal and 1", sibyl.ErrorMessage(err), h.x.count())
	}
	if _, err := h.svc.Cancel(ctx, CancelRequest{Principal: "local", Key: "k-h-cancel1", Venue: "paper", OrderID: open.Order.NativeID}); err != nil {
		t.Errorf("cancel while halted: %v", err)
	}
	halt.Set(HaltState{})
	if _, err := h.svc.Place(ctx, placeReq("k-h-000002", 2)); err != nil {
		t.Errorf("same key after resume: %v (the halt refusal must not be stored)", err)
	}
}

// An order that fills at the venue on its own frees its open slot when the
// background reconciliation sees it final; its filled exposure stays.
func TestRiskReconcileOpenSettles(t *testing.T) { forEachBackend(t, testRiskReconcileOpenSettles) }

func testRiskReconcileOpenSettles(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, withLimits(risk.Limits{MaxOpen: 2, MaxMarket: usd("2")}))
	ctx := context.Background()
	first, err := h.svc.Place(ctx, placeAt("k-ro-00001", "paper:BTC", sibyl.Buy, 2, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Place(ctx, placeAt("k-ro-00002", "paper:ETH", sibyl.Buy, 2, 0.5)); err != nil {
		t.Fatal(err)
	}
	h.svc.Flush()
	h.x.mu.Lock()
	o := h.x.orders[first.Order.NativeID]
	o.Status, o.FilledQuantity = sibyl.OrderFilled, decimal.NewFromInt(2)
	h.x.orders[o.NativeID] = o
	h.x.mu.Unlock()
	if res, err := h.svc.ReconcileOpen(ctx, h.clock.Now().Add(time.Hour), 0); err != nil || res.Final != 1 {
		t.Fatalf("ReconcileOpen: %+v %v, want one order final", res, err)
	}
	if _, err := h.svc.Place(ctx, placeAt("k-ro-00003", "paper:SOL", sibyl.Buy, 1, 0.5)); err != nil {
		t.Errorf("after the fill was reconciled, an open slot: %v", err)
	}
	// BTC's $1 of exposure is filled, not released: a buy of $1.50 more passes $2.
	_, err = h.svc.Place(ctx, placeAt("k-ro-00004", "paper:BTC", sibyl.Buy, 3, 0.5))
	wantCode(t, err, sibyl.RiskLimit)
	if !strings.HasPrefix(sibyl.ErrorMessage(err), "risk limit risk-max-market:") {
		t.Errorf("got %q, want the market limit", sibyl.ErrorMessage(err))
	}
}
