// Package feeds provides daily OHLCV price history for tokens behind one Source
// interface: a directory of CSV files, the simulated paper world, and live HTTP
// sources (Binance klines, CoinGecko market_chart), plus an in-memory cache.
//
// Every error a Source returns is a *sibyl.Error: NotFound for an unknown symbol
// (the message lists the known ones), Invalid with a Field for a bad or
// out-of-history range, Unavailable for network failures, rate limits and broken
// upstream data. Feeds never log or return credentials. This package knows nothing
// of grades, tools or the protocol.
package feeds

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/sibylmcp/sibyl"
)

// Source is a provider of daily candles.
//
// Daily returns the complete daily candles of symbol whose day lies in [from, to]
// (both truncated to UTC days, inclusive), oldest first, one per day. A zero from
// means "from the start of history" and a zero to means "up to the latest complete
// day". Errors: NotFound for an unknown symbol, Invalid (Field "from" or "to") when
// from is after to or the range lies wholly outside the symbol's history,
// Unavailable when the upstream failed. Daily may return fewer days than asked when
// the range overlaps the edge of history; callers that need contiguity check it
// with CheckContiguous.
type Source interface {
	// Name identifies the feed in answers, such as "csv:/data/ohlcv" or "binance".
	Name() string
	// Simulated reports whether the prices are simulated rather than real.
	Simulated() bool
	// Symbols returns the known symbols, sorted.
	Symbols(ctx context.Context) ([]string, error)
	// Daily returns daily candles for symbol in [from, to]; see the type comment.
	Daily(ctx context.Context, symbol string, from, to time.Time) ([]sibyl.Candle, error)
}

// Day is 24 hours: the spacing of daily candles.
const Day = 24 * time.Hour

// NormalizeSymbol returns the canonical form of a token symbol: trimmed, upper
// case, and without a trailing quote currency "USDT" (so "btcusdt" and "BTC" are
// the same token).
func NormalizeSymbol(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if t, ok := strings.CutSuffix(s, "USDT"); ok && t != "" {
		s = t
	}
	return s
}

// UTCDay returns t truncated to midnight of its UTC day.
func UTCDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// LastCompleteDay returns the latest UTC day whose daily candle is complete at
// now: the day before now's.
func LastCompleteDay(now time.Time) time.Time {
	return UTCDay(now).Add(-Day)
}

// unknownSymbol returns the NotFound error for symbol, listing the known ones.
func unknownSymbol(feed, symbol string, known []string) *sibyl.Error {
	k := append([]string(nil), known...)
	sort.Strings(k)
	list := strings.Join(k, ", ")
	if len(k) > 40 {
		list = strings.Join(k[:40], ", ") + fmt.Sprintf(", ... (%d in all)", len(k))
	}
	if len(k) == 0 {
		list = "none"
	}
	e := sibyl.FieldErrorf(sibyl.NotFound, "symbol", "unknown symbol %q in feed %s; known symbols: %s", symbol, feed, list)
	return e
}

// checkRange validates a [from, to] request and returns both as UTC days.
func checkRange(from, to time.Time) (time.Time, time.Time, error) {
	if !from.IsZero() {
		from = UTCDay(from)
	}
	if !to.IsZero() {
		to = UTCDay(to)
	}
	if !from.IsZero() && !to.IsZero() && from.After(to) {
		return from, to, sibyl.FieldErrorf(sibyl.Invalid, "from", "from %s is after to %s", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	return from, to, nil
}

// sliceRange returns the candles of a sorted, complete history that lie in
// [from, to], or an Invalid error naming the history's span when none do.
func sliceRange(symbol string, all []sibyl.Candle, from, to time.Time) ([]sibyl.Candle, error) {
	if len(all) == 0 {
		return nil, sibyl.Errorf(sibyl.Unavailable, "no price history for %s", symbol)
	}
	first, last := all[0].Time, all[len(all)-1].Time
	if !to.IsZero() && to.Before(first) {
		return nil, sibyl.FieldErrorf(sibyl.Invalid, "to", "%s history starts %s; the requested range ends %s, before it",
			symbol, first.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	if !from.IsZero() && from.After(last) {
		return nil, sibyl.FieldErrorf(sibyl.Invalid, "from", "%s history ends %s; the requested range starts %s, after it",
			symbol, last.Format(time.DateOnly), from.Format(time.DateOnly))
	}
	i := 0
	if !from.IsZero() {
		i = sort.Search(len(all), func(k int) bool { return !all[k].Time.Before(from) })
	}
	j := len(all)
	if !to.IsZero() {
		j = sort.Search(len(all), func(k int) bool { return all[k].Time.After(to) })
	}
	out := make([]sibyl.Candle, j-i)
	copy(out, all[i:j])
	return out, nil
}

// CheckContiguous returns nil when candles are strictly increasing daily candles
// at UTC midnights with no missing day, and otherwise an Unavailable error naming
// the first gap, duplicate or misordered day. Sources from which a grade is
// computed must pass it: a silent gap would distort every indicator.
func CheckContiguous(symbol string, candles []sibyl.Candle) error {
	for i, c := range candles {
		if !c.Time.Equal(UTCDay(c.Time)) {
			return sibyl.Errorf(sibyl.Unavailable, "%s candle %d at %s is not at a UTC midnight", symbol, i, c.Time.Format(time.RFC3339))
		}
		if i == 0 {
			continue
		}
		prev := candles[i-1].Time
		switch d := c.Time.Sub(prev); {
		case d <= 0:
			return sibyl.Errorf(sibyl.Unavailable, "%s history is out of order or duplicated at %s", symbol, c.Time.Format(time.DateOnly))
		case d > Day:
			return sibyl.Errorf(sibyl.Unavailable, "%s history has a gap: %d missing day(s) between %s and %s",
				symbol, int(d/Day)-1, prev.Format(time.DateOnly), c.Time.Format(time.DateOnly))
		}
	}
	return nil
}

// badValue returns what is wrong with v as a candle's field name ("open",
// "high", "low", "close" or "volume"), or "" when it is usable: finite, a price
// positive, the volume not negative. Every feed checks its candles with it (and
// badPrices), so no NaN or Inf reaches an indicator or a JSON answer.
func badValue(name string, v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprintf("%s %v is not finite", name, v)
	case name == "volume" && v < 0:
		return fmt.Sprintf("volume %v is negative", v)
	case name != "volume" && v <= 0:
		return fmt.Sprintf("price %v is not positive", v)
	}
	return ""
}

// badPrices returns what is wrong with c's prices taken together, or "" when
// low <= open, close <= high.
func badPrices(c sibyl.Candle) string {
	if c.Low > c.High || c.Open < c.Low || c.Open > c.High || c.Close < c.Low || c.Close > c.High {
		return fmt.Sprintf("inconsistent prices: want low <= open, close <= high; got open %v high %v low %v close %v", c.Open, c.High, c.Low, c.Close)
	}
	return ""
}
