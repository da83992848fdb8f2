package grades

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/feeds"
)

// BacktestOptions configures RunBacktest. Zero values mean the defaults.
type BacktestOptions struct {
	Symbols   []string  // universe; default all of the feed's symbols
	Step      int       // days between rebalances; default 7 (weekly)
	Horizons  []int     // forward-return horizons in days; default 7 and 30
	Split     time.Time // last day of the in-sample period; default 2022-12-31
	MinTokens int       // fewest gradable tokens for a rebalance date to count; default 5
}

func (o BacktestOptions) withDefaults() BacktestOptions {
	if o.Step <= 0 {
		o.Step = 7
	}
	if len(o.Horizons) == 0 {
		o.Horizons = []int{7, 30}
	}
	if o.Split.IsZero() {
		o.Split = DefaultSplit()
	}
	if o.MinTokens <= 0 {
		o.MinTokens = 5
	}
	return o
}

// DefaultSplit returns the last in-sample day, 2022-12-31: every weight and
// threshold was chosen on data up to it, and everything after it is
// out-of-sample. A function, not a variable, so that no caller can move it.
func DefaultSplit() time.Time { return time.Date(2022, 12, 31, 0, 0, 0, 0, time.UTC) }

// anchor fixes the weekly rebalance grid (a Monday), so every run uses the same days.
var anchor = time.Date(2017, 1, 2, 0, 0, 0, 0, time.UTC)

// Strategy names in a Report.
const (
	StratTrader     = "Trader Grade"
	StratInvestor   = "Investor Grade"
	StratTV         = "TV-style technical rating"
	StratBuyAndHold = "Buy-and-hold (equal weight)"
)

// Row is one strategy's results at one horizon in one sample.
type Row struct {
	Sample    string  // "in-sample" or "out-of-sample"
	Strategy  string  // one of the Strat* names
	Horizon   int     // forward-return horizon, days
	Periods   int     // rebalance dates with at least MinTokens tokens
	MeanIC    float64 // mean cross-sectional Spearman rank IC; NaN for buy-and-hold
	ICT       float64 // t-statistic of MeanIC (Newey-West, see Protocol)
	Spread    float64 // mean top-minus-bottom quintile forward return per period (fraction); NaN for buy-and-hold
	SpreadT   float64 // t-statistic of Spread (Newey-West)
	TopReturn float64 // mean forward return of the top quintile (buy-and-hold: of the whole universe)
	HitRate   float64 // share of buy/sell signals whose direction matched the forward return
	RelHit    float64 // the same against the universe's mean forward return; NaN for buy-and-hold
	Signals   int     // buy and sell signals counted (neutral ones are not)
	Turnover  float64 // mean share of the top quintile replaced at each rebalance
}

// Report is the outcome of RunBacktest.
type Report struct {
	Source   string
	Options  BacktestOptions
	Universe []string  // tokens with any gradable date
	First    time.Time // first rebalance date
	Last     time.Time // last rebalance date
	Rows     []Row
	Elapsed  time.Duration
}

// obs is one token on one rebalance date.
type obs struct {
	sym    string
	scores []float64       // component scores, in specs order
	tv     float64         // TVRating
	fwd    map[int]float64 // forward return by horizon; missing when history ends first
}

// panel is every rebalance date's cross-section.
type panel struct {
	dates []time.Time
	obs   [][]obs
	syms  []string
}

