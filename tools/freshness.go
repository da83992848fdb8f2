package tools

import (
	"context"
	"fmt"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/feeds"
)

// Normal delays: a daily feed's newest close is the last complete UTC day's,
// so up to two days old in normal operation; a spot price is live.
const (
	dailyDelay = 2 * feeds.Day
	spotDelay  = 5 * time.Minute
)

// Freshness says how old a number is and whether that is older than its
// feed's normal delay. It is embedded in answers that show grades and prices.
type Freshness struct {
	AgeSeconds  float64 `json:"age_seconds" jsonschema_description:"How old the newest data used is, in seconds (its time to this answer's)."`
	Stale       bool    `json:"stale" jsonschema_description:"True when that is older than the feed's normal delay (two days for daily closes, five minutes for a spot price): the number describes the past, not today."`
	StaleReason string  `json:"stale_reason,omitempty" jsonschema_description:"When stale: how old and why it matters."`
}

// freshness of data whose newest point is at t, by a feed whose normal delay
// is normal.
func freshness(now, t time.Time, normal time.Duration, what string) Freshness {
	age := now.Sub(t)
	if age < 0 {
		age = 0
	}
	f := Freshness{AgeSeconds: float64(age / time.Second)}
	if age > normal {
		f.Stale = true
		f.StaleReason = fmt.Sprintf("%s is %s old, more than the feed's normal %s: it says nothing about today", what, humanAge(age), humanAge(normal))
	}
	return f
}

// dayFreshness is freshness of a daily close on day (the close is at the
// end of it).
func dayFreshness(now, day time.Time, what string) Freshness {
	return freshness(now, day.UTC().Truncate(feeds.Day).Add(feeds.Day), dailyDelay, what)
}

func humanAge(d time.Duration) string {
	switch {
	case d >= 2*feeds.Day:
		return fmt.Sprintf("%.0f days", d.Hours()/24)
	case d >= 2*time.Hour:
		return fmt.Sprintf("%.0f hours", d.Hours())
	case d >= 2*time.Minute:
		return fmt.Sprintf("%.0f minutes", d.Minutes())
	}
	return fmt.Sprintf("%.0f seconds", d.Seconds())
}

type spotIn struct {
	Symbol string `json:"symbol" jsonschema:"minLength=1,maxLength=20" jsonschema_description:"Token symbol, such as BTC."`
}

type spotOut struct {
	Symbol    string    `json:"symbol" jsonschema_description:"Token symbol."`
	Price     float64   `json:"price" jsonschema_description:"The current spot price in USD: the one hedge_position uses (intraday on the paper world; on a daily feed, its latest close)."`
	Time      time.Time `json:"time" jsonschema_description:"When that price was true (RFC 3339, UTC)."`
	Simulated bool      `json:"simulated" jsonschema_description:"True when the price is simulated (the paper world)."`
	Freshness
	Timestamp time.Time `json:"timestamp" jsonschema_description:"When this answer was made (RFC 3339, UTC)."`
}

// SpotTools returns get_spot_price; it is left out without a spot source.
func SpotTools(d *Deps) []Tool {
	if d.Spot == nil {
		return nil
	}
	return []Tool{New("get_spot_price", "Get a token's spot price",
		"Get a token's current spot price in USD with its time, the price hedge_position plans with (get_price_history gives daily closes only). Says stale, with the age, when the price is older than its feed's normal delay.",
		readOnly, ScopeRead, d.getSpotPrice)}
}

func (d *Deps) getSpotPrice(ctx context.Context, c *Call, in spotIn) (spotOut, error) {
	sym := feeds.NormalizeSymbol(in.Symbol)
	px, at, err := d.Spot(sym)
	if err != nil {
		return spotOut{}, err
	}
	now := d.now()
	simulated := false
	if f, ok := d.Feeds[d.spotFeed()]; ok {
		simulated = f.Simulated()
	}
	return spotOut{Symbol: sym, Price: px, Time: at.UTC(), Simulated: simulated,
		Freshness: freshness(now, at, spotDelay, "this price"), Timestamp: now}, nil
}

