package paper

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/sibylmcp/sibyl"
)

// Candle is one OHLCV bar of a simulated token: Time is the bar's open time
// (UTC), prices are in USD and Volume is in units of the token.
type Candle struct {
	Time   time.Time
	Open   float64
	High   float64
	Low    float64
	Close  float64
	Volume float64
}

const (
	day  = 24 * time.Hour
	year = 365 * day

	garchAlpha = 0.08
	garchBeta  = 0.90
	jumpPerDay = 0.03 // jump intensity (jumps per day)
	jumpShare  = 0.25 // share of total variance that comes from jumps
	// reversion pulls the free-running path (after the last anchor) towards the
	// last anchor's level, 1/250 of the log gap a day, so the simulated world
	// stays in a familiar range for years without changing daily volatility.
	reversion = 1.0 / 250

	maxCandles = 24 * 400 // per call
)

// latestYear bounds how far ahead prices may be computed.
var latestTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// tokenPath is one token's daily log-price path, simulated sequentially and
// cached: logC[d] is the log price at start+d days (00:00 UTC), sig[d] the daily
// diffusion volatility of day d. The path is a pure function of the seed, so
// extending the cache never changes a value already computed.
type tokenPath struct {
	spec  *tokenSpec
	key   uint64
	seed  uint64
	start time.Time

	mu    sync.RWMutex
	logC  []float64
	sig   []float64
	h     float64 // GARCH variance of the next day to simulate
	level float64 // log price of the last anchor
	diffV float64 // unconditional diffusion variance per day
	jumpS float64 // jump size standard deviation

	cacheMu sync.Mutex
	cache   [8]spotEntry // recent at() results; the same instants recur (bucket starts)
	cacheN  int
}

type spotEntry struct {
	t int64
	p float64
}

func newTokenPath(seed int64, spec *tokenSpec) *tokenPath {
	p := &tokenPath{spec: spec, key: strHash(spec.Symbol), seed: uint64(seed), start: mustDate(spec.Anchors[0].date)}
	v := spec.Vol * spec.Vol / 365
	p.diffV = v * (1 - jumpShare)
	p.jumpS = math.Sqrt(v * jumpShare / jumpPerDay)
	p.h = p.diffV

	// Simulate raw returns through the last anchor, then bridge each segment so
	// the path passes through every anchor exactly.
	last := mustDate(spec.Anchors[len(spec.Anchors)-1].date)
	n := int(last.Sub(p.start) / day)
	raw := make([]float64, n)
	p.sig = make([]float64, 0, n+400)
	for d := 0; d < n; d++ {
		raw[d] = p.step(d)
	}
	p.logC = make([]float64, n+1, n+400)
	p.logC[0] = math.Log(spec.Anchors[0].price)
	p.level = math.Log(spec.Anchors[len(spec.Anchors)-1].price)
	for i := 0; i+1 < len(spec.Anchors); i++ {
		a := int(mustDate(spec.Anchors[i].date).Sub(p.start) / day)
		b := int(mustDate(spec.Anchors[i+1].date).Sub(p.start) / day)
		sum := 0.0
		for d := a; d < b; d++ {
			sum += raw[d]
		}
		drift := (math.Log(spec.Anchors[i+1].price) - math.Log(spec.Anchors[i].price) - sum) / float64(b-a)
		for d := a; d < b; d++ {
			p.logC[d+1] = p.logC[d] + raw[d] + drift
		}
	}
	return p
}

// step simulates day d's raw log return and appends its volatility. It must be
// called for d = 0, 1, 2, ... in order.
func (p *tokenPath) step(d int) float64 {
	s := math.Sqrt(p.h)
	eps := s * gauss(hash4(p.seed, p.key, streamDaily, uint64(d)))
	r := eps
	if unit(hash4(p.seed, p.key, streamJump, uint64(d))) < jumpPerDay {
		r += p.jumpS * gauss(hash4(p.seed, p.key, streamJumpSz, uint64(d)))
	}
	p.sig = append(p.sig, s)
	omega := p.diffV * (1 - garchAlpha - garchBeta)
	p.h = omega + garchAlpha*eps*eps + garchBeta*p.h
	p.h = min(max(p.h, 0.25*p.diffV), 6*p.diffV)
	return r
}

