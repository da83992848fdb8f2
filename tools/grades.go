package tools

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/feeds"
	"github.com/sibylmcp/sibyl/grades"
)

// GradeTools returns get_token_grade, rank_tokens and get_price_history. They are
// left out when d has no price feeds.
func GradeTools(d *Deps) []Tool {
	if len(d.Feeds) == 0 {
		return nil
	}
	rank := New("rank_tokens", "Rank tokens by grade",
		"Rank tokens by their Trader Grade (short-term momentum), Investor Grade (long-term trend, risk and liquidity) or one grade component, best first, for discovery. Tokens that cannot be graded on that day (too little history, delisted) are listed under skipped with the reason.",
		readOnly, ScopeRead, d.rankTokens)
	rank.InputSchema = withEnum(rank.InputSchema, "by", grades.RankKeys())
	return []Tool{
		New("get_token_grade", "Get a token's grades",
			"Grade a crypto token 0-100 from its daily price history: a Trader Grade (short-term momentum) and an Investor Grade (long-term trend, risk and liquidity), a signal from strong_sell to strong_buy, every component with its score, weight and raw value, and a plain-language explanation. Computed in the open and reproducible: as_of uses only data up to that day. Grades describe past prices; they are not financial advice.",
			readOnly, ScopeRead, d.getTokenGrade),
		rank,
		New("get_price_history", "Get price history",
			"Get a token's OHLCV candles (open, high, low, close in USD/USDT, volume in the token) between two dates, daily or weekly, oldest first. At most 1000 candles per call.",
			readOnly, ScopeRead, d.getPriceHistory),
	}
}

// withEnum sets the enum of one top-level property of a generated schema: for
// closed sets known only at run time, which struct tags cannot carry.
func withEnum(raw json.RawMessage, prop string, values []string) json.RawMessage {
	var s map[string]any
	if err := json.Unmarshal(raw, &s); err != nil {
		panic(err)
	}
	p, ok := s["properties"].(map[string]any)[prop].(map[string]any)
	if !ok {
		panic("withEnum: no property " + prop)
	}
	p["enum"] = values
	out, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return out
}

// grader returns the Grader for the named feed ("" = the default one).
func (d *Deps) grader(source string) (*grades.Grader, error) {
	if source == "" {
		source = d.DefaultFeed
	}
	src, ok := d.Feeds[source]
	if !ok {
		return nil, sibyl.FieldErrorf(sibyl.NotFound, "source", "no price feed %q is configured; configured feeds: %s (see list_venues)", source, strings.Join(d.feedNames(), ", "))
	}
	g := &grades.Grader{Source: src}
	if src.Simulated() || d.LiveFeeds[source] {
		g.Now = d.now
	}
	return g, nil
}

// parseDay parses an optional YYYY-MM-DD argument.
func parseDay(s, field string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, sibyl.FieldErrorf(sibyl.Invalid, field, "%q is not a date; use YYYY-MM-DD, such as 2024-06-30", s)
	}
	return t, nil
}

type gradeIn struct {
	Symbol        string `json:"symbol" jsonschema:"minLength=1,maxLength=20" jsonschema_description:"Token symbol, such as BTC, ETH or SOL (BTCUSDT is accepted too)."`
	AsOf          string `json:"as_of,omitempty" jsonschema:"pattern=^[0-9]{4}-[0-9]{2}-[0-9]{2}$" jsonschema_description:"Grade as of this UTC day (YYYY-MM-DD), using only data up to and including it. Omit for the latest complete day."`
	Source        string `json:"source,omitempty" jsonschema:"maxLength=40" jsonschema_description:"Price feed to grade from, such as paper (simulated) or csv (when the server was given --ohlcv-dir); list_venues lists the feeds. Omit for the default feed."`
	SecondOpinion bool   `json:"second_opinion,omitempty" jsonschema_description:"true: also show Token Metrics' own current trader, investor and TM grades beside sibyl's, labelled by source (needs the server's Token Metrics key; each call is billed to it, answers are cached for an hour). Default false."`
	HistoryDays   int    `json:"history_days,omitempty" jsonschema:"minimum=0,maximum=90" jsonschema_description:"Also return the grades of this many UTC days before as_of (0-90, default 0), oldest first, to see how the grades moved. Days the feed cannot grade (too little history) are left out."`
}

