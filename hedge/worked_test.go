package hedge_test

import (
	"context"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/hedge"
	"github.com/sibylmcp/sibyl/venues/paper"
)

// paperWorld returns the paper venue's markets on symbol, its spot, and the
// realised volatility of the last 90 days, at now.
func paperWorld(tb testing.TB, now time.Time, symbol string) ([]sibyl.Market, float64, float64) {
	tb.Helper()
	v, err := paper.New(paper.Options{Seed: 1, Now: func() time.Time { return now }})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	var ms []sibyl.Market
	cur := ""
	for {
		page, err := v.SearchMarkets(ctx, sibyl.MarketQuery{Text: symbol, Status: sibyl.StatusOpen, Category: "crypto", Limit: 100, Cursor: cur})
		if err != nil {
			tb.Fatal(err)
		}
		ms = append(ms, page.Markets...)
		if page.NextCursor == "" {
			break
		}
		cur = page.NextCursor
	}
	spot, _, err := v.Spot(symbol)
	if err != nil {
		tb.Fatal(err)
	}
	pc, err := v.DailyCandles(symbol, now.AddDate(0, 0, -91), now)
	if err != nil {
		tb.Fatal(err)
	}
	cs := make([]sibyl.Candle, len(pc))
	for i, c := range pc {
		cs[i] = sibyl.Candle{Time: c.Time, Open: c.Open, High: c.High, Low: c.Low, Close: c.Close, Volume: c.Volume}
	}
	vol, err := hedge.RealisedVol(cs, 90)
	if err != nil {
		tb.Fatal(err)
	}
	return ms, spot, vol
}

// TestWorkedExample is the README's worked example: 2 BTC on the paper venue
// (seed 1, clock fixed at 2026-11-27 04:30 UTC), protected 15% below spot for
// the next month. Run it with -v to print the tables:
//
//	go test -run TestWorkedExample -v ./hedge
func TestWorkedExample(t *testing.T) {
	now := time.Date(2026, 11, 27, 4, 30, 0, 0, time.UTC)
	ms, spot, vol := paperWorld(t, now, "BTC")
	by := now.AddDate(0, 1, 0)
	planner := hedge.Planner{Fee: hedge.ProportionalFee(0.07)} // the paper venue's taker fee
	capv := 60000.0
	for _, tt := range []struct {
		name string
		req  hedge.Request
	}{
		{"default cap: protect 15% below spot", hedge.Request{Symbol: "BTC", Quantity: 2, ProtectBelow: spot * 0.85, By: by}},
		{"max_loss $60,000 premium included", hedge.Request{Symbol: "BTC", Quantity: 2, ProtectBelow: spot * 0.85, By: by, MaxLoss: &capv}},
		{"max_loss $60,000 with a $15,000 budget", hedge.Request{Symbol: "BTC", Quantity: 2, ProtectBelow: spot * 0.85, By: by, MaxLoss: &capv, Budget: 15000}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := planner.Plan(tt.req, ms, spot, vol, now)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			t.Logf("realised vol (90 days) %.1f%%\n%s", 100*vol, p.Markdown())
			if len(p.Legs) == 0 {
				t.Fatalf("no legs")
			}
			for _, l := range p.Legs {
				if l.Expiry.Before(by) {
					t.Errorf("leg %s expires %v, before %v", l.MarketID, l.Expiry, by)
				}
			}
			if tt.req.Budget > 0 {
				if p.TotalCost > tt.req.Budget || p.MeetsCap || p.Shortfall <= 0 {
					t.Errorf("budget plan: cost %v, meets cap %v, shortfall %v; want within budget with a shortfall", p.TotalCost, p.MeetsCap, p.Shortfall)
				}
				return
			}
			if !p.MeetsCap || p.MaxLoss > p.Cap+0.005 {
				t.Errorf("MaxLoss %v, cap %v: want within the cap", p.MaxLoss, p.Cap)
			}
		})
	}
	// Sized within the offers at the best ask, 2 BTC cannot be protected:
	// the error names the lowest cap the offered contracts reach.
	t.Run("limited to the ask size", func(t *testing.T) {
		lim := hedge.Planner{Fee: hedge.ProportionalFee(0.07), LimitToAskSize: true}
		_, err := lim.Plan(hedge.Request{Symbol: "BTC", Quantity: 2, ProtectBelow: spot * 0.85, By: by}, ms, spot, vol, now)
		if sibyl.ErrorCode(err) != sibyl.Invalid || sibyl.ErrorField(err) != "protect_below" {
			t.Fatalf("got %v, want invalid protect_below", err)
		}
		t.Logf("%v", err)
		p, err := lim.Plan(hedge.Request{Symbol: "BTC", Quantity: 0.01, ProtectBelow: spot * 0.85, By: by}, ms, spot, vol, now)
		if err != nil {
			t.Fatalf("0.01 BTC: %v", err)
		}
		for _, l := range p.Legs {
			if l.Contracts > l.AskSize {
				t.Errorf("leg %s: %v contracts, %v offered", l.MarketID, l.Contracts, l.AskSize)
			}
		}
		t.Logf("0.01 BTC within the offered size:\n%s", p.Markdown())
	})
}

func BenchmarkPlan(b *testing.B) {
	now := time.Date(2026, 11, 27, 4, 30, 0, 0, time.UTC)
	ms, spot, vol := paperWorld(b, now, "BTC")
	planner := hedge.Planner{Fee: hedge.ProportionalFee(0.07)}
	capv := 60000.0
	for _, bb := range []struct {
		name string
		req  hedge.Request
	}{
		{"default", hedge.Request{Symbol: "BTC", Quantity: 2, ProtectBelow: spot * 0.85, By: now.AddDate(0, 1, 0)}},
		{"premium_in_cap", hedge.Request{Symbol: "BTC", Quantity: 2, ProtectBelow: spot * 0.85, By: now.AddDate(0, 1, 0), MaxLoss: &capv}},
		{"budget_search", hedge.Request{Symbol: "BTC", Quantity: 2, ProtectBelow: spot * 0.85, By: now.AddDate(0, 1, 0), MaxLoss: &capv, Budget: 15000}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportMetric(float64(len(ms)), "markets")
			for b.Loop() {
				if _, err := planner.Plan(bb.req, ms, spot, vol, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
