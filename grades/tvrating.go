package grades

import (
	"math"

	"github.com/sibylmcp/sibyl"
)

// TVRating returns a TradingView-style technical rating in [-1, 1] for candles
// ending at the day rated (at least MinHistory of them): the mean of a
// moving-average rating and an oscillator rating, each the mean of +1 (buy), 0
// (neutral) and -1 (sell) votes, following TradingView's published rules for its
// Technical Ratings indicator (https://www.tradingview.com/support/solutions/43000614331-technical-ratings/).
// It is the backtest's technical baseline.
//
// Moving averages (buy when the average is below the close, sell when above):
// SMA and EMA of 10, 20, 30, 50, 100 and 200 days, VWMA(20) and HMA(9).
// Oscillators: RSI(14) buy below 30 and rising, sell above 70 and falling;
// Stochastic(14,3,3) buy when %K < 20 crosses above %D, sell when %K > 80 crosses
// below; CCI(20) buy below -100 and rising, sell above 100 and falling; ADX(14)
// buy when ADX > 20 and +DI crosses above -DI, sell on the opposite cross; Awesome
// Oscillator buy on a zero-line cross up or a saucer above zero, sell mirrored;
// Momentum(10) buy when rising, sell when falling; MACD(12,26,9) buy when the line
// is above its signal, sell when below; Williams %R(14) buy below -80 and rising,
// sell above -20 and falling. TradingView's Ichimoku, Stochastic RSI, Bull Bear
// Power and Ultimate Oscillator votes are left out (GRADES.md says so).
func TVRating(c []sibyl.Candle) float64 {
	n := len(c)
	cl, hi, lo, vol := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i, k := range c {
		cl[i], hi[i], lo[i], vol[i] = k.Close, k.High, k.Low, k.Volume
	}
	price := cl[n-1]
	var ma []float64
	for _, p := range []int{10, 20, 30, 50, 100, 200} {
		ma = append(ma, last(SMA(cl, p)), last(EMA(cl, p)))
	}
	pv := make([]float64, n)
	for i := range cl {
		pv[i] = cl[i] * vol[i]
	}
	vwma := last(SMA(pv, 20)) / last(SMA(vol, 20))
	ma = append(ma, vwma, last(HMA(cl, 9)))
	var maVotes, maN float64
	for _, m := range ma {
		if math.IsNaN(m) {
			continue
		}
		maN++
		switch {
		case m < price:
			maVotes++
		case m > price:
			maVotes--
		}
	}

	var osc []float64
	vote := func(buy, sell bool) {
		switch {
		case buy && !sell:
			osc = append(osc, 1)
		case sell && !buy:
			osc = append(osc, -1)
		default:
			osc = append(osc, 0)
		}
	}
	rsi := RSI(cl, 14)
	r0, r1 := rsi[n-1], rsi[n-2]
	vote(r0 < 30 && r0 > r1, r0 > 70 && r0 < r1)

	k := SMA(StochK(hi, lo, cl, 14), 3)
	d := SMA(k, 3)
	vote(k[n-1] < 20 && k[n-1] > d[n-1] && k[n-2] <= d[n-2], k[n-1] > 80 && k[n-1] < d[n-1] && k[n-2] >= d[n-2])

	cci := CCI(hi, lo, cl, 20)
	vote(cci[n-1] < -100 && cci[n-1] > cci[n-2], cci[n-1] > 100 && cci[n-1] < cci[n-2])

	adx, pdi, mdi := ADX(hi, lo, cl, 14)
	vote(adx[n-1] > 20 && pdi[n-2] < mdi[n-2] && pdi[n-1] > mdi[n-1], adx[n-1] > 20 && pdi[n-2] > mdi[n-2] && pdi[n-1] < mdi[n-1])

	ao := AwesomeOscillator(hi, lo)
	a0, a1, a2 := ao[n-1], ao[n-2], ao[n-3]
	vote((a0 > 0 && a1 <= 0) || (a0 > 0 && a1 > 0 && a2 > a1 && a0 > a1), (a0 < 0 && a1 >= 0) || (a0 < 0 && a1 < 0 && a2 < a1 && a0 < a1))

	mom := Momentum(cl, 10)
	vote(mom[n-1] > mom[n-2], mom[n-1] < mom[n-2])

	line, sig, _ := MACD(cl, 12, 26, 9)
	vote(line[n-1] > sig[n-1], line[n-1] < sig[n-1])

	wr := WilliamsR(hi, lo, cl, 14)
	vote(wr[n-1] < -80 && wr[n-1] > wr[n-2], wr[n-1] > -20 && wr[n-1] < wr[n-2])

	var oscSum float64
	for _, v := range osc {
		oscSum += v
	}
	return (maVotes/maN + oscSum/float64(len(osc))) / 2
}

// TVSignal maps a TVRating to TradingView's bands: strong sell below -0.5, sell
// below -0.1, neutral to 0.1, buy to 0.5, strong buy above.
func TVSignal(r float64) sibyl.Signal {
	switch {
	case r < -0.5:
		return sibyl.SignalStrongSell
	case r < -0.1:
		return sibyl.SignalSell
	case r <= 0.1:
		return sibyl.SignalNeutral
	case r <= 0.5:
		return sibyl.SignalBuy
	}
	return sibyl.SignalStrongBuy
}
