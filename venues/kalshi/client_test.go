package kalshi

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/kalshi/kalshitest"
)

const keyID = "key-under-test"

type fixture struct {
	srv    *kalshitest.Server
	client *Client
	key    *rsa.PrivateKey
}

func newFixture(t *testing.T, opts kalshitest.Options, cfg Config) *fixture {
	t.Helper()
	key := sharedKey(t)
	if opts.KeyID == "" {
		opts.KeyID = keyID
	}
	if opts.PublicKey == nil {
		opts.PublicKey = &key.PublicKey
	}
	srv := kalshitest.New(opts)
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL()
	if cfg.Signer == nil {
		s, err := NewSigner(keyID, key, cfg.Now)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Signer = s
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, client: c, key: key}
}

var cachedKey *rsa.PrivateKey

// sharedKey returns one RSA key per test binary (generating keys is slow).
func sharedKey(t testing.TB) *rsa.PrivateKey {
	if cachedKey == nil {
		cachedKey = mustKey(t)
	}
	return cachedKey
}

func wantCode(t *testing.T, err error, code sibyl.Code) {
	t.Helper()
	if got := sibyl.ErrorCode(err); got != code {
		t.Fatalf("got %v (%v), want %s", got, err, code)
	}
}

func TestClientMarketData(t *testing.T) {
	f := newFixture(t, kalshitest.Options{}, Config{})
	ctx := context.Background()
	var all []Market
	cursor := ""
	for pages := 0; ; pages++ {
		p, err := f.client.GetMarkets(ctx, MarketsQuery{Limit: 2, Cursor: cursor, Status: "open"})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Markets...)
		if p.Cursor == "" {
			if pages != 1 {
				t.Errorf("got %d pages, want 2", pages+1)
			}
			break
		}
		cursor = p.Cursor
	}
	if len(all) != 3 {
		t.Fatalf("got %d markets, want 3", len(all))
	}
	m, err := f.client.GetMarket(ctx, "KXBTCD-26DEC3117-T119999.99")
	if err != nil {
		t.Fatal(err)
	}
	md, err := ConvertMarket(m, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Market.Underlying; u == nil || u.Symbol != "BTC" || u.Direction != "above" || u.Strike != 119999.99 {
		t.Errorf("underlying: %+v", u)
	}
	if yes := md.Market.Outcomes[0]; yes.Bid != 0.42 || yes.Ask != 0.43 {
		t.Errorf("yes quote: %+v", yes)
	}
	b, err := f.client.GetOrderbook(ctx, m.Ticker, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.YesBids) != 2 || !b.YesBids[0].Price.Equal(d("0.42")) || !b.NoBids[0].Price.Equal(d("0.57")) {
		t.Errorf("book: %+v", b)
	}
	ev, err := f.client.GetEvent(ctx, "KXBTCD-26DEC3117")
	if err != nil || len(ev.Markets) != 1 || ev.SeriesTicker != "KXBTCD" {
		t.Errorf("event: %+v %v", ev, err)
	}
	if _, err := f.client.GetSeries(ctx, "KXBTCD"); err != nil {
		t.Error(err)
	}
	_, err = f.client.GetMarket(ctx, "NOPE")
	wantCode(t, err, sibyl.NotFound)
}

