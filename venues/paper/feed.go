package paper

import (
	"time"

	"github.com/sibylmcp/sibyl"
)

// Daily returns DailyCandles as the root package's Candle type, the form the
// feeds package's Simulated source takes, so the grade tools can read the paper
// world's history like any other feed.
func (v *Venue) Daily(symbol string, from, to time.Time) ([]sibyl.Candle, error) {
	cs, err := v.DailyCandles(symbol, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]sibyl.Candle, len(cs))
	for i, c := range cs {
		out[i] = sibyl.Candle(c)
	}
	return out, nil
}
