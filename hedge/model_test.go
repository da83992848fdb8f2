package hedge

import (
	"math"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl"
)

// normCDFAS is Abramowitz & Stegun 26.2.17 (|error| < 7.5e-8), an
// implementation independent of math.Erfc.
func normCDFAS(x float64) float64 {
	if x < 0 {
		return 1 - normCDFAS(-x)
	}
	const p, b1, b2, b3, b4, b5 = 0.2316419, 0.319381530, -0.356563782, 1.781477937, -1.821255978, 1.330274429
	t := 1 / (1 + p*x)
	pdf := math.Exp(-x*x/2) / math.Sqrt(2*math.Pi)
	return 1 - pdf*t*(b1+t*(b2+t*(b3+t*(b4+t*b5))))
}

func TestFairProbability(t *testing.T) {
	tests := []struct {
		name                 string
		spot, strike, vol, t float64
	}{
		{"atm one month", 100000, 100000, 0.6, 1.0 / 12},
		{"otm put strike", 163000, 140000, 0.6, 34.0 / 365},
		{"itm above", 163000, 120000, 0.8, 0.25},
		{"far otm", 2.0, 5.0, 1.0, 0.1},
		{"one year", 3000, 2500, 0.75, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd := tt.vol * math.Sqrt(tt.t)
			d2 := (math.Log(tt.spot/tt.strike) - sd*sd/2) / sd
			wantAbove := normCDFAS(d2)
			gotAbove := FairProbability(tt.spot, tt.strike, tt.vol, tt.t, Above)
			gotBelow := FairProbability(tt.spot, tt.strike, tt.vol, tt.t, Below)
			if math.Abs(gotAbove-wantAbove) > 1e-7 {
				t.Errorf("above: got %v, want N(d2) = %v", gotAbove, wantAbove)
			}
			if math.Abs(gotAbove+gotBelow-1) > 1e-12 {
				t.Errorf("above + below = %v, want 1", gotAbove+gotBelow)
			}
		})
	}
	// At the money the only term is the drift -σ²t/2: P(above) = N(-σ√t/2) ≈ 0.5 - σ√t/(2√(2π)).
	sd := 0.6 * math.Sqrt(1.0/12)
	if got, want := FairProbability(100, 100, 0.6, 1.0/12, Above), 0.5-sd/(2*math.Sqrt(2*math.Pi)); math.Abs(got-want) > 1e-4 {
		t.Errorf("ATM: got %v, want ≈ %v", got, want)
	}
	// Degenerate and bad inputs.
	if got := FairProbability(90, 100, 0.6, 0, Below); got != 1 {
		t.Errorf("expired below: got %v, want 1", got)
	}
	if got := FairProbability(90, 100, 0, 1, Above); got != 0 {
		t.Errorf("zero vol above: got %v, want 0", got)
	}
	if got := FairProbability(90, 100, 0.5, 1, "sideways"); !math.IsNaN(got) {
		t.Errorf("bad direction: got %v, want NaN", got)
	}
	if got := FairProbability(0, 100, 0.5, 1, Above); !math.IsNaN(got) {
		t.Errorf("zero spot: got %v, want NaN", got)
	}
}

func TestRealisedVol(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	// closes 100, 110, 99, 108.9: log returns ln 1.1, ln 0.9, ln 1.1.
	// mean m = (2 ln1.1 + ln0.9)/3 = 0.0284200; deviations 0.0668902, -0.1337805, 0.0668902;
	// sample variance = (2*0.0668902² + 0.1337805²)/2 = 0.0134229; sd = 0.1158573; x √365 (19.104973) = 2.213450.
	cs := []sibyl.Candle{{Time: day(1), Close: 100}, {Time: day(2), Close: 110}, {Time: day(3), Close: 99}, {Time: day(4), Close: 108.9}}
	got, err := RealisedVol(cs, 0)
	if err != nil || math.Abs(got-2.213450) > 1e-5 {
		t.Errorf("RealisedVol = %v, %v; want 2.213450", got, err)
	}
	// Order does not matter; the window takes the last returns.
	rev := []sibyl.Candle{cs[3], cs[1], cs[2], cs[0]}
	if got2, _ := RealisedVol(rev, 0); math.Abs(got2-got) > 1e-12 {
		t.Errorf("unsorted: got %v, want %v", got2, got)
	}
	// window 2: returns ln0.9, ln1.1: sd = |ln1.1-ln0.9|/√2.
	want := math.Abs(math.Log(1.1)-math.Log(0.9)) / math.Sqrt2 * math.Sqrt(365)
	if got, err := RealisedVol(cs, 2); err != nil || math.Abs(got-want) > 1e-12 {
		t.Errorf("window 2: got %v, %v; want %v", got, err, want)
	}
	if _, err := RealisedVol(cs[:2], 0); sibyl.ErrorCode(err) != sibyl.Invalid {
		t.Errorf("one return: got %v, want invalid", err)
	}
	bad := []sibyl.Candle{{Time: day(1), Close: 1}, {Time: day(2), Close: 0}, {Time: day(3), Close: 1}}
	if _, err := RealisedVol(bad, 0); sibyl.ErrorCode(err) != sibyl.Invalid {
		t.Errorf("zero close: got %v, want invalid", err)
	}
}
