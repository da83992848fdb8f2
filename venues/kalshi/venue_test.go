package kalshi

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/kalshi/kalshitest"
)

func newVenue(t *testing.T, f *fixture, env string, live bool) *Venue {
	t.Helper()
	v, err := New(Options{Client: f.client, Env: env, Live: live})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func req(coid, market, outcome string, side sibyl.Side, qty, price float64, tif sibyl.TimeInForce) sibyl.OrderRequest {
	return reqD(coid, market, outcome, side, decimal.NewFromFloat(qty), decimal.NewFromFloat(price), tif)
}

func reqD(coid, market, outcome string, side sibyl.Side, qty, price decimal.Decimal, tif sibyl.TimeInForce) sibyl.OrderRequest {
	return sibyl.OrderRequest{Principal: "p1", ClientOrderID: coid, NativeMarketID: market, Outcome: outcome, Side: side,
		Type: sibyl.LimitOrder, Quantity: qty, LimitPrice: price, TimeInForce: tif}
}

func eqD(a decimal.Decimal, b string) bool { return a.Equal(decimal.RequireFromString(b)) }

const btcTicker = "KXBTCD-26DEC3117-T119999.99"

func TestVenueReadOnlyWithoutCredentials(t *testing.T) {
	srv := kalshitest.New(kalshitest.Options{})
	defer srv.Close()
	c, _ := NewClient(Config{BaseURL: srv.URL()})
	v, _ := New(Options{Client: c})
	info := v.Info()
	if info.Mode != sibyl.ModeReadOnly || hasCap(info, "trading") {
		t.Errorf("info: %+v", info)
	}
	ctx := context.Background()
	if _, err := v.Market(ctx, btcTicker); err != nil {
		t.Fatalf("read-only market data: %v", err)
	}
	if _, err := v.OrderBook(ctx, btcTicker, "No", 0); err != nil {
		t.Fatalf("read-only book: %v", err)
	}
	before := srv.TotalRequests()
	_, err := v.PlaceOrder(ctx, req("c", btcTicker, "Yes", sibyl.Buy, 1, 0.42, sibyl.GTC))
	wantCode(t, err, sibyl.Unauthorized)
	for _, want := range []string{"read-only", "KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH"} {
		if !strings.Contains(sibyl.ErrorMessage(err), want) {
			t.Errorf("message %q lacks %q", sibyl.ErrorMessage(err), want)
		}
	}
	_, err = v.CancelOrder(ctx, "p1", "x")
	wantCode(t, err, sibyl.Unauthorized)
	_, err = v.Portfolio(ctx, "p1")
	wantCode(t, err, sibyl.Unauthorized)
	if n := srv.TotalRequests() - before; n != 0 {
		t.Errorf("requests sent by refused calls: %d", n)
	}
}

func hasCap(info sibyl.VenueInfo, c string) bool {
	for _, x := range info.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// Prod without --live: place_order and cancel_order are refused naming
// --live, and nothing at all reaches the exchange (not even a market read).
func TestVenueProdNeedsLive(t *testing.T) {
	f := newFixture(t, kalshitest.Options{}, Config{})
	v := newVenue(t, f, EnvProd, false)
	if info := v.Info(); info.Mode != sibyl.ModeLive || hasCap(info, "trading") || !strings.Contains(info.Title, "--live") {
		t.Errorf("info: %+v", info)
	}
	ctx := context.Background()
	before := f.srv.TotalRequests()
	_, err := v.PlaceOrder(ctx, req("c", btcTicker, "Yes", sibyl.Buy, 1, 0.42, sibyl.GTC))
	wantCode(t, err, sibyl.Unauthorized)
	if !strings.Contains(sibyl.ErrorMessage(err), "--live") {
		t.Errorf("message does not name --live: %q", sibyl.ErrorMessage(err))
	}
	_, err = v.CancelOrder(ctx, "p1", "some-order")
	wantCode(t, err, sibyl.Unauthorized)
	if n := f.srv.TotalRequests() - before; n != 0 {
		t.Errorf("requests sent: %d, want 0", n)
	}
	live := newVenue(t, f, EnvProd, true)
	if _, err := live.PlaceOrder(ctx, req("c", btcTicker, "Yes", sibyl.Buy, 1, 0.42, sibyl.GTC)); err != nil {
		t.Errorf("with --live: %v", err)
	}
	if n := f.srv.Requests("POST /portfolio/events/orders"); n != 1 {
		t.Errorf("creates: %d, want 1", n)
	}
}

func TestVenueTrading(t *testing.T) {
	f := newFixture(t, kalshitest.Options{}, Config{})
	v := newVenue(t, f, EnvDemo, false)
	if info := v.Info(); info.Mode != sibyl.ModeDemo || !hasCap(info, "trading") || !info.Available {
		t.Errorf("info: %+v", info)
	}
	ctx := context.Background()
	// Buy NO at 0.58: an ask on YES at 0.42, which takes the YES bid at 0.42.
	o, err := v.PlaceOrder(ctx, req("c-no", btcTicker, "No", sibyl.Buy, 50, 0.58, sibyl.IOC))
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != sibyl.OrderFilled || o.Outcome != "No" || o.Side != sibyl.Buy || !eqD(o.FilledQuantity, "50") || !eqD(o.AveragePrice, "0.58") {
		t.Errorf("NO buy: %+v", o)
	}
	body := f.srv.Orders()[0]
	if body.Side != "ask" || !body.Price.Equal(d("0.42")) || body.ClientOrderID != "c-no" {
		t.Errorf("at the venue: %+v", body)
	}
	got, err := v.GetOrder(ctx, "p1", o.NativeID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome != "No" || got.Side != sibyl.Buy || !eqD(got.LimitPrice, "0.58") || !eqD(got.AveragePrice, "0.58") || len(got.Fills) != 1 || !eqD(got.Fills[0].Price, "0.58") || !got.Fees.IsPositive() {
		t.Errorf("get: %+v", got)
	}
	// A resting YES bid, cancelled.
	rest, err := v.PlaceOrder(ctx, req("c-rest", btcTicker, "Yes", sibyl.Buy, 5, 0.30, sibyl.GTC))
	if err != nil || rest.Status != sibyl.OrderOpen {
		t.Fatalf("rest: %+v %v", rest, err)
	}
	cancelled, err := v.CancelOrder(ctx, "p1", rest.NativeID)
	if err != nil || cancelled.Status != sibyl.OrderCancelled {
		t.Fatalf("cancel: %+v %v", cancelled, err)
	}
	again, err := v.CancelOrder(ctx, "p1", rest.NativeID)
	wantCode(t, err, sibyl.Conflict)
	if again.Status != sibyl.OrderCancelled {
		t.Errorf("second cancel returned %+v", again)
	}
	page, err := v.ListOrders(ctx, "p1", sibyl.OrderQuery{NativeMarketID: btcTicker})
	if err != nil || len(page.Orders) != 2 || page.Orders[0].NativeID != rest.NativeID {
		t.Errorf("list: %+v %v", page, err)
	}
	found, err := v.OrderByClientID(ctx, "p1", "c-no", sibyl.LookupHint{NativeMarketID: btcTicker, ClaimedAt: time.Now().Add(-time.Minute)})
	if err != nil || found.NativeID != o.NativeID {
		t.Errorf("by client id: %+v %v", found, err)
	}
	pf, err := v.Portfolio(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(pf.Positions) != 1 || pf.Positions[0].Outcome != "No" || pf.Positions[0].Quantity != 50 || !pf.SharedAccount {
		t.Errorf("portfolio: %+v", pf)
	}
	if want := f.srv.Cash().InexactFloat64(); pf.Cash != want {
		t.Errorf("cash: got %v, want %v", pf.Cash, want)
	}
}

// No price or count leaves sibyl except as an exact decimal string on the
// market's step: random prices and quantities are placed on markets with cent
// and 0.0001 grids. Every off-step price or sub-0.01 quantity is refused
// before sending (no POST reaches the exchange) with an error naming the
// valid steps; every sent body is a fixed-point string on the grid (the fake
// exchange refuses anything else) that equals the requested value exactly.
func TestPricesLeaveOnlyOnStep(t *testing.T) {
	f := newFixture(t, kalshitest.Options{Balance: "1000000"}, Config{})
	fast := NewLimiter(nil)
	fast.SetLimits(AccountLimits{Read: BucketLimit{RefillRate: 1e6, BucketCapacity: 1e6}, Write: BucketLimit{RefillRate: 1e6, BucketCapacity: 1e6}})
	f.client.limiter = fast
	v := newVenue(t, f, EnvDemo, false)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	markets := []struct {
		ticker string
		step   decimal.Decimal
	}{{"KXNFLGAME-26DEC27DALPHI-DAL", d("0.01")}, {"KXFINE-27JAN01-T1", d("0.0001")}}
	sent, refused := 0, 0
	for i := 0; i < 300; i++ {
		m := markets[i%2]
		// Prices with 1 to 6 decimals, quantities with 0 to 3.
		price := decimal.New(rng.Int64N(999999)+1, -6).Truncate(int32(1 + rng.IntN(6)))
		if !price.IsPositive() {
			continue
		}
		qty := decimal.New(rng.Int64N(5000)+1, -3).Truncate(int32(rng.IntN(4)))
		if !qty.IsPositive() {
			continue
		}
		outcome := []string{"Yes", "No"}[rng.IntN(2)]
		r := reqD("prop-"+decimal.NewFromInt(int64(i)).String(), m.ticker, outcome, sibyl.Buy, qty, price, sibyl.GTC)
		before := f.srv.Requests("POST /portfolio/events/orders")
		o, err := v.PlaceOrder(ctx, r)
		posted := f.srv.Requests("POST /portfolio/events/orders") - before
		onStep := price.Mod(m.step).IsZero()
		qtyOK := qty.Equal(qty.Truncate(2))
		switch {
		case onStep && qtyOK:
			if err != nil {
				t.Fatalf("%s %s x %s on %s: %v", outcome, price, qty, m.ticker, err)
			}
			sent++
			at := f.srv.Orders()[len(f.srv.Orders())-1]
			yp := price
			if outcome == "No" {
				yp = decimal.NewFromInt(1).Sub(price)
			}
			if !at.Price.Equal(yp) || !at.Count.Equal(qty) || !o.LimitPrice.Equal(price) {
				t.Fatalf("sent %s x %s, venue got %s x %s", yp, qty, at.Price, at.Count)
			}
		default:
			refused++
			if posted != 0 {
				t.Fatalf("%s x %s: refused but %d POSTs reached the venue", price, qty, posted)
			}
			wantCode(t, err, sibyl.Invalid)
			msg := sibyl.ErrorMessage(err)
			if !onStep && !strings.Contains(msg, "steps") {
				t.Fatalf("message does not name the steps: %q", msg)
			}
		}
	}
	t.Logf("sent %d on-step orders, refused %d before sending", sent, refused)
	if sent < 20 || refused < 20 {
		t.Errorf("sent %d, refused %d: the generator does not cover both", sent, refused)
	}
	if f.srv.BadSignatures() != 0 {
		t.Errorf("bad signatures: %d", f.srv.BadSignatures())
	}
}

// A lost answer leaves the order at the exchange; the adapter reports
// Unavailable, and FindOrder (ticker + claim time) finds it by client id.
func TestVenueLostAnswerReconciles(t *testing.T) {
	f := newFixture(t, kalshitest.Options{}, Config{HTTPClient: &http.Client{Timeout: 300 * time.Millisecond}})
	v := newVenue(t, f, EnvDemo, false)
	ctx := context.Background()
	since := time.Now()
	for _, k := range []kalshitest.FaultKind{kalshitest.DropAfter, kalshitest.ServerErrorAfter, kalshitest.HangAfter} {
		coid := "lost-" + k.String()
		f.srv.Inject(kalshitest.Fault{Route: "POST /portfolio/events/orders", Kind: k})
		_, err := v.PlaceOrder(ctx, req(coid, btcTicker, "Yes", sibyl.Buy, 1, 0.30, sibyl.GTC))
		wantCode(t, err, sibyl.Unavailable)
		o, err := v.FindOrder(ctx, coid, btcTicker, since)
		if err != nil || o.ClientOrderID != coid || o.Status != sibyl.OrderOpen || o.Outcome != "Yes" {
			t.Errorf("%s: reconcile got %+v %v", k, o, err)
		}
	}
	_, err := v.FindOrder(ctx, "never", btcTicker, since)
	wantCode(t, err, sibyl.NotFound)
}

// Kalshi's 409 for a client_order_id still resting means the order was sent
// before: the adapter returns that order instead of a refusal.
func TestVenueDuplicateClientIDReturnsExisting(t *testing.T) {
	f := newFixture(t, kalshitest.Options{}, Config{})
	v := newVenue(t, f, EnvDemo, false)
	ctx := context.Background()
	first, err := v.PlaceOrder(ctx, req("same", btcTicker, "Yes", sibyl.Buy, 2, 0.30, sibyl.GTC))
	if err != nil {
		t.Fatal(err)
	}
	again, err := v.PlaceOrder(ctx, req("same", btcTicker, "Yes", sibyl.Buy, 2, 0.30, sibyl.GTC))
	if err != nil || again.NativeID != first.NativeID {
		t.Fatalf("resend: got %+v %v, want order %s", again, err, first.NativeID)
	}
	if n := len(f.srv.Orders()); n != 1 {
		t.Errorf("orders at the venue: %d, want 1", n)
	}
}

func TestVenueSearchAndHealth(t *testing.T) {
	f := newFixture(t, kalshitest.Options{}, Config{RateLimitRetries: -1})
	v := newVenue(t, f, EnvDemo, false)
	ctx := context.Background()
	page, err := v.SearchMarkets(ctx, sibyl.MarketQuery{Text: "bitcoin 120,000"})
	if err != nil || len(page.Markets) != 1 || page.Markets[0].NativeID != btcTicker {
		t.Fatalf("text search: %+v %v", page, err)
	}
	if page.Markets[0].Question != "Bitcoin price on Dec 31, 2026? — $120,000 or above" {
		t.Errorf("question: %q", page.Markets[0].Question)
	}
	page, err = v.SearchMarkets(ctx, sibyl.MarketQuery{Category: "crypto"})
	if err != nil || len(page.Markets) != 1 {
		t.Errorf("category: %+v %v", page, err)
	}
	page, err = v.SearchMarkets(ctx, sibyl.MarketQuery{Text: "KXNFLGAME"})
	if err != nil || len(page.Markets) != 1 || page.Markets[0].NativeID != "KXNFLGAME-26DEC27DALPHI-DAL" {
		t.Errorf("series ticker: %+v %v", page, err)
	}
	page, err = v.SearchMarkets(ctx, sibyl.MarketQuery{Limit: 2})
	if err != nil || len(page.Markets) != 2 || page.NextCursor == "" {
		t.Fatalf("first page: %+v %v", page, err)
	}
	rest, err := v.SearchMarkets(ctx, sibyl.MarketQuery{Limit: 2, Cursor: page.NextCursor})
	if err != nil || len(rest.Markets) != 1 || rest.NextCursor != "" {
		t.Errorf("second page: %+v %v", rest, err)
	}
	// An outage shows in Info with its reason until a call succeeds again.
	f.srv.Inject(kalshitest.Fault{Kind: kalshitest.UnavailableBefore})
	if err := v.Probe(ctx); sibyl.ErrorCode(err) != sibyl.Unavailable {
		t.Fatalf("probe: %v", err)
	}
	if info := v.Info(); info.Available || !strings.Contains(info.Reason, "HTTP 503") {
		t.Errorf("info after outage: %+v", info)
	}
	if err := v.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	if info := v.Info(); !info.Available || info.Reason != "" {
		t.Errorf("info after recovery: %+v", info)
	}
}

// A token symbol searches its Kalshi price series (KXBTCD, then KXBTC)
// directly, across pages, with a cursor of its own.
func TestVenueSymbolSearchBySeries(t *testing.T) {
	specs := kalshitest.DefaultMarkets()
	for i := 0; i < 3; i++ {
		specs = append(specs, kalshitest.MarketSpec{Ticker: fmt.Sprintf("KXBTC-26DEC3117-B%d", 100000+i*1000), EventTicker: "KXBTC-26DEC3117",
			Title: "Bitcoin range", StrikeType: "between", FloorStrike: "100000", CapStrike: "101000", CloseTime: time.Now().Add(48 * time.Hour)})
	}
	f := newFixture(t, kalshitest.Options{Markets: specs}, Config{})
	v := newVenue(t, f, EnvDemo, false)
	ctx := context.Background()
	var got []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		p, err := v.SearchMarkets(ctx, sibyl.MarketQuery{Text: "btc", Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.Markets {
			got = append(got, m.NativeID)
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(got) != 4 || got[0] != btcTicker {
		t.Errorf("got %v, want the KXBTCD market then the 3 KXBTC ones", got)
	}
	if n := f.srv.Requests("GET /markets"); n > 4 {
		t.Errorf("%d market list requests for 4 markets", n)
	}
	_, err := v.SearchMarkets(ctx, sibyl.MarketQuery{Text: "BTC", Cursor: "9:x"})
	wantCode(t, err, sibyl.Invalid)
}

// The same client order id sent twice by this process after the first order
// filled (Kalshi would accept a second one: it deduplicates only resting
// orders here) returns the first order; the exchange has one.
func TestVenueResendAfterFillReturnsFirst(t *testing.T) {
	f := newFixture(t, kalshitest.Options{}, Config{})
	v := newVenue(t, f, EnvDemo, false)
	ctx := context.Background()
	r := req("filled-once", btcTicker, "Yes", sibyl.Buy, 3, 0.43, sibyl.IOC)
	first, err := v.PlaceOrder(ctx, r)
	if err != nil || first.Status != sibyl.OrderFilled {
		t.Fatalf("first: %+v %v", first, err)
	}
	again, err := v.PlaceOrder(ctx, r)
	if err != nil || again.NativeID != first.NativeID {
		t.Fatalf("resend: %+v %v", again, err)
	}
	if n := len(f.srv.Orders()); n != 1 {
		t.Errorf("orders at the exchange: %d, want 1", n)
	}
	// A lookup that fails leaves the outcome unknown: nothing is sent.
	f.srv.Inject(kalshitest.Fault{Route: "GET /portfolio/orders", Kind: kalshitest.UnavailableBefore})
	_, err = v.PlaceOrder(ctx, r)
	wantCode(t, err, sibyl.Unavailable)
	if n := f.srv.Requests("POST /portfolio/events/orders"); n != 1 {
		t.Errorf("creates: %d, want 1", n)
	}
}
