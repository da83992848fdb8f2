package paper

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sibylmcp/sibyl"
)

// marketDef is the static description of one simulated market: everything that
// does not depend on the clock. It is re-derived from the seed, never stored.
type marketDef struct {
	id, question, rules, category string
	key                           uint64 // strHash(id)
	sortKey                       string // orders markets with the same close time
	open, close, settle           time.Time
	listedUntil                   time.Time

	// crypto markets
	tok    *tokenPath
	strike float64
	above  bool

	// event markets
	ev      *eventTemplate
	logitP0 float64
	evYes   bool

	liq     float64 // market-maker base size, contracts
	volRate float64 // simulated contracts traded per day
	hay     string  // " word word ... id ", for text search (see searchText)
	tags    []string
}

// status returns the market's status at now.
func (d *marketDef) status(now time.Time) sibyl.MarketStatus {
	switch {
	case now.Before(d.close):
		return sibyl.StatusOpen
	case now.Before(d.settle):
		return sibyl.StatusClosed
	}
	return sibyl.StatusSettled
}

// fair returns the model probability of Yes at t.
func (d *marketDef) fair(t time.Time) float64 {
	if d.tok != nil {
		if !t.Before(d.close) {
			if d.resultYes() {
				return 1
			}
			return 0
		}
		s, err := d.tok.at(t)
		if err != nil {
			return 0.5
		}
		tau := float64(d.close.Sub(t)) / float64(year)
		sig := d.tok.spec.Vol * math.Sqrt(tau)
		d2 := (math.Log(s/d.strike) - 0.5*sig*sig) / sig
		p := normCDF(d2)
		if !d.above {
			p = 1 - p
		}
		return p
	}
	if !t.Before(d.close) {
		if d.evYes {
			return 1
		}
		return 0
	}
	life := float64(d.close.Sub(d.open))
	u := min(max(float64(t.Sub(d.open))/life, 0), 1)
	noise := 0.55*valueNoise(d.key, t, day, 0) + 0.2*valueNoise(d.key, t, 6*time.Hour, 1) + 0.06*valueNoise(d.key, t, 20*time.Minute, 2)
	// Information arrives as the close nears: the path is pulled towards the
	// (pre-drawn) result, gently at first.
	target := -5.0
	if d.evYes {
		target = 5.0
	}
	w := u * u * u * u
	l := (1-w)*(d.logitP0+noise) + w*target
	return 1 / (1 + math.Exp(-l))
}

// valueNoise is a smooth deterministic noise in about [-2,2]: normal values at
// knots every period, interpolated with a smoothstep.
func valueNoise(key uint64, t time.Time, period time.Duration, layer uint64) float64 {
	x := float64(t.Unix()) / period.Seconds()
	k := math.Floor(x)
	f := x - k
	f = f * f * (3 - 2*f)
	a := gauss(hash4(key, layer, streamNoise, uint64(int64(k))))
	b := gauss(hash4(key, layer, streamNoise, uint64(int64(k)+1)))
	return a + f*(b-a)
}

// resultYes reports whether Yes wins. Only meaningful once the market closed.
func (d *marketDef) resultYes() bool {
	if d.tok != nil {
		s, err := d.tok.at(d.close)
		if err != nil {
			return false
		}
		if d.above {
			return s > d.strike
		}
		return s < d.strike
	}
	return d.evYes
}

// ---- catalogue --------------------------------------------------------------

// catalogue is the set of markets listed on one UTC day, sorted by (close, id).
// Listing boundaries fall on 00:00 UTC for crypto markets; the exact listing
// test (open <= now < listedUntil) is applied per query.
type catalogue struct {
	day  time.Time
	defs []*marketDef
	byID map[string]*marketDef
}

func (v *Venue) catalogue(now time.Time) *catalogue {
	d := now.UTC().Truncate(day)
	v.catMu.Lock()
	defer v.catMu.Unlock()
	if v.cat != nil && v.cat.day.Equal(d) {
		return v.cat
	}
	c := v.buildCatalogue(d)
	v.cat = c
	return c
}

