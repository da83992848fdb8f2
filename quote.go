package sibyl

import (
	"context"
	"math"
	"time"
)

// PriceSource says where an outcome's implied probability came from. Every venue
// answers by the same rule (see PriceRule), so an agent can tell a two-sided
// midpoint from a one-sided book or a stale trade.
type PriceSource string

// Price sources, in the order PriceRule tries them.
const (
	// SourceSettlement: the market settled; the winner is 1 and the loser 0.
	SourceSettlement PriceSource = "settlement"
	// SourceMidpoint: both sides are quoted; the probability is (bid+ask)/2.
	SourceMidpoint PriceSource = "midpoint"
	// SourceLastTrade: one side or none is quoted; the probability is the
	// market's last trade, moved inside the quoted side when it lies outside it
	// (a trade below a standing bid says less than the bid does).
	SourceLastTrade PriceSource = "last_trade"
	// SourceBestBid: only a bid and no trade: the bid, a lower bound.
	SourceBestBid PriceSource = "best_bid"
	// SourceBestAsk: only an ask and no trade: the ask, an upper bound.
	SourceBestAsk PriceSource = "best_ask"
	// SourceNone: no quote and no trade; there is no probability.
	SourceNone PriceSource = "none"
)

// priceSources lists every PriceSource in rule order.
var priceSources = []PriceSource{SourceSettlement, SourceMidpoint, SourceLastTrade, SourceBestBid, SourceBestAsk, SourceNone}

// PriceSourceNames returns the names of every PriceSource, in rule order.
func PriceSourceNames() []string {
	out := make([]string, len(priceSources))
	for i, s := range priceSources {
		out[i] = string(s)
	}
	return out
}

// Quote is the result of PriceRule for one outcome. A zero Mid means there is no
// midpoint (a side is empty); Probability is meaningful unless Source is
// SourceNone.
type Quote struct {
	Mid         float64     // (bid+ask)/2 rounded to 4 decimals; 0 when either side is empty
	Probability float64     // the market's probability of this outcome, 0-1, 4 decimals
	Source      PriceSource // where Probability came from
}

// PriceRule is the one rule sibyl uses for an outcome's mid and implied
// probability, whatever the venue:
//
//  1. a settled market: 1 for the result, 0 for the others (SourceSettlement);
//  2. both sides quoted: the midpoint (SourceMidpoint), which is also Mid;
//  3. otherwise the last trade, clamped into the quoted side (SourceLastTrade);
//  4. otherwise the lone bid (SourceBestBid) or the lone ask (SourceBestAsk);
//  5. otherwise nothing (SourceNone).
//
// bid, ask and last are dollars per contract; a value outside (0,1) is no value
// (a venue's zero "no quote" is never a price). result is the market's result
// ("" until settled) and name the outcome's name. Mid is set only in case 2.
func PriceRule(status MarketStatus, result, name string, bid, ask, last float64) Quote {
	if status == StatusSettled && result != "" {
		p := 0.0
		if result == name {
			p = 1
		}
		return Quote{Probability: p, Source: SourceSettlement}
	}
	hasBid, hasAsk, hasLast := inUnit(bid), inUnit(ask), inUnit(last)
	switch {
	case hasBid && hasAsk:
		m := RoundProbability((bid + ask) / 2)
		return Quote{Mid: m, Probability: m, Source: SourceMidpoint}
	case hasLast:
		p := last
		if hasBid && p < bid {
			p = bid
		}
		if hasAsk && p > ask {
			p = ask
		}
		return Quote{Probability: RoundProbability(p), Source: SourceLastTrade}
	case hasBid:
		return Quote{Probability: RoundProbability(bid), Source: SourceBestBid}
	case hasAsk:
		return Quote{Probability: RoundProbability(ask), Source: SourceBestAsk}
	}
	return Quote{Source: SourceNone}
}

// ApplyPriceRule normalises every outcome of m in place: quotes outside (0,1)
// are cleared with their sizes (they are "no quote", never prices), and Mid,
// ImpliedProbability and ProbabilitySource are set by PriceRule. Prices are
// rounded to 4 decimals. Venue adapters may call it; the tools call it on every
// market they show, so each venue answers by the same rule.
func ApplyPriceRule(m *Market) {
	for i := range m.Outcomes {
		o := &m.Outcomes[i]
		if !inUnit(o.Bid) {
			o.Bid, o.BidSize = 0, 0
		}
		if !inUnit(o.Ask) {
			o.Ask, o.AskSize = 0, 0
		}
		o.Bid, o.Ask = RoundProbability(o.Bid), RoundProbability(o.Ask)
		if m.Status != StatusSettled && !inUnit(o.Last) {
			o.Last = 0
		}
		o.Last = RoundProbability(o.Last)
		q := PriceRule(m.Status, m.Result, o.Name, o.Bid, o.Ask, o.Last)
		o.Mid, o.ImpliedProbability, o.ProbabilitySource = q.Mid, q.Probability, q.Source
	}
}

// BookQuote applies PriceRule to an order book's best levels and the market's
// last trade for that outcome (0 when none), so get_orderbook and get_market
// agree.
func BookQuote(status MarketStatus, result string, b OrderBook, last float64) Quote {
	var bid, ask float64
	if len(b.Bids) > 0 {
		bid = b.Bids[0].Price
	}
	if len(b.Asks) > 0 {
		ask = b.Asks[0].Price
	}
	return PriceRule(status, result, b.Outcome, bid, ask, last)
}

// RoundProbability rounds a probability or a per-contract price to 4 decimals
// (so 0.1+0.2 is 0.3, not 0.30000000000000004).
func RoundProbability(x float64) float64 { return roundTo(x, 1e4) }

// RoundMoney rounds a dollar amount to the cent.
func RoundMoney(x float64) float64 { return roundTo(x, 100) }

func roundTo(x, k float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	r := math.Round(x*k) / k
	if r == 0 {
		return 0 // no -0
	}
	return r
}

func inUnit(p float64) bool { return p > 0 && p < 1 }

// ProbabilityPoint is an outcome's implied probability at one time.
type ProbabilityPoint struct {
	Time        time.Time
	Outcome     string      // the outcome's canonical name
	Probability float64     // by PriceRule
	Source      PriceSource // SourceNone when there was none
}

// ProbabilityHistorian is implemented by venues that can tell how an
// outcome's implied probability moved: the paper venue from its model, real
// venues from their history endpoints. ProbabilityHistory returns n evenly
// spaced points from from to to (none before the market opened), oldest
// first; NotFound for an unknown market, Invalid for an unknown outcome.
type ProbabilityHistorian interface {
	ProbabilityHistory(ctx context.Context, nativeID, outcome string, from, to time.Time, n int) ([]ProbabilityPoint, error)
}