// buildPanel grades every token on every rebalance date, from the candles up to
// that date only, and records forward returns.
func buildPanel(ctx context.Context, src feeds.Source, o BacktestOptions) (*panel, error) {
	syms := o.Symbols
	if len(syms) == 0 {
		var err error
		if syms, err = src.Symbols(ctx); err != nil {
			return nil, err
		}
	}
	hist := map[string][]sibyl.Candle{}
	idx := map[string]map[time.Time]int{}
	var lastDay time.Time
	for _, s := range syms {
		s = feeds.NormalizeSymbol(s)
		c, err := src.Daily(ctx, s, time.Time{}, time.Time{})
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", s, err)
		}
		if err := feeds.CheckContiguous(s, c); err != nil {
			return nil, err
		}
		hist[s] = c
		m := make(map[time.Time]int, len(c))
		for i, k := range c {
			m[k.Time] = i
		}
		idx[s] = m
		if e := c[len(c)-1].Time; e.After(lastDay) {
			lastDay = e
		}
	}
	names := make([]string, 0, len(hist))
	for s := range hist {
		names = append(names, s)
	}
	sort.Strings(names)
	p := &panel{syms: names}
	for d := anchor; !d.After(lastDay); d = d.AddDate(0, 0, o.Step) {
		if err := ctx.Err(); err != nil {
			return nil, sibyl.WrapError(sibyl.Unavailable, err, "backtest cancelled")
		}
		var row []obs
		for _, s := range names {
			i, ok := idx[s][d]
			if !ok || i+1 < MinHistory {
				continue
			}
			c := hist[s]
			w := c[max(0, i+1-Lookback) : i+1]
			var btc []sibyl.Candle
			if j, ok := idx[Benchmark][d]; ok {
				b := hist[Benchmark]
				btc = b[max(0, j+1-Lookback) : j+1]
			}
			value, z := rawComponents(w, btc)
			ob := obs{sym: s, scores: scores(value, z), tv: TVRating(w), fwd: map[int]float64{}}
			for _, h := range o.Horizons {
				if i+h < len(c) {
					ob.fwd[h] = c[i+h].Close/c[i].Close - 1
				}
			}
			row = append(row, ob)
		}
		if len(row) >= o.MinTokens {
			p.dates = append(p.dates, d)
			p.obs = append(p.obs, row)
		}
	}
	if len(p.dates) == 0 {
		return nil, sibyl.Errorf(sibyl.Invalid, "no rebalance date has %d tokens with %d days of history", o.MinTokens, MinHistory)
	}
	return p, nil
}

// gradeOf computes a grade from component scores with the given weights, exactly
// as GradeCandles does.
func gradeOf(sc []float64, grade string, w map[string]float64) float64 {
	var s, tw float64
	for i, sp := range specs {
		if sp.grade == grade {
			s += w[sp.name] * sc[i]
			tw += w[sp.name]
		}
	}
	if tw == 0 {
		return 50
	}
	return math.Round(10*s/tw) / 10
}

// strategy scores one observation and gives its signal.
type strategy struct {
	name   string
	score  func(obs) float64
	signal func(obs) sibyl.Signal
}

func strategies(w map[string]float64, tcuts, icuts [4]float64) []strategy {
	return []strategy{
		{StratTrader, func(o obs) float64 { return gradeOf(o.scores, "trader", w) },
			func(o obs) sibyl.Signal { return signalOf(gradeOf(o.scores, "trader", w), tcuts) }},
		{StratInvestor, func(o obs) float64 { return gradeOf(o.scores, "investor", w) },
			func(o obs) sibyl.Signal { return signalOf(gradeOf(o.scores, "investor", w), icuts) }},
		{StratTV, func(o obs) float64 { return o.tv }, func(o obs) sibyl.Signal { return TVSignal(o.tv) }},
		{StratBuyAndHold, nil, func(obs) sibyl.Signal { return sibyl.SignalBuy }},
	}
}

// inSample reports whether date d with horizon h belongs to the sample: in-sample
// dates have their whole forward window on or before split; out-of-sample dates
// start after split.
func inSample(d time.Time, h int, split time.Time, in bool) bool {
	if in {
		return !d.AddDate(0, 0, h).After(split)
	}
	return d.After(split)
}

