package polymarket

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/polymarket/clob"
	"github.com/sibylmcp/sibyl/venues/polymarket/pmtest"
)

func newVenue(t *testing.T, srv *pmtest.Server, signer *clob.Signer, live bool) *Venue {
	t.Helper()
	c, err := NewClient(Config{GammaURL: srv.URL, ClobURL: srv.URL, DataURL: srv.URL, Signer: signer, HTTP: &http.Client{Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	var w *Wallet
	if signer != nil {
		w = &Wallet{Signer: signer}
	}
	v, err := New(Options{Client: c, Wallet: w, Live: live})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func req(market, outcome string, side sibyl.Side, typ sibyl.OrderType, tif sibyl.TimeInForce, qty, price string) sibyl.OrderRequest {
	r := sibyl.OrderRequest{Principal: "local", ClientOrderID: "coid-1", NativeMarketID: market, Outcome: outcome,
		Side: side, Type: typ, TimeInForce: tif, Quantity: decimal.RequireFromString(qty)}
	if price != "" {
		r.LimitPrice = decimal.RequireFromString(price)
	}
	return r
}

// TestVenueNeedsLiveAndKey: without --live, or without a key, orders and cancels
// are refused and nothing reaches the venue (the fake counts every request).
func TestVenueNeedsLiveAndKey(t *testing.T) {
	srv, signer := fakeWorld(t)
	ctx := context.Background()
	for name, v := range map[string]*Venue{"no --live": newVenue(t, srv, signer, false), "read-only": newVenue(t, srv, nil, true)} {
		before := srv.Count("*")
		r := req(condV1, "Yes", sibyl.Buy, sibyl.LimitOrder, sibyl.GTC, "10", "0.3")
		if _, err := v.PrepareOrder(ctx, r); sibyl.ErrorCode(err) != sibyl.Unauthorized {
			t.Errorf("%s: prepare: got %v", name, err)
		}
		r.Prepared = &sibyl.PreparedOrder{NativeOrderID: "0x01", Payload: []byte("{}")}
		if _, err := v.PlaceOrder(ctx, r); sibyl.ErrorCode(err) != sibyl.Unauthorized {
			t.Errorf("%s: place: got %v", name, err)
		}
		if _, err := v.CancelOrder(ctx, "local", "0x01"); sibyl.ErrorCode(err) != sibyl.Unauthorized {
			t.Errorf("%s: cancel: got %v", name, err)
		}
		if n := srv.Count("*") - before; n != 0 {
			t.Errorf("%s: %d requests reached the venue", name, n)
		}
	}
	if len(srv.Posts()) != 0 {
		t.Error("an order reached the venue")
	}
	// Market data needs neither.
	ro := newVenue(t, srv, nil, false)
	m, err := ro.Market(ctx, condV1)
	if err != nil || m.ID != "polymarket:"+condV1 || m.Status != sibyl.StatusOpen || len(m.Outcomes) != 2 {
		t.Fatalf("market %+v %v", m, err)
	}
	if ro.Info().Mode != sibyl.ModeReadOnly || !ro.Info().RealMoney {
		t.Errorf("info %+v", ro.Info())
	}
}

// TestVenuePrepareThenPlace: the prepared payload is what is sent, byte for
// byte, the answer's id is the prepared hash, a lost answer reconciles through
// OrderByClientID with the stored prepared order, and a resend of the stored
// payload leaves one order at the venue.
func TestVenuePrepareThenPlace(t *testing.T) {
	srv, signer := fakeWorld(t)
	ctx := context.Background()
	v := newVenue(t, srv, signer, true)
	r := req(condV2, "No", sibyl.Buy, sibyl.LimitOrder, sibyl.GTC, "10", "0.35")
	p, err := v.PrepareOrder(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	r.Prepared = &p
	srv.Fault("POST /order", pmtest.DropAfter)
	if _, err := v.PlaceOrder(ctx, r); sibyl.ErrorCode(err) != sibyl.Unavailable {
		t.Fatalf("lost answer: got %v, want unavailable", err)
	}
	o, err := v.OrderByClientID(ctx, "local", "coid-1", sibyl.LookupHint{NativeMarketID: condV2, Prepared: &p})
	if err != nil || o.NativeID != p.NativeOrderID || o.Status != sibyl.OrderOpen || o.ClientOrderID != "coid-1" {
		t.Fatalf("reconcile: %+v %v", o, err)
	}
	if !o.Quantity.Equal(decimal.NewFromInt(10)) || !o.LimitPrice.Equal(decimal.RequireFromString("0.35")) || o.Outcome != "No" || o.Side != sibyl.Buy {
		t.Errorf("order %+v", o)
	}
	o2, err := v.PlaceOrder(ctx, r) // a resend: the venue has it already
	if err != nil || o2.NativeID != p.NativeOrderID {
		t.Fatalf("resend: %+v %v", o2, err)
	}
	posts := srv.Posts()
	if len(posts) != 2 || !bytes.Equal(posts[0], p.Payload) || !bytes.Equal(posts[1], p.Payload) {
		t.Errorf("posts differ from the prepared payload")
	}
	if len(srv.Orders()) != 1 {
		t.Errorf("%d orders at the venue, want 1", len(srv.Orders()))
	}
	if _, err := v.OrderByClientID(ctx, "local", "coid-2", sibyl.LookupHint{NativeMarketID: condV2}); sibyl.ErrorCode(err) != sibyl.NotFound {
		t.Errorf("without a prepared order: got %v, want not_found", err)
	}
	// Cancel, then cancel again: conflict with the final state.
	c, err := v.CancelOrder(ctx, "local", p.NativeOrderID)
	if err != nil || c.Status != sibyl.OrderCancelled {
		t.Fatalf("cancel: %+v %v", c, err)
	}
	if _, err := v.CancelOrder(ctx, "local", p.NativeOrderID); sibyl.ErrorCode(err) != sibyl.Conflict {
		t.Errorf("second cancel: got %v, want conflict", err)
	}
}

// TestVenueMarketOrders: market orders become FOK/FAK with a worst price from
// the book; a FOK that cannot fill is a cancelled order with nothing filled.
func TestVenueMarketOrders(t *testing.T) {
	srv, signer := fakeWorld(t)
	ctx := context.Background()
	v := newVenue(t, srv, signer, true)
	place := func(r sibyl.OrderRequest) (sibyl.Order, error) {
		p, err := v.PrepareOrder(ctx, r)
		if err != nil {
			return sibyl.Order{}, err
		}
		r.Prepared = &p
		return v.PlaceOrder(ctx, r)
	}
	// 50 contracts at market: the 0.42 level has exactly 50.
	o, err := place(req(condV1, "Yes", sibyl.Buy, sibyl.MarketOrder, sibyl.FOK, "50", ""))
	if err != nil || o.Status != sibyl.OrderFilled || !o.FilledQuantity.Equal(decimal.NewFromInt(50)) || !o.AveragePrice.Equal(decimal.RequireFromString("0.42")) {
		t.Fatalf("FOK: %+v %v", o, err)
	}
	// IOC limit sell of 150 at 0.40: 100 fill, the rest is killed.
	o, err = place(req(condV1, "Yes", sibyl.Sell, sibyl.LimitOrder, sibyl.IOC, "150", "0.40"))
	if err != nil || o.Status != sibyl.OrderCancelled || !o.FilledQuantity.Equal(decimal.NewFromInt(100)) {
		t.Fatalf("IOC: %+v %v", o, err)
	}
	// FOK limit buy of 2000 at 0.45: the book has 1000 there.
	o, err = place(req(condV1, "Yes", sibyl.Buy, sibyl.LimitOrder, sibyl.FOK, "2000", "0.45"))
	if err != nil || o.Status != sibyl.OrderCancelled || o.FilledQuantity.IsPositive() || o.RejectReason == "" {
		t.Fatalf("unfillable FOK: %+v %v", o, err)
	}
	// A market FOK beyond the book's depth is refused before anything is sent.
	before := len(srv.Posts())
	if _, err := place(req(condV1, "Yes", sibyl.Buy, sibyl.MarketOrder, sibyl.FOK, "100000", "")); sibyl.ErrorCode(err) != sibyl.Conflict {
		t.Fatalf("deep FOK: got %v", err)
	}
	if len(srv.Posts()) != before {
		t.Error("the refused FOK was sent")
	}
}

// TestVenueListAndPortfolio: open orders page through the CLOB's cursor; the
// portfolio is the maker wallet's Data API positions.
func TestVenueListAndPortfolio(t *testing.T) {
	srv, signer := fakeWorld(t)
	ctx := context.Background()
	v := newVenue(t, srv, signer, true)
	for i, price := range []string{"0.30", "0.31", "0.32"} {
		r := req(condV1, "Yes", sibyl.Buy, sibyl.LimitOrder, sibyl.GTC, "10", price)
		r.ClientOrderID = "c" + price
		p, err := v.PrepareOrder(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		r.Prepared = &p
		if _, err := v.PlaceOrder(ctx, r); err != nil {
			t.Fatalf("order %d: %v", i, err)
		}
	}
	var all []sibyl.Order
	cursor := ""
	for i := 0; i < 5; i++ {
		page, err := v.ListOrders(ctx, "local", sibyl.OrderQuery{NativeMarketID: condV1, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Orders...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(all) != 3 {
		t.Fatalf("listed %d orders, want 3", len(all))
	}
	srv.SetPositions(signer.Address().Hex(), []map[string]any{{"asset": "101", "conditionId": condV1, "outcome": "Yes", "size": 12.5, "avgPrice": 0.3, "curPrice": 0.41, "realizedPnl": 1.25}})
	srv.SetBalance(signer.Address(), "250.75")
	pf, err := v.Portfolio(ctx, "local")
	if err != nil || len(pf.Positions) != 1 || pf.Positions[0].Quantity != 12.5 || pf.Positions[0].MarketID != "polymarket:"+condV1 || !pf.SharedAccount {
		t.Fatalf("portfolio %+v %v", pf, err)
	}
	if pf.Cash != 250.75 || pf.Equity != 250.75+12.5*0.41 {
		t.Errorf("cash %v equity %v, want 250.75 and %v", pf.Cash, pf.Equity, 250.75+12.5*0.41)
	}
}
