package paper

import "math"

// feeSchedule computes fees in cents. A fill of n contracts at x cents costs
// ceil(rate * n * x * (100-x) / 100) cents, which is rate*C*P*(1-P) dollars
// rounded up to the cent (Kalshi's formula, applied per fill).
type feeSchedule struct {
	takerMicro, makerMicro int64 // rate * 1e6
}

func newFeeSchedule(taker, maker float64) feeSchedule {
	return feeSchedule{takerMicro: int64(math.Round(taker * 1e6)), makerMicro: int64(math.Round(maker * 1e6))}
}

func feeCents(micro, n, x int64) int64 {
	if micro == 0 || n <= 0 {
		return 0
	}
	num := micro * n * x * (100 - x)
	const den = 1_000_000 * 100
	return (num + den - 1) / den
}

func (f feeSchedule) taker(n, x int64) int64 { return feeCents(f.takerMicro, n, x) }
func (f feeSchedule) maker(n, x int64) int64 { return feeCents(f.makerMicro, n, x) }
