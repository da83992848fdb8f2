package kalshi

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// PriceRange is one band of a market's valid prices: YES prices from Start to
// End (both included) in multiples of Step counted from Start.
type PriceRange struct {
	Start, End, Step decimal.Decimal
}

// PriceRanges is a market's price rules, from its price_ranges. Since May 2026
// they are the only source of valid prices (tick_size is gone); steps go down
// to $0.0001.
type PriceRanges []PriceRange

var one = decimal.NewFromInt(1)

// parsePriceRanges converts the wire form, refusing empty, negative or
// malformed bands.
func parsePriceRanges(w []wirePriceRange) (PriceRanges, error) {
	out := make(PriceRanges, 0, len(w))
	for i, r := range w {
		start, err := ParseDollars(r.Start)
		if err != nil {
			return nil, fmt.Errorf("price_ranges[%d].start: %w", i, err)
		}
		end, err := ParseDollars(r.End)
		if err != nil {
			return nil, fmt.Errorf("price_ranges[%d].end: %w", i, err)
		}
		step, err := ParseDollars(r.Step)
		if err != nil {
			return nil, fmt.Errorf("price_ranges[%d].step: %w", i, err)
		}
		if !step.IsPositive() || start.IsNegative() || end.LessThan(start) || end.GreaterThan(one) {
			return nil, fmt.Errorf("price_ranges[%d] = {%s, %s, %s} is not a valid band", i, r.Start, r.End, r.Step)
		}
		out = append(out, PriceRange{Start: start, End: end, Step: step})
	}
	return out, nil
}

// Valid reports whether p is a tradable YES price: strictly between 0 and 1
// and on the step of a band that contains it.
func (rs PriceRanges) Valid(p decimal.Decimal) bool {
	if !p.IsPositive() || !p.LessThan(one) {
		return false
	}
	for _, r := range rs {
		if p.LessThan(r.Start) || p.GreaterThan(r.End) {
			continue
		}
		if p.Sub(r.Start).Mod(r.Step).IsZero() {
			return true
		}
	}
	return false
}

// MinStep returns the finest step of any band (zero when there is none).
func (rs PriceRanges) MinStep() decimal.Decimal {
	var min decimal.Decimal
	for i, r := range rs {
		if i == 0 || r.Step.LessThan(min) {
			min = r.Step
		}
	}
	return min
}

// Neighbours returns the nearest valid prices below and above p (zero when
// there is none), for error messages that say what would work instead.
func (rs PriceRanges) Neighbours(p decimal.Decimal) (below, above decimal.Decimal) {
	for _, r := range rs {
		q := p.Sub(r.Start).Div(r.Step)
		if p.GreaterThan(r.Start) {
			lo := r.Start.Add(q.Ceil().Sub(one).Mul(r.Step))
			if lo.GreaterThan(r.End) {
				lo = r.End.Sub(r.End.Sub(r.Start).Mod(r.Step))
			}
			if lo.LessThan(p) && rs.Valid(lo) && (below.IsZero() || lo.GreaterThan(below)) {
				below = lo
			}
		}
		k := decimal.Zero
		if !p.LessThan(r.Start) {
			k = q.Floor().Add(one)
		}
		hi := r.Start.Add(k.Mul(r.Step))
		if !hi.GreaterThan(r.End) && hi.GreaterThan(p) && rs.Valid(hi) && (above.IsZero() || hi.LessThan(above)) {
			above = hi
		}
	}
	return below, above
}

// Describe names the bands in words: "0.01 from 0.00 to 1.00", joined by "; ".
func (rs PriceRanges) Describe() string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%s from %s to %s", trimZeros(r.Step), trimZeros2(r.Start), trimZeros2(r.End))
	}
	return strings.Join(parts, "; ")
}

// trimZeros writes d with no trailing zeros (0.0100 -> 0.01).
func trimZeros(d decimal.Decimal) string { return d.String() }

// trimZeros2 writes d with at least 2 decimals (0 -> 0.00, 0.125 -> 0.125).
func trimZeros2(d decimal.Decimal) string {
	if d.Equal(d.Truncate(2)) {
		return d.StringFixed(2)
	}
	return d.String()
}
