package grades_test

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/feeds"
	"github.com/sibylmcp/sibyl/grades"
)

// ExampleGrader_Grade grades a token from a simulated feed, as cmd wires the paper
// venue's candles in.
func ExampleGrader_Grade() {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	daily := func(sym string, from, to time.Time) ([]sibyl.Candle, error) {
		var out []sibyl.Candle
		for i := 0; i < 400; i++ {
			d := start.AddDate(0, 0, i)
			if d.Before(from) || (!to.IsZero() && d.After(to)) {
				continue
			}
			p := 100 * math.Exp(0.002*float64(i)+0.05*math.Sin(float64(i)/9))
			out = append(out, sibyl.Candle{Time: d, Open: p, High: p * 1.01, Low: p * 0.99, Close: p, Volume: 1e6})
		}
		return out, nil
	}
	src := feeds.NewSimulated("paper", func() []string { return []string{"BTC", "ETH"} }, daily)
	g := &grades.Grader{Source: src}
	gr, err := g.Grade(context.Background(), "ETH", time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(gr.Symbol, gr.AsOf.Format(time.DateOnly), gr.Simulated, len(gr.Components) > 0)

	_, err = g.Grade(context.Background(), "DOGE", time.Time{})
	fmt.Println(sibyl.ErrorCode(err))
	// Output:
	// ETH 2024-12-01 true true
	// not_found
}
