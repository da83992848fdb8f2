package paper_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/paper"
)

func ExampleNew() {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	v, err := paper.New(paper.Options{Seed: 1, Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	page, _ := v.SearchMarkets(ctx, sibyl.MarketQuery{Text: "fed cut december 2026"})
	m := page.Markets[0]
	fmt.Println(m.ID, m.Category, m.Status, m.Simulated)

	o, err := v.PlaceOrder(ctx, sibyl.OrderRequest{
		Principal: "local", ClientOrderID: "example-1", NativeMarketID: m.NativeID,
		Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.MarketOrder, Quantity: decimal.NewFromFloat(10),
	})
	fmt.Println(o.Status, o.FilledQuantity, err)

	// A resend with the same client order id returns the same order.
	again, _ := v.PlaceOrder(ctx, sibyl.OrderRequest{
		Principal: "local", ClientOrderID: "example-1", NativeMarketID: m.NativeID,
		Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.MarketOrder, Quantity: decimal.NewFromFloat(10),
	})
	fmt.Println(again.NativeID == o.NativeID)
	// Output:
	// paper:FED-CUT-2026-12 macro open true
	// filled 10 <nil>
	// true
}
