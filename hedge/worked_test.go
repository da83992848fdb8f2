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

func TestWorkedExample(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(2026, 11, 27, 4, 30, 0, 0, time.UTC),
		time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC),
	} {
		ms, spot, vol := paperWorld(t, now, "BTC")
		req := hedge.Request{Symbol: "BTC", Quantity: 2, ProtectBelow: spot * 0.85, By: now.AddDate(0, 1, 0)}
		p, err := hedge.Planner{Fee: hedge.ProportionalFee(0.07)}.Plan(req, ms, spot, vol, now)
		if err != nil {
			t.Logf("now %s: %v", now, err)
			continue
		}
		t.Logf("now %s\n%s", now, p.Markdown())
	}
}
