package hedge_test

import (
	"fmt"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/hedge"
)

func ExamplePlanner_Plan() {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	expiry := time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)
	// A small ladder of "below K" markets; a real caller passes a venue's markets.
	market := func(k, ask float64) sibyl.Market {
		id := fmt.Sprintf("BTC-BELOW-%g-2026-12-31", k)
		return sibyl.Market{
			ID: "paper:" + id, Venue: "paper", NativeID: id, Status: sibyl.StatusOpen,
			Question:   fmt.Sprintf("Will BTC close below $%g on 2026-12-31?", k),
			Outcomes:   []sibyl.Outcome{{Name: "Yes", Ask: ask, AskSize: 500}, {Name: "No"}},
			Underlying: &sibyl.PriceCondition{Symbol: "BTC", Strike: k, Direction: hedge.Below, Expiry: expiry},
		}
	}
	markets := []sibyl.Market{market(95000, 0.30), market(90000, 0.20), market(80000, 0.08), market(70000, 0.03)}

	req := hedge.Request{Symbol: "BTC", Quantity: 1, ProtectBelow: 90000, By: time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC)}
	p, err := hedge.Planner{}.Plan(req, markets, 100000, 0.6, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Between $90,000 and $80,000 the first 10,000 contracts pay; each $10,000
	// step down adds contracts so the loss before premium never exceeds the
	// $10,000 it is at $90,000, down to the floor (-60%: $40,000).
	for _, l := range p.Legs {
		fmt.Printf("buy %5.0f %s of %s at $%.2f\n", l.Contracts, l.Outcome, l.MarketID, l.Price)
	}
	fmt.Printf("cost $%.0f, worst hedged loss $%.0f (cap $%.0f: loss at the protection level plus premium)\n", p.TotalCost, p.MaxLoss, p.Cap)
	// Output:
	// buy 10000 Yes of paper:BTC-BELOW-90000-2026-12-31 at $0.20
	// buy 10000 Yes of paper:BTC-BELOW-80000-2026-12-31 at $0.08
	// buy 30000 Yes of paper:BTC-BELOW-70000-2026-12-31 at $0.03
	// cost $3700, worst hedged loss $13700 (cap $13700: loss at the protection level plus premium)
}
