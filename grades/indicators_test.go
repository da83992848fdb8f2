package grades

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

type reference struct {
	Source string `json:"source"`
	Input  struct {
		Open, High, Low, Close, Volume []float64
	} `json:"input"`
	SMA20   []float64 `json:"sma20"`
	EMA20   []float64 `json:"ema20"`
	WMA9    []float64 `json:"wma9"`
	RSI14   []float64 `json:"rsi14"`
	ATR14   []float64 `json:"atr14"`
	ROC10   []float64 `json:"roc10"`
	WillR14 []float64 `json:"williamsr14"`
	CCI20   []float64 `json:"cci20"`
	AO      []float64 `json:"ao"`
	SD20    []float64 `json:"sd20"`
	MACD    []struct {
		MACD, Signal, Histogram *float64
	} `json:"macd"`
	Stoch []struct{ K, D *float64 } `json:"stoch14_3"`
	ADX   []struct {
		ADX, PDI, MDI float64
	} `json:"adx14"`
}

func loadReference(t *testing.T) reference {
	t.Helper()
	b, err := os.ReadFile("testdata/reference_technicalindicators.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// compareTail checks got against want, aligned at the end (the reference omits
// warm-up values), that got is NaN exactly before the reference starts, and that
// every value is within tol.
func compareTail(t *testing.T, name string, got, want []float64, tol float64) {
	t.Helper()
	off := len(got) - len(want)
	if off < 0 {
		t.Fatalf("%s: got %d values, reference has %d", name, len(got), len(want))
	}
	for i := 0; i < off; i++ {
		if !math.IsNaN(got[i]) {
			t.Errorf("%s[%d] = %v, want NaN (warm-up)", name, i, got[i])
			return
		}
	}
	for j, w := range want {
		if g := got[off+j]; math.Abs(g-w) > tol*math.Max(1, math.Abs(w)) {
			t.Errorf("%s[%d]: got %v, want %v", name, off+j, g, w)
			return
		}
	}
}

func TestIndicatorsAgainstReference(t *testing.T) {
	r := loadReference(t)
	h, l, c := r.Input.High, r.Input.Low, r.Input.Close
	const tol = 1e-9
	compareTail(t, "SMA20", SMA(c, 20), r.SMA20, tol)
	compareTail(t, "EMA20", EMA(c, 20), r.EMA20, tol)
	compareTail(t, "WMA9", WMA(c, 9), r.WMA9, tol)
	compareTail(t, "RSI14", RSI(c, 14), r.RSI14, 0.0051) // the package rounds RSI to 2 decimals
	compareTail(t, "ATR14", ATR(h, l, c, 14), r.ATR14, tol)
	compareTail(t, "ROC10", ROC(c, 10), r.ROC10, tol)
	compareTail(t, "WilliamsR14", WilliamsR(h, l, c, 14), r.WillR14, tol)
	compareTail(t, "CCI20", CCI(h, l, c, 20), r.CCI20, tol)
	compareTail(t, "AO", AwesomeOscillator(h, l), r.AO, tol)
	compareTail(t, "SD20", StdDev(c, 20), r.SD20, tol)

	line, sig, hist := MACD(c, 12, 26, 9)
	var wl, ws, wh []float64
	for _, m := range r.MACD {
		wl = append(wl, *m.MACD)
		if m.Signal != nil {
			ws = append(ws, *m.Signal)
			wh = append(wh, *m.Histogram)
		}
	}
	compareTail(t, "MACD", line, wl, tol)
	compareTail(t, "MACDsignal", sig, ws, tol)
	compareTail(t, "MACDhist", hist, wh, tol)

	var wk, wd []float64
	for _, s := range r.Stoch {
		wk = append(wk, *s.K)
		if s.D != nil {
			wd = append(wd, *s.D)
		}
	}
	k := StochK(h, l, c, 14)
	compareTail(t, "StochK", k, wk, tol)
	compareTail(t, "StochD", SMA(k, 3), wd, tol)

	adx, pdi, mdi := ADX(h, l, c, 14)
	var wa, wp, wm []float64
	for _, a := range r.ADX {
		wa, wp, wm = append(wa, a.ADX), append(wp, a.PDI), append(wm, a.MDI)
	}
	compareTail(t, "ADX", adx, wa, 1e-6)
	// The package reports DI only where ADX exists; compare the same tail.
	compareTail(t, "+DI", pdi[len(pdi)-len(wp):], wp, 1e-6)
	compareTail(t, "-DI", mdi[len(mdi)-len(wm):], wm, 1e-6)
}

// TestIndicatorsByHand checks the indicators the reference package lacks against
// values worked out by hand.
func TestIndicatorsByHand(t *testing.T) {
	x := []float64{10, 12, 9, 15, 12, 18}
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-12 && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	near("Momentum2[5]", Momentum(x, 2)[5], 3)
	near("Drawdown3[2]", Drawdown(x, 3)[2], 9.0/12-1)
	near("Drawdown3[5]", Drawdown(x, 3)[5], 0)
	near("MaxDrawdown6[5]", MaxDrawdown(x, 6)[5], 9.0/12-1)
	near("MaxDrawdown2[1]", MaxDrawdown(x, 2)[1], 0)
	// Realised vol of a series with alternating +r, -r log returns: sample sd of
	// {r, -r} over 2 returns is r*sqrt(2).
	r := 0.1
	y := []float64{1, math.Exp(r), 1}
	near("RealisedVol2[2]", RealisedVol(y, 2)[2], r*math.Sqrt(2)*math.Sqrt(365))
	near("RealisedVol2[1]", RealisedVol(y, 2)[1], math.NaN())
	// HMA(4): WMA2 and WMA4 then WMA2 of 2*WMA2-WMA4.
	z := []float64{1, 2, 3, 4, 5}
	w2 := func(a, b float64) float64 { return (a + 2*b) / 3 }
	w4 := func(a, b, c, d float64) float64 { return (a + 2*b + 3*c + 4*d) / 10 }
	d3 := 2*w2(3, 4) - w4(1, 2, 3, 4)
	d4 := 2*w2(4, 5) - w4(2, 3, 4, 5)
	near("HMA4[4]", HMA(z, 4)[4], w2(d3, d4))
	near("RSI flat", RSI([]float64{1, 1, 1}, 2)[2], 50)
}
