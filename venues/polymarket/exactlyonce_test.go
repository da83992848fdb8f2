package polymarket_test

import (
	"bytes"
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/orders"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/venues/polymarket"
	"github.com/sibylmcp/sibyl/venues/polymarket/clob"
	"github.com/sibylmcp/sibyl/venues/polymarket/pmtest"
)

const (
	eoKey  = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" // public Hardhat test key
	eoCond = "0x4444444444444444444444444444444444444444444444444444444444444444"
)

var eoCreds = clob.Credentials{Key: "11111111-1111-1111-1111-111111111111", Secret: "mprcE0CZBcPTqPrppW-2FcQaMKTOwH3_JSekdvadNvg=", Passphrase: "pass"}

// TestExactlyOnceThroughOrders runs orders.Service (a real bbolt store) over the
// Polymarket adapter against the fake venue, which loses answers after accepting
// orders (dropped connections, 500s, answers after the client gave up), refuses
// with 429 and 503 before accepting, and fails order lookups now and then. Each
// key is retried with the same arguments until it gets a final answer, and the
// store is closed and reopened halfway (a restart). Then: every key that was
// acknowledged has exactly its one order at the venue, the venue has no other
// order, and every POST of an order carried the same bytes.
func TestExactlyOnceThroughOrders(t *testing.T) {
	srv := pmtest.New(eoCreds)
	defer srv.Close()
	srv.AddMarket(pmtest.Market{ConditionID: eoCond, Question: "Will the exactly-once market resolve yes?", TokenIDs: []string{"401", "402"}})
	srv.SetBook("401", []pmtest.Level{{Price: "0.40", Size: "100000"}}, []pmtest.Level{{Price: "0.45", Size: "100000"}})
	srv.SetBook("402", []pmtest.Level{{Price: "0.54", Size: "100000"}}, []pmtest.Level{{Price: "0.60", Size: "100000"}})
	var mu sync.Mutex
	rng := mrand.New(mrand.NewPCG(11, 12))
	srv.SetFaultFunc(func(route string) pmtest.FaultKind {
		mu.Lock()
		x := rng.Float64()
		mu.Unlock()
		switch route {
		case "POST /order":
			switch {
			case x < 0.15:
				return pmtest.DropAfter
			case x < 0.25:
				return pmtest.Fail5xxAfter
			case x < 0.30:
				return pmtest.TimeoutAfter
			case x < 0.38:
				return pmtest.TooMany
			case x < 0.45:
				return pmtest.Fail5xxBefore
			case x < 0.50:
				return pmtest.DropBefore
			}
		case "GET /data/order/", "GET /markets":
			if x < 0.1 {
				return pmtest.Fail5xxBefore
			}
		}
		return 0
	})
	signer, err := clob.ParseSigner(eoKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := polymarket.NewClient(polymarket.Config{GammaURL: srv.URL, ClobURL: srv.URL, DataURL: srv.URL, Signer: signer,
		Credentials: &eoCreds, HTTP: &http.Client{Timeout: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := polymarket.New(polymarket.Options{Client: c, Wallet: &polymarket.Wallet{Signer: signer}, Live: true})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sibyl.db")
	open := func() (store.Store, *orders.Service) {
		st, err := store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		return st, orders.New(orders.Options{Store: st, Venues: map[string]sibyl.Venue{"polymarket": v}, SoleOwner: true, Lease: 2 * time.Second, Live: true})
	}
	st, svc := open()
	const keys = 40
	acked := map[string]string{} // key -> order hash
	refused := 0
	for i := 0; i < keys; i++ {
		if i == keys/2 { // restart: a new Service on the reopened file
			st.Close()
			st, svc = open()
		}
		key := fmt.Sprintf("pm-exactly-once-%03d", i)
		outcome := []string{"Yes", "No"}[i%2]
		o := sibyl.OrderRequest{Outcome: outcome, Side: sibyl.Buy, Type: sibyl.LimitOrder, TimeInForce: sibyl.GTC,
			Quantity: decimal.NewFromInt(int64(5 + i%7)), LimitPrice: decimal.RequireFromString([]string{"0.30", "0.50"}[i%2])}
		if i%3 == 0 { // marketable: fills at once
			o.LimitPrice, o.TimeInForce = decimal.RequireFromString("0.65"), sibyl.IOC
		}
		req := orders.PlaceRequest{Principal: "local", Transport: "stdio", Key: key, MarketID: "polymarket:" + eoCond, Order: o, AllowDuplicate: true,
			Args: []byte(fmt.Sprintf(`{"market":"polymarket:%s","outcome":%q,"quantity":%s,"limit_price":%s,"time_in_force":%q,"idempotency_key":%q}`, eoCond, outcome, o.Quantity, o.LimitPrice, o.TimeInForce, key))}
		var res orders.PlaceResult
		for attempt := 0; ; attempt++ {
			if attempt == 200 {
				t.Fatalf("key %s: no final answer after 200 attempts: %v", key, err)
			}
			res, err = svc.Place(context.Background(), req)
			if err == nil || !sibyl.ErrorCode(err).Retryable() {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err != nil {
			refused++
			t.Logf("key %s refused: %v", key, err)
			continue
		}
		acked[key] = res.Order.NativeID
	}
	st.Close()

	srv.SetFaultFunc(nil)
	venue := map[string]pmtest.Order{}
	for _, o := range srv.Orders() {
		venue[o.Hash] = o
	}
	seen := map[string]string{}
	for key, hash := range acked {
		if _, ok := venue[hash]; !ok {
			t.Errorf("key %s: acknowledged order %s is not at the venue", key, hash)
		}
		if other, dup := seen[hash]; dup {
			t.Errorf("keys %s and %s got the same order %s", key, other, hash)
		}
		seen[hash] = key
	}
	for hash := range venue {
		if _, ok := seen[hash]; !ok {
			t.Errorf("the venue has order %s that no key acknowledged", hash)
		}
	}
	// Every POST carrying an order's signature carried the same bytes.
	bySig := map[string][]byte{}
	resent := 0
	for _, b := range srv.Posts() {
		pb, err := clob.ParseBody(b)
		if err != nil {
			t.Fatal(err)
		}
		sig := string(pb.Signature)
		if prev, ok := bySig[sig]; ok {
			resent++
			if !bytes.Equal(prev, b) {
				t.Errorf("a resend differs from the first send:\n%s\n%s", prev, b)
			}
			continue
		}
		bySig[sig] = b
	}
	if len(bySig) > keys {
		t.Errorf("%d distinct orders were posted for %d keys", len(bySig), keys)
	}
	if srv.BadAuth() != 0 {
		t.Errorf("%d requests failed authentication", srv.BadAuth())
	}
	t.Logf("%d keys: %d acknowledged, %d refused; %d POST /order (%d resends of a stored order); %d orders at the venue",
		keys, len(acked), refused, len(srv.Posts()), resent, len(venue))
	if resent == 0 || len(acked) < keys/2 {
		t.Errorf("too little exercised: %d resends, %d acknowledged", resent, len(acked))
	}
}
