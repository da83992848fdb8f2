package tools

import (
	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
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

// FeesOut is a market's fee schedule as get_market shows it.
type FeesOut struct {
	Known    bool            `json:"known" jsonschema_description:"False when sibyl does not know this venue's fees: the estimates are absent."`
	Taker    string          `json:"taker,omitempty" jsonschema_description:"The taker fee (an order that fills at once against resting orders), as a formula in dollars."`
	Maker    string          `json:"maker,omitempty" jsonschema_description:"The maker fee (a resting order that is filled later)."`
	Examples []FeeExampleOut `json:"examples" jsonschema_description:"The taker fee of buying 100 contracts of each outcome at its best ask, where there is one."`
}

// FeeExampleOut is one worked fee.
type FeeExampleOut struct {
	Outcome   string  `json:"outcome" jsonschema_description:"Outcome bought."`
	Contracts float64 `json:"contracts" jsonschema_description:"Contracts bought."`
	Price     float64 `json:"price" jsonschema_description:"At this price (the best ask), dollars per contract."`
	Fee       float64 `json:"fee" jsonschema_description:"The taker fee, dollars."`
}

// marketFees describes m's venue's fees with worked examples.
func marketFees(m sibyl.Market) FeesOut {
	out := FeesOut{Examples: []FeeExampleOut{}}
	if _, ok := takerFee(m.Venue, decimal.NewFromFloat(0.5), decimal.NewFromInt(1)); !ok {
		return out
	}
	out.Known = true
	switch m.Venue {
	case "polymarket":
		out.Taker, out.Maker = "0 (no trading fee on ordinary markets)", "0"
	default:
		out.Taker = "0.07 x contracts x price x (1 - price), rounded up to the cent"
		out.Maker = "0"
	}
	hundred := decimal.NewFromInt(100)
	for _, o := range m.Outcomes {
		if !(o.Ask > 0 && o.Ask < 1) {
			continue
		}
		fee, _ := takerFee(m.Venue, decimal.NewFromFloat(o.Ask), hundred)
		out.Examples = append(out.Examples, FeeExampleOut{Outcome: o.Name, Contracts: 100, Price: sibyl.RoundProbability(o.Ask), Fee: fee.InexactFloat64()})
	}
	return out
}
