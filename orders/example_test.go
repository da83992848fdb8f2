package orders

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shopspring/decimal"
	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

func ExampleService_Place() {
	dir, _ := os.MkdirTemp("", "sibyl-example")
	defer os.RemoveAll(dir)
	st, err := store.Open(filepath.Join(dir, "sibyl.db"))
	if err != nil {
		panic(err)
	}
	defer st.Close()
	svc := New(Options{Store: st, Venues: map[string]sibyl.Venue{"paper": newExchange().venue()}})

	req := PlaceRequest{
		Principal: "local", Transport: "stdio",
		Key:      "3f1c9a52-order-btc-120k", // one per intended order, reused on every retry
		MarketID: "paper:BTC-ABOVE-120000-2026-12-31",
		Order:    sibyl.OrderRequest{Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(10), LimitPrice: decimal.NewFromFloat(0.42), TimeInForce: sibyl.GTC},
		Args:     []byte(`{"market_id":"paper:BTC-ABOVE-120000-2026-12-31","outcome":"Yes","side":"buy","type":"limit","quantity":10,"limit_price":0.42,"idempotency_key":"3f1c9a52-order-btc-120k"}`),
	}
	for attempt := 1; attempt <= 2; attempt++ { // the agent retries: no second order
		res, err := svc.Place(context.Background(), req)
		if err != nil {
			fmt.Println(sibyl.ErrorCode(err), sibyl.ErrorMessage(err))
			return
		}
		fmt.Println(attempt, res.Order.NativeID, res.Order.Status, "replayed:", res.Replayed)
	}
	// Output:
	// 1 o-1 open replayed: false
	// 2 o-1 open replayed: true
}
