package clob

import (
	"fmt"
	"math/big"

	"github.com/shopspring/decimal"
)

// RoundConfig is how many decimals the official client keeps of a price, of a
// size (shares, or dollars for a market buy) and of the computed amount, per tick
// size.
type RoundConfig struct {
	Price, Size, Amount int32
}

// roundConfigs is clob-client-v2 1.1.0's ROUNDING_CONFIG.
var roundConfigs = map[string]RoundConfig{
	"0.1":    {1, 2, 3},
	"0.01":   {2, 2, 4},
	"0.005":  {3, 2, 5},
	"0.0025": {4, 2, 6},
	"0.001":  {3, 2, 5},
	"0.0001": {4, 2, 6},
}

// Rounding returns the rounding of a tick size, written as Polymarket writes it
// ("0.1", "0.01", "0.005", "0.0025", "0.001" or "0.0001").
func Rounding(tickSize string) (RoundConfig, error) {
	rc, ok := roundConfigs[tickSize]
	if !ok {
		return RoundConfig{}, fmt.Errorf("tick size %q is not one of 0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001", tickSize)
	}
	return rc, nil
}

// TickSizes lists the tick sizes Polymarket uses, coarsest first.
func TickSizes() []string { return []string{"0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001"} }

// unitsPerToken: pUSD and outcome tokens both have 6 decimals.
const tokenDecimals = 6

// LimitAmounts returns a limit order's maker and taker amounts in 10^-6 units,
// computed as the official client's getOrderRawAmounts and parseUnits compute
// them, but exactly: the price rounded half up to rc.Price decimals, the size
// rounded down to rc.Size decimals; BUY takes size shares for size x price
// dollars, SELL gives size shares for size x price dollars; a product with more
// than rc.Amount decimals is rounded up at rc.Amount+4 decimals and then down to
// rc.Amount (the client's guard against float noise; with the configured
// decimals the exact product never needs it).
func LimitAmounts(side Side, size, price decimal.Decimal, rc RoundConfig) (maker, taker uint64, err error) {
	p := roundHalfUp(price, rc.Price)
	shares := size.RoundFloor(rc.Size)
	if p.Sign() <= 0 || shares.Sign() <= 0 {
		return 0, 0, fmt.Errorf("price %s and size %s round to %s and %s: both must be positive", price, size, p, shares)
	}
	dollars := new(big.Rat).Mul(shares.Rat(), p.Rat())
	sharesU, err := units(shares.Rat(), rc.Amount)
	if err != nil {
		return 0, 0, err
	}
	dollarsU, err := units(dollars, rc.Amount)
	if err != nil {
		return 0, 0, err
	}
	if dollarsU == 0 {
		return 0, 0, fmt.Errorf("size %s at price %s is worth less than the smallest amount", shares, p)
	}
	if side == Buy {
		return dollarsU, sharesU, nil
	}
	return sharesU, dollarsU, nil
}

// MarketAmounts returns a market order's amounts in 10^-6 units as the official
// client's getMarketOrderRawAmounts computes them, exactly: the worst price
// rounded down to rc.Price decimals, the amount rounded down to rc.Size decimals.
// BUY spends amount dollars for at least amount / price shares; SELL gives amount
// shares for at least amount x price dollars. The computed side is rounded up at
// rc.Amount+4 decimals and then down to rc.Amount decimals.
func MarketAmounts(side Side, amount, price decimal.Decimal, rc RoundConfig) (maker, taker uint64, err error) {
	p := price.RoundFloor(rc.Price)
	a := amount.RoundFloor(rc.Size)
	if p.Sign() <= 0 || a.Sign() <= 0 {
		return 0, 0, fmt.Errorf("price %s and amount %s round to %s and %s: both must be positive", price, amount, p, a)
	}
	makerU, err := units(a.Rat(), rc.Amount)
	if err != nil {
		return 0, 0, err
	}
	var other *big.Rat
	if side == Buy {
		other = new(big.Rat).Quo(a.Rat(), p.Rat())
	} else {
		other = new(big.Rat).Mul(a.Rat(), p.Rat())
	}
	takerU, err := units(other, rc.Amount)
	if err != nil {
		return 0, 0, err
	}
	if takerU == 0 {
		return 0, 0, fmt.Errorf("amount %s at price %s rounds to nothing", a, p)
	}
	return makerU, takerU, nil
}

// roundHalfUp rounds a positive decimal half up (Math.round) to places decimals.
func roundHalfUp(d decimal.Decimal, places int32) decimal.Decimal {
	if -d.Exponent() <= places {
		return d
	}
	return d.Round(places) // half away from zero, which is half up for positive d
}

// units applies the client's rule to x (roundUp at amountDecimals+4, then
// roundDown at amountDecimals, each only when x has more decimals than that) and
// returns it in 10^-6 units.
func units(x *big.Rat, amountDecimals int32) (uint64, error) {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(amountDecimals)+4), nil)
	scaled := new(big.Rat).Mul(x, new(big.Rat).SetInt(scale))
	c := ceilRat(scaled)        // ceil(x * 10^(a+4))
	c.Quo(c, big.NewInt(10000)) // floor(. / 10^4): x at a decimals, rounded
	c.Mul(c, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(tokenDecimals-amountDecimals)), nil))
	if !c.IsUint64() {
		return 0, fmt.Errorf("amount %s is too large", x.FloatString(6))
	}
	return c.Uint64(), nil
}

// ceilRat returns the smallest integer >= r for r >= 0.
func ceilRat(r *big.Rat) *big.Int {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}
