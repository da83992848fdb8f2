package polymarket

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/polymarket/clob"
	"github.com/sibylmcp/sibyl/venues/polymarket/pmtest"
)

const (
	testKey     = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" // public Hardhat test key
	testFunder  = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
	condV1      = "0x1111111111111111111111111111111111111111111111111111111111111111"
	condV2      = "0x2222222222222222222222222222222222222222222222222222222222222222"
	condNegRisk = "0x3333333333333333333333333333333333333333333333333333333333333333"
)

var testCreds = clob.Credentials{Key: "00000000-0000-0000-0000-000000000000", Secret: "mprcE0CZBcPTqPrppW-2FcQaMKTOwH3_JSekdvadNvg=", Passphrase: "test-passphrase"}

// fakeWorld starts a fake Polymarket with three markets (v1, v2 = ExchangeV3,
// neg-risk with tick 0.001) and books, and returns it with a signer.
func fakeWorld(t *testing.T) (*pmtest.Server, *clob.Signer) {
	t.Helper()
	srv := pmtest.New(testCreds)
	t.Cleanup(srv.Close)
	signer, err := clob.ParseSigner(testKey)
	if err != nil {
		t.Fatal(err)
	}
	funder, _ := clob.ParseAddress(testFunder)
	srv.Own(funder, signer.Address())
	srv.AddMarket(pmtest.Market{ConditionID: condV1, Question: "Will the fake v1 market resolve yes?", TokenIDs: []string{"101", "102"}, Tags: []string{"Crypto"}})
	srv.AddMarket(pmtest.Market{ConditionID: condV2, Question: "Will the fake v2 market resolve yes?", TokenIDs: []string{"201", "202"}, Version: "v2"})
	srv.AddMarket(pmtest.Market{ConditionID: condNegRisk, Question: "Will the neg-risk market resolve yes?", TokenIDs: []string{"301", "302"}, NegRisk: true, TickSize: "0.001"})
	for _, tok := range []string{"101", "201", "301"} {
		srv.SetBook(tok, []pmtest.Level{{Price: "0.40", Size: "100"}, {Price: "0.39", Size: "500"}},
			[]pmtest.Level{{Price: "0.42", Size: "50"}, {Price: "0.45", Size: "1000"}})
	}
	return srv, signer
}

