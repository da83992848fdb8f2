package tools

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/paper"
)

// refusingVenue refuses PlaceOrder (a deterministic refusal, stored as done)
// while refuse says so.
type refusingVenue struct {
	sibyl.Venue
	mu     sync.Mutex
	refuse func(n int, req sibyl.OrderRequest) error // n counts PlaceOrder calls from 1
	n      int
}

func (v *refusingVenue) PlaceOrder(ctx context.Context, req sibyl.OrderRequest) (sibyl.Order, error) {
	v.mu.Lock()
	v.n++
	n := v.n
	v.mu.Unlock()
	if err := v.refuse(n, req); err != nil {
		return sibyl.Order{}, err
	}
	return v.Venue.PlaceOrder(ctx, req)
}

func twoBTC(t *testing.T, d *Deps, extra string) string {
	return strings.Replace(hedgeArgs(t, d, extra), `"quantity":0.5`, `"quantity":2`, 1)
}

func orderCount(t *testing.T, ts []Tool) int {
	t.Helper()
	return len(decode[listOrdersOut](t, must(call(t, toolByName(t, ts, "list_orders"), `{"limit":200}`))).Orders)
}

// TestHedgeTwoBTCOnTenThousand: with the default $10,000 a 2 BTC hedge is
// refused whole, naming the shortfall, with nothing placed; with
// size_to_cash it is sized to the cash and every leg is placed.
func TestHedgeTwoBTCOnTenThousand(t *testing.T) {
	d := MustDeps(t)
	ts := All(d)
	tool := toolByName(t, ts, "hedge_position")

	preview := decode[hedgeOut](t, must(call(t, toolByName(t, ts, "plan_hedge"), twoBTC(t, d, ""))))
	if preview.CashAvailable == nil || *preview.CashAvailable != 10000 || preview.TotalCost <= 10000 {
		t.Fatalf("preview: cost %v cash %v, want a hedge costing more than the $10,000 available", preview.TotalCost, preview.CashAvailable)
	}
	_, err := call(t, tool, twoBTC(t, d, `,"execute":true,"idempotency_key":"hedge-2btc-1"`))
	wantCode(t, err, sibyl.InsufficientFunds, "quantity")
	if msg := sibyl.ErrorMessage(err); !strings.Contains(msg, "short") || !strings.Contains(msg, "size_to_cash") || !strings.Contains(msg, "Nothing was placed") {
		t.Errorf("refusal %q does not name the shortfall and the way forward", msg)
	}
	if n := orderCount(t, ts); n != 0 {
		t.Fatalf("a refused hedge placed %d orders", n)
	}
	pos := decode[getPositionsOut](t, must(call(t, toolByName(t, ts, "get_positions"), `{}`)))
	if pos.Cash != 10000 || len(pos.Positions) != 0 {
		t.Fatalf("after the refusal: cash %v positions %d, want untouched", pos.Cash, len(pos.Positions))
	}

	sized := decode[hedgeOut](t, must(call(t, tool, twoBTC(t, d, `,"size_to_cash":true,"execute":true,"idempotency_key":"hedge-2btc-2"`))))
	if !sized.SizedToCash || sized.TotalCost > 10000 || sized.MeetsCap || sized.Shortfall <= 0 {
		t.Errorf("sized: cost %v sized %v meets %v shortfall %v, want within $10,000 and the shortfall stated", sized.TotalCost, sized.SizedToCash, sized.MeetsCap, sized.Shortfall)
	}
	for _, l := range sized.Legs {
		if l.Error != nil || l.OrderID == "" {
			t.Errorf("sized leg %s: error %+v order %q, want every leg placed", l.Market, l.Error, l.OrderID)
		}
	}
	if n := orderCount(t, ts); n != len(sized.Legs) {
		t.Errorf("got %d orders, want one per leg (%d)", n, len(sized.Legs))
	}
	pos = decode[getPositionsOut](t, must(call(t, toolByName(t, ts, "get_positions"), `{}`)))
	if pos.Cash < 0 || pos.Cash+pos.Reserved > 10000 {
		t.Errorf("after the sized hedge: cash %v reserved %v", pos.Cash, pos.Reserved)
	}
	t.Logf("2 BTC: full hedge %s vs $10,000 refused; sized to cash: %d legs, cost %s, max loss %s over cap %s",
		money(preview.TotalCost), len(sized.Legs), money(sized.TotalCost), money(sized.MaxLoss), money(sized.Cap))
}

