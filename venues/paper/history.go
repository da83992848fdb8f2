package paper

import (
	"context"
	"time"

	"github.com/sibylmcp/sibyl"
)

var _ sibyl.ProbabilityHistorian = (*Venue)(nil)

// ProbabilityHistory returns n evenly spaced points of an outcome's implied
// probability from from to to (clipped to the market's life and to now),
// oldest first: at each time, sibyl.PriceRule over the simulated market
// makers' quotes of that refresh bucket and the model's last trade, as
// get_market showed then (principals' orders are not replayed). NotFound for
// a market not listed, Invalid for an unknown outcome or n < 1.
func (v *Venue) ProbabilityHistory(ctx context.Context, nativeID, outcome string, from, to time.Time, n int) ([]sibyl.ProbabilityPoint, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if n < 1 || n > 10000 {
		return nil, sibyl.FieldErrorf(sibyl.Invalid, "points", "want 1-10000 points, got %d", n)
	}
	now := v.now()
	def, err := v.listed(nativeID, now)
	if err != nil {
		return nil, err
	}
	name, err := parseOutcome(outcome)
	if err != nil {
		return nil, err
	}
	if to.After(now) {
		to = now
	}
	if from.Before(def.open) {
		from = def.open
	}
	if from.After(to) {
		from = to
	}
	var step time.Duration
	if n > 1 {
		step = to.Sub(from) / time.Duration(n-1)
	}
	if step == 0 {
		n = 1
	}
	out := make([]sibyl.ProbabilityPoint, 0, n)
	for i := 0; i < n; i++ {
		t := from.Add(time.Duration(i) * step)
		b, start := v.bucketOf(t)
		q := v.quotes(def, b, start)
		var bb, ba int
		var bs, as int64
		for k := ticks - 1; k >= 1; k-- {
			if q.bid[k] > 0 {
				bb, bs = k, q.bid[k]
				break
			}
		}
		for k := 1; k < ticks; k++ {
			if q.ask[k] > 0 {
				ba, as = k, q.ask[k]
				break
			}
		}
		m := v.marketView(def, t, bb, int(bs), ba, int(as), 0)
		for _, o := range m.Outcomes {
			if o.Name == name {
				out = append(out, sibyl.ProbabilityPoint{Time: t, Outcome: name, Probability: o.ImpliedProbability, Source: o.ProbabilitySource})
			}
		}
	}
	return out, nil
}
