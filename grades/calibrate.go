package grades

import (
	"context"
	"math"
	"sort"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/feeds"
)

// Calibration is what Calibrate chose from in-sample data.
type Calibration struct {
	// ICs is each component's in-sample mean rank IC at its grade's horizon
	// (TraderHorizon or InvestorHorizon).
	ICs map[string]float64
	// Weights is each component's weight within its grade: its IC if positive,
	// else 0, normalised to sum to 1 per grade and rounded to 3 decimals.
	Weights map[string]float64
	// SignalCuts and InvestorCuts are the 10th, 30th, 70th and 90th percentiles of
	// the in-sample Trader and Investor Grades under Weights, rounded.
	SignalCuts, InvestorCuts [4]float64
}

// The horizons the grades are tuned for: the Trader Grade is short-term, the
// Investor Grade longer.
const (
	TraderHorizon   = 7
	InvestorHorizon = 30
)

// Calibrate chooses the component weights and signal thresholds on in-sample data
// only: rebalance dates whose forward window ends on or before opts.Split. Nothing
// after the split is read for a label, so the out-of-sample period stays unseen.
// Its result is frozen into weights.go by hand; TestCalibrationFrozen checks that.
func Calibrate(ctx context.Context, src feeds.Source, opts BacktestOptions) (Calibration, error) {
	o := opts.withDefaults()
	o.Horizons = []int{TraderHorizon, InvestorHorizon}
	p, err := buildPanel(ctx, src, o)
	if err != nil {
		return Calibration{}, err
	}
	cal := Calibration{ICs: map[string]float64{}, Weights: map[string]float64{}}
	for i, sp := range specs {
		h := TraderHorizon
		if sp.grade == "investor" {
			h = InvestorHorizon
		}
		st := strategy{name: sp.name, score: func(ob obs) float64 { return ob.scores[i] }, signal: func(obs) sibyl.Signal { return sibyl.SignalNeutral }}
		cal.ICs[sp.name] = evaluate(p, st, h, o.Split, true, o.MinTokens).MeanIC
	}
	for _, g := range []string{"trader", "investor"} {
		var sum float64
		for _, sp := range specs {
			if sp.grade == g {
				sum += math.Max(0, cal.ICs[sp.name])
			}
		}
		for _, sp := range specs {
			if sp.grade == g {
				w := 0.0
				if sum > 0 {
					w = math.Round(1000*math.Max(0, cal.ICs[sp.name])/sum) / 1000
				}
				cal.Weights[sp.name] = w
			}
		}
	}
	var tg, ig []float64
	for di, d := range p.dates {
		if !inSample(d, TraderHorizon, o.Split, true) {
			continue
		}
		for _, ob := range p.obs[di] {
			tg = append(tg, gradeOf(ob.scores, "trader", cal.Weights))
			ig = append(ig, gradeOf(ob.scores, "investor", cal.Weights))
		}
	}
	cal.SignalCuts, cal.InvestorCuts = cuts(tg), cuts(ig)
	return cal, nil
}

func cuts(x []float64) [4]float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	var out [4]float64
	for i, q := range []float64{0.10, 0.30, 0.70, 0.90} {
		out[i] = math.Round(s[int(q*float64(len(s)-1))])
	}
	return out
}