// TestHedgeLegsSizedAgainstDepth: with enough cash the 2 BTC hedge walks the
// books: each leg says what fills now and what rests, and the fills match.
func TestHedgeLegsSizedAgainstDepth(t *testing.T) {
	d := mustDepsWith(t, paper.Options{StartingCash: 100000}, nil)
	ts := All(d)
	out := decode[hedgeOut](t, must(call(t, toolByName(t, ts, "hedge_position"), twoBTC(t, d, `,"execute":true,"idempotency_key":"hedge-depth-1"`))))
	walked, rested := false, false
	for _, l := range out.Legs {
		if l.Error != nil {
			t.Fatalf("leg %s failed: %+v", l.Market, *l.Error)
		}
		if l.FillNow+l.Rests != l.Contracts {
			t.Errorf("leg %s: fill_now %v + rests %v != contracts %v", l.Market, l.FillNow, l.Rests, l.Contracts)
		}
		if l.Filled != l.FillNow {
			t.Errorf("leg %s: filled %v on placing, want the %v the plan said fill now", l.Market, l.Filled, l.FillNow)
		}
		if l.AveragePrice < l.Price-1e-9 && l.FillNow > 0 {
			walked = true // paid more than the best level for some contracts
		}
		if l.Rests > 0 {
			rested = true
			if l.Status != "partially_filled" && l.Status != "open" {
				t.Errorf("leg %s: status %s with %v resting", l.Market, l.Status, l.Rests)
			}
		}
	}
	if !walked || !rested {
		t.Errorf("walked %v rested %v: want legs that walk levels and legs that rest beyond the book", walked, rested)
	}
	if out.Status != "resting" || out.Complete || out.MeetsCap || out.NextStep == "" {
		t.Errorf("status %s complete %v meets_cap %v next %q: want resting, not complete, with a next step", out.Status, out.Complete, out.MeetsCap, out.NextStep)
	}
}

// TestHedgeFailedLegsRetry: legs refused by the venue are tried again under a
// fresh leg key by a retry with the same key; placed legs are not doubled.
func TestHedgeFailedLegsRetry(t *testing.T) {
	broke := true
	var rv *refusingVenue
	d := mustDepsWith(t, paper.Options{}, func(v sibyl.Venue) sibyl.Venue {
		rv = &refusingVenue{Venue: v, refuse: func(n int, req sibyl.OrderRequest) error {
			if broke && n%2 == 0 {
				return sibyl.Errorf(sibyl.InsufficientFunds, "not enough cash for this order")
			}
			return nil
		}}
		return rv
	})
	ts := All(d)
	tool := toolByName(t, ts, "hedge_position")
	args := hedgeArgs(t, d, `,"execute":true,"idempotency_key":"hedge-retry-1"`)
	first := decode[hedgeOut](t, must(call(t, tool, args)))
	failed := 0
	for _, l := range first.Legs {
		if l.Error != nil {
			failed++
		}
	}
	if first.Status != "partial" || failed == 0 || failed == len(first.Legs) || first.Complete || first.MeetsCap || !strings.Contains(first.NextStep, "same idempotency_key") {
		t.Fatalf("first: status %s, %d of %d failed, complete %v meets %v next %q", first.Status, failed, len(first.Legs), first.Complete, first.MeetsCap, first.NextStep)
	}
	// The cause is fixed; the same call places only the refused legs.
	broke = false
	again := decode[hedgeOut](t, must(call(t, tool, args)))
	for i, l := range again.Legs {
		if l.Error != nil || l.OrderID == "" {
			t.Errorf("retry leg %d: error %+v, want placed", i+1, l.Error)
		}
		was := first.Legs[i]
		switch {
		case was.Error == nil && (l.OrderID != was.OrderID || !l.Replayed):
			t.Errorf("leg %d placed first: got order %s replayed %v, want %s replayed", i+1, l.OrderID, l.Replayed, was.OrderID)
		case was.Error != nil && (l.Replayed || l.LegKey == was.LegKey):
			t.Errorf("leg %d refused first: leg key %s replayed %v, want a fresh key (was %s) and a new order", i+1, l.LegKey, l.Replayed, was.LegKey)
		}
	}
	if n := orderCount(t, ts); n != len(first.Legs) {
		t.Errorf("got %d orders, want exactly one per leg (%d)", n, len(first.Legs))
	}
	// A third call replays everything.
	third := decode[hedgeOut](t, must(call(t, tool, args)))
	for i, l := range third.Legs {
		if !l.Replayed || l.OrderID != again.Legs[i].OrderID {
			t.Errorf("third call leg %d: replayed %v order %s, want a replay of %s", i+1, l.Replayed, l.OrderID, again.Legs[i].OrderID)
		}
	}
}