// GradePointOut is a token's two grades on one past day.
type GradePointOut struct {
	AsOf          string  `json:"as_of" jsonschema_description:"The UTC day graded (YYYY-MM-DD)."`
	TraderGrade   float64 `json:"trader_grade" jsonschema_description:"Trader Grade 0-100 on that day."`
	InvestorGrade float64 `json:"investor_grade" jsonschema_description:"Investor Grade 0-100 on that day."`
}

// ComponentOut is one transparent input of a grade.
type ComponentOut struct {
	Name        string  `json:"name" jsonschema_description:"Stable component id; rank_tokens accepts it as 'by'."`
	Grade       string  `json:"grade" jsonschema:"enum=trader,enum=investor" jsonschema_description:"The grade this component feeds."`
	Score       float64 `json:"score" jsonschema_description:"0-100, 50 neutral, higher more bullish."`
	Weight      float64 `json:"weight" jsonschema_description:"Share of its grade, 0-1 (0: shown for context, not counted)."`
	Value       float64 `json:"value" jsonschema_description:"The raw measurement behind the score, in unit."`
	Unit        string  `json:"unit" jsonschema_description:"Unit of value."`
	Description string  `json:"description" jsonschema_description:"What the component measures, in plain words."`
}

// GradeOut is a token's grades as tools answer them.
type GradeOut struct {
	Symbol        string         `json:"symbol" jsonschema_description:"Token symbol."`
	AsOf          string         `json:"as_of" jsonschema_description:"The UTC day (YYYY-MM-DD) whose close is the last data used."`
	TraderGrade   float64        `json:"trader_grade" jsonschema_description:"Trader Grade 0-100: short-term momentum."`
	InvestorGrade float64        `json:"investor_grade" jsonschema_description:"Investor Grade 0-100: long-term trend, risk and liquidity."`
	Signal        string         `json:"signal" jsonschema:"enum=strong_sell,enum=sell,enum=neutral,enum=buy,enum=strong_buy" jsonschema_description:"Signal from the Trader Grade (thresholds in GRADES.md)."`
	Components    []ComponentOut `json:"components" jsonschema_description:"Every component of both grades."`
	Explanation   string         `json:"explanation" jsonschema_description:"A short plain-language explanation naming the strongest and weakest components."`
	Source        string         `json:"source" jsonschema_description:"The price feed the grade was computed from."`
	Simulated     bool           `json:"simulated" jsonschema_description:"True when the prices are simulated (the paper world), not real."`
}

func gradeOut(g sibyl.Grade) GradeOut {
	out := GradeOut{Symbol: g.Symbol, AsOf: g.AsOf.UTC().Format(time.DateOnly), TraderGrade: g.TraderGrade, InvestorGrade: g.InvestorGrade,
		Signal: string(g.Signal), Components: make([]ComponentOut, len(g.Components)), Explanation: g.Explanation, Source: g.Source, Simulated: g.Simulated}
	for i, c := range g.Components {
		out.Components[i] = ComponentOut{Name: c.Name, Grade: c.Grade, Score: c.Score, Weight: c.Weight, Value: c.Value, Unit: c.Unit, Description: c.Description}
	}
	return out
}

type gradeAnswer struct {
	GradeOut
	Freshness
	SecondOpinion *SecondOpinionOut `json:"second_opinion,omitempty" jsonschema_description:"With second_opinion: another grader's current grades of the token (Token Metrics'), labelled by source, or why they are missing. Not computed by sibyl."`
	History       []GradePointOut   `json:"history,omitempty" jsonschema_description:"With history_days: the grades of the days before as_of, oldest first (as_of's own grade is the answer's)."`
	Timestamp     time.Time         `json:"timestamp" jsonschema_description:"When this answer was made (RFC 3339, UTC)."`
}

