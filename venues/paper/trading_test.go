package paper

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
)

func mustBook(tb testing.TB, v *Venue, id, outcome string) sibyl.OrderBook {
	tb.Helper()
	b, err := v.OrderBook(ctx, id, outcome, 0)
	if err != nil {
		tb.Fatalf("OrderBook: %v", err)
	}
	return b
}

func mustPlace(tb testing.TB, v *Venue, req sibyl.OrderRequest) sibyl.Order {
	tb.Helper()
	if req.Type == "" {
		req.Type = sibyl.LimitOrder
	}
	o, err := v.PlaceOrder(ctx, req)
	if err != nil {
		tb.Fatalf("PlaceOrder(%+v): %v", req, err)
	}
	return o
}

func mustPortfolio(tb testing.TB, v *Venue, p string) sibyl.Portfolio {
	tb.Helper()
	pf, err := v.Portfolio(ctx, p)
	if err != nil {
		tb.Fatalf("Portfolio: %v", err)
	}
	return pf
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// fee is the documented taker fee: 0.07*C*P*(1-P) rounded up to the cent.
func fee(c, p float64) float64 { return math.Ceil(math.Round(0.07*c*p*(1-p)*1e8)/1e6) / 100 }

func TestFeeFormula(t *testing.T) {
	tests := []struct {
		n, x, want int64
	}{
		{1, 50, 2},     // 0.07*0.25 = 0.0175 -> $0.02
		{100, 50, 175}, // $1.75 exactly
		{100, 1, 7},    // 0.07*100*0.01*0.99 = 0.0693 -> $0.07
		{1, 1, 1},      // tiny fees round up to a cent
		{10, 30, 15},   // 0.147 -> $0.15
		{1000, 99, 70}, // 0.693 -> $0.70
	}
	f := newFeeSchedule(0.07, 0)
	for _, tc := range tests {
		if got := f.taker(tc.n, tc.x); got != tc.want {
			t.Errorf("taker(%d, %d) = %d cents, want %d", tc.n, tc.x, got, tc.want)
		}
		if got := f.maker(tc.n, tc.x); got != 0 {
			t.Errorf("maker(%d, %d) = %d, want 0", tc.n, tc.x, got)
		}
	}
}

func TestTakerFillsAndFees(t *testing.T) {
	v, clk := MustNew(t, Options{Seed: 11}, t0)
	id := openMarket(t, v, 0.45).id
	before, _ := v.Market(ctx, id)
	book := mustBook(t, v, id, "Yes")
	a1, a2 := book.Asks[0], book.Asks[1]
	qty := a1.Size + 2
	o := mustPlace(t, v, sibyl.OrderRequest{Principal: "alice", ClientOrderID: "c1", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(qty), LimitPrice: decimal.NewFromFloat(a2.Price), TimeInForce: sibyl.GTC})
	if o.Status != sibyl.OrderFilled || fl(o.FilledQuantity) != qty || len(o.Fills) != 2 {
		t.Fatalf("order %+v", o)
	}
	wantFees := fee(a1.Size, a1.Price) + fee(2, a2.Price)
	if !near(fl(o.Fees), wantFees) {
		t.Errorf("fees %v, want %v", o.Fees, wantFees)
	}
	cost := a1.Size*a1.Price + 2*a2.Price
	if !near(fl(o.AveragePrice), math.Round(cost/qty*10000)/10000) {
		t.Errorf("average price %v, want %v", o.AveragePrice, cost/qty)
	}
	if fl(o.Fills[0].Price) != a1.Price || o.Fills[0].Maker || fl(o.Fills[1].Price) != a2.Price || !o.Fills[1].Quantity.Equal(dec(2)) {
		t.Errorf("fills %+v", o.Fills)
	}
	pf := mustPortfolio(t, v, "alice")
	if !near(pf.Cash, 10000-cost-wantFees) || pf.Reserved != 0 || len(pf.Positions) != 1 {
		t.Fatalf("portfolio %+v, want cash %v", pf, 10000-cost-wantFees)
	}
	pos := pf.Positions[0]
	if pos.Quantity != qty || pos.MarketID != "paper:"+id || pos.Outcome != "Yes" || !near(pos.RealizedPnL, -wantFees) {
		t.Errorf("position %+v", pos)
	}
	// The principal's own fill is not the market's last trade or probability.
	if mk, _ := v.Market(ctx, id); mk.Outcomes[0].Last != before.Outcomes[0].Last || mk.Outcomes[1].Last != before.Outcomes[1].Last {
		t.Errorf("Last %v/%v after alice's fill at %v, want the market's own %v/%v", mk.Outcomes[0].Last, mk.Outcomes[1].Last, a2.Price,
			before.Outcomes[0].Last, before.Outcomes[1].Last)
	}
	// The market makers' liquidity is consumed until the next refresh...
	after := mustBook(t, v, id, "Yes")
	if after.Asks[0].Price != a2.Price || after.Asks[0].Size != a2.Size-2 {
		t.Errorf("best ask after the fill %+v, want %v x %v", after.Asks[0], a2.Price, a2.Size-2)
	}
	no := mustBook(t, v, id, "No")
	if !near(no.Bids[0].Price, 1-a2.Price) || no.Bids[0].Size != a2.Size-2 {
		t.Errorf("No book does not mirror the consumed Yes asks: %+v", no.Bids[0])
	}
	// ...and comes back in the next bucket.
	clk.Add(time.Minute)
	again := mustBook(t, v, id, "Yes")
	total := 0.0
	for _, l := range again.Asks {
		total += l.Size
	}
	if total < a1.Size {
		t.Errorf("liquidity not replenished: %+v", again.Asks)
	}
}

func TestBuyNoMirrorsYes(t *testing.T) {
	v, _ := MustNew(t, Options{Seed: 12}, t0)
	id := openMarket(t, v, 0.6).id
	yes := mustBook(t, v, id, "Yes")
	o := mustPlace(t, v, sibyl.OrderRequest{Principal: "bob", NativeMarketID: id, Outcome: "No", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(3), LimitPrice: decimal.NewFromFloat(math.Round((1-yes.Bids[0].Price)*100) / 100), TimeInForce: sibyl.IOC})
	if o.Status != sibyl.OrderFilled || !near(fl(o.Fills[0].Price), 1-yes.Bids[0].Price) {
		t.Fatalf("buy No: %+v, Yes best bid %v", o, yes.Bids[0])
	}
	after := mustBook(t, v, id, "Yes")
	if after.Bids[0].Size != yes.Bids[0].Size-3 {
		t.Errorf("buying No did not take the Yes bid: %+v -> %+v", yes.Bids[0], after.Bids[0])
	}
}

func TestPriceTimePriority(t *testing.T) {
	v, _ := MustNew(t, Options{Seed: 13}, t0)
	id := openMarket(t, v, 0.5).id
	book := mustBook(t, v, id, "Yes")
	bid, ask := book.Bids[0].Price, book.Asks[0].Price
	if ask-bid < 0.015 {
		t.Skipf("spread too narrow: %v-%v", bid, ask)
	}
	inside := math.Round((bid+0.01)*100) / 100
	// carol gets Yes contracts to sell.
	mustPlace(t, v, sibyl.OrderRequest{Principal: "carol", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(20), Type: sibyl.MarketOrder})

	alice := mustPlace(t, v, sibyl.OrderRequest{Principal: "alice", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(5), LimitPrice: decimal.NewFromFloat(inside)})
	bob := mustPlace(t, v, sibyl.OrderRequest{Principal: "bob", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(5), LimitPrice: decimal.NewFromFloat(inside)})
	if alice.Status != sibyl.OrderOpen || bob.Status != sibyl.OrderOpen {
		t.Fatalf("inside-spread bids should rest: %v %v", alice.Status, bob.Status)
	}
	pf := mustPortfolio(t, v, "alice")
	if !near(pf.Reserved, 5*inside) || !near(pf.Cash, 10000-5*inside) {
		t.Errorf("reservation: %+v", pf)
	}
	// erin outbids later: price beats time.
	erin := mustPlace(t, v, sibyl.OrderRequest{Principal: "erin", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(2), LimitPrice: decimal.NewFromFloat(math.Round((inside+0.01)*100) / 100)})
	if erin.Status != sibyl.OrderOpen {
		t.Fatalf("erin %+v", erin)
	}
	top := mustBook(t, v, id, "Yes")
	if !near(top.Bids[0].Price, inside+0.01) || top.Bids[0].Size != 2 || !near(top.Bids[1].Price, inside) || top.Bids[1].Size != 10 {
		t.Fatalf("book with resting bids %+v", top.Bids[:2])
	}
	sell := mustPlace(t, v, sibyl.OrderRequest{Principal: "carol", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Sell, Quantity: decimal.NewFromFloat(8), LimitPrice: decimal.NewFromFloat(inside), TimeInForce: sibyl.IOC})
	if sell.Status != sibyl.OrderFilled || len(sell.Fills) != 3 {
		t.Fatalf("carol's sell %+v", sell)
	}
	want := []struct {
		p float64
		n float64
	}{{inside + 0.01, 2}, {inside, 5}, {inside, 1}}
	for i, f := range sell.Fills {
		if !near(fl(f.Price), want[i].p) || fl(f.Quantity) != want[i].n || f.Maker {
			t.Errorf("fill %d: %+v, want %v x %v taker", i, f, want[i].p, want[i].n)
		}
	}
	get := func(p, id string) sibyl.Order {
		o, err := v.GetOrder(ctx, p, id)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	e, a, b := get("erin", erin.NativeID), get("alice", alice.NativeID), get("bob", bob.NativeID)
	if e.Status != sibyl.OrderFilled || a.Status != sibyl.OrderFilled || b.Status != sibyl.OrderPartiallyFilled || !b.FilledQuantity.Equal(dec(1)) {
		t.Fatalf("after the sell: erin %v alice %v bob %v/%v", e.Status, a.Status, b.Status, b.FilledQuantity)
	}
	if !a.Fills[0].Maker || !a.Fees.IsZero() {
		t.Errorf("alice's fill should be a fee-free maker fill: %+v", a.Fills)
	}
	pfA := mustPortfolio(t, v, "alice")
	if pfA.Reserved != 0 || !near(pfA.Cash, 10000-5*inside) {
		t.Errorf("alice after fill: %+v", pfA)
	}
	pfB := mustPortfolio(t, v, "bob")
	if !near(pfB.Reserved, 4*inside) {
		t.Errorf("bob's reservation after a partial fill %v, want %v", pfB.Reserved, 4*inside)
	}
}

func TestMarketMakerTimePriority(t *testing.T) {
	v, _ := MustNew(t, Options{Seed: 14}, t0)
	id := openMarket(t, v, 0.5).id
	book := mustBook(t, v, id, "Yes")
	bid := book.Bids[0]
	mustPlace(t, v, sibyl.OrderRequest{Principal: "carol", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(bid.Size + 10), Type: sibyl.MarketOrder})
	// alice joins the market makers' best bid; they were there first.
	alice := mustPlace(t, v, sibyl.OrderRequest{Principal: "alice", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(5), LimitPrice: decimal.NewFromFloat(bid.Price)})
	sell := mustPlace(t, v, sibyl.OrderRequest{Principal: "carol", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Sell, Quantity: decimal.NewFromFloat(bid.Size + 1), LimitPrice: decimal.NewFromFloat(bid.Price), TimeInForce: sibyl.IOC})
	if fl(sell.FilledQuantity) != bid.Size+1 {
		t.Fatalf("sell %+v", sell)
	}
	a, _ := v.GetOrder(ctx, "alice", alice.NativeID)
	if !a.FilledQuantity.Equal(dec(1)) {
		t.Errorf("alice filled %v, want 1 (behind the market makers)", a.FilledQuantity)
	}
}

func TestTimeInForce(t *testing.T) {
	v, _ := MustNew(t, Options{Seed: 15}, t0)
	id := openMarket(t, v, 0.5).id
	book := mustBook(t, v, id, "Yes")
	a1 := book.Asks[0]
	tests := []struct {
		name       string
		tif        sibyl.TimeInForce
		typ        sibyl.OrderType
		qty        float64
		wantStatus sibyl.OrderStatus
		wantFilled float64
	}{
		{"fok too big", sibyl.FOK, sibyl.LimitOrder, a1.Size + 1, sibyl.OrderCancelled, 0},
		{"ioc partial", sibyl.IOC, sibyl.LimitOrder, a1.Size + 1, sibyl.OrderCancelled, a1.Size},
		{"fok nothing left", sibyl.FOK, sibyl.LimitOrder, 1, sibyl.OrderCancelled, 0},
		{"gtc rests", sibyl.GTC, sibyl.LimitOrder, 3, sibyl.OrderOpen, 0},
		{"market", "", sibyl.MarketOrder, 2, sibyl.OrderFilled, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := mustPlace(t, v, sibyl.OrderRequest{Principal: "p", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: tc.typ, Quantity: decimal.NewFromFloat(tc.qty), LimitPrice: decimal.NewFromFloat(map[bool]float64{true: a1.Price}[tc.typ == sibyl.LimitOrder]), TimeInForce: tc.tif})
			if o.Status != tc.wantStatus || fl(o.FilledQuantity) != tc.wantFilled {
				t.Errorf("got %s filled %v, want %s filled %v (%s)", o.Status, o.FilledQuantity, tc.wantStatus, tc.wantFilled, o.RejectReason)
			}
			if tc.typ == sibyl.MarketOrder && o.TimeInForce != sibyl.IOC {
				t.Errorf("market order time in force %q, want ioc", o.TimeInForce)
			}
		})
	}
}

func TestCancelAndReservation(t *testing.T) {
	v, _ := MustNew(t, Options{Seed: 16}, t0)
	id := openMarket(t, v, 0.5).id
	o := mustPlace(t, v, sibyl.OrderRequest{Principal: "alice", NativeMarketID: id, Outcome: "No", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(100), LimitPrice: decimal.NewFromFloat(0.05)})
	pf := mustPortfolio(t, v, "alice")
	if !near(pf.Reserved, 5) || !near(pf.Cash, 9995) || !near(pf.Equity, 10000) {
		t.Fatalf("reserved %v cash %v equity %v", pf.Reserved, pf.Cash, pf.Equity)
	}
	_, err := v.CancelOrder(ctx, "bob", o.NativeID)
	wantCode(t, err, sibyl.NotFound, "")
	c, err := v.CancelOrder(ctx, "alice", o.NativeID)
	if err != nil || c.Status != sibyl.OrderCancelled {
		t.Fatalf("cancel: %+v %v", c, err)
	}
	pf = mustPortfolio(t, v, "alice")
	if pf.Reserved != 0 || !near(pf.Cash, 10000) {
		t.Errorf("after cancel: %+v", pf)
	}
	c2, err := v.CancelOrder(ctx, "alice", o.NativeID)
	wantCode(t, err, sibyl.Conflict, "")
	if c2.NativeID != o.NativeID || c2.Status != sibyl.OrderCancelled {
		t.Errorf("second cancel returned %+v", c2)
	}
	if b := mustBook(t, v, id, "No"); len(b.Bids) > 0 && near(b.Bids[len(b.Bids)-1].Price, 0.05) {
		t.Errorf("cancelled order still in the book: %+v", b.Bids)
	}
}

func TestRejections(t *testing.T) {
	v, clk := MustNew(t, Options{Seed: 17, StartingCash: 100}, t0)
	id := openMarket(t, v, 0.5).id
	ok := sibyl.OrderRequest{Principal: "alice", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(10), LimitPrice: decimal.NewFromFloat(0.3)}
	with := func(f func(r *sibyl.OrderRequest)) sibyl.OrderRequest { r := ok; f(&r); return r }
	tests := []struct {
		name  string
		req   sibyl.OrderRequest
		code  sibyl.Code
		field string
		msg   string
	}{
		{"price zero", with(func(r *sibyl.OrderRequest) { r.LimitPrice = dec(0) }), sibyl.Invalid, "limit_price", "between"},
		{"price one", with(func(r *sibyl.OrderRequest) { r.LimitPrice = dec(1) }), sibyl.Invalid, "limit_price", "between"},
		{"price off tick", with(func(r *sibyl.OrderRequest) { r.LimitPrice = dec(0.555) }), sibyl.Invalid, "limit_price", "0.55 or 0.56"},
		{"price below the first tick", with(func(r *sibyl.OrderRequest) { r.LimitPrice = dec(0.005) }), sibyl.Invalid, "limit_price", "between 0.01 and 0.99"},
		{"quantity zero", with(func(r *sibyl.OrderRequest) { r.Quantity = dec(0) }), sibyl.Invalid, "quantity", "positive"},
		{"quantity negative", with(func(r *sibyl.OrderRequest) { r.Quantity = dec(-3) }), sibyl.Invalid, "quantity", "positive"},
		{"quantity fractional", with(func(r *sibyl.OrderRequest) { r.Quantity = dec(1.5) }), sibyl.Invalid, "quantity", "whole"},
		{"outcome", with(func(r *sibyl.OrderRequest) { r.Outcome = "Maybe" }), sibyl.Invalid, "outcome", "Yes, No"},
		{"side", with(func(r *sibyl.OrderRequest) { r.Side = "hold" }), sibyl.Invalid, "side", ""},
		{"tif", with(func(r *sibyl.OrderRequest) { r.TimeInForce = "day" }), sibyl.Invalid, "time_in_force", ""},
		{"unknown market", with(func(r *sibyl.OrderRequest) { r.NativeMarketID = "BTC-ABOVE-7-2026-01-01" }), sibyl.NotFound, "", "search_markets"},
		{"insufficient funds", with(func(r *sibyl.OrderRequest) { r.Quantity = dec(1000) }), sibyl.InsufficientFunds, "", "available $100.00, needed $300.00"},
		{"sell without position", with(func(r *sibyl.OrderRequest) { r.Side = sibyl.Sell }), sibyl.Invalid, "quantity", "buy No"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.PlaceOrder(ctx, tc.req)
			e := wantCode(t, err, tc.code, tc.field)
			if !strings.Contains(e.Message, tc.msg) {
				t.Errorf("message %q does not contain %q", e.Message, tc.msg)
			}
		})
	}
	if p, _ := v.ListOrders(ctx, "alice", sibyl.OrderQuery{}); len(p.Orders) != 0 {
		t.Errorf("rejected requests created orders: %+v", p.Orders)
	}
	// Selling more than is held (some of it committed to a resting sell).
	mustPlace(t, v, sibyl.OrderRequest{Principal: "bob", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.MarketOrder, Quantity: decimal.NewFromFloat(5)})
	mustPlace(t, v, sibyl.OrderRequest{Principal: "bob", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Sell, Quantity: decimal.NewFromFloat(3), LimitPrice: decimal.NewFromFloat(0.99)})
	_, err := v.PlaceOrder(ctx, sibyl.OrderRequest{Principal: "bob", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Sell, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(3), LimitPrice: decimal.NewFromFloat(0.98)})
	e := wantCode(t, err, sibyl.Invalid, "quantity")
	if !strings.Contains(e.Message, "at most 2") {
		t.Errorf("message %q", e.Message)
	}
	// A closed market.
	def, _ := v.listed(id, v.now())
	clk.Set(def.close.Add(time.Second))
	_, err = v.PlaceOrder(ctx, ok)
	wantCode(t, err, sibyl.MarketClosed, "")
}