// ensure makes logC[d+1] and sig[d] available.
func (p *tokenPath) ensure(d int) {
	p.mu.RLock()
	ok := d+1 < len(p.logC)
	p.mu.RUnlock()
	if ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.logC) <= d+1 {
		k := len(p.logC) - 1
		r := p.step(k) - reversion*(p.logC[k]-p.level)
		p.logC = append(p.logC, p.logC[k]+r)
	}
}

// dayData returns the log open, log close and diffusion volatility of day d.
func (p *tokenPath) dayData(d int) (lo, lc, s float64) {
	p.ensure(d)
	p.mu.RLock()
	lo, lc, s = p.logC[d], p.logC[d+1], p.sig[d]
	p.mu.RUnlock()
	return
}

// hourPoints fills pts[0..24] with the log prices at each hour of day d: a
// Brownian bridge between the day's open and close.
func (p *tokenPath) hourPoints(d int, pts *[25]float64) (s float64) {
	lo, lc, s := p.dayData(d)
	var w [25]float64
	scale := 1 / math.Sqrt(24)
	for j := 0; j < 24; j++ {
		w[j+1] = w[j] + scale*gauss(hash4(p.seed, p.key, streamHour, uint64(d*24+j)))
	}
	for h := 0; h <= 24; h++ {
		f := float64(h) / 24
		pts[h] = lo + f*(lc-lo) + s*(w[h]-f*w[24])
	}
	pts[0], pts[24] = lo, lc
	return s
}

// minutePoints fills pts[0..60] with the log prices at each minute of hour h
// of day d, bridged between the hour points a and b.
func (p *tokenPath) minutePoints(d, h int, a, b, s float64, pts *[61]float64) {
	var w [61]float64
	scale := 1 / math.Sqrt(60)
	base := uint64(d*24+h) * 60
	for j := 0; j < 60; j++ {
		w[j+1] = w[j] + scale*gauss(hash4(p.seed, p.key, streamMinute, base+uint64(j)))
	}
	sh := s / math.Sqrt(24)
	for m := 0; m <= 60; m++ {
		f := float64(m) / 60
		pts[m] = a + f*(b-a) + sh*(w[m]-f*w[60])
	}
	pts[0], pts[60] = a, b
}

// at returns the price at t (linear between minute points).
func (p *tokenPath) at(t time.Time) (float64, error) {
	if t.Before(p.start) {
		return 0, sibyl.Errorf(sibyl.NotFound, "%s has no price before %s (its simulated history starts then)", p.spec.Symbol, p.start.Format(time.DateOnly))
	}
	if !t.Before(latestTime) {
		return 0, sibyl.Errorf(sibyl.Invalid, "no simulated prices after %s", latestTime.Format(time.DateOnly))
	}
	key := t.UnixNano()
	p.cacheMu.Lock()
	for _, e := range p.cache {
		if e.t == key && e.p != 0 {
			p.cacheMu.Unlock()
			return e.p, nil
		}
	}
	p.cacheMu.Unlock()
	px := p.compute(t)
	p.cacheMu.Lock()
	p.cache[p.cacheN%len(p.cache)] = spotEntry{key, px}
	p.cacheN++
	p.cacheMu.Unlock()
	return px, nil
}

func (p *tokenPath) compute(t time.Time) float64 {
	off := t.Sub(p.start)
	d := int(off / day)
	rem := off - time.Duration(d)*day
	h := int(rem / time.Hour)
	rem -= time.Duration(h) * time.Hour
	m := int(rem / time.Minute)
	frac := float64(rem-time.Duration(m)*time.Minute) / float64(time.Minute)
	var hp [25]float64
	s := p.hourPoints(d, &hp)
	var mp [61]float64
	p.minutePoints(d, h, hp[h], hp[h+1], s, &mp)
	return math.Exp(mp[m] + frac*(mp[m+1]-mp[m]))
}