func newTrader(t *testing.T, srv *pmtest.Server, signer *clob.Signer, typ clob.SignatureType, creds *clob.Credentials) *Trader {
	t.Helper()
	var funder clob.Address
	if typ != clob.EOA {
		funder, _ = clob.ParseAddress(testFunder)
	}
	c, err := NewClient(Config{GammaURL: srv.URL, ClobURL: srv.URL, DataURL: srv.URL, Signer: signer, Credentials: creds,
		HTTP: &http.Client{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrader(c, Wallet{Signer: signer, SignatureType: typ, Funder: funder})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestTraderEachSignatureType: for each signature type and each exchange (v1
// market on exchange V2, v2 market on ExchangeV3, neg-risk), the prepared order
// is accepted by the fake, which checked the L2 HMAC and recovered the signer;
// its id is the prepared hash and GET /data/order/{hash} finds it.
func TestTraderEachSignatureType(t *testing.T) {
	srv, signer := fakeWorld(t)
	ctx := context.Background()
	n := 0
	for _, typ := range []clob.SignatureType{clob.EOA, clob.PolyProxy, clob.PolyGnosisSafe, clob.Poly1271} {
		tr := newTrader(t, srv, signer, typ, nil) // credentials derived through L1
		for _, cond := range []string{condV1, condV2, condNegRisk} {
			m, err := tr.c.MarketByConditionID(ctx, cond)
			if err != nil {
				t.Fatal(err)
			}
			p, err := tr.Prepare(ctx, Spec{Market: m, Outcome: "Yes", Side: clob.Buy, OrderType: clob.GTC, Price: decimal.RequireFromString("0.30"), Size: decimal.RequireFromString("10")})
			if err != nil {
				t.Fatalf("type %d %s: %v", typ, cond, err)
			}
			a, err := tr.Submit(ctx, p.Body)
			if err != nil {
				t.Fatalf("type %d %s: %v", typ, cond, err)
			}
			n++
			if a.OrderID != p.Hash || a.Status != "live" {
				t.Errorf("type %d %s: answer %+v, want live %s", typ, cond, a, p.Hash)
			}
			o, err := tr.Order(ctx, p.Hash)
			if err != nil || o.ID != p.Hash || o.Status != "LIVE" || !o.Price.Equal(decimal.RequireFromString("0.3")) {
				t.Errorf("type %d %s: order %+v %v", typ, cond, o, err)
			}
		}
	}
	if got := len(srv.Orders()); got != n || srv.BadAuth() != 0 {
		t.Errorf("fake holds %d orders (want %d), %d bad auth", got, n, srv.BadAuth())
	}
}

// TestTraderResendIsIdentical: a POST whose answer is lost (the fake accepted it
// and dropped the connection) is Unavailable; resending the stored bytes is
// the same order (the fake says duplicate), and GET by hash finds the one order.
func TestTraderResendIsIdentical(t *testing.T) {
	srv, signer := fakeWorld(t)
	ctx := context.Background()
	tr := newTrader(t, srv, signer, clob.EOA, &testCreds)
	m, _ := tr.c.MarketByConditionID(ctx, condV1)
	p, err := tr.Prepare(ctx, Spec{Market: m, Outcome: "No", Side: clob.Sell, OrderType: clob.GTC, Price: decimal.RequireFromString("0.70"), Size: decimal.RequireFromString("12.5")})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []pmtest.FaultKind{pmtest.DropAfter, pmtest.Fail5xxAfter, pmtest.TimeoutAfter} {
		srv.Fault("POST /order", f)
		_, err := tr.Submit(ctx, p.Body)
		if sibyl.ErrorCode(err) != sibyl.Unavailable {
			t.Fatalf("fault %d: got %v, want unavailable", f, err)
		}
	}
	_, err = tr.Submit(ctx, p.Body)
	if !errors.Is(err, ErrDuplicate) {
		t.Fatalf("resend: got %v, want ErrDuplicate", err)
	}
	posts := srv.Posts()
	if len(posts) != 4 {
		t.Fatalf("got %d posts, want 4", len(posts))
	}
	for i, b := range posts {
		if !bytes.Equal(b, p.Body) {
			t.Errorf("post %d differs from the stored body", i)
		}
	}
	if len(srv.Orders()) != 1 {
		t.Errorf("fake holds %d orders, want 1", len(srv.Orders()))
	}
	if o, err := tr.Order(ctx, p.Hash); err != nil || o.ID != p.Hash {
		t.Errorf("order by hash: %+v %v", o, err)
	}
	if _, err := tr.Order(ctx, "0x"+string(bytes.Repeat([]byte("ab"), 32))); sibyl.ErrorCode(err) != sibyl.NotFound {
		t.Errorf("unknown hash: got %v, want not_found", err)
	}
}

// TestTraderVersionMismatch: when the CLOB moves to another order version, the
// stored order is refused with order_version_mismatch; sibyl re-reads /version
// and the next prepared order is accepted.
func TestTraderVersionMismatch(t *testing.T) {
	srv, signer := fakeWorld(t)
	ctx := context.Background()
	tr := newTrader(t, srv, signer, clob.EOA, &testCreds)
	m, _ := tr.c.MarketByConditionID(ctx, condV1)
	spec := Spec{Market: m, Outcome: "Yes", Side: clob.Buy, OrderType: clob.GTC, Price: decimal.RequireFromString("0.3"), Size: decimal.RequireFromString("5")}
	p, err := tr.Prepare(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetVersion(3)
	_, err = tr.Submit(ctx, p.Body)
	if sibyl.ErrorCode(err) != sibyl.Invalid || srv.Count("GET /version") != 2 {
		t.Fatalf("got %v after %d /version reads, want invalid after 2", err, srv.Count("GET /version"))
	}
	p2, err := tr.Prepare(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Submit(ctx, p2.Body); err != nil {
		t.Fatalf("after re-reading /version: %v", err)
	}
}

// TestTraderRefusals: what Prepare refuses before anything is sent.
func TestTraderRefusals(t *testing.T) {
	srv, signer := fakeWorld(t)
	ctx := context.Background()
	tr := newTrader(t, srv, signer, clob.EOA, &testCreds)
	m, _ := tr.c.MarketByConditionID(ctx, condNegRisk)
	before := srv.Count("POST /order")
	for name, s := range map[string]Spec{
		"off tick":      {Outcome: "Yes", OrderType: clob.GTC, Price: decimal.RequireFromString("0.3005"), Size: decimal.RequireFromString("10")},
		"out of range":  {Outcome: "Yes", OrderType: clob.GTC, Price: decimal.RequireFromString("0.9995"), Size: decimal.RequireFromString("10")},
		"3 decimals":    {Outcome: "Yes", OrderType: clob.GTC, Price: decimal.RequireFromString("0.3"), Size: decimal.RequireFromString("10.001")},
		"below min":     {Outcome: "Yes", OrderType: clob.GTC, Price: decimal.RequireFromString("0.3"), Size: decimal.RequireFromString("4.99")},
		"no outcome":    {Outcome: "Maybe", OrderType: clob.GTC, Price: decimal.RequireFromString("0.3"), Size: decimal.RequireFromString("10")},
		"post-only FOK": {Outcome: "Yes", OrderType: clob.FOK, PostOnly: true, Price: decimal.RequireFromString("0.3"), Size: decimal.RequireFromString("10")},
		"GTD too soon":  {Outcome: "Yes", OrderType: clob.GTD, Expires: time.Now().Add(30 * time.Second), Price: decimal.RequireFromString("0.3"), Size: decimal.RequireFromString("10")},
		"IOC":           {Outcome: "Yes", OrderType: "IOC", Price: decimal.RequireFromString("0.3"), Size: decimal.RequireFromString("10")},
	} {
		s.Market = m
		if _, err := tr.Prepare(ctx, s); err == nil {
			t.Errorf("%s: prepared", name)
		} else if c := sibyl.ErrorCode(err); c != sibyl.Invalid && c != sibyl.NotFound {
			t.Errorf("%s: code %s", name, c)
		}
	}
	if srv.Count("POST /order") != before {
		t.Error("a refused order reached the venue")
	}
}

// TestTraderMarketOrders: FOK fills everything or is refused; FAK takes what
// there is; the answer's amounts are the fills.
func TestTraderMarketOrders(t *testing.T) {
	srv, signer := fakeWorld(t)
	ctx := context.Background()
	tr := newTrader(t, srv, signer, clob.EOA, &testCreds)
	m, _ := tr.c.MarketByConditionID(ctx, condV1)
	// FOK buy of $21 at worst 0.42: 50 shares at 0.42 are there.
	p, err := tr.Prepare(ctx, Spec{Market: m, Outcome: "Yes", Side: clob.Buy, OrderType: clob.FOK, Price: decimal.RequireFromString("0.42"), Size: decimal.RequireFromString("21")})
	if err != nil {
		t.Fatal(err)
	}
	a, err := tr.Submit(ctx, p.Body)
	if err != nil || a.Status != "matched" || !a.TakingAmount.Equal(decimal.NewFromInt(50)) || !a.MakingAmount.Equal(decimal.NewFromInt(21)) {
		t.Fatalf("FOK: %+v %v", a, err)
	}
	// FOK again at 0.42: nothing left there.
	p, _ = tr.Prepare(ctx, Spec{Market: m, Outcome: "Yes", Side: clob.Buy, OrderType: clob.FOK, Price: decimal.RequireFromString("0.42"), Size: decimal.RequireFromString("21")})
	if _, err := tr.Submit(ctx, p.Body); sibyl.ErrorCode(err) != sibyl.Invalid {
		t.Fatalf("unfillable FOK: got %v, want invalid", err)
	}
	// FAK sell of 150 shares at worst 0.40: 100 fill at 0.40, the rest is killed.
	p, _ = tr.Prepare(ctx, Spec{Market: m, Outcome: "Yes", Side: clob.Sell, OrderType: clob.FAK, Price: decimal.RequireFromString("0.40"), Size: decimal.RequireFromString("150")})
	a, err = tr.Submit(ctx, p.Body)
	if err != nil || a.Status != "matched" || !a.MakingAmount.Equal(decimal.NewFromInt(100)) || !a.TakingAmount.Equal(decimal.NewFromInt(40)) {
		t.Fatalf("FAK: %+v %v", a, err)
	}
	o, _ := tr.Order(ctx, p.Hash)
	if o.Status != "CANCELED" || !o.SizeMatched.Equal(decimal.NewFromInt(100)) || len(o.AssociateTrades) != 1 {
		t.Errorf("FAK order: %+v", o)
	}
	fills, err := tr.Fills(ctx, p.Hash, o.AssociateTrades)
	if err != nil || len(fills) != 1 || !fills[0].Size.Equal(decimal.NewFromInt(100)) || !fills[0].Price.Equal(decimal.RequireFromString("0.4")) || fills[0].Maker {
		t.Errorf("fills %+v %v", fills, err)
	}
}

// TestTraderBalance: the wallet's pUSD balance is read with L2 auth, and a buy
// beyond it is InsufficientFunds with nothing created.
func TestTraderBalance(t *testing.T) {
	srv, signer := fakeWorld(t)
	ctx := context.Background()
	tr := newTrader(t, srv, signer, clob.PolyGnosisSafe, &testCreds)
	funder, _ := clob.ParseAddress(testFunder)
	srv.SetBalance(funder, "10.5")
	bal, err := tr.Balance(ctx)
	if err != nil || !bal.Equal(decimal.RequireFromString("10.5")) {
		t.Fatalf("balance %s %v, want 10.5", bal, err)
	}
	m, _ := tr.c.MarketByConditionID(ctx, condV1)
	p, err := tr.Prepare(ctx, Spec{Market: m, Outcome: "Yes", Side: clob.Buy, OrderType: clob.GTC, Price: decimal.RequireFromString("0.30"), Size: decimal.RequireFromString("40")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Submit(ctx, p.Body); sibyl.ErrorCode(err) != sibyl.InsufficientFunds {
		t.Fatalf("got %v, want insufficient_funds", err)
	}
	if len(srv.Orders()) != 0 {
		t.Error("the refused order exists at the venue")
	}
}
