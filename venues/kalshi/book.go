package kalshi

import (
	"errors"
	"fmt"
	"sort"

	"github.com/shopspring/decimal"
)

// Level is one price of a book side with the contracts resting there.
type Level struct {
	Price decimal.Decimal // dollars per contract
	Count decimal.Decimal // contracts
}

// Book is a market's order book as Kalshi publishes it: bids only, on each
// side, best (highest) first. A YES bid at p is a NO ask at 1-p, and a NO bid
// at q a YES ask at 1-q.
type Book struct {
	YesBids []Level
	NoBids  []Level
}

var hundred = decimal.NewFromInt(100)

// parseBook reads either shape of GET /markets/{ticker}/orderbook: the current
// orderbook_fp block, or the transitional legacy block (dollar strings with
// integer counts, or integer cents). When both are present orderbook_fp wins.
func parseBook(w wireBook) (Book, error) {
	switch {
	case w.FP != nil:
		return parseSides(w.FP.YesDollars, w.FP.NoDollars, false)
	case w.Legacy != nil && (w.Legacy.YesDollars != nil || w.Legacy.NoDollars != nil):
		return parseSides(w.Legacy.YesDollars, w.Legacy.NoDollars, false)
	case w.Legacy != nil:
		return parseSides(w.Legacy.Yes, w.Legacy.No, true)
	}
	return Book{}, errors.New("order book has neither orderbook_fp nor orderbook")
}

// parseLegacyBook reads only the legacy block (for tests that compare it with
// the fixed-point one). cents selects the integer-cent arrays.
func parseLegacyBook(w wireBook, cents bool) (Book, error) {
	if w.Legacy == nil {
		return Book{}, errors.New("no legacy orderbook block")
	}
	if cents {
		return parseSides(w.Legacy.Yes, w.Legacy.No, true)
	}
	return parseSides(w.Legacy.YesDollars, w.Legacy.NoDollars, false)
}

func parseSides(yes, no [][]jsonNumber, cents bool) (Book, error) {
	y, err := parseLevels(yes, cents)
	if err != nil {
		return Book{}, fmt.Errorf("yes side: %w", err)
	}
	n, err := parseLevels(no, cents)
	if err != nil {
		return Book{}, fmt.Errorf("no side: %w", err)
	}
	return Book{YesBids: y, NoBids: n}, nil
}

// parseLevels parses [price, count] pairs (Kalshi sends them ascending, best
// last) and returns them best first, merging repeated prices.
func parseLevels(raw [][]jsonNumber, cents bool) ([]Level, error) {
	out := make([]Level, 0, len(raw))
	for i, pair := range raw {
		if len(pair) != 2 {
			return nil, fmt.Errorf("level %d has %d elements, want 2", i, len(pair))
		}
		price, err := ParseDollars(string(pair[0]))
		if err != nil {
			return nil, fmt.Errorf("level %d price: %w", i, err)
		}
		if cents {
			price = price.Div(hundred)
		}
		count, err := ParseCount(string(pair[1]))
		if err != nil {
			return nil, fmt.Errorf("level %d count: %w", i, err)
		}
		if !price.IsPositive() || !price.LessThan(one) || count.IsNegative() {
			return nil, fmt.Errorf("level %d [%s, %s] is out of range", i, pair[0], pair[1])
		}
		if count.IsZero() {
			continue
		}
		out = append(out, Level{Price: price, Count: count})
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Price.GreaterThan(out[b].Price) })
	merged := out[:0]
	for _, l := range out {
		if n := len(merged); n > 0 && merged[n-1].Price.Equal(l.Price) {
			merged[n-1].Count = merged[n-1].Count.Add(l.Count)
			continue
		}
		merged = append(merged, l)
	}
	return merged, nil
}

// Outcome returns one outcome's book, best first on both sides: for "yes" the
// bids are the YES bids and the asks are the NO bids at 1-q; for "no" the
// other way round. depth <= 0 keeps every level.
func (b Book) Outcome(yes bool, depth int) (bids, asks []Level) {
	own, other := b.YesBids, b.NoBids
	if !yes {
		own, other = b.NoBids, b.YesBids
	}
	bids = clip(own, depth)
	asks = make([]Level, 0, len(other))
	for _, l := range clip(other, depth) {
		asks = append(asks, Level{Price: one.Sub(l.Price), Count: l.Count})
	}
	return bids, asks
}

func clip(ls []Level, depth int) []Level {
	if depth > 0 && len(ls) > depth {
		ls = ls[:depth]
	}
	out := make([]Level, len(ls))
	copy(out, ls)
	return out
}