// dayOpenLog returns the log price at 00:00 UTC of the day containing t (t on a
// day boundary gives that exact point).
func (p *tokenPath) dayStartPrice(t time.Time) float64 {
	d := int(t.Sub(p.start) / day)
	lo, _, _ := p.dayData(d)
	return math.Exp(lo)
}

func (p *tokenPath) dailyCandle(d int) Candle {
	var hp [25]float64
	s := p.hourPoints(d, &hp)
	hi, lo := hp[0], hp[0]
	for _, x := range hp {
		hi = max(hi, x)
		lo = min(lo, x)
	}
	// The hourly points miss the extremes between them; widen a little.
	ext := s / math.Sqrt(24)
	hi += ext * math.Abs(gauss(hash4(p.seed, p.key, streamRange, uint64(2*d))))
	lo -= ext * math.Abs(gauss(hash4(p.seed, p.key, streamRange, uint64(2*d+1))))
	o, c := math.Exp(hp[0]), math.Exp(hp[24])
	r := math.Abs(hp[24]-hp[0]) / math.Sqrt(p.spec.Vol*p.spec.Vol/365)
	volUSD := p.spec.DailyUSD * math.Exp(0.35*gauss(hash4(p.seed, p.key, streamVolume, uint64(d)))) * (0.7 + 0.3*min(r, 4))
	return Candle{
		Time:   p.start.Add(time.Duration(d) * day),
		Open:   o,
		High:   math.Exp(hi),
		Low:    math.Exp(lo),
		Close:  c,
		Volume: volUSD / ((o + c) / 2),
	}
}

func (p *tokenPath) hourlyCandle(d, h int, hp *[25]float64, s float64) Candle {
	var mp [61]float64
	p.minutePoints(d, h, hp[h], hp[h+1], s, &mp)
	hi, lo := mp[0], mp[0]
	for _, x := range mp {
		hi = max(hi, x)
		lo = min(lo, x)
	}
	o, c := math.Exp(mp[0]), math.Exp(mp[60])
	vol := p.spec.DailyUSD / 24 * math.Exp(0.4*gauss(hash4(p.seed, p.key, streamVolume, uint64(1<<40+d*24+h))))
	return Candle{
		Time:   p.start.Add(time.Duration(d)*day + time.Duration(h)*time.Hour),
		Open:   o,
		High:   math.Exp(hi),
		Low:    math.Exp(lo),
		Close:  c,
		Volume: vol / ((o + c) / 2),
	}
}

// priceModel holds every token's path.
type priceModel struct {
	paths  []*tokenPath
	bySym  map[string]*tokenPath
	tokens []string
}

func newPriceModel(seed int64) *priceModel {
	m := &priceModel{bySym: make(map[string]*tokenPath, len(tokenSpecs))}
	for i := range tokenSpecs {
		p := newTokenPath(seed, &tokenSpecs[i])
		m.paths = append(m.paths, p)
		m.bySym[p.spec.Symbol] = p
		m.tokens = append(m.tokens, p.spec.Symbol)
	}
	return m
}

func (m *priceModel) path(symbol string) (*tokenPath, error) {
	s := strings.ToUpper(strings.TrimSpace(symbol))
	if a, ok := symbolAliases[s]; ok {
		s = a
	}
	p, ok := m.bySym[s]
	if !ok {
		return nil, &sibyl.Error{Code: sibyl.NotFound, Field: "symbol",
			Message: fmt.Sprintf("unknown token %q; the paper venue simulates %s", symbol, strings.Join(m.tokens, ", "))}
	}
	return p, nil
}

// Tokens returns the symbols of the simulated tokens, in a fixed order.
func (v *Venue) Tokens() []string {
	return append([]string(nil), v.prices.tokens...)
}

