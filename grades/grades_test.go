package grades

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/feeds"
)

var day0 = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// walk returns n synthetic daily candles from day0 + start days: a seeded random
// walk with drift, deterministic for a seed.
func walk(seed uint64, start, n int, drift float64) []sibyl.Candle {
	r := rand.New(rand.NewPCG(seed, 7))
	p := 100.0
	out := make([]sibyl.Candle, n)
	for i := range out {
		o := p
		p *= math.Exp(drift + 0.04*r.NormFloat64())
		h := math.Max(o, p) * (1 + 0.02*r.Float64())
		l := math.Min(o, p) * (1 - 0.02*r.Float64())
		out[i] = sibyl.Candle{Time: day0.AddDate(0, 0, start+i), Open: o, High: h, Low: l, Close: p, Volume: 1000 + 500*r.Float64()}
	}
	return out
}

// mapSource is a Source over fixed histories, built on feeds.Simulated so its
// range handling is the real one.
func mapSource(h map[string][]sibyl.Candle) feeds.Source {
	syms := make([]string, 0, len(h))
	for s := range h {
		syms = append(syms, s)
	}
	return feeds.NewSimulated("test", func() []string { return syms }, func(sym string, from, to time.Time) ([]sibyl.Candle, error) {
		var out []sibyl.Candle
		for _, c := range h[sym] {
			if (from.IsZero() || !c.Time.Before(from)) && (to.IsZero() || !c.Time.After(to)) {
				out = append(out, c)
			}
		}
		if len(out) == 0 {
			return nil, sibyl.FieldErrorf(sibyl.Invalid, "to", "%s has no history in that range", sym)
		}
		return out, nil
	})
}

func testHistories() map[string][]sibyl.Candle {
	gap := walk(4, 0, 400, 0)
	gap = append(gap[:300], gap[305:]...)
	return map[string][]sibyl.Candle{
		"BTC":   walk(1, 0, 600, 0.001),
		"ETH":   walk(2, 0, 600, 0.002),
		"SOL":   walk(3, 0, 600, -0.001),
		"YOUNG": walk(5, 450, 150, 0),
		"GAPPY": gap,
		"DEAD":  walk(6, 0, 300, 0),
	}
}

func at(i int) time.Time { return day0.AddDate(0, 0, i) }

func TestGradeShape(t *testing.T) {
	g := &Grader{Source: mapSource(testHistories())}
	gr, err := g.Grade(context.Background(), "eth", at(500))
	if err != nil {
		t.Fatal(err)
	}
	if gr.Symbol != "ETH" || !gr.AsOf.Equal(at(500)) || !gr.Simulated || gr.Source != "test" {
		t.Errorf("got %+v", gr)
	}
	for _, v := range []float64{gr.TraderGrade, gr.InvestorGrade} {
		if v < 0 || v > 100 {
			t.Errorf("grade %v outside 0-100", v)
		}
	}
	if len(gr.Components) != len(specs) {
		t.Fatalf("got %d components, want %d", len(gr.Components), len(specs))
	}
	sum := map[string]float64{}
	for _, c := range gr.Components {
		if c.Score < 0 || c.Score > 100 || math.IsNaN(c.Value) || c.Description == "" {
			t.Errorf("bad component %+v", c)
		}
		sum[c.Grade] += c.Weight
	}
	for k, s := range sum {
		if math.Abs(s-1) > 0.002 {
			t.Errorf("%s weights sum to %v, want 1", k, s)
		}
	}
	if want := SignalFor(gr.TraderGrade); gr.Signal != want {
		t.Errorf("got signal %s, want %s", gr.Signal, want)
	}
	if n := strings.Count(gr.Explanation, ". "); n < 1 || n > 2 || !strings.HasPrefix(gr.Explanation, "ETH's Trader Grade") {
		t.Errorf("explanation %q", gr.Explanation)
	}
	// The latest grade is the grade of the last day.
	latest, err := g.Grade(context.Background(), "ETH", time.Time{})
	if err != nil || !latest.AsOf.Equal(at(599)) {
		t.Errorf("latest: got %v, %v; want as of %s", latest.AsOf, err, at(599))
	}
}

func TestGradeDeterministic(t *testing.T) {
	g := &Grader{Source: mapSource(testHistories())}
	a, err := g.Grade(context.Background(), "SOL", at(450))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b, _ := (&Grader{Source: mapSource(testHistories())}).Grade(context.Background(), "SOL", at(450))
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("grades differ:\n%+v\n%+v", a, b)
		}
	}
}