func (d *Deps) getTokenGrade(ctx context.Context, c *Call, in gradeIn) (gradeAnswer, error) {
	asOf, err := parseDay(in.AsOf, "as_of")
	if err != nil {
		return gradeAnswer{}, err
	}
	g, err := d.grader(in.Source)
	if err != nil {
		return gradeAnswer{}, err
	}
	gr, err := g.Grade(ctx, in.Symbol, asOf)
	if err != nil {
		return gradeAnswer{}, err
	}
	out := gradeAnswer{GradeOut: gradeOut(gr), Timestamp: d.now()}
	out.Freshness = dayFreshness(out.Timestamp, gr.AsOf, "this grade's last close ("+out.AsOf+")")
	if in.SecondOpinion {
		out.SecondOpinion = d.secondOpinions(ctx, c.Tool, []string{gr.Symbol}, c.log)[gr.Symbol]
	}
	for n := in.HistoryDays; n >= 1; n-- {
		past, err := g.Grade(ctx, gr.Symbol, gr.AsOf.AddDate(0, 0, -n))
		switch code := sibyl.ErrorCode(err); {
		case err == nil:
			out.History = append(out.History, GradePointOut{AsOf: past.AsOf.UTC().Format(time.DateOnly), TraderGrade: past.TraderGrade, InvestorGrade: past.InvestorGrade})
		case ctx.Err() != nil:
			return gradeAnswer{}, sibyl.WrapError(sibyl.Unavailable, ctx.Err(), "the grade history was cut short: the call was cancelled or timed out")
		case code == sibyl.Invalid || code == sibyl.NotFound:
			// That day cannot be graded (too little history before it): left
			// out, as the argument's description says.
		default:
			return gradeAnswer{}, err
		}
	}
	return out, nil
}

type rankIn struct {
	By            string   `json:"by,omitempty" jsonschema_description:"What to rank by: trader (default), investor, or a component name."`
	Limit         int      `json:"limit,omitempty" jsonschema:"minimum=1,maximum=100" jsonschema_description:"Most tokens to return (1-100, default 10)."`
	Universe      []string `json:"universe,omitempty" jsonschema:"maxItems=200,maxLength=20" jsonschema_description:"Symbols to rank; omit for every token the feed knows."`
	AsOf          string   `json:"as_of,omitempty" jsonschema:"pattern=^[0-9]{4}-[0-9]{2}-[0-9]{2}$" jsonschema_description:"Rank as of this UTC day (YYYY-MM-DD); omit for the latest complete day."`
	Source        string   `json:"source,omitempty" jsonschema:"maxLength=40" jsonschema_description:"Price feed to grade from; omit for the default feed."`
	SecondOpinion bool     `json:"second_opinion,omitempty" jsonschema_description:"true: also show Token Metrics' own current grades of each ranked token beside sibyl's (one batched, cached call billed to the server's Token Metrics key). Default false."`
}

// RankedOut is one token in a ranking.
type RankedOut struct {
	Rank          int               `json:"rank" jsonschema_description:"1 is best."`
	Symbol        string            `json:"symbol" jsonschema_description:"Token symbol."`
	Score         float64           `json:"score" jsonschema_description:"The value ranked by, 0-100."`
	TraderGrade   float64           `json:"trader_grade" jsonschema_description:"Trader Grade 0-100."`
	InvestorGrade float64           `json:"investor_grade" jsonschema_description:"Investor Grade 0-100."`
	Signal        string            `json:"signal" jsonschema_description:"Signal from the Trader Grade."`
	AsOf          string            `json:"as_of" jsonschema_description:"The day graded (YYYY-MM-DD)."`
	SecondOpinion *SecondOpinionOut `json:"second_opinion,omitempty" jsonschema_description:"With second_opinion: Token Metrics' current grades of the token, labelled by source, or why they are missing. Not computed by sibyl; not used in the ranking."`
	Freshness
}

// SkippedOut is a token that could not be ranked.
type SkippedOut struct {
	Symbol string `json:"symbol" jsonschema_description:"Token symbol."`
	Code   string `json:"code" jsonschema_description:"Error code, such as invalid or unavailable."`
	Reason string `json:"reason" jsonschema_description:"Why it could not be graded."`
}