func TestDuplicateClientOrderID(t *testing.T) {
	v, _ := MustNew(t, Options{Seed: 18}, t0)
	id := openMarket(t, v, 0.5).id
	req := sibyl.OrderRequest{Principal: "alice", ClientOrderID: "cid-1", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.MarketOrder, Quantity: decimal.NewFromFloat(4)}
	first := mustPlace(t, v, req)
	cash := mustPortfolio(t, v, "alice").Cash
	again := mustPlace(t, v, req)
	if again.NativeID != first.NativeID || !again.FilledQuantity.Equal(dec(4)) {
		t.Fatalf("second placement %+v, want the first order %s", again, first.NativeID)
	}
	req.Quantity = dec(40) // even with other arguments, the client id wins
	if o := mustPlace(t, v, req); o.NativeID != first.NativeID {
		t.Errorf("changed request with the same client id made %s", o.NativeID)
	}
	if c := mustPortfolio(t, v, "alice").Cash; c != cash {
		t.Errorf("cash %v after resend, want %v", c, cash)
	}
	got, err := v.OrderByClientID(ctx, "alice", "cid-1", sibyl.LookupHint{})
	if err != nil || got.NativeID != first.NativeID {
		t.Fatalf("OrderByClientID: %+v %v", got, err)
	}
	_, err = v.OrderByClientID(ctx, "bob", "cid-1", sibyl.LookupHint{})
	wantCode(t, err, sibyl.NotFound, "")
	if o := mustPlace(t, v, sibyl.OrderRequest{Principal: "bob", ClientOrderID: "cid-1", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.MarketOrder, Quantity: decimal.NewFromFloat(1)}); o.NativeID == first.NativeID {
		t.Error("another principal's client id collided")
	}
	if p, _ := v.ListOrders(ctx, "alice", sibyl.OrderQuery{}); len(p.Orders) != 1 {
		t.Errorf("alice has %d orders, want 1", len(p.Orders))
	}
}