// TokenName returns a token's display name (such as "Bitcoin"), or a NotFound
// error for an unknown symbol.
func (v *Venue) TokenName(symbol string) (string, error) {
	p, err := v.prices.path(symbol)
	if err != nil {
		return "", err
	}
	return p.spec.Name, nil
}

// Volatility returns the annualised volatility the price model uses for a
// token (the same number prices its prediction markets), or NotFound.
func (v *Venue) Volatility(symbol string) (float64, error) {
	p, err := v.prices.path(symbol)
	if err != nil {
		return 0, err
	}
	return p.spec.Vol, nil
}

// Spot returns the simulated price of symbol now (by the venue's clock) and the
// time it is for. Unknown symbols give a NotFound error (Field "symbol").
func (v *Venue) Spot(symbol string) (float64, time.Time, error) {
	now := v.now()
	p, err := v.PriceAt(symbol, now)
	return p, now, err
}

// PriceAt returns the simulated price of symbol at t. It depends only on the
// seed, the symbol and t. Times before the token's history starts give NotFound.
func (v *Venue) PriceAt(symbol string, t time.Time) (float64, error) {
	p, err := v.prices.path(symbol)
	if err != nil {
		return 0, err
	}
	return p.at(t.UTC())
}

// DailyCandles returns the completed UTC-day candles of symbol whose open time
// lies in [from, to], oldest first. The current (incomplete) day is not
// included; use HourlyCandles or Spot for it. History starts 2020-01-01 or at
// the token's listing. At most 9600 candles per call (Invalid otherwise).
func (v *Venue) DailyCandles(symbol string, from, to time.Time) ([]Candle, error) {
	p, err := v.prices.path(symbol)
	if err != nil {
		return nil, err
	}
	d0, d1, err := candleRange(p, from, to, v.now(), day)
	if err != nil || d1 < d0 {
		return nil, err
	}
	out := make([]Candle, 0, d1-d0+1)
	for d := d0; d <= d1; d++ {
		out = append(out, p.dailyCandle(d))
	}
	return out, nil
}

// HourlyCandles returns the completed hourly candles of symbol whose open time
// lies in [from, to], oldest first; at most 9600 per call (Invalid otherwise).
func (v *Venue) HourlyCandles(symbol string, from, to time.Time) ([]Candle, error) {
	p, err := v.prices.path(symbol)
	if err != nil {
		return nil, err
	}
	i0, i1, err := candleRange(p, from, to, v.now(), time.Hour)
	if err != nil || i1 < i0 {
		return nil, err
	}
	out := make([]Candle, 0, i1-i0+1)
	var hp [25]float64
	cur, s := -1, 0.0
	for i := i0; i <= i1; i++ {
		d, h := i/24, i%24
		if d != cur {
			s = p.hourPoints(d, &hp)
			cur = d
		}
		out = append(out, p.hourlyCandle(d, h, &hp, s))
	}
	return out, nil
}

// candleRange converts [from, to] to bar indices counted from the token's
// start, keeping only bars that have completed by now.
func candleRange(p *tokenPath, from, to, now time.Time, bar time.Duration) (int, int, error) {
	if to.Before(from) {
		return 0, 0, sibyl.FieldErrorf(sibyl.Invalid, "to", "to (%s) is before from (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	if from.Before(p.start) {
		from = p.start
	}
	last := now.Add(-bar) // the newest bar open time that has completed
	if to.After(last) {
		to = last
	}
	if to.Before(from) {
		return 0, -1, nil
	}
	// First bar whose open time is >= from.
	i0 := int((from.Sub(p.start) + bar - 1) / bar)
	i1 := int(to.Sub(p.start) / bar)
	if i1-i0+1 > maxCandles {
		return 0, 0, sibyl.FieldErrorf(sibyl.Invalid, "from", "%d candles requested; at most %d per call, narrow the range", i1-i0+1, maxCandles)
	}
	return i0, i1, nil
}
