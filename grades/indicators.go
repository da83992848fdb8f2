package grades

import (
	"math"
)

// The indicator functions below are pure: they take price or volume series, oldest
// first, and return a series of the same length whose entries are NaN where the
// indicator is not yet defined (the warm-up). Value i uses only inputs 0..i, so no
// indicator can look ahead. Their definitions follow TA-Lib / the npm package
// technicalindicators, against whose output they are tested (testdata/SOURCE.md).

func nanSeries(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	return out
}

// SMA returns the simple moving average of x over n values.
func SMA(x []float64, n int) []float64 {
	out := nanSeries(len(x))
	if n <= 0 {
		return out
	}
	var sum float64
	for i, v := range x {
		sum += v
		if i >= n {
			sum -= x[i-n]
		}
		if i >= n-1 {
			out[i] = sum / float64(n)
		}
	}
	return out
}

// EMA returns the exponential moving average of x with smoothing 2/(n+1), seeded
// with the SMA of the first n values (TA-Lib's convention). NaN inputs before the
// first number are skipped, so EMA can smooth a series that itself has a warm-up.
func EMA(x []float64, n int) []float64 {
	return expMA(x, n, 2/float64(n+1))
}

// WilderMA returns Wilder's moving average (RMA, smoothing 1/n) seeded with the SMA
// of the first n values; RSI, ATR and ADX use it.
func WilderMA(x []float64, n int) []float64 {
	return expMA(x, n, 1/float64(n))
}

func expMA(x []float64, n int, alpha float64) []float64 {
	out := nanSeries(len(x))
	if n <= 0 {
		return out
	}
	start := 0
	for start < len(x) && math.IsNaN(x[start]) {
		start++
	}
	if start+n > len(x) {
		return out
	}
	var sum float64
	for i := start; i < start+n; i++ {
		sum += x[i]
	}
	prev := sum / float64(n)
	out[start+n-1] = prev
	for i := start + n; i < len(x); i++ {
		prev += alpha * (x[i] - prev)
		out[i] = prev
	}
	return out
}

// WMA returns the linearly weighted moving average of x over n values (weights
// 1..n, newest heaviest).
func WMA(x []float64, n int) []float64 {
	out := nanSeries(len(x))
	den := float64(n*(n+1)) / 2
	for i := n - 1; i < len(x); i++ {
		var s float64
		ok := true
		for k := 0; k < n; k++ {
			v := x[i-n+1+k]
			if math.IsNaN(v) {
				ok = false
				break
			}
			s += float64(k+1) * v
		}
		if ok {
			out[i] = s / den
		}
	}
	return out
}

// HMA returns the Hull moving average: WMA(2*WMA(x, n/2) - WMA(x, n), sqrt(n)).
func HMA(x []float64, n int) []float64 {
	a, b := WMA(x, n/2), WMA(x, n)
	d := make([]float64, len(x))
	for i := range x {
		d[i] = 2*a[i] - b[i]
	}
	return WMA(d, int(math.Sqrt(float64(n))))
}

// RSI returns Wilder's relative strength index over n periods (0-100): the Wilder
// averages of gains and losses, seeded with their simple means over the first n
// changes. The first value is at index n.
func RSI(x []float64, n int) []float64 {
	out := nanSeries(len(x))
	if len(x) <= n || n <= 0 {
		return out
	}
	var g, l float64
	for i := 1; i <= n; i++ {
		d := x[i] - x[i-1]
		if d > 0 {
			g += d
		} else {
			l -= d
		}
	}
	g /= float64(n)
	l /= float64(n)
	out[n] = rsiOf(g, l)
	for i := n + 1; i < len(x); i++ {
		d := x[i] - x[i-1]
		gain, loss := math.Max(d, 0), math.Max(-d, 0)
		g = (g*float64(n-1) + gain) / float64(n)
		l = (l*float64(n-1) + loss) / float64(n)
		out[i] = rsiOf(g, l)
	}
	return out
}

func rsiOf(g, l float64) float64 {
	if l == 0 {
		if g == 0 {
			return 50
		}
		return 100
	}
	return 100 - 100/(1+g/l)
}