type rankOut struct {
	By        string       `json:"by" jsonschema_description:"What the ranking is by."`
	Ranking   []RankedOut  `json:"ranking" jsonschema_description:"Tokens best first."`
	Skipped   []SkippedOut `json:"skipped" jsonschema_description:"Tokens that could not be graded, with the reason."`
	Source    string       `json:"source" jsonschema_description:"The price feed used."`
	Simulated bool         `json:"simulated" jsonschema_description:"True when the prices are simulated."`
	Timestamp time.Time    `json:"timestamp" jsonschema_description:"When this answer was made (RFC 3339, UTC)."`
}

func (d *Deps) rankTokens(ctx context.Context, c *Call, in rankIn) (rankOut, error) {
	asOf, err := parseDay(in.AsOf, "as_of")
	if err != nil {
		return rankOut{}, err
	}
	g, err := d.grader(in.Source)
	if err != nil {
		return rankOut{}, err
	}
	by, limit := in.By, in.Limit
	if by == "" {
		by = grades.ByTrader
	}
	if limit == 0 {
		limit = 10
	}
	ranked, skipped, err := g.Rank(ctx, in.Universe, by, asOf, limit)
	if err != nil {
		return rankOut{}, err
	}
	out := rankOut{By: by, Ranking: make([]RankedOut, len(ranked)), Skipped: make([]SkippedOut, len(skipped)),
		Source: g.Source.Name(), Simulated: g.Source.Simulated(), Timestamp: d.now()}
	for i, r := range ranked {
		out.Ranking[i] = RankedOut{Rank: r.Rank, Symbol: r.Grade.Symbol, Score: r.Score, TraderGrade: r.Grade.TraderGrade,
			InvestorGrade: r.Grade.InvestorGrade, Signal: string(r.Grade.Signal), AsOf: r.Grade.AsOf.Format(time.DateOnly),
			Freshness: dayFreshness(out.Timestamp, r.Grade.AsOf, "this grade's last close ("+r.Grade.AsOf.Format(time.DateOnly)+")")}
	}
	for i, s := range skipped {
		out.Skipped[i] = SkippedOut{Symbol: s.Symbol, Code: string(s.Code), Reason: s.Reason}
	}
	if in.SecondOpinion && len(out.Ranking) > 0 {
		syms := make([]string, len(out.Ranking))
		for i, r := range out.Ranking {
			syms[i] = r.Symbol
		}
		ops := d.secondOpinions(ctx, c.Tool, syms, c.log)
		for i := range out.Ranking {
			out.Ranking[i].SecondOpinion = ops[out.Ranking[i].Symbol]
		}
	}
	return out, nil
}

type historyIn struct {
	Symbol   string `json:"symbol" jsonschema:"minLength=1,maxLength=20" jsonschema_description:"Token symbol, such as BTC."`
	From     string `json:"from,omitempty" jsonschema:"pattern=^[0-9]{4}-[0-9]{2}-[0-9]{2}$" jsonschema_description:"First UTC day (YYYY-MM-DD), inclusive; omit for 90 days before 'to'."`
	To       string `json:"to,omitempty" jsonschema:"pattern=^[0-9]{4}-[0-9]{2}-[0-9]{2}$" jsonschema_description:"Last UTC day (YYYY-MM-DD), inclusive; omit for the latest complete day."`
	Interval string `json:"interval,omitempty" jsonschema:"enum=1d,enum=1w" jsonschema_description:"Candle length: 1d (default) or 1w (weeks starting Monday, built from daily candles)."`
	Source   string `json:"source,omitempty" jsonschema:"maxLength=40" jsonschema_description:"Price feed; omit for the default feed."`
}

// CandleOut is one OHLCV candle.
type CandleOut struct {
	Time   string  `json:"time" jsonschema_description:"Start of the period, UTC day (YYYY-MM-DD)."`
	Open   float64 `json:"open" jsonschema_description:"First price of the period."`
	High   float64 `json:"high" jsonschema_description:"Highest price."`
	Low    float64 `json:"low" jsonschema_description:"Lowest price."`
	Close  float64 `json:"close" jsonschema_description:"Last price of the period."`
	Volume float64 `json:"volume" jsonschema_description:"Quantity traded, in the token unless the feed says otherwise."`
}

