package grades

import (
	"math"
	"sort"
)

func mean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// ranks returns the 1-based ranks of x, ties sharing their average rank.
func ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

// Spearman returns the Spearman rank correlation of x and y (Pearson correlation
// of their tie-averaged ranks); 0 when either is constant.
func Spearman(x, y []float64) float64 {
	rx, ry := ranks(x), ranks(y)
	mx, my := mean(rx), mean(ry)
	var sxy, sxx, syy float64
	for i := range rx {
		dx, dy := rx[i]-mx, ry[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}

// nwT returns the t-statistic of the mean of x with a Newey-West (Bartlett)
// long-run variance over lags autocovariances; lags 0 is the plain t-statistic
// with the population variance.
func nwT(x []float64, lags int) float64 {
	n := len(x)
	if n < 2 {
		return math.NaN()
	}
	m := mean(x)
	gamma := func(l int) float64 {
		var s float64
		for t := l; t < n; t++ {
			s += (x[t] - m) * (x[t-l] - m)
		}
		return s / float64(n)
	}
	v := gamma(0)
	for l := 1; l <= lags && l < n; l++ {
		v += 2 * (1 - float64(l)/float64(lags+1)) * gamma(l)
	}
	if v <= 0 {
		return math.NaN()
	}
	return m / math.Sqrt(v/float64(n))
}