// MACD returns the MACD line (EMA(fast) - EMA(slow)), its signal line (EMA(signal)
// of the MACD line, seeded once the MACD line exists) and the histogram (line -
// signal).
func MACD(x []float64, fast, slow, signal int) (line, sig, hist []float64) {
	f, s := EMA(x, fast), EMA(x, slow)
	line = make([]float64, len(x))
	for i := range x {
		line[i] = f[i] - s[i]
	}
	sig = EMA(line, signal)
	hist = make([]float64, len(x))
	for i := range x {
		hist[i] = line[i] - sig[i]
	}
	return line, sig, hist
}

// TrueRange returns max(high-low, |high-prevClose|, |low-prevClose|); the first
// value is NaN because it has no previous close.
func TrueRange(high, low, close []float64) []float64 {
	out := nanSeries(len(close))
	for i := 1; i < len(close); i++ {
		out[i] = math.Max(high[i]-low[i], math.Max(math.Abs(high[i]-close[i-1]), math.Abs(low[i]-close[i-1])))
	}
	return out
}

// ATR returns Wilder's average true range over n periods; the first value is at
// index n.
func ATR(high, low, close []float64, n int) []float64 {
	return WilderMA(TrueRange(high, low, close), n)
}

// ROC returns the rate of change over n periods, in percent.
func ROC(x []float64, n int) []float64 {
	out := nanSeries(len(x))
	for i := n; i < len(x); i++ {
		out[i] = (x[i] - x[i-n]) / x[i-n] * 100
	}
	return out
}

// Momentum returns x[i] - x[i-n].
func Momentum(x []float64, n int) []float64 {
	out := nanSeries(len(x))
	for i := n; i < len(x); i++ {
		out[i] = x[i] - x[i-n]
	}
	return out
}

// highLow returns the highest high and lowest low over the n bars ending at i.
func highLow(high, low []float64, i, n int) (float64, float64) {
	hh, ll := math.Inf(-1), math.Inf(1)
	for k := i - n + 1; k <= i; k++ {
		hh = math.Max(hh, high[k])
		ll = math.Min(ll, low[k])
	}
	return hh, ll
}

// StochK returns the raw stochastic %K over n bars: where the close sits in the
// bars' high-low range, 0-100 (50 when the range is empty).
func StochK(high, low, close []float64, n int) []float64 {
	out := nanSeries(len(close))
	for i := n - 1; i < len(close); i++ {
		hh, ll := highLow(high, low, i, n)
		if hh == ll {
			out[i] = 50
			continue
		}
		out[i] = (close[i] - ll) / (hh - ll) * 100
	}
	return out
}

// WilliamsR returns Williams %R over n bars, -100..0.
func WilliamsR(high, low, close []float64, n int) []float64 {
	out := nanSeries(len(close))
	for i := n - 1; i < len(close); i++ {
		hh, ll := highLow(high, low, i, n)
		if hh == ll {
			out[i] = -50
			continue
		}
		out[i] = (hh - close[i]) / (hh - ll) * -100
	}
	return out
}

// CCI returns the commodity channel index over n bars: (TP - SMA(TP)) / (0.015 *
// mean absolute deviation of TP), TP = (high+low+close)/3.
func CCI(high, low, close []float64, n int) []float64 {
	tp := make([]float64, len(close))
	for i := range close {
		tp[i] = (high[i] + low[i] + close[i]) / 3
	}
	ma := SMA(tp, n)
	out := nanSeries(len(close))
	for i := n - 1; i < len(close); i++ {
		var md float64
		for k := i - n + 1; k <= i; k++ {
			md += math.Abs(tp[k] - ma[i])
		}
		md /= float64(n)
		if md == 0 {
			out[i] = 0
			continue
		}
		out[i] = (tp[i] - ma[i]) / (0.015 * md)
	}
	return out
}

