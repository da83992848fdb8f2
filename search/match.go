package search

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sibylmcp/sibyl"
)

// Field weights: a word in the question or the tags says more than one in the
// rules.
const (
	weightQuestion = 3.0
	weightTags     = 3.0
	weightID       = 2.0
	weightCategory = 2.0
	weightRules    = 1.0
)

// doc is a market prepared for matching: the market and its text's parts.
type doc struct {
	m *sibyl.Market
	*text
}

// text is what matching reads of a market's words; it depends only on the
// market's text, so an Index keeps it between searches.
type text struct {
	words map[string]float64 // word (singular, lower-case) -> best field weight
	nums  []float64          // numbers in the question, and the strike
	dates []time.Time        // ISO dates in the question
	spans [][2]time.Time     // months named with a year in the question ("January 2027")
}

func isISODate(tok string) bool { return len(tok) == 10 && tok[4] == '-' && tok[7] == '-' }

func newText(m *sibyl.Market) *text {
	d := &text{words: make(map[string]float64, 64)}
	add := func(s string, w float64, numbers bool) {
		toks := tokenize(s)
		for i, tok := range toks {
			if isISODate(tok) {
				if t, err := time.Parse("2006-01-02", tok); err == nil {
					if numbers {
						d.dates = append(d.dates, t)
					}
					continue
				}
			}
			if qn, ok := quarter(tok); ok && numbers && i+1 < len(toks) {
				if y, err := strconv.Atoi(toks[i+1]); err == nil && y >= 2000 && y <= 2100 {
					from := time.Date(y, time.Month(3*qn-2), 1, 0, 0, 0, 0, time.UTC)
					d.spans = append(d.spans, [2]time.Time{from, from.AddDate(0, 3, 0)})
				}
			}
			if mo, ok := months[tok]; ok && numbers && i+1 < len(toks) {
				if y, err := strconv.Atoi(toks[i+1]); err == nil && y >= 2000 && y <= 2100 {
					from := time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC)
					d.spans = append(d.spans, [2]time.Time{from, from.AddDate(0, 1, 0)})
				}
			}
			if hasDigit(tok) {
				if v, ok := amount(tok); ok {
					if numbers {
						d.nums = append(d.nums, v)
					}
					continue
				}
			}
			for _, part := range strings.FieldsFunc(tok, func(r rune) bool { return r == '-' }) {
				part = singular(part)
				if d.words[part] < w {
					d.words[part] = w
				}
			}
		}
	}
	add(m.Rules, weightRules, false)
	add(m.Category, weightCategory, false)
	add(m.NativeID, weightID, false) // its words; its numbers are the question's
	for _, t := range m.Tags {
		add(t, weightTags, false)
	}
	add(m.Question, weightQuestion, true)
	if u := m.Underlying; u != nil {
		d.nums = append(d.nums, u.Strike)
		for _, w := range []string{strings.ToLower(u.Symbol), u.Direction} {
			if d.words[w] < weightQuestion {
				d.words[w] = weightQuestion
			}
		}
	}
	return d
}

func newDoc(m *sibyl.Market) *doc { return &doc{m: m, text: newText(m)} }

// Index remembers the text of markets it has seen, so that ranking the same
// markets again does not read their words again. The zero value is ready; it
// is safe for concurrent use and forgets everything past maxIndexed markets.
type Index struct {
	mu    sync.Mutex
	texts map[string]*text
}

const maxIndexed = 100000

// textKey is what a market's text depends on.
func textKey(m *sibyl.Market) string {
	k := m.ID + "\x00" + m.Question + "\x00" + m.Category + "\x00" + strings.Join(m.Tags, "\x01") + "\x00" + strconv.Itoa(len(m.Rules))
	if m.Underlying != nil {
		k += "\x00" + strconv.FormatFloat(m.Underlying.Strike, 'g', -1, 64)
	}
	return k
}

