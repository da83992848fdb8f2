package grades

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/feeds"
)

// Benchmark is the token other tokens' relative strength is measured against.
const Benchmark = "BTC"

// MaxStale is how old the latest candle may be, against Grader.Now, when a grade
// is asked "as of the latest data".
const MaxStale = 3 * feeds.Day

// Grader grades tokens from one price feed. The zero value is not usable: set
// Source. Grader is safe for concurrent use if its Source is.
type Grader struct {
	Source feeds.Source
	// Now, when set, makes a grade "as of latest" fail with Unavailable if the
	// feed's last candle is older than MaxStale. Leave it nil for historical data
	// (a CSV directory), set it to time.Now for live and simulated feeds.
	Now func() time.Time
}

// Grade returns symbol's grade as of the UTC day asOf, computed only from the
// Lookback daily candles ending that day (and BTC's over the same days). A zero
// asOf means the latest complete day the feed has.
//
// Errors: NotFound for an unknown symbol (from the feed, listing known ones);
// Invalid with Field "as_of" when asOf is before the symbol's history, after its
// last candle (a delisted token) or, when g.Now is set, after the latest complete
// day, or too early for MinHistory candles (the message names the earliest
// gradable day); Unavailable for a gap in the history, stale
// data or a feed failure.
func (g *Grader) Grade(ctx context.Context, symbol string, asOf time.Time) (sibyl.Grade, error) {
	sym := feeds.NormalizeSymbol(symbol)
	c, err := g.window(ctx, sym, asOf)
	if err != nil {
		return sibyl.Grade{}, err
	}
	var btc []sibyl.Candle
	if sym != Benchmark {
		// A missing or short BTC history only neutralises the two BTC-relative
		// components; it does not stop the grade.
		btc, _ = g.Source.Daily(ctx, Benchmark, c[0].Time, c[len(c)-1].Time)
		if feeds.CheckContiguous(Benchmark, btc) != nil {
			btc = nil
		}
	} else {
		btc = c
	}
	gr := GradeCandles(sym, c, btc)
	gr.Source, gr.Simulated = g.Source.Name(), g.Source.Simulated()
	return gr, nil
}

// window fetches and validates the candles a grade of sym as of asOf reads.
func (g *Grader) window(ctx context.Context, sym string, asOf time.Time) ([]sibyl.Candle, error) {
	if g.Source == nil {
		return nil, sibyl.Errorf(sibyl.Internal, "grader has no price feed")
	}
	latest := asOf.IsZero()
	if err := g.checkAsOf(asOf); err != nil {
		return nil, err
	}
	var from, to time.Time
	switch {
	case !latest:
		asOf = feeds.UTCDay(asOf)
		from, to = asOf.Add(-(Lookback-1)*feeds.Day), asOf
	case g.Now != nil:
		// Ask only for the days a fresh grade can use (plus the allowed
		// staleness), not the whole history.
		to = feeds.UTCDay(g.Now())
		from = to.Add(-(Lookback + MaxStale/feeds.Day) * feeds.Day)
	}
	c, err := g.Source.Daily(ctx, sym, from, to)
	if err != nil {
		if latest && sibyl.ErrorCode(err) == sibyl.Invalid {
			return nil, &sibyl.Error{Code: sibyl.Unavailable, Message: fmt.Sprintf("%s price data is stale: no candle from %s to %s", sym, from.Format(time.DateOnly), to.Format(time.DateOnly)), Err: err}
		}
		if sibyl.ErrorCode(err) == sibyl.Invalid {
			return nil, &sibyl.Error{Code: sibyl.Invalid, Field: "as_of", Message: "no price history on that date: " + sibyl.ErrorMessage(err), Err: err}
		}
		return nil, err
	}
	if len(c) == 0 {
		return nil, sibyl.FieldErrorf(sibyl.Invalid, "as_of", "no %s price history in the %d days up to %s (its history starts later or ended earlier); use an as_of inside its history, which get_price_history shows",
			sym, Lookback, asOf.Format(time.DateOnly))
	}
	end := c[len(c)-1].Time
	if latest {
		if g.Now != nil && g.Now().Sub(end) > MaxStale+feeds.Day {
			return nil, sibyl.Errorf(sibyl.Unavailable, "%s price data is stale: the latest candle is %s", sym, end.Format(time.DateOnly))
		}
		if len(c) > Lookback {
			c = c[len(c)-Lookback:]
		}
	} else if end.Before(asOf) {
		return nil, sibyl.FieldErrorf(sibyl.Invalid, "as_of", "%s history ends %s, before %s; the latest day it can be graded is %s",
			sym, end.Format(time.DateOnly), asOf.Format(time.DateOnly), end.Format(time.DateOnly))
	}
	if err := feeds.CheckContiguous(sym, c); err != nil {
		return nil, err
	}
	if len(c) < MinHistory {
		first := c[0].Time
		return nil, sibyl.FieldErrorf(sibyl.Invalid, "as_of", "%s has only %d daily candles up to %s (history starts %s); a grade needs %d, so the earliest gradable day is %s",
			sym, len(c), end.Format(time.DateOnly), first.Format(time.DateOnly), MinHistory, first.Add((MinHistory-1)*feeds.Day).Format(time.DateOnly))
	}
	return c, nil
}

