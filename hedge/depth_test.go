package hedge

import (
	"math"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl"
)

// oneStrike is a single "below 90" market with a thin best ask.
func oneStrike() []sibyl.Market {
	exp := testNow.Add(30 * 24 * time.Hour)
	return []sibyl.Market{{
		ID: "test:T-BELOW-90", Venue: "test", NativeID: "T-BELOW-90", Status: sibyl.StatusOpen, Question: "Will T close below $90?",
		Outcomes:   []sibyl.Outcome{{Name: "Yes", Ask: 0.10, AskSize: 148}, {Name: "No"}},
		Underlying: &sibyl.PriceCondition{Symbol: "T", Strike: 90, Direction: Below, Expiry: exp},
	}}
}

func TestPlanWalksBookDepth(t *testing.T) {
	ml := 2000.0
	// 100 tokens at 100, protect below 95 with the loss capped at $2,000 up
	// to the floor at 40: needs about (100-40)*100 - 2000 = 4000 contracts
	// paying below 90, far beyond the 148 offered at the best ask.
	req := Request{Symbol: "T", Quantity: 100, ProtectBelow: 95, By: testNow, MaxLoss: &ml}
	top, err := Planner{}.Plan(req, oneStrike(), 100, 0.5, testNow)
	if err != nil {
		t.Fatal(err)
	}
	depth := map[string][]sibyl.PriceLevel{"test:T-BELOW-90": {{Price: 0.10, Size: 148}, {Price: 0.12, Size: 1000}, {Price: 0.15, Size: 2000}}}
	deep, err := Planner{Depth: depth}.Plan(req, oneStrike(), 100, 0.5, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Legs) != 1 || len(deep.Legs) != 1 {
		t.Fatalf("legs: %d and %d, want one each", len(top.Legs), len(deep.Legs))
	}
	tl, dl := top.Legs[0], deep.Legs[0]
	// Top of book only: every contract at 0.10, most of them resting.
	if tl.Price != 0.10 || tl.FillNow != 148 || tl.Rests != tl.Contracts-148 {
		t.Errorf("top of book: price %v fill now %v rests %v of %v, want 0.10, 148 now, the rest resting", tl.Price, tl.FillNow, tl.Rests, tl.Contracts)
	}
	// With the book: 148 at 0.10, 1000 at 0.12, 2000 at 0.15, the rest resting at 0.15.
	wantNow := 148.0 + 1000 + 2000
	if dl.Price != 0.15 || dl.FillNow != math.Min(wantNow, dl.Contracts) || dl.FillNow+dl.Rests != dl.Contracts {
		t.Errorf("with depth: price %v fill now %v rests %v of %v, want limit 0.15 and %v filling now", dl.Price, dl.FillNow, dl.Rests, dl.Contracts, wantNow)
	}
	premium := 148*0.10 + 1000*0.12 + 2000*0.15 + (dl.Contracts-wantNow)*0.15
	if math.Abs(dl.Cost-premium) > 0.01 || dl.AvgPrice <= 0.10 || dl.AvgPrice >= 0.15 {
		t.Errorf("with depth: cost %v avg %v, want the walked premium %v and an average between the levels", dl.Cost, dl.AvgPrice, premium)
	}
	if dl.Contracts < top.Legs[0].Contracts {
		t.Errorf("with depth: %v contracts, fewer than top of book's %v although the premium is part of the capped loss", dl.Contracts, tl.Contracts)
	}
	if !deep.MeetsCap {
		t.Errorf("with depth: max loss %v over cap %v", deep.MaxLoss, deep.Cap)
	}
}

func TestPlanQuantityBound(t *testing.T) {
	req := Request{Symbol: "T", Quantity: 1e300, ProtectBelow: 95, By: testNow}
	_, err := Planner{}.Plan(req, oneStrike(), 100, 0.5, testNow)
	if sibyl.ErrorCode(err) != sibyl.Invalid || sibyl.ErrorField(err) != "quantity" {
		t.Fatalf("quantity 1e300: got %v, want invalid quantity", err)
	}
	// Within the token bound, a leg beyond what one order may buy is refused too.
	req.Quantity, req.ProtectBelow = 900000, 90
	_, err = Planner{}.Plan(req, oneStrike(), 100, 0.5, testNow)
	if sibyl.ErrorCode(err) != sibyl.Invalid || sibyl.ErrorField(err) != "quantity" {
		t.Fatalf("quantity 900000: got %v, want invalid quantity (a leg over the per-order bound)", err)
	}
}
