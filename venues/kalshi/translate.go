package kalshi

import (
	"fmt"

	"github.com/shopspring/decimal"

	sibyl "github.com/sibylmcp/sibyl"
)

// toBookSide maps an order on one outcome onto Kalshi's single YES book:
// buying YES at p is a bid at p, selling YES at p an ask at p, buying NO at q
// an ask at 1-q (selling YES) and selling NO at q a bid at 1-q.
func toBookSide(yes, buy bool, price decimal.Decimal) (side string, yesPrice decimal.Decimal) {
	switch {
	case yes && buy:
		return SideBid, price
	case yes:
		return SideAsk, price
	case buy:
		return SideAsk, one.Sub(price)
	default:
		return SideBid, one.Sub(price)
	}
}

// fromBookSide is toBookSide's inverse for an order known to be on outcome
// yes/no: it returns whether the order buys that outcome and at what price.
func fromBookSide(side string, yesPrice decimal.Decimal, yes bool) (buy bool, price decimal.Decimal) {
	if yes {
		return side == SideBid, yesPrice
	}
	return side == SideAsk, one.Sub(yesPrice)
}

// checkPrice refuses an outcome price whose YES price is not on the market's
// steps, before anything is sent, naming the valid steps and the nearest valid
// prices of the outcome.
func checkPrice(md MarketDetail, yes bool, price decimal.Decimal, field string) error {
	if !price.IsPositive() || !price.LessThan(one) {
		return sibyl.FieldErrorf(sibyl.Invalid, field, "%s is not a price: Kalshi prices are dollars strictly between 0 and 1", price)
	}
	yp := price
	if !yes {
		yp = one.Sub(price)
	}
	if md.Ranges.Valid(yp) {
		if _, err := FormatPrice(yp); err != nil {
			return sibyl.FieldErrorf(sibyl.Invalid, field, "%s has more decimals than Kalshi accepts in an order (at most 4)", price)
		}
		return nil
	}
	below, above := md.Ranges.Neighbours(yp)
	if !yes { // the outcome's neighbours are the mirror images
		below, above = mirror(above), mirror(below)
	}
	hint := ""
	switch {
	case !below.IsZero() && !above.IsZero():
		hint = fmt.Sprintf("; the nearest valid prices are %s and %s", below, above)
	case !below.IsZero():
		hint = fmt.Sprintf("; the nearest valid price is %s", below)
	case !above.IsZero():
		hint = fmt.Sprintf("; the nearest valid price is %s", above)
	}
	return sibyl.FieldErrorf(sibyl.Invalid, field, "%s is not on %s's price steps (YES price steps: %s)%s",
		price, md.Market.NativeID, md.Ranges.Describe(), hint)
}

func mirror(p decimal.Decimal) decimal.Decimal {
	if p.IsZero() {
		return p
	}
	return one.Sub(p)
}

// orderStatus maps Kalshi's order status onto sibyl's.
func orderStatus(status string, filled decimal.Decimal) sibyl.OrderStatus {
	switch status {
	case StatusResting:
		if filled.IsPositive() {
			return sibyl.OrderPartiallyFilled
		}
		return sibyl.OrderOpen
	case StatusExecuted:
		return sibyl.OrderFilled
	case StatusCanceled:
		return sibyl.OrderCancelled
	}
	return sibyl.OrderOpen
}

// marketOrderPrice is the limit a market order is sent with: Kalshi's V2
// create always takes a price, so a market buy goes at the highest valid
// price and a market sell at the lowest, as immediate-or-cancel (it never
// rests).
func marketOrderPrice(md MarketDetail, yesSideBid bool) (decimal.Decimal, error) {
	var best decimal.Decimal
	for _, r := range md.Ranges {
		// Highest valid price < 1 of the band, lowest valid price > 0.
		if yesSideBid {
			top := r.End
			if !top.LessThan(one) {
				top = one.Sub(r.Step)
			}
			top = r.Start.Add(top.Sub(r.Start).Div(r.Step).Floor().Mul(r.Step))
			if md.Ranges.Valid(top) && top.GreaterThan(best) {
				best = top
			}
		} else {
			low := r.Start
			if !low.IsPositive() {
				low = r.Step
			}
			if md.Ranges.Valid(low) && (best.IsZero() || low.LessThan(best)) {
				best = low
			}
		}
	}
	if best.IsZero() {
		return best, sibyl.Errorf(sibyl.Invalid, "market %s has no valid price for a market order", md.Market.NativeID)
	}
	return best, nil
}
