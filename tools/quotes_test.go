package tools

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"github.com/sibylmcp/sibyl"
)

// openPaperMarkets pages through every open market of the paper venue.
func openPaperMarkets(tb testing.TB, d *Deps) []sibyl.Market {
	tb.Helper()
	var all []sibyl.Market
	q := sibyl.MarketQuery{Status: sibyl.StatusOpen, Limit: 100}
	for {
		page, err := d.Venues["paper"].SearchMarkets(context.Background(), q)
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, page.Markets...)
		if page.NextCursor == "" {
			return all
		}
		q.Cursor = page.NextCursor
	}
}

// fourDecimals reports whether x has at most 4 decimals.
func fourDecimals(x float64) bool { return math.Abs(x*1e4-math.Round(x*1e4)) < 1e-6 }

// TestEveryOpenMarketQuotesWithoutSentinels walks every open paper market
// through get_market and get_orderbook: no quote is zero or outside (0,1), a
// missing side is absent, and both tools give the same mid, implied
// probability and source for each outcome.
func TestEveryOpenMarketQuotesWithoutSentinels(t *testing.T) {
	d := MustDeps(t)
	ts := All(d)
	getMarket, getBook := toolByName(t, ts, "get_market"), toolByName(t, ts, "get_orderbook")
	markets := openPaperMarkets(t, d)
	if len(markets) < 500 {
		t.Fatalf("only %d open paper markets", len(markets))
	}
	price := func(id, what string, p *float64) {
		t.Helper()
		if p != nil && !(*p > 0 && *p < 1 && fourDecimals(*p)) {
			t.Errorf("%s: %s %v, want absent or in (0,1) with at most 4 decimals", id, what, *p)
		}
	}
	sources := map[string]int{}
	oneSided := 0
	for _, mk := range markets {
		body, err := call(t, getMarket, `{"market":"`+mk.ID+`","depth":1}`)
		if err != nil {
			t.Fatal(err)
		}
		var m getMarketOut
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		var probs float64
		for _, o := range m.Outcomes {
			price(m.ID, o.Name+" bid", o.Bid)
			price(m.ID, o.Name+" ask", o.Ask)
			price(m.ID, o.Name+" last", o.Last)
			price(m.ID, o.Name+" mid", o.Mid)
			if (o.Bid == nil) != (o.BidSize == nil) || (o.Ask == nil) != (o.AskSize == nil) ||
				(o.BidSize != nil && *o.BidSize <= 0) || (o.AskSize != nil && *o.AskSize <= 0) {
				t.Errorf("%s %s: sizes %v/%v do not go with bid %v ask %v", m.ID, o.Name, o.BidSize, o.AskSize, o.Bid, o.Ask)
			}
			if (o.Mid != nil) != (o.Bid != nil && o.Ask != nil) {
				t.Errorf("%s %s: mid %v with bid %v ask %v, want a mid exactly when both sides are quoted", m.ID, o.Name, o.Mid, o.Bid, o.Ask)
			}
			if o.Bid == nil || o.Ask == nil {
				oneSided++
			}
			sources[o.ProbabilitySource]++
			if o.ImpliedProbability == nil {
				t.Errorf("%s %s: no implied probability on an open paper market (source %q)", m.ID, o.Name, o.ProbabilitySource)
				continue
			}
			price(m.ID, o.Name+" implied_probability", o.ImpliedProbability)
			probs += *o.ImpliedProbability

			body, err := call(t, getBook, `{"market":"`+mk.ID+`","outcome":"`+o.Name+`","depth":5}`)
			if err != nil {
				t.Fatal(err)
			}
			var ob getOrderbookOut
			if err := json.Unmarshal(body, &ob); err != nil {
				t.Fatal(err)
			}
			price(m.ID, o.Name+" book mid", ob.Mid)
			price(m.ID, o.Name+" book spread", ob.Spread)
			for _, l := range append(ob.Bids, ob.Asks...) {
				if !(l.Price > 0 && l.Price < 1) || l.Size <= 0 {
					t.Errorf("%s %s: book level %+v", m.ID, o.Name, l)
				}
			}
			if !eqPtr(ob.Mid, o.Mid) || !eqPtr(ob.ImpliedProbability, o.ImpliedProbability) || ob.ProbabilitySource != o.ProbabilitySource {
				t.Errorf("%s %s: get_orderbook mid %v p %v (%s), get_market mid %v p %v (%s); want the same",
					m.ID, o.Name, deref(ob.Mid), deref(ob.ImpliedProbability), ob.ProbabilitySource, deref(o.Mid), deref(o.ImpliedProbability), o.ProbabilitySource)
			}
		}
		if len(m.Outcomes) == 2 && math.Abs(probs-1) > 1e-9 {
			t.Errorf("%s: Yes and No probabilities add to %v, want 1", m.ID, probs)
		}
	}
	t.Logf("%d open markets, %d one-sided outcomes (absent side, no zero), sources %v", len(markets), oneSided, sources)
}

func eqPtr(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref(p *float64) any {
	if p == nil {
		return "absent"
	}
	return *p
}

func TestPriceRule(t *testing.T) {
	tests := []struct {
		name           string
		status         sibyl.MarketStatus
		result         string
		bid, ask, last float64
		want           sibyl.Quote
	}{
		{"both sides", sibyl.StatusOpen, "", 0.41, 0.44, 0.2, sibyl.Quote{Mid: 0.425, Probability: 0.425, Source: sibyl.SourceMidpoint}},
		{"float noise", sibyl.StatusOpen, "", 0.1, 0.2, 0, sibyl.Quote{Mid: 0.15, Probability: 0.15, Source: sibyl.SourceMidpoint}},
		{"bid only, last inside", sibyl.StatusOpen, "", 0.97, 0, 0.99, sibyl.Quote{Probability: 0.99, Source: sibyl.SourceLastTrade}},
		{"bid only, last below it", sibyl.StatusOpen, "", 0.97, 0, 0.9, sibyl.Quote{Probability: 0.97, Source: sibyl.SourceLastTrade}},
		{"ask only, last above it", sibyl.StatusOpen, "", 0, 0.03, 0.2, sibyl.Quote{Probability: 0.03, Source: sibyl.SourceLastTrade}},
		{"bid only, no trade", sibyl.StatusOpen, "", 0.97, 0, 0, sibyl.Quote{Probability: 0.97, Source: sibyl.SourceBestBid}},
		{"ask only, no trade", sibyl.StatusOpen, "", 0, 0.02, 0, sibyl.Quote{Probability: 0.02, Source: sibyl.SourceBestAsk}},
		{"a zero is no quote", sibyl.StatusOpen, "", 0, 0, 0, sibyl.Quote{Source: sibyl.SourceNone}},
		{"out of range is no quote", sibyl.StatusOpen, "", 1, 1.2, -0.3, sibyl.Quote{Source: sibyl.SourceNone}},
		{"closed: last trade", sibyl.StatusClosed, "", 0, 0, 0.3, sibyl.Quote{Probability: 0.3, Source: sibyl.SourceLastTrade}},
		{"settled winner", sibyl.StatusSettled, "Yes", 0, 0, 1, sibyl.Quote{Probability: 1, Source: sibyl.SourceSettlement}},
		{"settled loser", sibyl.StatusSettled, "No", 0, 0, 0, sibyl.Quote{Probability: 0, Source: sibyl.SourceSettlement}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sibyl.PriceRule(tc.status, tc.result, "Yes", tc.bid, tc.ask, tc.last); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
