package tools

import (
	"github.com/shopspring/decimal"
)

// takerFee estimates the taker fee, in dollars, of buying contracts at price
// on a venue, exactly: Kalshi's published schedule (and the paper venue's,
// which copies it) is 0.07 x contracts x price x (1 - price), rounded up to
// the cent. Polymarket charges no trading fee on its ordinary markets (fee
// "0" here; its fee-enabled markets are not modelled). ok is false for a
// venue whose fees sibyl does not know.
func takerFee(venue string, price, contracts decimal.Decimal) (fee decimal.Decimal, ok bool) {
	switch venue {
	case "paper", "kalshi":
		one := decimal.NewFromInt(1)
		f := decimal.RequireFromString("0.07").Mul(contracts).Mul(price).Mul(one.Sub(price))
		return f.Mul(decimal.NewFromInt(100)).Ceil().Div(decimal.NewFromInt(100)), true
	case "polymarket":
		return decimal.Zero, true
	}
	return decimal.Zero, false
}