func TestClientNoCredentials(t *testing.T) {
	srv := kalshitest.New(kalshitest.Options{})
	defer srv.Close()
	c, err := NewClient(Config{BaseURL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.GetMarkets(ctx, MarketsQuery{}); err != nil {
		t.Fatalf("public market data without credentials: %v", err)
	}
	before := srv.TotalRequests()
	_, err = c.CreateOrder(ctx, CreateOrderRequest{Ticker: "KXFINE-27JAN01-T1"})
	wantCode(t, err, sibyl.Unauthorized)
	if !strings.Contains(sibyl.ErrorMessage(err), "KALSHI_API_KEY_ID") {
		t.Errorf("message does not say how to fix it: %q", sibyl.ErrorMessage(err))
	}
	if got := srv.TotalRequests(); got != before {
		t.Errorf("requests sent without credentials: %d", got-before)
	}
}

func TestClientBadSignatureRefused(t *testing.T) {
	other := mustKey(t)
	f := newFixture(t, kalshitest.Options{PublicKey: &other.PublicKey}, Config{})
	_, err := f.client.GetBalance(context.Background())
	wantCode(t, err, sibyl.Unauthorized)
	if f.srv.BadSignatures() != 1 {
		t.Errorf("bad signatures: got %d, want 1", f.srv.BadSignatures())
	}
}

func order(ticker, side, count, price, cid string) CreateOrderRequest {
	return CreateOrderRequest{Ticker: ticker, Side: side, Count: count, Price: price, ClientOrderID: cid,
		TimeInForce: TIFGoodTillCanceled, SelfTradePreventionType: STPTakerAtCross}
}

func TestClientTrading(t *testing.T) {
	f := newFixture(t, kalshitest.Options{}, Config{})
	ctx := context.Background()
	const btc = "KXBTCD-26DEC3117-T119999.99"
	// Buy 150 YES at up to 0.44: takes 100 at 0.43 and 50 at 0.44 (NO bids 0.57, 0.56).
	resp, err := f.client.CreateOrder(ctx, order(btc, SideBid, "150.00", "0.4400", "cid-1"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.FillCount != "150.00" || resp.RemainingCount != "0.00" || resp.ClientOrderID != "cid-1" {
		t.Errorf("create: %+v", resp)
	}
	o, err := f.client.GetOrder(ctx, resp.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != StatusExecuted || o.OutcomeSide != "yes" || o.BookSide != "bid" || o.FillCountFP != "150.00" {
		t.Errorf("order: %+v", o)
	}
	// Sell YES (= buy NO) resting at 0.60.
	r2, err := f.client.CreateOrder(ctx, order(btc, SideAsk, "10", "0.60", "cid-2"))
	if err != nil {
		t.Fatal(err)
	}
	if r2.RemainingCount != "10.00" {
		t.Errorf("resting ask: %+v", r2)
	}
	fills, err := f.client.GetFills(ctx, FillsQuery{OrderID: resp.OrderID})
	if err != nil || len(fills.Fills) != 2 {
		t.Fatalf("fills: %+v %v", fills, err)
	}
	pos, err := f.client.GetPositions(ctx, "", 0)
	if err != nil || len(pos.MarketPositions) != 1 || pos.MarketPositions[0].PositionFP != "150.00" {
		t.Errorf("positions: %+v %v", pos, err)
	}
	bal, err := f.client.GetBalance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cash, err := ParseDollars(bal.BalanceDollars)
	if err != nil || !cash.Equal(f.srv.Cash()) {
		t.Errorf("balance %s, server cash %s", bal.BalanceDollars, f.srv.Cash())
	}
	c, err := f.client.CancelOrder(ctx, r2.OrderID, 0, btc)
	if err != nil || c.ReducedBy != "10.00" {
		t.Errorf("cancel: %+v %v", c, err)
	}
	_, err = f.client.CancelOrder(ctx, resp.OrderID, 0, btc)
	wantCode(t, err, sibyl.Conflict)
	_, err = f.client.GetOrder(ctx, "no-such-order")
	wantCode(t, err, sibyl.NotFound)
	if n := f.srv.Requests("POST /portfolio/orders"); n != 0 {
		t.Errorf("legacy create endpoint used %d times", n)
	}
}

func TestClientRefusals(t *testing.T) {
	f := newFixture(t, kalshitest.Options{Balance: "5", Markets: append(kalshitest.DefaultMarkets(),
		kalshitest.MarketSpec{Ticker: "KXCLOSED-1", EventTicker: "KXCLOSED", Status: "closed"})}, Config{})
	ctx := context.Background()
	cases := []struct {
		name string
		req  CreateOrderRequest
		code sibyl.Code
	}{
		{"funds", order("KXNFLGAME-26DEC27DALPHI-DAL", SideBid, "100", "0.25", ""), sibyl.InsufficientFunds},
		{"closed", order("KXCLOSED-1", SideBid, "1", "0.25", ""), sibyl.MarketClosed},
		{"off tick", order("KXNFLGAME-26DEC27DALPHI-DAL", SideBid, "1", "0.255", ""), sibyl.Invalid},
		{"unknown market", order("KXNOPE", SideBid, "1", "0.25", ""), sibyl.NotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.client.CreateOrder(ctx, c.req)
			wantCode(t, err, c.code)
		})
	}
	if _, err := f.client.CreateOrder(ctx, order("KXNFLGAME-26DEC27DALPHI-DAL", SideBid, "1", "0.25", "dup")); err != nil {
		t.Fatal(err)
	}
	_, err := f.client.CreateOrder(ctx, order("KXNFLGAME-26DEC27DALPHI-DAL", SideBid, "1", "0.25", "dup"))
	wantCode(t, err, sibyl.Conflict)
	if n := len(f.srv.Orders()); n != 1 {
		t.Errorf("orders at the venue: got %d, want 1", n)
	}
}

// FindOrderByClientID pages through the market's orders (newest first, 200 a
// page) and finds the one with the id; it says NotFound only after the last
// page, and only looks in the market and since the given time.
func TestFindOrderByClientID(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	fast := NewLimiter(nil) // 451 creates at the basic tier's 10 a second would take 45 s
	fast.SetLimits(AccountLimits{Read: BucketLimit{1e6, 1e6}, Write: BucketLimit{1e6, 1e6}})
	f := newFixture(t, kalshitest.Options{Now: clock}, Config{Now: clock, Limiter: fast})
	ctx := context.Background()
	const mkt = "KXFINE-27JAN01-T1"
	if _, err := f.client.CreateOrder(ctx, order(mkt, SideBid, "1", "0.0100", "target")); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	for i := 0; i < 450; i++ {
		if _, err := f.client.CreateOrder(ctx, order(mkt, SideBid, "1", "0.0100", fmt.Sprintf("other-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	before := f.srv.Requests("GET /portfolio/orders")
	o, err := f.client.FindOrderByClientID(ctx, mkt, "target", now.Add(-2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if o.ClientOrderID != "target" {
		t.Errorf("found %+v", o)
	}
	if pages := f.srv.Requests("GET /portfolio/orders") - before; pages != 3 {
		t.Errorf("pages read: got %d, want 3 (451 orders, 200 a page)", pages)
	}
	_, err = f.client.FindOrderByClientID(ctx, mkt, "never-sent", now.Add(-2*time.Minute))
	wantCode(t, err, sibyl.NotFound)
	_, err = f.client.FindOrderByClientID(ctx, "KXBTCD-26DEC3117-T119999.99", "target", time.Time{})
	wantCode(t, err, sibyl.NotFound)
	// A claim time 30 minutes after the order was created (a local clock
	// ahead of Kalshi's) still finds it: a NotFound here would let the next
	// attempt send a second order once the first is no longer resting.
	if o, err := f.client.FindOrderByClientID(ctx, mkt, "target", now.Add(30*time.Minute)); err != nil || o.ClientOrderID != "target" {
		t.Errorf("claim time 30 min late: got %+v, %v; want the order", o, err)
	}
	// An order created long before the claim time (beyond the skew slack) is
	// outside the window.
	_, err = f.client.FindOrderByClientID(ctx, mkt, "target", now.Add(time.Hour))
	wantCode(t, err, sibyl.NotFound)
}

// Every fault of the connection maps to the right code, and the ones after
// acceptance leave the order at the venue (outcome unknown, not refused).
func TestClientFaults(t *testing.T) {
	const route = "POST /portfolio/events/orders"
	cases := []struct {
		fault      kalshitest.Fault
		code       sibyl.Code // "" = success
		wantOrders int
		wantSends  int
	}{
		{kalshitest.Fault{Kind: kalshitest.DropAfter}, sibyl.Unavailable, 1, 1},
		{kalshitest.Fault{Kind: kalshitest.ServerErrorAfter}, sibyl.Unavailable, 1, 1},
		{kalshitest.Fault{Kind: kalshitest.GatewayTimeoutAfter}, sibyl.Unavailable, 1, 1},
		{kalshitest.Fault{Kind: kalshitest.HangAfter}, sibyl.Unavailable, 1, 1},
		{kalshitest.Fault{Kind: kalshitest.HangBefore}, sibyl.Unavailable, 0, 1},
		{kalshitest.Fault{Kind: kalshitest.UnavailableBefore}, sibyl.Unavailable, 0, 1},
		{kalshitest.Fault{Kind: kalshitest.RateLimit}, "", 1, 2},                          // one 429, then the retry succeeds
		{kalshitest.Fault{Kind: kalshitest.RateLimit, Times: 3}, sibyl.RateLimited, 0, 3}, // retries exhausted
		{kalshitest.Fault{Kind: kalshitest.Slow, Delay: 50 * time.Millisecond}, "", 1, 1},
	}
	for _, c := range cases {
		t.Run(c.fault.Kind.String(), func(t *testing.T) {
			f := newFixture(t, kalshitest.Options{}, Config{HTTPClient: &http.Client{Timeout: 300 * time.Millisecond}})
			c.fault.Route = route
			f.srv.Inject(c.fault)
			_, err := f.client.CreateOrder(context.Background(), order("KXFINE-27JAN01-T1", SideBid, "1", "0.0100", "cid"))
			if c.code == "" {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
			} else {
				wantCode(t, err, c.code)
				assertNoSecret(t, err, f.key)
			}
			if got := len(f.srv.Orders()); got != c.wantOrders {
				t.Errorf("orders at the venue: got %d, want %d", got, c.wantOrders)
			}
			if got := f.srv.Requests(route); got != c.wantSends {
				t.Errorf("requests: got %d, want %d", got, c.wantSends)
			}
		})
	}
}

// A caller's deadline is an unknown outcome too.
func TestClientContextDeadline(t *testing.T) {
	f := newFixture(t, kalshitest.Options{}, Config{})
	f.srv.Inject(kalshitest.Fault{Kind: kalshitest.HangAfter, Delay: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := f.client.CreateOrder(ctx, order("KXFINE-27JAN01-T1", SideBid, "1", "0.0100", "cid"))
	wantCode(t, err, sibyl.Unavailable)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cause: %v", err)
	}
}

func TestSizeLimiter(t *testing.T) {
	f := newFixture(t, kalshitest.Options{ReadRate: 300, WriteRate: 150}, Config{})
	l, err := f.client.SizeLimiter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if l.Read.RefillRate != 300 || l.Write.BucketCapacity != 150 {
		t.Errorf("limits: %+v", l)
	}
	if f.client.limiter.read.rate != 300 || f.client.limiter.write.capacity != 150 {
		t.Errorf("limiter not resized: read %v write %v", f.client.limiter.read.rate, f.client.limiter.write.capacity)
	}
}

func assertNoSecret(t *testing.T, err error, key *rsa.PrivateKey) {
	t.Helper()
	for _, s := range []string{err.Error(), sibyl.ErrorMessage(err), fmt.Sprintf("%+v", err)} {
		if strings.Contains(s, key.D.String()[:16]) || strings.Contains(s, "PRIVATE KEY") || strings.Contains(s, HeaderSignature) {
			t.Errorf("error carries secret material: %s", s)
		}
	}
}