// TestHedgeEveryLegFailedIsError: a hedge none of whose legs was placed is an
// error (isError), and the retry works once the cause is gone.
func TestHedgeEveryLegFailedIsError(t *testing.T) {
	closed := true
	d := mustDepsWith(t, paper.Options{}, func(v sibyl.Venue) sibyl.Venue {
		return &refusingVenue{Venue: v, refuse: func(int, sibyl.OrderRequest) error {
			if closed {
				return sibyl.Errorf(sibyl.MarketClosed, "the market is halted")
			}
			return nil
		}}
	})
	ts := All(d)
	args := hedgeArgs(t, d, `,"execute":true,"idempotency_key":"hedge-fail-1"`)
	_, err := call(t, toolByName(t, ts, "hedge_position"), args)
	wantCode(t, err, sibyl.MarketClosed, "")
	if msg := sibyl.ErrorMessage(err); !strings.Contains(msg, "no leg of the hedge was placed") || !strings.Contains(msg, "same idempotency_key") {
		t.Errorf("message %q", msg)
	}
	// The registry turns a handler's error into an isError result.
	if res := errorResult(context.Background(), "hedge_position", err, nil); !res.IsError {
		t.Errorf("every leg failed: isError false")
	}
	closed = false
	out := decode[hedgeOut](t, must(call(t, toolByName(t, ts, "hedge_position"), args)))
	if out.Status == "partial" || out.Status == "failed" {
		t.Errorf("after the halt: status %s, want every leg placed", out.Status)
	}
}

func TestHedgeAnnotationsAndBounds(t *testing.T) {
	ts := All(MustDeps(t))
	plan, exec := toolByName(t, ts, "plan_hedge"), toolByName(t, ts, "hedge_position")
	if !plan.Annotations.ReadOnlyHint || plan.Annotations.DestructiveHint == nil || *plan.Annotations.DestructiveHint {
		t.Errorf("plan_hedge annotations %+v, want read-only, not destructive", plan.Annotations)
	}
	if exec.Annotations.ReadOnlyHint || exec.Annotations.DestructiveHint == nil || !*exec.Annotations.DestructiveHint {
		t.Errorf("hedge_position annotations %+v, want destructive", exec.Annotations)
	}
	for _, tool := range []Tool{plan, exec} {
		if _, err := call(t, tool, `{"symbol":"BTC","quantity":1e300,"protect_below":1,"by":"2026-12-31"}`); err == nil || !strings.Contains(err.Error(), "quantity") {
			t.Errorf("%s quantity 1e300: got %v, want refused on quantity", tool.Name, err)
		}
	}
}