func TestSellAndRealizedPnL(t *testing.T) {
	v, _ := MustNew(t, Options{Seed: 19}, t0)
	id := openMarket(t, v, 0.5).id
	buy := mustPlace(t, v, sibyl.OrderRequest{Principal: "a", NativeMarketID: id, Outcome: "No", Side: sibyl.Buy, Type: sibyl.MarketOrder, Quantity: decimal.NewFromFloat(10)})
	book := mustBook(t, v, id, "No")
	sell := mustPlace(t, v, sibyl.OrderRequest{Principal: "a", NativeMarketID: id, Outcome: "No", Side: sibyl.Sell, Quantity: decimal.NewFromFloat(4), LimitPrice: decimal.NewFromFloat(book.Bids[0].Price), TimeInForce: sibyl.IOC})
	if sell.Status != sibyl.OrderFilled {
		t.Fatalf("sell %+v", sell)
	}
	pf := mustPortfolio(t, v, "a")
	pos := pf.Positions[0]
	avg := fl(buy.AveragePrice)
	wantReal := 4*(fl(sell.AveragePrice)-avg) - fl(buy.Fees) - fl(sell.Fees)
	if pos.Quantity != 6 || math.Abs(pos.RealizedPnL-wantReal) > 0.011 || math.Abs(pos.AveragePrice-avg) > 0.0001 {
		t.Errorf("position %+v, want 6 at %v realised %v", pos, avg, wantReal)
	}
	if !near(pos.MarketValue, 6*pos.MarkPrice) || math.Abs(pf.Equity-(pf.Cash+pos.MarketValue)) > 0.011 {
		t.Errorf("marking: %+v equity %v", pos, pf.Equity)
	}
}