// checkAsOf refuses, when g.Now is set, an asOf after the latest complete UTC
// day: no feed has its candle yet, whatever the symbol.
func (g *Grader) checkAsOf(asOf time.Time) error {
	if g.Now == nil || asOf.IsZero() {
		return nil
	}
	latest := feeds.LastCompleteDay(g.Now())
	if feeds.UTCDay(asOf).After(latest) {
		return sibyl.FieldErrorf(sibyl.Invalid, "as_of", "as_of %s is after the latest complete day %s; use %s or an earlier day, or omit as_of for the latest grade",
			asOf.Format(time.DateOnly), latest.Format(time.DateOnly), latest.Format(time.DateOnly))
	}
	return nil
}

// GradeCandles grades symbol from candles: contiguous daily candles, oldest first,
// ending at the grade's day, at least MinHistory long (only the last Lookback are
// read). btc holds BTC's candles ending the same day, or nil; when it is missing,
// short or misaligned the BTC-relative components score a neutral 50. It is pure
// and deterministic; callers check length and contiguity (Grader does). Source and
// Simulated are left for the caller to fill.
func GradeCandles(symbol string, candles, btc []sibyl.Candle) sibyl.Grade {
	if len(candles) > Lookback {
		candles = candles[len(candles)-Lookback:]
	}
	if len(btc) > Lookback {
		btc = btc[len(btc)-Lookback:]
	}
	value, z := rawComponents(candles, btc)
	sc := scores(value, z)
	g := sibyl.Grade{Symbol: symbol, AsOf: candles[len(candles)-1].Time}
	for i, s := range specs {
		c := sibyl.Component{Name: s.name, Grade: s.grade, Score: sc[i], Weight: componentWeights[s.name], Value: round6(value[i]), Unit: s.unit, Description: s.desc}
		if math.IsNaN(value[i]) {
			c.Value = 0
			c.Description += " (BTC history unavailable for these days: neutral)"
		}
		g.Components = append(g.Components, c)
	}
	g.TraderGrade = gradeOf(sc, "trader", componentWeights)
	g.InvestorGrade = gradeOf(sc, "investor", componentWeights)
	g.Signal = SignalFor(g.TraderGrade)
	g.Explanation = explain(g)
	return g
}

func round6(x float64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	return math.Round(x*1e6) / 1e6
}

func signalOf(g float64, cuts [4]float64) sibyl.Signal {
	switch {
	case g < cuts[0]:
		return sibyl.SignalStrongSell
	case g < cuts[1]:
		return sibyl.SignalSell
	case g < cuts[2]:
		return sibyl.SignalNeutral
	case g < cuts[3]:
		return sibyl.SignalBuy
	}
	return sibyl.SignalStrongBuy
}