// spotFeed names the feed the spot price comes from.
func (d *Deps) spotFeed() string {
	if d.VolFeed != "" {
		return d.VolFeed
	}
	return d.DefaultFeed
}

type historyProbIn struct {
	Market  string `json:"market" jsonschema:"minLength=3,maxLength=300" jsonschema_description:"Market id as venue:native_id (search_markets returns ids)."`
	Outcome string `json:"outcome,omitempty" jsonschema:"maxLength=100" jsonschema_description:"Outcome name as get_market lists it (default Yes)."`
	Hours   int    `json:"hours,omitempty" jsonschema:"minimum=1,maximum=8760" jsonschema_description:"How far back, in hours (default 168: a week; never before the market opened)."`
	Points  int    `json:"points,omitempty" jsonschema:"minimum=2,maximum=500" jsonschema_description:"How many evenly spaced points (2-500, default 100)."`
}

// ProbabilityPointOut is the market's implied probability at one time.
type ProbabilityPointOut struct {
	Time               time.Time `json:"time" jsonschema_description:"RFC 3339, UTC."`
	ImpliedProbability *float64  `json:"implied_probability,omitempty" jsonschema:"minimum=0,maximum=1" jsonschema_description:"The outcome's implied probability then, by the same rule as get_market; absent when there was none."`
	ProbabilitySource  string    `json:"probability_source" jsonschema:"enum=settlement,enum=midpoint,enum=last_trade,enum=best_bid,enum=best_ask,enum=none" jsonschema_description:"Where it came from (see get_market)."`
}

type historyProbOut struct {
	Market  string                `json:"market" jsonschema_description:"Market id."`
	Outcome string                `json:"outcome" jsonschema_description:"Outcome name."`
	Points  []ProbabilityPointOut `json:"points" jsonschema_description:"Oldest first."`
	Answer
}

// HistoryTools returns get_market_history.
func HistoryTools(d *Deps) []Tool {
	return []Tool{New("get_market_history", "Get a market's probability history",
		"Get how one outcome's implied probability moved over the last hours (evenly spaced points, oldest first), by the same rule as get_market. Venues that keep no history say so.",
		readOnly, ScopeRead, d.getMarketHistory)}
}

func (d *Deps) getMarketHistory(ctx context.Context, c *Call, in historyProbIn) (historyProbOut, error) {
	v, native, err := d.marketVenue(in.Market, "market")
	if err != nil {
		return historyProbOut{}, err
	}
	h, ok := v.(sibyl.ProbabilityHistorian)
	if !ok {
		return historyProbOut{}, sibyl.FieldErrorf(sibyl.Unavailable, "market", "venue %s keeps no probability history here; get_market gives the probability now", v.Info().Name)
	}
	outcome, hours, points := in.Outcome, in.Hours, in.Points
	if outcome == "" {
		outcome = "Yes"
	}
	if hours == 0 {
		hours = 168
	}
	if points == 0 {
		points = 100
	}
	now := d.now()
	ps, err := h.ProbabilityHistory(ctx, native, outcome, now.Add(-time.Duration(hours)*time.Hour), now, points)
	if err != nil {
		return historyProbOut{}, err
	}
	out := historyProbOut{Market: in.Market, Outcome: outcome, Points: make([]ProbabilityPointOut, len(ps)),
		Answer: Answer{Venue: v.Info().Name, Timestamp: now, Simulated: v.Info().Simulated}}
	for i, p := range ps {
		out.Points[i] = ProbabilityPointOut{Time: p.Time.UTC(), ProbabilitySource: string(p.Source)}
		if p.Source != sibyl.SourceNone {
			out.Points[i].ImpliedProbability = ptr(sibyl.RoundProbability(p.Probability))
		}
		if p.Outcome != "" {
			out.Outcome = p.Outcome
		}
	}
	return out, nil
}