func (x *Index) docs(cands []sibyl.Market) []*doc {
	out := make([]*doc, len(cands))
	if x == nil {
		for i := range cands {
			out[i] = newDoc(&cands[i])
		}
		return out
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.texts == nil || len(x.texts) > maxIndexed {
		x.texts = map[string]*text{}
	}
	for i := range cands {
		m := &cands[i]
		k := textKey(m)
		t, ok := x.texts[k]
		if !ok {
			t = newText(m)
			x.texts[k] = t
		}
		out[i] = &doc{m: m, text: t}
	}
	return out
}

// score returns how well term t matches the market (0: not at all).
func (d *doc) score(t Term) float64 {
	switch t.Kind {
	case Word:
		return d.wordScore(t)
	case Amount:
		return d.amountScore(t.Value)
	case Period:
		s := d.periodScore(t)
		if t.YearOrAmount {
			s = math.Max(s, d.amountScore(t.Value))
		}
		return s
	}
	return 0
}

func (d *doc) wordScore(t Term) float64 {
	best := 0.0
	for i, f := range t.Words {
		k := 1.0
		if i > 0 {
			k = 0.9 // a synonym
		}
		if w, ok := d.words[f]; ok {
			best = math.Max(best, k*w)
			continue
		}
		if len(f) >= 3 {
			for w, fw := range d.words {
				if len(w) > len(f) && strings.HasPrefix(w, f) {
					best = math.Max(best, 0.7*k*fw)
				}
			}
		}
	}
	return best
}

func (d *doc) amountScore(v float64) float64 {
	best := 0.0
	for _, n := range d.nums {
		den := math.Max(math.Abs(v), 1e-12)
		rel := math.Abs(n-v) / den
		switch {
		case rel <= 0.001:
			best = math.Max(best, 3)
		case rel <= 0.02:
			best = math.Max(best, 2)
		case rel <= 0.10 && v >= 10: // "152k" finds 150,000; "3%" does not find 3.2%
			best = math.Max(best, 1-rel)
		}
	}
	return best
}

func (d *doc) periodScore(t Term) float64 {
	in := func(x time.Time) bool { return !x.Before(t.From) && x.Before(t.To) }
	c := d.m.CloseTime.UTC()
	s := 0.0
	switch {
	case in(c):
		s = 3
	case t.AnyYear && sameMonthDay(c, t):
		s = 2.5
	}
	// The period the question names counts as much as the close: "Q4 2026"
	// is the fourth quarter even when its figure is published in January.
	for _, x := range d.dates {
		if in(x) || (t.AnyYear && sameMonthDay(x, t)) {
			s = math.Max(s, 3)
		}
	}
	for _, sp := range d.spans {
		if sp[0].Before(t.To) && t.From.Before(sp[1]) {
			s = math.Max(s, 3)
		}
	}
	return s
}

// sameMonthDay reports whether x falls in t's month (and day, for a day) in
// any year.
func sameMonthDay(x time.Time, t Term) bool {
	if x.Month() != t.From.Month() {
		return false
	}
	return t.To.Sub(t.From) > 24*time.Hour || x.Day() == t.From.Day()
}

// Result is a ranked search.
type Result struct {
	Markets []sibyl.Market // the matching markets, best first
	Scores  []float64      // their relevance, in the same order
	// Used are the terms every result matches; Ignored are word terms no
	// candidate matched (filler such as "go" or a word no venue uses), left
	// out rather than emptying the result. An amount or a date that matches
	// nothing is not ignored: it empties the result.
	Used, Ignored []Term
}

// Rank returns the candidates matching every term of q that some candidate
// matches, best first: by relevance (field weights: question and tags over
// id and category over rules; exact words over synonyms over prefixes), then
// the nearest close, then the most volume, then the id. An empty query
// matches everything.
func Rank(cands []sibyl.Market, q Query) Result { return (*Index)(nil).Rank(cands, q) }

// Rank is the package's Rank, reusing the text of markets x has seen.
func (x *Index) Rank(cands []sibyl.Market, q Query) Result { return rank(x.docs(cands), q) }

func rank(docs []*doc, q Query) Result {
	var res Result
	scores := make([][]float64, len(q.Terms))
	for i, t := range q.Terms {
		scores[i] = make([]float64, len(docs))
		any := false
		for j, d := range docs {
			scores[i][j] = d.score(t)
			any = any || scores[i][j] > 0
		}
		if !any && t.Kind == Word {
			res.Ignored = append(res.Ignored, t)
			scores[i] = nil
			continue
		}
		res.Used = append(res.Used, t)
	}
	if len(q.Terms) > 0 && len(res.Used) == 0 {
		return res // nothing the person said is in any market
	}
	type hit struct {
		d     *doc
		score float64
	}
	var hits []hit
	for j, d := range docs {
		total, ok := 0.0, true
		for i := range q.Terms {
			if scores[i] == nil {
				continue
			}
			if scores[i][j] <= 0 {
				ok = false
				break
			}
			total += scores[i][j]
		}
		if ok {
			hits = append(hits, hit{d, total})
		}
	}
	sort.SliceStable(hits, func(a, b int) bool {
		x, y := hits[a], hits[b]
		if math.Abs(x.score-y.score) > 1e-9 {
			return x.score > y.score
		}
		if !x.d.m.CloseTime.Equal(y.d.m.CloseTime) {
			return x.d.m.CloseTime.Before(y.d.m.CloseTime)
		}
		if x.d.m.Volume != y.d.m.Volume {
			return x.d.m.Volume > y.d.m.Volume
		}
		return x.d.m.ID < y.d.m.ID
	})
	for _, h := range hits {
		res.Markets = append(res.Markets, *h.d.m)
		res.Scores = append(res.Scores, math.Round(h.score*100)/100)
	}
	return res
}

// Suggestion is a query that would find markets, with how many.
type Suggestion struct {
	Query string
	Count int
	Why   string
}

// Suggest proposes queries close to q that match some candidates: a known
// word for a misspelt or unknown one, the amounts and dates near one that
// matched nothing, and q without each term that empties it. At most max.
func Suggest(cands []sibyl.Market, q Query, now time.Time, max int) []Suggestion {
	return (*Index)(nil).Suggest(cands, q, now, max)
}

// Suggest is the package's Suggest, reusing the text of markets x has seen.
func (x *Index) Suggest(cands []sibyl.Market, q Query, now time.Time, max int) []Suggestion {
	docs := x.docs(cands)
	vocab := map[string]bool{}
	for i := range docs {
		for w, weight := range docs[i].words {
			if weight >= weightID && len(w) >= 3 && !hasDigit(w) {
				vocab[w] = true
			}
		}
	}
	var out []Suggestion
	seen := map[string]bool{strings.ToLower(strings.TrimSpace(q.Text)): true}
	try := func(parts []string, why string) {
		text := strings.Join(parts, " ")
		if text == "" || seen[text] {
			return
		}
		seen[text] = true
		if n := len(rank(docs, Parse(text, now)).Markets); n > 0 {
			out = append(out, Suggestion{Query: text, Count: n, Why: why})
		}
	}
	raws := make([]string, len(q.Terms))
	for i, t := range q.Terms {
		raws[i] = t.Raw
	}
	for i, t := range q.Terms {
		with := func(w string) []string {
			p := slices.Clone(raws)
			p[i] = w
			return p
		}
		switch t.Kind {
		case Word:
			if best, dist := nearestWord(t.Words[0], vocab); best != "" && dist <= 2 && best != t.Words[0] {
				try(with(best), fmt.Sprintf("%q is not in any market; did you mean %q?", t.Raw, best))
			}
		case Amount:
			for _, v := range nearestAmounts(docs, q, i, t.Value, 2) {
				try(with(formatAmount(v)), fmt.Sprintf("no market at %s; the nearest listed level", formatAmount(t.Value)))
			}
		case Period:
			if c, ok := nearestClose(docs, q, i, t.From); ok {
				try(with(c.Format("2006-01-02")), fmt.Sprintf("nothing closes in %s; the nearest close", t.Raw))
			}
		}
		try(append(slices.Clone(raws[:i]), raws[i+1:]...), fmt.Sprintf("without %q", t.Raw))
		if len(out) >= max {
			break
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Count > out[b].Count })
	if len(out) > max {
		out = out[:max]
	}
	return out
}

// nearestWord returns the vocabulary word with the smallest edit distance to w.
func nearestWord(w string, vocab map[string]bool) (string, int) {
	if len(w) < 4 {
		return "", 99
	}
	best, bd := "", 99
	words := make([]string, 0, len(vocab))
	for v := range vocab {
		words = append(words, v)
	}
	slices.Sort(words)
	for _, v := range words {
		if dd := editDistance(w, v); dd < bd {
			best, bd = v, dd
		}
	}
	return best, bd
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// others returns the docs matching every term of q but term skip.
func others(docs []*doc, q Query, skip int) []*doc {
	var out []*doc
	for _, d := range docs {
		ok := true
		for i, t := range q.Terms {
			if i != skip && d.score(t) <= 0 {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, d)
		}
	}
	return out
}

// nearestAmounts returns up to n listed levels closest to v among the markets
// that match the other terms.
func nearestAmounts(docs []*doc, q Query, skip int, v float64, n int) []float64 {
	set := map[float64]bool{}
	for _, d := range others(docs, q, skip) {
		if d.m.Underlying != nil {
			set[d.m.Underlying.Strike] = true
		}
	}
	var vs []float64
	for x := range set {
		vs = append(vs, x)
	}
	sort.Slice(vs, func(a, b int) bool {
		return math.Abs(vs[a]-v) < math.Abs(vs[b]-v) || (math.Abs(vs[a]-v) == math.Abs(vs[b]-v) && vs[a] < vs[b])
	})
	if len(vs) > n {
		vs = vs[:n]
	}
	return vs
}

// nearestClose returns the close time nearest to t among the markets that
// match the other terms.
func nearestClose(docs []*doc, q Query, skip int, t time.Time) (time.Time, bool) {
	var best time.Time
	found := false
	for _, d := range others(docs, q, skip) {
		c := d.m.CloseTime
		if !found || absDur(c.Sub(t)) < absDur(best.Sub(t)) {
			best, found = c, true
		}
	}
	return best, found
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