func (v *Venue) buildCatalogue(d time.Time) *catalogue {
	c := &catalogue{day: d, byID: make(map[string]*marketDef)}
	add := func(m *marketDef) {
		if m == nil || !m.open.Before(d.Add(day)) || !m.listedUntil.After(d) {
			return
		}
		if _, dup := c.byID[m.id]; dup {
			return
		}
		c.byID[m.id] = m
		c.defs = append(c.defs, m)
	}
	// Crypto ladders: every expiry date whose listing window touches day d.
	for e := d.Add(-v.opts.Retention - 2*day); !e.After(d.Add(367 * day)); e = e.Add(day) {
		h := expiryHorizon(e)
		if h == 0 || !e.Add(-h).Before(d.Add(day)) || !e.Add(day+v.opts.SettleDelay+v.opts.Retention).After(d) {
			continue
		}
		for _, p := range v.prices.paths {
			if p.spec.LadderBy == 0 {
				continue
			}
			for _, ls := range v.strikes(p, e, d) {
				add(v.cryptoDef(p, ls.k, true, e, ls.first))
				add(v.cryptoDef(p, ls.k, false, e, ls.first))
			}
		}
	}
	// Event markets.
	for _, t := range eventTemplates {
		for _, in := range t.sched(d.Add(-v.opts.Retention-2*day), d.Add(t.horizon+2*day)) {
			add(v.eventDef(t, in))
		}
	}
	sort.Slice(c.defs, func(i, j int) bool {
		a, b := c.defs[i], c.defs[j]
		if !a.close.Equal(b.close) {
			return a.close.Before(b.close)
		}
		return a.sortKey < b.sortKey
	})
	return c
}

// expiryHorizon returns how long before expiry date e (00:00 UTC) its crypto
// markets are listed: 14 days for Fridays, 62 for month ends, 183 for quarter
// ends, 366 for the year end; 0 when e is no expiry.
func expiryHorizon(e time.Time) time.Duration {
	h := time.Duration(0)
	if e.Weekday() == time.Friday {
		h = 14 * day
	}
	if e.AddDate(0, 0, 1).Day() == 1 {
		h = 62 * day
		if e.Month()%3 == 0 {
			h = 183 * day
		}
		if e.Month() == time.December {
			h = 366 * day
		}
	}
	return h
}

const ladderHalf = 5 // strikes each side of a day's centre

// listedStrike is a strike of an expiry's ladder and the day it was added.
type listedStrike struct {
	k     float64
	first time.Time
}

// strikes returns the ladder of one token and expiry date as listed through
// day `through`: from the expiry's listing day on, each day adds ladderHalf
// round strikes each side of that day's opening price, spaced by a step that
// narrows as the expiry nears (about two standard deviations of the remaining
// horizon over ladderHalf strikes, rounded to a multiple of the token's base
// step such as $5,000 for BTC). Strikes are never removed, so a listed market
// stays listed; a strike's market opens on the day it was added.
func (v *Venue) strikes(p *tokenPath, e, through time.Time) []listedStrike {
	open := e.Add(-expiryHorizon(e))
	if open.Before(p.start) {
		return nil
	}
	closeT := e.Add(day - time.Second)
	last := through.Truncate(day)
	if last.After(e) {
		last = e
	}
	var out []listedStrike
	seen := map[float64]bool{}
	for d := open; !d.After(last); d = d.Add(day) {
		s0 := p.dayStartPrice(d)
		tau := float64(closeT.Sub(d)) / float64(year)
		up := s0 * (math.Exp(2*p.spec.Vol*math.Sqrt(tau)) - 1)
		step := niceStep(p.spec.LadderBy, up/ladderHalf)
		centre := math.Round(s0/step) * step
		for i := -ladderHalf; i <= ladderHalf; i++ {
			k := roundSig(centre+float64(i)*step, 10)
			if k <= 0 || seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, listedStrike{k, d})
		}
	}
	return out
}

func niceStep(base, min float64) float64 {
	for _, m := range []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000} {
		if s := roundSig(base*m, 6); s >= min {
			return s
		}
	}
	return roundSig(base*1000, 6)
}

func roundSig(x float64, sig int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', sig, 64), 64)
	return f
}

func fmtStrike(k float64) string { return strconv.FormatFloat(k, 'f', -1, 64) }

// fmtUSD formats a dollar amount with thousands separators: $120,000, $2.25.
func fmtUSD(x float64) string {
	s := fmtStrike(x)
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return "$" + b.String()
}