// ADX returns Wilder's average directional index with the +DI and -DI lines over
// n periods. DM and TR are Wilder-summed (seeded with their sums over the first n
// bars); ADX is the Wilder average of DX, first defined at index 2n-1.
func ADX(high, low, close []float64, n int) (adx, plusDI, minusDI []float64) {
	size := len(close)
	adx, plusDI, minusDI = nanSeries(size), nanSeries(size), nanSeries(size)
	if size <= n || n <= 0 {
		return
	}
	pdm, mdm, tr := make([]float64, size), make([]float64, size), TrueRange(high, low, close)
	for i := 1; i < size; i++ {
		up, down := high[i]-high[i-1], low[i-1]-low[i]
		if up > down && up > 0 {
			pdm[i] = up
		}
		if down > up && down > 0 {
			mdm[i] = down
		}
	}
	dx := nanSeries(size)
	var sp, sm, st float64
	for i := 1; i < size; i++ {
		if i <= n {
			sp += pdm[i]
			sm += mdm[i]
			st += tr[i]
			if i < n {
				continue
			}
		} else {
			sp = sp - sp/float64(n) + pdm[i]
			sm = sm - sm/float64(n) + mdm[i]
			st = st - st/float64(n) + tr[i]
		}
		if st == 0 {
			plusDI[i], minusDI[i], dx[i] = 0, 0, 0
			continue
		}
		plusDI[i], minusDI[i] = 100*sp/st, 100*sm/st
		if s := plusDI[i] + minusDI[i]; s > 0 {
			dx[i] = 100 * math.Abs(plusDI[i]-minusDI[i]) / s
		} else {
			dx[i] = 0
		}
	}
	adx = WilderMA(dx, n)
	return
}

// AwesomeOscillator returns SMA(5) - SMA(34) of the median price (high+low)/2.
func AwesomeOscillator(high, low []float64) []float64 {
	mid := make([]float64, len(high))
	for i := range high {
		mid[i] = (high[i] + low[i]) / 2
	}
	a, b := SMA(mid, 5), SMA(mid, 34)
	out := make([]float64, len(high))
	for i := range out {
		out[i] = a[i] - b[i]
	}
	return out
}

// StdDev returns the population standard deviation of x over n values.
func StdDev(x []float64, n int) []float64 {
	out := nanSeries(len(x))
	ma := SMA(x, n)
	for i := n - 1; i < len(x); i++ {
		var s float64
		for k := i - n + 1; k <= i; k++ {
			d := x[k] - ma[i]
			s += d * d
		}
		out[i] = math.Sqrt(s / float64(n))
	}
	return out
}

// LogReturns returns log(x[i]/x[i-1]); the first value is NaN.
func LogReturns(x []float64) []float64 {
	out := nanSeries(len(x))
	for i := 1; i < len(x); i++ {
		out[i] = math.Log(x[i] / x[i-1])
	}
	return out
}

// RealisedVol returns the annualised realised volatility over n daily log returns:
// their sample standard deviation times sqrt(365) (crypto trades every day). The
// first value is at index n.
func RealisedVol(close []float64, n int) []float64 {
	r := LogReturns(close)
	out := nanSeries(len(close))
	if n < 2 {
		return out
	}
	for i := n; i < len(close); i++ {
		out[i] = sampleStdDev(r[i-n+1:i+1]) * math.Sqrt(365)
	}
	return out
}

// sampleStdDev returns the sample (n-1) standard deviation of x, len(x) >= 2.
func sampleStdDev(x []float64) float64 {
	var m float64
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	var s float64
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return math.Sqrt(s / float64(len(x)-1))
}

// Drawdown returns x[i] / max(x over the n values ending at i) - 1: 0 at a new
// high, -0.3 when 30% below the window's peak.
func Drawdown(x []float64, n int) []float64 {
	out := nanSeries(len(x))
	for i := n - 1; i < len(x); i++ {
		peak := math.Inf(-1)
		for k := i - n + 1; k <= i; k++ {
			peak = math.Max(peak, x[k])
		}
		out[i] = x[i]/peak - 1
	}
	return out
}

// MaxDrawdown returns the deepest peak-to-trough fall within the n values ending
// at i, as a negative fraction (0 when the window only rose).
func MaxDrawdown(x []float64, n int) []float64 {
	out := nanSeries(len(x))
	for i := n - 1; i < len(x); i++ {
		peak, worst := x[i-n+1], 0.0
		for k := i - n + 1; k <= i; k++ {
			peak = math.Max(peak, x[k])
			worst = math.Min(worst, x[k]/peak-1)
		}
		out[i] = worst
	}
	return out
}