// TestNoLookAhead alters every candle after D, for the token and for BTC, and
// checks that the grade as of D does not move; and that the backtest panel's
// grade on a date equals the Grader's.
func TestNoLookAhead(t *testing.T) {
	h := testHistories()
	D := 420
	before, err := (&Grader{Source: mapSource(h)}).Grade(context.Background(), "ETH", at(D))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 9))
	for _, sym := range []string{"ETH", "BTC"} {
		for i := D + 1; i < len(h[sym]); i++ {
			f := 0.2 + 3*r.Float64()
			c := &h[sym][i]
			c.Open, c.High, c.Low, c.Close, c.Volume = c.Open*f, c.High*f*1.5, c.Low*f*0.5, c.Close*f, c.Volume*f
		}
	}
	after, err := (&Grader{Source: mapSource(h)}).Grade(context.Background(), "ETH", at(D))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("grade as of D changed when data after D changed:\n%+v\n%+v", before, after)
	}
	if tv1, tv2 := TVRating(testHistories()["ETH"][:D+1]), TVRating(h["ETH"][:D+1]); tv1 != tv2 {
		t.Errorf("TV rating moved: %v vs %v", tv1, tv2)
	}
}

func TestBacktestMatchesGrader(t *testing.T) {
	h := testHistories()
	delete(h, "GAPPY")
	src := mapSource(h)
	p, err := buildPanel(context.Background(), src, BacktestOptions{MinTokens: 2}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	g := &Grader{Source: src}
	checked := 0
	for di, d := range p.dates {
		for _, ob := range p.obs[di] {
			gr, err := g.Grade(context.Background(), ob.sym, d)
			if err != nil {
				t.Fatalf("%s %s: %v", ob.sym, d, err)
			}
			if got := gradeOf(ob.scores, "trader", componentWeights); got != gr.TraderGrade {
				t.Fatalf("%s %s: backtest trader grade %v, Grader %v", ob.sym, d.Format(time.DateOnly), got, gr.TraderGrade)
			}
			checked++
		}
	}
	if checked < 100 {
		t.Errorf("checked only %d grades", checked)
	}
}

func TestGradeErrors(t *testing.T) {
	h := testHistories()
	now := at(700)
	g := &Grader{Source: mapSource(h)}
	tests := []struct {
		name  string
		g     *Grader
		sym   string
		asOf  time.Time
		code  sibyl.Code
		field string
		msg   string
	}{
		{"unknown symbol", g, "NOPE", at(500), sibyl.NotFound, "symbol", "known symbols: BTC, DEAD, ETH, GAPPY, SOL, YOUNG"},
		{"before history", g, "BTC", at(-30), sibyl.Invalid, "as_of", "no price history"},
		{"too short", g, "BTC", at(100), sibyl.Invalid, "as_of", "only 101 daily candles up to 2020-04-10 (history starts 2020-01-01); a grade needs 200, so the earliest gradable day is 2020-07-18"},
		{"young token", g, "YOUNG", time.Time{}, sibyl.Invalid, "as_of", "only 150 daily candles"},
		{"after history", g, "DEAD", at(400), sibyl.Invalid, "as_of", "history ends 2020-10-26"},
		{"gap", g, "GAPPY", at(390), sibyl.Unavailable, "", "gap: 5 missing day(s)"},
		{"stale", &Grader{Source: mapSource(h), Now: func() time.Time { return now }}, "BTC", time.Time{}, sibyl.Unavailable, "", "stale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.g.Grade(context.Background(), tt.sym, tt.asOf)
			if sibyl.ErrorCode(err) != tt.code || sibyl.ErrorField(err) != tt.field || !strings.Contains(sibyl.ErrorMessage(err), tt.msg) {
				t.Errorf("got %v (field %q), want %s field %q containing %q", err, sibyl.ErrorField(err), tt.code, tt.field, tt.msg)
			}
		})
	}
}