func TestSettlement(t *testing.T) {
	v, clk := MustNew(t, Options{Seed: 20}, t0)
	// The nearest open BTC market.
	p, _ := v.SearchMarkets(ctx, sibyl.MarketQuery{Text: "btc above", Status: sibyl.StatusOpen, Limit: 100})
	var m sibyl.Market
	for _, x := range p.Markets {
		if x.Outcomes[0].Bid > 0 && x.Outcomes[0].Ask > 0 {
			m = x
			break
		}
	}
	yes := mustPlace(t, v, sibyl.OrderRequest{Principal: "a", NativeMarketID: m.NativeID, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.MarketOrder, Quantity: decimal.NewFromFloat(10)})
	no := mustPlace(t, v, sibyl.OrderRequest{Principal: "a", NativeMarketID: m.NativeID, Outcome: "No", Side: sibyl.Buy, Type: sibyl.MarketOrder, Quantity: decimal.NewFromFloat(10)})
	rest := mustPlace(t, v, sibyl.OrderRequest{Principal: "a", NativeMarketID: m.NativeID, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(10), LimitPrice: decimal.NewFromFloat(0.01)})
	before := mustPortfolio(t, v, "a")
	clk.Set(m.CloseTime.Add(time.Minute))
	closed := mustPortfolio(t, v, "a")
	if closed.Reserved != 0 {
		t.Errorf("reserved %v after close", closed.Reserved)
	}
	r, _ := v.GetOrder(ctx, "a", rest.NativeID)
	if r.Status != sibyl.OrderExpired {
		t.Errorf("resting order %s after close, want expired", r.Status)
	}
	clk.Set(m.CloseTime.Add(time.Hour))
	after := mustPortfolio(t, v, "a")
	mk, _ := v.Market(ctx, m.NativeID)
	if mk.Status != sibyl.StatusSettled {
		t.Fatalf("market %s", mk.Status)
	}
	// Holding 10 Yes and 10 No pays exactly $10 whatever the result.
	if !near(after.Cash, before.Cash+before.Reserved+10) || after.Reserved != 0 {
		t.Errorf("cash %v, want %v", after.Cash, before.Cash+before.Reserved+10)
	}
	for _, pos := range after.Positions {
		win := pos.Outcome == mk.Result
		if pos.Quantity != 0 || (win && pos.MarkPrice != 1) || (!win && pos.MarkPrice != 0) {
			t.Errorf("settled position %+v (result %s)", pos, mk.Result)
		}
		paid := fl(yes.AveragePrice)*10 + fl(yes.Fees)
		if pos.Outcome == "No" {
			paid = fl(no.AveragePrice)*10 + fl(no.Fees)
		}
		want := -paid
		if win {
			want += 10
		}
		if math.Abs(pos.RealizedPnL-want) > 0.011 {
			t.Errorf("%s realised %v, want %v", pos.Outcome, pos.RealizedPnL, want)
		}
	}
	if !near(after.Equity, after.Cash) {
		t.Errorf("equity %v, cash %v", after.Equity, after.Cash)
	}
	// Once the market leaves the listing its settled positions are dropped.
	clk.Set(m.CloseTime.Add(8 * 24 * time.Hour))
	gone := mustPortfolio(t, v, "a")
	if len(gone.Positions) != 0 || gone.Cash != after.Cash {
		t.Errorf("after retention: %+v", gone)
	}
}