// evaluate computes one Row.
func evaluate(p *panel, st strategy, h int, split time.Time, in bool, minTokens int) Row {
	r := Row{Strategy: st.name, Horizon: h, Sample: "out-of-sample"}
	if in {
		r.Sample = "in-sample"
	}
	var ics, spreads, tops, turns []float64
	var hits, relHits, sigs int
	var prevTop map[string]bool
	for di, d := range p.dates {
		if !inSample(d, h, split, in) {
			continue
		}
		var xs, ys []float64
		var os []obs
		for _, o := range p.obs[di] {
			if f, ok := o.fwd[h]; ok {
				os = append(os, o)
				ys = append(ys, f)
				if st.score != nil {
					xs = append(xs, st.score(o))
				}
			}
		}
		if len(os) < minTokens {
			continue
		}
		r.Periods++
		mkt := mean(ys)
		for i, o := range os {
			switch st.signal(o) {
			case sibyl.SignalBuy, sibyl.SignalStrongBuy:
				sigs++
				if ys[i] > 0 {
					hits++
				}
				if ys[i] > mkt {
					relHits++
				}
			case sibyl.SignalSell, sibyl.SignalStrongSell:
				sigs++
				if ys[i] < 0 {
					hits++
				}
				if ys[i] < mkt {
					relHits++
				}
			}
		}
		if st.score == nil {
			tops = append(tops, mkt)
			continue
		}
		ics = append(ics, Spearman(xs, ys))
		order := make([]int, len(xs))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool {
			if xs[order[a]] != xs[order[b]] {
				return xs[order[a]] > xs[order[b]]
			}
			return os[order[a]].sym < os[order[b]].sym
		})
		q := max(1, len(xs)/5)
		var top, bot float64
		topSet := map[string]bool{}
		for k := 0; k < q; k++ {
			top += ys[order[k]]
			bot += ys[order[len(order)-1-k]]
			topSet[os[order[k]].sym] = true
		}
		top, bot = top/float64(q), bot/float64(q)
		spreads = append(spreads, top-bot)
		tops = append(tops, top)
		if prevTop != nil {
			kept := 0
			for s := range topSet {
				if prevTop[s] {
					kept++
				}
			}
			turns = append(turns, 1-float64(kept)/float64(len(topSet)))
		}
		prevTop = topSet
	}
	lags := int(math.Ceil(float64(h)/7)) - 1
	r.MeanIC, r.ICT = mean(ics), nwT(ics, lags)
	r.Spread, r.SpreadT = mean(spreads), nwT(spreads, lags)
	r.TopReturn = mean(tops)
	r.HitRate, r.RelHit = ratio(hits, sigs), ratio(relHits, sigs)
	r.Signals = sigs
	r.Turnover = mean(turns)
	if st.score == nil {
		r.MeanIC, r.ICT, r.Spread, r.SpreadT, r.RelHit = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
	}
	return r
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// RunBacktest walks forward through src's history on a weekly grid, grading every
// token on each date from the candles up to that date only, and measures each
// grade and baseline at every horizon, in-sample (forward windows ending by
// opts.Split) and out-of-sample (dates after it). See GRADES.md for the protocol.
//
// Errors: the feed's errors for listing or loading a token (a gap in any token's
// history fails the run, naming it), Invalid when no date has enough tokens.
func RunBacktest(ctx context.Context, src feeds.Source, opts BacktestOptions) (Report, error) {
	start := time.Now()
	o := opts.withDefaults()
	p, err := buildPanel(ctx, src, o)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Source: src.Name(), Options: o, First: p.dates[0], Last: p.dates[len(p.dates)-1]}
	seen := map[string]bool{}
	for _, row := range p.obs {
		for _, ob := range row {
			seen[ob.sym] = true
		}
	}
	for s := range seen {
		rep.Universe = append(rep.Universe, s)
	}
	sort.Strings(rep.Universe)
	for _, in := range []bool{true, false} {
		for _, h := range o.Horizons {
			for _, st := range strategies(componentWeights, signalCuts, investorCuts) {
				rep.Rows = append(rep.Rows, evaluate(p, st, h, o.Split, in, o.MinTokens))
			}
		}
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// Markdown renders the report as Markdown tables, one per sample.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Source: %s. Universe: %d tokens (%s). Rebalance every %d days, %s to %s. In-sample: forward windows ending by %s; out-of-sample: dates after it.\n\n",
		r.Source, len(r.Universe), strings.Join(r.Universe, ", "), r.Options.Step, r.First.Format(time.DateOnly), r.Last.Format(time.DateOnly), r.Options.Split.Format(time.DateOnly))
	for _, sample := range []string{"in-sample", "out-of-sample"} {
		fmt.Fprintf(&b, "### %s\n\n", sample)
		b.WriteString("| strategy | h (days) | periods | mean rank IC | IC t | top-bottom quintile / period | spread t | top quintile / period | hit rate | hit vs market | signals | turnover |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, row := range r.Rows {
			if row.Sample != sample {
				continue
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %d | %s |\n",
				row.Strategy, row.Horizon, row.Periods, num(row.MeanIC, "%+.3f"), num(row.ICT, "%+.2f"),
				pct(row.Spread), num(row.SpreadT, "%+.2f"), pct(row.TopReturn), pct1(row.HitRate), pct1(row.RelHit), row.Signals, pct1(row.Turnover))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Computed in %s.\n", r.Elapsed.Round(time.Millisecond))
	return b.String()
}

func num(x float64, f string) string {
	if math.IsNaN(x) {
		return "—"
	}
	return fmt.Sprintf(f, x)
}

func pct(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return fmt.Sprintf("%+.2f%%", 100*x)
}

func pct1(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*x)
}