func TestRank(t *testing.T) {
	g := &Grader{Source: mapSource(testHistories())}
	ctx := context.Background()
	ranked, skipped, err := g.Rank(ctx, nil, "momentum_30d", at(450), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ranked) != 3 || len(skipped) != 3 {
		t.Fatalf("got %d ranked, %d skipped (%v), want 3 and 3", len(ranked), len(skipped), skipped)
	}
	for i := 1; i < len(ranked); i++ {
		if ranked[i].Score > ranked[i-1].Score || ranked[i].Rank != i+1 {
			t.Errorf("rank %d out of order: %+v", i, ranked)
		}
	}
	top, _, _ := g.Rank(ctx, []string{"btc", "ETH", "BTC"}, ByInvestor, at(450), 1)
	if len(top) != 1 {
		t.Errorf("limit 1: got %d", len(top))
	}
	if _, _, err := g.Rank(ctx, nil, "vibes", at(450), 0); sibyl.ErrorCode(err) != sibyl.Invalid || sibyl.ErrorField(err) != "by" || !strings.Contains(sibyl.ErrorMessage(err), "low_volatility") {
		t.Errorf("got %v, want invalid by listing the keys", err)
	}
}

func TestTVRating(t *testing.T) {
	up := make([]sibyl.Candle, 250)
	for i := range up {
		p := 100 * math.Exp(0.01*float64(i))
		up[i] = sibyl.Candle{Time: at(i), Open: p * 0.995, High: p * 1.01, Low: p * 0.99, Close: p, Volume: 1}
	}
	r := TVRating(up)
	if r <= 0.4 || r > 1 {
		t.Errorf("steady uptrend: got rating %v, want strongly positive", r)
	}
	down := make([]sibyl.Candle, 250)
	for i := range down {
		p := 100 * math.Exp(-0.01*float64(i))
		down[i] = sibyl.Candle{Time: at(i), Open: p * 1.005, High: p * 1.01, Low: p * 0.99, Close: p, Volume: 1}
	}
	if d := TVRating(down); d >= -0.1 { // MAs all vote sell; Momentum and MACD rise as an exponential fall flattens in price terms
		t.Errorf("steady downtrend: got rating %v, want a sell rating", d)
	}
	if TVSignal(0.6) != sibyl.SignalStrongBuy || TVSignal(0.05) != sibyl.SignalNeutral || TVSignal(-0.3) != sibyl.SignalSell {
		t.Error("TVSignal bands")
	}
}

func TestStats(t *testing.T) {
	if got := Spearman([]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}); math.Abs(got-1) > 1e-12 {
		t.Errorf("got %v, want 1", got)
	}
	if got := Spearman([]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}); math.Abs(got+1) > 1e-12 {
		t.Errorf("got %v, want -1", got)
	}
	// Ties: x ranks 1.5,1.5,3,4; y ranks 1,2,3,4: r = 0.9486832980505138 (scipy.stats.spearmanr gives the same).
	if got := Spearman([]float64{1, 1, 2, 3}, []float64{1, 2, 3, 4}); math.Abs(got-0.9486832980505138) > 1e-12 {
		t.Errorf("ties: got %v", got)
	}
	// Plain t: mean 2, population variance 2/3 over n=3: t = 2/sqrt((2/3)/3).
	if got := nwT([]float64{1, 2, 3}, 0); math.Abs(got-2/math.Sqrt(2.0/9)) > 1e-12 {
		t.Errorf("nwT lag 0: got %v", got)
	}
	// One lag: gamma1 = ((2-2)(1-2) + (3-2)(2-2))/3 = 0, so it equals lag 0.
	if got := nwT([]float64{1, 2, 3}, 1); math.Abs(got-2/math.Sqrt(2.0/9)) > 1e-12 {
		t.Errorf("nwT lag 1: got %v", got)
	}
}

func TestGradeLatestWithClock(t *testing.T) {
	h := testHistories()
	g := &Grader{Source: mapSource(h), Now: func() time.Time { return at(601).Add(5 * time.Hour) }}
	gr, err := g.Grade(context.Background(), "BTC", time.Time{})
	if err != nil || !gr.AsOf.Equal(at(599)) {
		t.Fatalf("got %v, %v; want a grade as of %s", gr.AsOf, err, at(599))
	}
	want, _ := (&Grader{Source: mapSource(h)}).Grade(context.Background(), "BTC", at(599))
	if !reflect.DeepEqual(gr, want) {
		t.Error("latest grade differs from the grade as of the same day")
	}
	g.Now = func() time.Time { return at(2000) }
	if _, err := g.Grade(context.Background(), "BTC", time.Time{}); sibyl.ErrorCode(err) != sibyl.Unavailable || !strings.Contains(sibyl.ErrorMessage(err), "stale") {
		t.Errorf("far future clock: got %v, want unavailable stale", err)
	}
}