func TestRestingOrderFillsWhenMarketMoves(t *testing.T) {
	v, clk := MustNew(t, Options{Seed: 21}, t0)
	id := openMarket(t, v, 0.5).id
	def, _ := v.listed(id, v.now())
	book := mustBook(t, v, id, "Yes")
	limit := book.Asks[0].Price - 0.02
	o := mustPlace(t, v, sibyl.OrderRequest{Principal: "a", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(5), LimitPrice: decimal.NewFromFloat(limit)})
	if o.Status != sibyl.OrderOpen {
		t.Fatalf("order %+v", o)
	}
	tick := roundTick(limit)
	// Find the first bucket in which the market makers ask at or below the limit.
	var when time.Time
	for m := 1; m < 3*24*60; m++ {
		at := t0.Add(time.Duration(m) * time.Minute)
		b, start := v.bucketOf(at)
		q := v.quotes(def, b, start)
		for x := 1; x <= tick; x++ {
			if q.ask[x] > 0 {
				when = at
			}
		}
		if !when.IsZero() {
			break
		}
	}
	if when.IsZero() {
		t.Skip("the market never came down to the limit in 3 days")
	}
	clk.Set(when.Add(-time.Minute))
	if g, _ := v.GetOrder(ctx, "a", o.NativeID); g.Status != sibyl.OrderOpen {
		t.Fatalf("filled too early: %+v", g)
	}
	clk.Set(when)
	g, _ := v.GetOrder(ctx, "a", o.NativeID)
	if g.FilledQuantity.IsZero() || !g.Fills[0].Maker || !near(fl(g.Fills[0].Price), limit) {
		t.Fatalf("after the market crossed: %+v", g)
	}
}

