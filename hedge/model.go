package hedge

import (
	"math"
	"slices"
	"time"

	"github.com/sibylmcp/sibyl"
)

// Directions of a price condition, as in sibyl.PriceCondition.Direction.
const (
	Above = "above" // Yes wins when the price at expiry is above the strike
	Below = "below" // Yes wins when the price at expiry is below the strike
)

// DaysPerYear annualises daily volatility: crypto trades every day.
const DaysPerYear = 365

// normCDF is the standard normal distribution function.
func normCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// FairProbability returns the probability that a token priced spot now is on
// the direction side (Above or Below) of strike t years from now, when its log
// price is a driftless Brownian motion with annualised volatility vol (the
// risk-neutral lognormal model with zero rates, so the forward equals spot):
// N(d2) for Above and N(-d2) for Below, d2 = (ln(spot/strike) - vol²t/2)/(vol√t).
// This is the undiscounted price of a $1 digital. With t <= 0 or vol <= 0 the
// outcome is already known (1 or 0); a price exactly at the strike counts as
// neither above nor below. It returns NaN for bad inputs (spot or strike <= 0,
// an unknown direction).
func FairProbability(spot, strike, vol, t float64, direction string) float64 {
	if !(spot > 0) || !(strike > 0) || (direction != Above && direction != Below) || math.IsNaN(vol) || math.IsNaN(t) {
		return math.NaN()
	}
	if t <= 0 || vol <= 0 {
		if (direction == Above && spot > strike) || (direction == Below && spot < strike) {
			return 1
		}
		return 0
	}
	sd := vol * math.Sqrt(t)
	d2 := (math.Log(spot/strike) - sd*sd/2) / sd
	if direction == Above {
		return normCDF(d2)
	}
	return normCDF(-d2)
}

// RealisedVol returns the annualised volatility of a token from its daily
// candles: the sample standard deviation of the last window log returns of
// consecutive closes, times √365. window <= 0 uses every return. Candles are
// taken in time order (they are sorted by Time first; the input is not
// modified); a missing day simply makes one return span two days, which
// overstates nothing by much for a gap or two but is the caller's to avoid.
// It returns an Invalid error (Field "candles") when fewer than two returns
// are available or a close is not positive.
func RealisedVol(candles []sibyl.Candle, window int) (float64, error) {
	cs := candles
	if !slices.IsSortedFunc(cs, func(a, b sibyl.Candle) int { return a.Time.Compare(b.Time) }) {
		cs = slices.Clone(candles)
		slices.SortStableFunc(cs, func(a, b sibyl.Candle) int { return a.Time.Compare(b.Time) })
	}
	if window > 0 && len(cs) > window+1 {
		cs = cs[len(cs)-window-1:]
	}
	if len(cs) < 3 {
		return 0, sibyl.FieldErrorf(sibyl.Invalid, "candles", "need at least 3 daily closes (2 returns) to estimate volatility, got %d", len(cs))
	}
	rets := make([]float64, 0, len(cs)-1)
	for i := 1; i < len(cs); i++ {
		a, b := cs[i-1].Close, cs[i].Close
		if !(a > 0) || !(b > 0) {
			return 0, sibyl.FieldErrorf(sibyl.Invalid, "candles", "close on %s is not positive", cs[i].Time.Format("2006-01-02"))
		}
		rets = append(rets, math.Log(b/a))
	}
	var mean float64
	for _, r := range rets {
		mean += r
	}
	mean /= float64(len(rets))
	var ss float64
	for _, r := range rets {
		ss += (r - mean) * (r - mean)
	}
	return math.Sqrt(ss/float64(len(rets)-1)) * math.Sqrt(DaysPerYear), nil
}

// YearFraction returns the time from now to expiry in years of 365 days, the
// unit FairProbability takes (negative when expiry is past).
func YearFraction(now, expiry time.Time) float64 {
	return expiry.Sub(now).Hours() / (24 * DaysPerYear)
}