func cryptoID(sym string, k float64, above bool, e time.Time) string {
	dir := "BELOW"
	if above {
		dir = "ABOVE"
	}
	return sym + "-" + dir + "-" + fmtStrike(k) + "-" + e.Format(time.DateOnly)
}

func (v *Venue) cryptoDef(p *tokenPath, k float64, above bool, e, open time.Time) *marketDef {
	sym := p.spec.Symbol
	date := e.Format(time.DateOnly)
	dir, cmp := "below", "strictly below"
	if above {
		dir, cmp = "above", "strictly above"
	}
	closeT := e.Add(day - time.Second)
	m := &marketDef{
		id:       cryptoID(sym, k, above, e),
		question: fmt.Sprintf("Will %s close %s %s on %s?", sym, dir, fmtUSD(k), date),
		rules: fmt.Sprintf("Resolves Yes if the paper venue's simulated %s/USD price at 23:59:59 UTC on %s is %s %s, otherwise No. "+
			"Simulated market: the price comes from the paper venue's seeded price model, not from a real exchange. "+
			"Trading closes at 23:59:59 UTC on %s; the market settles %s later and winning contracts pay $1.",
			sym, date, cmp, fmtUSD(k), date, v.opts.SettleDelay),
		category: "crypto",
		tags:     []string{p.spec.Name, "crypto price"},
		open:     open,
		close:    closeT,
		tok:      p,
		strike:   k,
		above:    above,
	}
	m.finish(v)
	m.liq = 60 + 500*p.spec.Liquidity*(0.6+0.8*unit(hash4(uint64(v.opts.Seed), m.key, streamLiquid, 0)))
	return m
}

func (v *Venue) eventDef(t *eventTemplate, in eventInst) *marketDef {
	m := &marketDef{
		id:       t.key + "-" + in.code,
		question: t.question(in),
		rules:    t.rules + eventPaperNote,
		category: t.category,
		tags:     eventTags[t.key],
		open:     in.close.Add(-t.horizon).Truncate(day),
		close:    in.close,
		ev:       t,
	}
	m.finish(v)
	seed := uint64(v.opts.Seed)
	l0 := math.Log(t.base/(1-t.base)) + 0.6*gauss(hash4(seed, m.key, streamEvent, 0))
	m.logitP0 = l0
	p0 := 1 / (1 + math.Exp(-l0))
	m.evYes = unit(hash4(seed, m.key, streamOutcome, 0)) < p0
	m.liq = 80 + 400*t.weight*(0.6+0.8*unit(hash4(seed, m.key, streamLiquid, 0)))
	return m
}

func (m *marketDef) finish(v *Venue) {
	m.key = strHash(m.id)
	m.sortKey = m.id
	if m.tok != nil {
		dir := "B"
		if m.above {
			dir = "A"
		}
		m.sortKey = fmt.Sprintf("%s|%s|%024.10f", m.tok.spec.Symbol, dir, m.strike)
	}
	m.settle = m.close.Add(v.opts.SettleDelay)
	m.listedUntil = m.settle.Add(v.opts.Retention)
	m.hay = searchText(m.question+" "+m.rules+" "+m.id) + strings.ToLower(m.id) + " "
	m.volRate = 200 + 3000*unit(hash4(uint64(v.opts.Seed), m.key, streamMarket, 0))
	if m.tok != nil {
		m.volRate *= 0.3 + m.tok.spec.Liquidity
	}
}

// defByID parses a native id into its definition without consulting the
// listing, so stored orders and positions keep working after the market has
// rotated out of the listing. ok is false for ids the venue never lists.
func (v *Venue) defByID(id string) (*marketDef, bool) {
	if m, ok := v.catalogue(v.now()).byID[id]; ok {
		return m, true
	}
	v.catMu.Lock()
	m, ok := v.defCache[id]
	v.catMu.Unlock()
	if ok {
		return m, m != nil
	}
	m = v.parseDef(id)
	v.catMu.Lock()
	v.defCache[id] = m
	v.catMu.Unlock()
	return m, m != nil
}