func TestListOrders(t *testing.T) {
	v, clk := MustNew(t, Options{Seed: 22}, t0)
	id := openMarket(t, v, 0.5).id
	id2 := openMarket(t, v, 0.3).id
	var ids []string
	for i := 0; i < 7; i++ {
		mk := id
		if i%2 == 1 {
			mk = id2
		}
		o := mustPlace(t, v, sibyl.OrderRequest{Principal: "a", NativeMarketID: mk, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(1), LimitPrice: decimal.NewFromFloat(0.01)})
		ids = append(ids, o.NativeID)
		clk.Add(time.Second)
	}
	mustPlace(t, v, sibyl.OrderRequest{Principal: "b", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(1), LimitPrice: decimal.NewFromFloat(0.01)})
	v.CancelOrder(ctx, "a", ids[0])
	var got []string
	q := sibyl.OrderQuery{Limit: 3}
	for {
		p, err := v.ListOrders(ctx, "a", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range p.Orders {
			got = append(got, o.NativeID)
		}
		if p.NextCursor == "" {
			break
		}
		q.Cursor = p.NextCursor
	}
	if len(got) != 7 || got[0] != ids[6] || got[6] != ids[0] {
		t.Errorf("got %v, want newest first %v", got, ids)
	}
	p, _ := v.ListOrders(ctx, "a", sibyl.OrderQuery{NativeMarketID: "paper:" + id2})
	if len(p.Orders) != 3 {
		t.Errorf("market filter: %d orders", len(p.Orders))
	}
	p, _ = v.ListOrders(ctx, "a", sibyl.OrderQuery{Status: sibyl.OrderCancelled})
	if len(p.Orders) != 1 || p.Orders[0].NativeID != ids[0] {
		t.Errorf("status filter: %+v", p.Orders)
	}
	_, err := v.ListOrders(ctx, "a", sibyl.OrderQuery{Cursor: "nope"})
	wantCode(t, err, sibyl.Invalid, "cursor")
	_, err = v.ListOrders(ctx, "a", sibyl.OrderQuery{Status: "done"})
	wantCode(t, err, sibyl.Invalid, "status")
	if p, _ := v.ListOrders(ctx, "a", sibyl.OrderQuery{NativeMarketID: strings.ToLower(id2)}); len(p.Orders) != 3 {
		t.Errorf("lower-case market filter: %d orders", len(p.Orders))
	}
	if p, _ := v.ListOrders(ctx, "nobody", sibyl.OrderQuery{}); len(p.Orders) != 0 || p.NextCursor != "" {
		t.Errorf("unknown principal: %+v", p)
	}
	_, err = v.GetOrder(ctx, "b", ids[1])
	wantCode(t, err, sibyl.NotFound, "")
}

// TestRestingFillsIndependentOfObservation: a venue looked at every minute and
// one looked at only at the end fill the same resting orders the same way.
func TestRestingFillsIndependentOfObservation(t *testing.T) {
	a, ca := MustNew(t, Options{Seed: 23}, t0)
	b, cb := MustNew(t, Options{Seed: 23}, t0)
	id := openMarket(t, a, 0.5).id
	book := mustBook(t, a, id, "Yes")
	var ids []string
	for i, d := range []float64{-0.02, -0.03, 0.02, 0.03} {
		req := sibyl.OrderRequest{Principal: "p", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(50), LimitPrice: decimal.NewFromFloat(math.Round((book.Bids[0].Price+d)*100) / 100)}
		if d > 0 {
			req.Outcome, req.LimitPrice = "No", dec(math.Round((1-book.Asks[0].Price+d)*100)/100)
		}
		req.ClientOrderID = fmt.Sprint(i)
		o := mustPlace(t, a, req)
		mustPlace(t, b, req)
		ids = append(ids, o.NativeID)
	}
	for m := 0; m < 600; m++ {
		ca.Add(time.Minute)
		a.Market(ctx, id)
	}
	cb.Add(600 * time.Minute)
	filled := 0
	for _, oid := range ids {
		oa, _ := a.GetOrder(ctx, "p", oid)
		ob, _ := b.GetOrder(ctx, "p", oid)
		if diff := cmp.Diff(oa, ob); diff != "" {
			t.Errorf("order %s differs (-watched +unwatched):\n%s", oid, diff)
		}
		filled += int(oa.FilledQuantity.IntPart())
	}
	if filled == 0 {
		t.Error("no resting order filled in 10 hours; pick wider test prices")
	}
}
