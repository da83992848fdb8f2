package sibyl

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// PriceRange is one band of valid prices: every Start + k*Step (k >= 0) up to
// and including End. Kalshi's price_ranges are a list of them; a venue with a
// single tick size (Polymarket) has one range from the tick to 1 - tick.
type PriceRange struct {
	Start decimal.Decimal // lowest price of the band, dollars
	End   decimal.Decimal // highest price of the band, dollars (inclusive)
	Step  decimal.Decimal // price increment within the band, dollars; > 0
}

// String returns the range as "0.01-0.99 step 0.01".
func (r PriceRange) String() string {
	return fmt.Sprintf("%s-%s step %s", r.Start, r.End, r.Step)
}

// OrderRules are the exact prices and quantities a market accepts. Venue
// adapters fill them from the market's metadata; orders/ checks every request
// against them (CheckOrder) before anything is sent, so no off-step price or
// count reaches a venue's wire.
type OrderRules struct {
	// PriceRanges are the valid limit prices; a price is valid when it lies on
	// the steps of at least one range. Empty means the market takes no limit
	// orders (CheckOrder refuses them).
	PriceRanges []PriceRange
	// QuantityStep is the contract increment (1 for whole contracts, 0.01 for
	// Kalshi's fixed-point counts); > 0.
	QuantityStep decimal.Decimal
	// MinQuantity is the smallest order, contracts; zero means QuantityStep.
	MinQuantity decimal.Decimal
}

// TickRules returns the rules of a market with one tick size: prices from tick
// to 1 - tick in steps of tick, quantities in steps of qtyStep (at least
// minQty, or one step when minQty is zero).
func TickRules(tick, qtyStep, minQty decimal.Decimal) OrderRules {
	return OrderRules{
		PriceRanges:  []PriceRange{{Start: tick, End: decimal.NewFromInt(1).Sub(tick), Step: tick}},
		QuantityStep: qtyStep,
		MinQuantity:  minQty,
	}
}

// Valid reports whether the rules are usable: every range has a positive step,
// Start <= End inside (0,1), and the quantity step is positive.
func (r OrderRules) Valid() error {
	one := decimal.NewFromInt(1)
	for i, pr := range r.PriceRanges {
		if !pr.Step.IsPositive() || !pr.Start.IsPositive() || pr.End.GreaterThanOrEqual(one) || pr.Start.GreaterThan(pr.End) {
			return fmt.Errorf("price range %d (%s) is not a band of (0,1) with a positive step", i, pr)
		}
	}
	if !r.QuantityStep.IsPositive() {
		return fmt.Errorf("quantity step %s is not positive", r.QuantityStep)
	}
	if r.MinQuantity.IsNegative() {
		return fmt.Errorf("minimum quantity %s is negative", r.MinQuantity)
	}
	return nil
}

// TickSize returns the smallest price step of the rules, for display, or zero
// when there are no price ranges.
func (r OrderRules) TickSize() decimal.Decimal {
	var min decimal.Decimal
	for i, pr := range r.PriceRanges {
		if i == 0 || pr.Step.LessThan(min) {
			min = pr.Step
		}
	}
	return min
}

// describePrices lists the price bands for an error message.
func (r OrderRules) describePrices() string {
	parts := make([]string, len(r.PriceRanges))
	for i, pr := range r.PriceRanges {
		parts[i] = pr.String()
	}
	return strings.Join(parts, ", ")
}

// CheckPrice returns nil when p is a valid limit price, else an Invalid error
// with Field "limit_price" whose message names the valid steps.
func (r OrderRules) CheckPrice(p decimal.Decimal) error {
	if len(r.PriceRanges) == 0 {
		return FieldErrorf(Invalid, "limit_price", "this market takes no limit orders")
	}
	lo, hi := r.PriceRanges[0].Start, r.PriceRanges[0].End
	for _, pr := range r.PriceRanges {
		lo, hi = decimal.Min(lo, pr.Start), decimal.Max(hi, pr.End)
		if p.LessThan(pr.Start) || p.GreaterThan(pr.End) || !pr.Step.IsPositive() {
			continue
		}
		off := p.Sub(pr.Start).Mod(pr.Step)
		if off.IsZero() {
			return nil
		}
		below := p.Sub(off)
		above := decimal.Min(below.Add(pr.Step), pr.End)
		return FieldErrorf(Invalid, "limit_price", "limit_price %s is not on this market's price steps; use %s or %s (valid prices, dollars: %s)",
			p, below, above, r.describePrices())
	}
	return FieldErrorf(Invalid, "limit_price", "limit_price %s is outside this market's prices: between %s and %s dollars (valid prices: %s)",
		p, lo, hi, r.describePrices())
}

// CheckQuantity returns nil when q is a valid order quantity, else an Invalid
// error with Field "quantity" whose message names the step and minimum.
func (r OrderRules) CheckQuantity(q decimal.Decimal) error {
	minQ := r.MinQuantity
	if minQ.IsZero() {
		minQ = r.QuantityStep
	}
	if !r.QuantityStep.IsPositive() {
		return FieldErrorf(Invalid, "quantity", "this market has no valid quantity step")
	}
	if q.LessThan(minQ) || !q.Mod(r.QuantityStep).IsZero() {
		return FieldErrorf(Invalid, "quantity", "quantity %s is not a valid quantity of this market; it must be a multiple of %s contracts and at least %s",
			q, r.QuantityStep, minQ)
	}
	return nil
}

// CheckOrder checks req's quantity and, for a limit order, its limit price
// against the rules (and that a market order carries no limit price). It
// returns the first Invalid error (Field quantity or limit_price), or nil.
func (r OrderRules) CheckOrder(req OrderRequest) error {
	if err := r.CheckQuantity(req.Quantity); err != nil {
		return err
	}
	switch req.Type {
	case LimitOrder:
		return r.CheckPrice(req.LimitPrice)
	case MarketOrder:
		if !req.LimitPrice.IsZero() {
			return FieldErrorf(Invalid, "limit_price", "a market order has no limit_price")
		}
	}
	return nil
}