// explain names the strongest and weakest weighted components of each grade.
func explain(g sibyl.Grade) string {
	label := map[string]string{}
	for _, s := range specs {
		label[s.name] = s.label
	}
	part := func(grade string) (best, worst sibyl.Component) {
		var cs []sibyl.Component
		for _, c := range g.Components {
			if c.Grade == grade && c.Weight > 0 {
				cs = append(cs, c)
			}
		}
		sort.SliceStable(cs, func(i, j int) bool { return cs[i].Score > cs[j].Score })
		return cs[0], cs[len(cs)-1]
	}
	tb, tw := part("trader")
	ib, iw := part("investor")
	words := strings.ReplaceAll(string(g.Signal), "_", " ")
	return fmt.Sprintf("%s's Trader Grade is %.0f/100 (%s): %s is the strongest reading (%.0f) and %s the weakest (%.0f). "+
		"Its Investor Grade is %.0f/100, lifted by %s (%.0f) and held back by %s (%.0f).",
		g.Symbol, g.TraderGrade, words, label[tb.Name], tb.Score, label[tw.Name], tw.Score,
		g.InvestorGrade, label[ib.Name], ib.Score, label[iw.Name], iw.Score)
}

// Ranking is one token's place in a Rank answer.
type Ranking struct {
	Rank  int         // 1 is best
	Score float64     // the value ranked by: a grade or a component score, 0-100
	Grade sibyl.Grade // the full grade it came from
}

// Skipped is a token Rank could not grade, and why (the error's agent-safe message).
type Skipped struct {
	Symbol string
	Code   sibyl.Code
	Reason string
}

// Rank grades symbols (all of the feed's symbols when empty) as of asOf and
// returns them best first by by: "trader", "investor" or a component name. Ties
// break by symbol. Tokens that cannot be graded on that day (too young, delisted,
// gappy) are listed in skipped, not failed. limit <= 0 means all.
//
// Errors: Invalid with Field "by" for an unknown ranking key (the message lists
// the valid ones); Invalid with Field "as_of" for a day after the latest
// complete one (when g.Now is set); the feed's error when listing symbols fails; Unavailable when
// every token failed for a feed reason.
func (g *Grader) Rank(ctx context.Context, symbols []string, by string, asOf time.Time, limit int) (ranked []Ranking, skipped []Skipped, err error) {
	by = strings.ToLower(strings.TrimSpace(by))
	valid := RankKeys()
	if !slices.Contains(valid, by) {
		return nil, nil, sibyl.FieldErrorf(sibyl.Invalid, "by", "unknown ranking key %q; use one of: %s", by, strings.Join(valid, ", "))
	}
	if err := g.checkAsOf(asOf); err != nil {
		return nil, nil, err // the same for every token: not a reason to skip each
	}
	if len(symbols) == 0 {
		if symbols, err = g.Source.Symbols(ctx); err != nil {
			return nil, nil, err
		}
	}
	seen := map[string]bool{}
	for _, s := range symbols {
		sym := feeds.NormalizeSymbol(s)
		if seen[sym] {
			continue
		}
		seen[sym] = true
		if err := ctx.Err(); err != nil {
			return nil, nil, sibyl.WrapError(sibyl.Unavailable, err, "ranking was cancelled")
		}
		gr, err := g.Grade(ctx, sym, asOf)
		if err != nil {
			skipped = append(skipped, Skipped{Symbol: sym, Code: sibyl.ErrorCode(err), Reason: sibyl.ErrorMessage(err)})
			continue
		}
		ranked = append(ranked, Ranking{Score: valueBy(gr, by), Grade: gr})
	}
	if len(ranked) == 0 && len(skipped) > 0 && skipped[0].Code == sibyl.Unavailable {
		return nil, skipped, sibyl.Errorf(sibyl.Unavailable, "no token could be graded: %s", skipped[0].Reason)
	}
	sort.SliceStable(ranked, func(i, j int) bool {
		if ranked[i].Score != ranked[j].Score {
			return ranked[i].Score > ranked[j].Score
		}
		return ranked[i].Grade.Symbol < ranked[j].Grade.Symbol
	})
	if limit > 0 && len(ranked) > limit {
		ranked = ranked[:limit]
	}
	for i := range ranked {
		ranked[i].Rank = i + 1
	}
	return ranked, skipped, nil
}

func valueBy(g sibyl.Grade, by string) float64 {
	switch by {
	case ByTrader:
		return g.TraderGrade
	case ByInvestor:
		return g.InvestorGrade
	}
	for _, c := range g.Components {
		if c.Name == by {
			return c.Score
		}
	}
	return math.NaN()
}