func (v *Venue) parseDef(id string) *marketDef {
	// Crypto: SYM-ABOVE|BELOW-K-YYYY-MM-DD
	if len(id) > 11 && id[len(id)-11] == '-' {
		if e, err := time.Parse(time.DateOnly, id[len(id)-10:]); err == nil {
			parts := strings.SplitN(id[:len(id)-11], "-", 3)
			if len(parts) == 3 && (parts[1] == "ABOVE" || parts[1] == "BELOW") {
				p, err := v.prices.path(parts[0])
				if err != nil || p.spec.Symbol != parts[0] || p.spec.LadderBy == 0 || expiryHorizon(e) == 0 {
					return nil
				}
				k, err := strconv.ParseFloat(parts[2], 64)
				if err != nil || k <= 0 || fmtStrike(k) != parts[2] {
					return nil
				}
				for _, ls := range v.strikes(p, e, v.now()) {
					if ls.k == k {
						return v.cryptoDef(p, k, parts[1] == "ABOVE", e, ls.first)
					}
				}
				return nil
			}
		}
	}
	// Events: KEY-CODE; find the instance by scanning its schedule around the code's year.
	for _, t := range eventTemplates {
		code, ok := strings.CutPrefix(id, t.key+"-")
		if !ok || len(code) < 4 {
			continue
		}
		y, err := strconv.Atoi(code[:4])
		if err != nil || y < 2000 || y > 2099 {
			continue
		}
		from := time.Date(y-1, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, in := range t.sched(from, from.AddDate(3, 0, 0)) {
			if in.code == code {
				return v.eventDef(t, in)
			}
		}
	}
	return nil
}

// listed returns the market with this native id if it is listed at now.
func (v *Venue) listed(nativeID string, now time.Time) (*marketDef, error) {
	id := strings.TrimSpace(nativeID)
	if venue, native, ok := sibyl.SplitMarketID(id); ok && venue == v.opts.Name {
		id = native
	}
	c := v.catalogue(now)
	m, ok := c.byID[id]
	if !ok {
		m, ok = c.byID[strings.ToUpper(id)]
	}
	if !ok || now.Before(m.open) || !now.Before(m.listedUntil) {
		return nil, &sibyl.Error{Code: sibyl.NotFound, Field: "market_id",
			Message: fmt.Sprintf("no paper market %q; use search_markets to find market ids (such as %s)", nativeID, v.exampleID(now))}
	}
	return m, nil
}

func (v *Venue) exampleID(now time.Time) string {
	c := v.catalogue(now)
	for _, m := range c.defs {
		if m.tok != nil && m.status(now) == sibyl.StatusOpen {
			return v.opts.Name + ":" + m.id
		}
	}
	return v.opts.Name + ":BTC-ABOVE-100000-" + now.Format(time.DateOnly)
}

// ---- market makers -------------------------------------------------------

const (
	mmLevels = 5
	ticks    = 100 // prices are integer cents 1..99
)

// mmQuote is the simulated market makers' resting liquidity on the Yes book in
// one refresh bucket: sizes by tick (index 0 unused).
type mmQuote struct {
	bid, ask [ticks]int64
}

// bucketOf returns the market-maker refresh bucket containing t and its start.
func (v *Venue) bucketOf(t time.Time) (int64, time.Time) {
	r := int64(v.opts.MMRefresh)
	b := t.UnixNano() / r
	if t.UnixNano() < 0 && t.UnixNano()%r != 0 {
		b--
	}
	return b, time.Unix(0, b*r).UTC()
}

func (v *Venue) bucketIndex(t time.Time) int64 { b, _ := v.bucketOf(t); return b }

// quotes computes the market makers' quotes for a market in a bucket. They
// depend only on the seed, the market and the bucket.
func (v *Venue) quotes(m *marketDef, bucket int64, start time.Time) (q mmQuote) {
	if !start.Before(m.close) || start.Before(m.open) {
		return q
	}
	f := m.fair(start) * 100
	seed := uint64(v.opts.Seed)
	hs := 1 + unit(hash4(seed, m.key, streamSpread, uint64(bucket)))
	bb := int(math.Floor(f - hs))
	ba := int(math.Ceil(f + hs))
	p := f / 100
	base := m.liq * (0.3 + 2.8*p*(1-p))
	for i := 0; i < mmLevels; i++ {
		for side := 0; side < 2; side++ {
			t := bb - i
			if side == 1 {
				t = ba + i
			}
			if t < 1 || t > 99 {
				continue
			}
			u := unit(hash4(seed, m.key, streamMM, uint64(bucket)*16+uint64(side*8+i)))
			size := int64(math.Round(base * (1 + 0.6*float64(i)) * (0.5 + u)))
			size = max(size, 1)
			if side == 0 {
				q.bid[t] = size
			} else {
				q.ask[t] = size
			}
		}
	}
	return q
}

// ---- building the public view ---------------------------------------------

func tickPrice(t int) float64 { return float64(t) / 100 }

func roundTick(p float64) int { return min(max(int(math.Round(p*100)), 1), 99) }

// volumeAt is the simulated cumulative volume at t: a deterministic, increasing
// function of the time since the market opened.
func (m *marketDef) volumeAt(t time.Time) float64 {
	if t.After(m.close) {
		t = m.close
	}
	days := float64(t.Sub(m.open)) / float64(day)
	if days <= 0 {
		return 0
	}
	return math.Floor(m.volRate * math.Pow(days, 0.85))
}

// marketView builds the public Market. top holds the merged Yes book's best
// bid and ask (ticks, sizes; 0 = none) and the last traded tick (0 = model).
func (v *Venue) marketView(m *marketDef, now time.Time, bb, bs, ba, as, last int) sibyl.Market {
	st := m.status(now)
	out := sibyl.Market{
		ID:         v.opts.Name + ":" + m.id,
		Venue:      v.opts.Name,
		NativeID:   m.id,
		Question:   m.question,
		Rules:      m.rules,
		Category:   m.category,
		Tags:       slices.Clone(m.tags),
		Status:     st,
		OpenTime:   m.open,
		CloseTime:  m.close,
		TickSize:   0.01,
		OrderRules: Rules(),
		Simulated:  true,
		UpdatedAt:  now,
	}
	if m.tok != nil {
		out.Underlying = &sibyl.PriceCondition{Symbol: m.tok.spec.Symbol, Strike: m.strike, Direction: "below", Expiry: m.close}
		if m.above {
			out.Underlying.Direction = "above"
		}
	}
	out.Volume = m.volumeAt(now)
	out.Volume24h = out.Volume - m.volumeAt(now.Add(-day))
	u := min(max(float64(now.Sub(m.open))/float64(m.close.Sub(m.open)), 0), 1)
	out.OpenInterest = math.Floor(out.Volume * (0.25 + 0.2*u))
	if st == sibyl.StatusSettled {
		out.OpenInterest = 0
	}

	yes := sibyl.Outcome{Name: "Yes", TokenID: m.id + "-YES"}
	no := sibyl.Outcome{Name: "No", TokenID: m.id + "-NO"}
	switch st {
	case sibyl.StatusSettled:
		if m.resultYes() {
			out.Result = "Yes"
			yes.Last, no.Last = 1, 0
		} else {
			out.Result = "No"
			yes.Last, no.Last = 0, 1
		}
	default:
		if last == 0 {
			// the model's price one bucket ago, as the last trade
			lt := now.Add(-v.opts.MMRefresh)
			if st == sibyl.StatusClosed {
				lt = m.close.Add(-v.opts.MMRefresh)
			}
			last = roundTick(m.fair(lt))
		}
		yes.Last, no.Last = tickPrice(last), tickPrice(100-last)
	}
	if bb > 0 {
		yes.Bid, yes.BidSize = tickPrice(bb), float64(bs)
		no.Ask, no.AskSize = tickPrice(100-bb), float64(bs)
	}
	if ba > 0 {
		yes.Ask, yes.AskSize = tickPrice(ba), float64(as)
		no.Bid, no.BidSize = tickPrice(100-ba), float64(as)
	}
	out.Outcomes = []sibyl.Outcome{yes, no}
	sibyl.ApplyPriceRule(&out)
	return out
}

// searchText lower-cases s, drops thousands separators and "$", and returns
// its words (runs of letters, digits and inner dots) as " w1 w2 ... ", so that
// a query word matches at the start of a word: "sol" finds SOL but not
// "resolves".
func searchText(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	b.WriteByte(' ')
	word := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteByte(c)
			word = true
		case (c == ',' || c == '.') && word && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' && s[i-1] >= '0' && s[i-1] <= '9':
			if c == '.' {
				b.WriteByte(c)
			}
		default:
			if word {
				b.WriteByte(' ')
				word = false
			}
		}
	}
	if word {
		b.WriteByte(' ')
	}
	return b.String()
}