type historyOut struct {
	Symbol    string      `json:"symbol" jsonschema_description:"Token symbol."`
	Interval  string      `json:"interval" jsonschema_description:"Candle length."`
	Candles   []CandleOut `json:"candles" jsonschema_description:"Candles, oldest first."`
	Source    string      `json:"source" jsonschema_description:"The price feed."`
	Simulated bool        `json:"simulated" jsonschema_description:"True when the prices are simulated."`
	Timestamp time.Time   `json:"timestamp" jsonschema_description:"When this answer was made (RFC 3339, UTC)."`
	// Freshness is that of the newest candle (age 0 and not stale when there is none).
	Freshness
}

const maxCandles = 1000

func (d *Deps) getPriceHistory(ctx context.Context, c *Call, in historyIn) (historyOut, error) {
	from, err := parseDay(in.From, "from")
	if err != nil {
		return historyOut{}, err
	}
	to, err := parseDay(in.To, "to")
	if err != nil {
		return historyOut{}, err
	}
	g, err := d.grader(in.Source)
	if err != nil {
		return historyOut{}, err
	}
	latest := feeds.LastCompleteDay(d.now())
	if to.IsZero() {
		to = latest
	}
	if from.IsZero() {
		from = to.Add(-89 * feeds.Day)
	}
	if g.Now != nil && from.After(latest) {
		// A live feed has no candle after the latest complete day; say so
		// rather than answer an empty list.
		return historyOut{}, sibyl.FieldErrorf(sibyl.Invalid, "from", "from %s is after the latest complete day %s; use a from on or before it", from.Format(time.DateOnly), latest.Format(time.DateOnly))
	}
	if from.After(to) {
		return historyOut{}, sibyl.FieldErrorf(sibyl.Invalid, "from", "from %s is after to %s", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	interval := in.Interval
	if interval == "" {
		interval = "1d"
	}
	days := int(to.Sub(from)/feeds.Day) + 1
	if interval == "1d" && days > maxCandles {
		return historyOut{}, sibyl.FieldErrorf(sibyl.Invalid, "from", "the range holds more than %d 1d candles; narrow from/to or use interval 1w", maxCandles)
	}
	if interval == "1w" && days > 7*maxCandles {
		return historyOut{}, sibyl.FieldErrorf(sibyl.Invalid, "from", "the range holds more than %d 1w candles; narrow from/to to at most %d days", maxCandles, 7*maxCandles)
	}
	cs, err := g.Source.Daily(ctx, in.Symbol, from, to)
	if err != nil {
		return historyOut{}, err
	}
	var newest time.Time
	if len(cs) > 0 {
		newest = cs[len(cs)-1].Time
	}
	if interval == "1w" {
		cs = weekly(cs)
	}
	out := historyOut{Symbol: feeds.NormalizeSymbol(in.Symbol), Interval: interval, Candles: make([]CandleOut, len(cs)),
		Source: g.Source.Name(), Simulated: g.Source.Simulated(), Timestamp: d.now()}
	for i, k := range cs {
		out.Candles[i] = CandleOut{Time: k.Time.UTC().Format(time.DateOnly), Open: k.Open, High: k.High, Low: k.Low, Close: k.Close, Volume: k.Volume}
	}
	if !newest.IsZero() {
		out.Freshness = dayFreshness(out.Timestamp, newest, "the newest close ("+newest.UTC().Format(time.DateOnly)+")")
	}
	return out, nil
}

// weekly folds daily candles into weeks starting Monday (UTC). A partial first or
// last week holds the days that exist.
func weekly(days []sibyl.Candle) []sibyl.Candle {
	var out []sibyl.Candle
	for _, c := range days {
		wd := (int(c.Time.Weekday()) + 6) % 7 // Monday = 0
		start := feeds.UTCDay(c.Time).Add(-time.Duration(wd) * feeds.Day)
		if n := len(out); n > 0 && out[n-1].Time.Equal(start) {
			w := &out[n-1]
			w.High, w.Low = max(w.High, c.High), min(w.Low, c.Low)
			w.Close = c.Close
			w.Volume += c.Volume
			continue
		}
		out = append(out, sibyl.Candle{Time: start, Open: c.Open, High: c.High, Low: c.Low, Close: c.Close, Volume: c.Volume})
	}
	return out
}
