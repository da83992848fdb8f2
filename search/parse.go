// Package search reads a person's market search ("bitcoin 150k december",
// "will the fed cut rates", "BTC above $150,000 by end of year") and ranks
// markets of any venue against it. It is the one search rule every venue's
// markets are searched by: search_markets gathers candidates from the venues
// and hands them here, so Kalshi, Polymarket and the paper venue match the
// same words the same way.
//
// It is pure: no I/O, no venues, no clock of its own (callers pass now). It
// must never import tools, mcp, store or a venue.
package search

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Kind is what a query term stands for.
type Kind int

// Term kinds.
const (
	Word   Kind = iota // a word, matched with its synonyms against text and tags
	Amount             // a number: a strike, a price level or a percentage
	Period             // a month, a date, a quarter, a year or a relative span: matched against close times and dates in the text
)

// Term is one part of a query.
type Term struct {
	Kind Kind
	Raw  string // as the person typed it
	// Words are the forms a Word term matches: the word (singular) and its
	// synonyms, such as bitcoin, btc and xbt.
	Words []string
	// Value is an Amount's number: 150k is 150000, $1.5m is 1500000, 3% is 3.
	Value float64
	// YearOrAmount marks a bare number such as 2026 that may be a year (a
	// Period from From to To) or an amount.
	YearOrAmount bool
	// From and To bound a Period: it matches times in [From, To).
	From, To time.Time
	// AnyYear marks a month or day named without a year: it matches that
	// month (or day) in every year; From and To hold the nearest one ahead.
	AnyYear bool
}

// String describes how the term was read, for the answer's "interpreted".
func (t Term) String() string {
	switch t.Kind {
	case Amount:
		return "amount " + formatAmount(t.Value)
	case Period:
		s := t.From.Format("2006-01-02") + ".." + t.To.Add(-time.Second).Format("2006-01-02")
		if t.AnyYear {
			if t.To.Sub(t.From) <= 24*time.Hour {
				s = t.From.Format("Jan 2") + " (any year)"
			} else {
				s = t.From.Format("January") + " (any year)"
			}
		}
		if t.YearOrAmount {
			s += " or amount " + formatAmount(t.Value)
		}
		return "dates " + s
	}
	if len(t.Words) > 1 {
		return t.Words[0] + " (" + strings.Join(t.Words[1:], ", ") + ")"
	}
	return t.Words[0]
}

// Query is a parsed search.
type Query struct {
	Text  string
	Terms []Term
}

// Empty reports whether the query has no terms.
func (q Query) Empty() bool { return len(q.Terms) == 0 }

// Parse reads text as a person's search at time now (for "this month",
// "end of year" and month names without a year, which mean the next such
// month). Words in any order; case, punctuation, thousands separators and
// stop words do not matter.
func Parse(text string, now time.Time) Query {
	now = now.UTC()
	q := Query{Text: text}
	toks := tokenize(text)
	for i := 0; i < len(toks); i++ {
		tok := toks[i]
		next := func(k int) string {
			if i+k < len(toks) {
				return toks[i+k]
			}
			return ""
		}
		// Relative spans of several words.
		if t, n, ok := relative(toks[i:], now); ok {
			t.Raw = strings.Join(toks[i:i+n], " ")
			q.Terms = append(q.Terms, t)
			i += n - 1
			continue
		}
		// Two-word names.
		if w, ok := phrases[tok+" "+next(1)]; ok {
			q.Terms = append(q.Terms, wordTerm(tok+" "+next(1), w))
			i++
			continue
		}
		if d, err := time.Parse("2006-01-02", tok); err == nil {
			q.Terms = append(q.Terms, Term{Kind: Period, Raw: tok, From: d, To: d.AddDate(0, 0, 1)})
			continue
		}
		if m, ok := months[tok]; ok {
			// "december 31", "december 2026", "dec 31 2026"
			t := Term{Kind: Period, Raw: tok}
			day, year, used := 0, 0, 0
			if d, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(next(1), "st"), "nd"), "rd"), "th")); err == nil && d >= 1 && d <= 31 {
				day, used = d, 1
			}
			if y, err := strconv.Atoi(next(1 + used)); err == nil && y >= 2000 && y <= 2100 {
				year, used = y, used+1
			}
			t.From, t.To, t.AnyYear = monthSpan(now, m, day, year)
			t.Raw = strings.Join(toks[i:i+1+used], " ")
			q.Terms = append(q.Terms, t)
			i += used
			continue
		}
		if d, ok := dayBeforeMonth(tok, next(1)); ok { // "31 december"
			m := months[next(1)]
			t := Term{Kind: Period, Raw: tok + " " + next(1)}
			year, used := 0, 1
			if y, err := strconv.Atoi(next(2)); err == nil && y >= 2000 && y <= 2100 {
				year, used = y, 2
			}
			t.From, t.To, t.AnyYear = monthSpan(now, m, d, year)
			q.Terms = append(q.Terms, t)
			i += used
			continue
		}
		if qn, ok := quarter(tok); ok { // q4, q4 2026
			year := now.Year()
			if y, err := strconv.Atoi(next(1)); err == nil && y >= 2000 && y <= 2100 {
				year = y
				i++
			} else if time.Date(year, time.Month(3*qn)+1, 1, 0, 0, 0, 0, time.UTC).Before(now) {
				year++
			}
			from := time.Date(year, time.Month(3*qn-2), 1, 0, 0, 0, 0, time.UTC)
			q.Terms = append(q.Terms, Term{Kind: Period, Raw: tok, From: from, To: from.AddDate(0, 3, 0)})
			continue
		}
		if v, ok := amount(tok); ok {
			t := Term{Kind: Amount, Raw: tok, Value: v}
			plain := strings.TrimLeft(tok, "$")
			if _, err := strconv.Atoi(plain); err == nil && len(plain) == 4 && v >= 2000 && v <= 2100 && !strings.HasPrefix(tok, "$") {
				t.Kind, t.YearOrAmount = Period, true
				t.From = time.Date(int(v), 1, 1, 0, 0, 0, 0, time.UTC)
				t.To = t.From.AddDate(1, 0, 0)
			}
			q.Terms = append(q.Terms, t)
			continue
		}
		if stop[tok] {
			continue
		}
		q.Terms = append(q.Terms, wordTerm(tok, nil))
	}
	return q
}

// wordTerm builds a Word term for w with its synonyms (extra first when given).
func wordTerm(raw string, extra []string) Term {
	w := singular(raw)
	forms := []string{w}
	if extra != nil {
		forms = append([]string{}, extra...)
	}
	for _, f := range append([]string{}, forms...) {
		for _, s := range synonyms[f] {
			if !contains(forms, s) {
				forms = append(forms, s)
			}
		}
	}
	return Term{Kind: Word, Raw: raw, Words: forms}
}

// tokenize lower-cases text and splits it into tokens, keeping amounts
// ("$150,000", "1.5m", "3.5%") and ISO dates whole.
func tokenize(text string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, strings.Trim(b.String(), ".-,'"))
			b.Reset()
		}
	}
	rs := []rune(strings.ToLower(text))
	for i, r := range rs {
		digitAround := i > 0 && i+1 < len(rs) && unicode.IsDigit(rs[i-1]) && unicode.IsDigit(rs[i+1])
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case r == '$' && b.Len() == 0:
			b.WriteRune(r)
		case (r == ',' || r == '.') && digitAround:
			if r == '.' {
				b.WriteRune(r)
			}
		case r == '-' && b.Len() > 0 && i+1 < len(rs) && (unicode.IsDigit(rs[i+1]) || unicode.IsLetter(rs[i+1])):
			// ISO dates and ids stay whole; "fed-cut" is split below.
			b.WriteRune(r)
		case r == '%' && b.Len() > 0:
			b.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	// Hyphenated words that are not dates or ids: split ("year-end" -> year end).
	var res []string
	for _, t := range out {
		if t == "" || t == "$" {
			continue
		}
		if strings.Contains(t, "-") {
			if _, err := time.Parse("2006-01-02", t); err != nil && !hasDigit(t) {
				res = append(res, strings.FieldsFunc(t, func(r rune) bool { return r == '-' })...)
				continue
			}
		}
		res = append(res, t)
	}
	return res
}

func hasDigit(s string) bool { return strings.IndexFunc(s, unicode.IsDigit) >= 0 }

// amount reads "150k", "$150,000" (already without commas), "1.5m", "3%",
// "150000": ok is false for anything else.
func amount(tok string) (float64, bool) {
	s := strings.TrimPrefix(tok, "$")
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "%"):
		s = strings.TrimSuffix(s, "%")
	case strings.HasSuffix(s, "k"):
		s, mult = strings.TrimSuffix(s, "k"), 1e3
	case strings.HasSuffix(s, "m"):
		s, mult = strings.TrimSuffix(s, "m"), 1e6
	case strings.HasSuffix(s, "mm"):
		s, mult = strings.TrimSuffix(s, "mm"), 1e6
	case strings.HasSuffix(s, "bn"):
		s, mult = strings.TrimSuffix(s, "bn"), 1e9
	}
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) || v < 0 {
		return 0, false
	}
	return v * mult, true
}

func formatAmount(v float64) string {
	if v >= 1000 && v == math.Trunc(v) {
		s := strconv.FormatFloat(v, 'f', 0, 64)
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		return s
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func quarter(tok string) (int, bool) {
	if len(tok) == 2 && tok[0] == 'q' && tok[1] >= '1' && tok[1] <= '4' {
		return int(tok[1] - '0'), true
	}
	return 0, false
}

func dayBeforeMonth(tok, next string) (int, bool) {
	if _, ok := months[next]; !ok {
		return 0, false
	}
	for _, suf := range []string{"st", "nd", "rd", "th"} {
		tok = strings.TrimSuffix(tok, suf)
	}
	d, err := strconv.Atoi(tok)
	return d, err == nil && d >= 1 && d <= 31
}

// monthSpan is the period of month m (day d when d > 0) in year y, or when y
// is 0 the next such month (or day) from now.
func monthSpan(now time.Time, m time.Month, d, y int) (from, to time.Time, anyYear bool) {
	anyYear = y == 0
	if y == 0 {
		y = now.Year()
		end := time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
		if d > 0 {
			end = time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
		}
		if !end.After(now) {
			y++
		}
	}
	if d > 0 {
		from = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		return from, from.AddDate(0, 0, 1), anyYear
	}
	from = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	return from, from.AddDate(0, 1, 0), anyYear
}

// relative reads spans such as "today", "this week", "next month", "end of
// year" at the start of toks; n is how many tokens it used.
func relative(toks []string, now time.Time) (Term, int, bool) {
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	two := ""
	if len(toks) > 1 {
		two = toks[0] + " " + toks[1]
	}
	three := ""
	if len(toks) > 2 {
		three = two + " " + toks[2]
	}
	monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	year := time.Date(now.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	span := func(from, to time.Time, n int) (Term, int, bool) {
		return Term{Kind: Period, From: from, To: to}, n, true
	}
	eoy := time.Date(now.Year(), 12, 31, 0, 0, 0, 0, time.UTC)
	if len(toks) > 3 && three == "end of the" && toks[3] == "year" {
		return span(eoy, eoy.AddDate(0, 0, 1), 4)
	}
	switch three {
	case "end of year":
		return span(eoy, eoy.AddDate(0, 0, 1), 3)
	case "end of month":
		eom := month.AddDate(0, 1, -1)
		return span(eom, eom.AddDate(0, 0, 1), 3)
	}
	switch two {
	case "this week":
		return span(monday, monday.AddDate(0, 0, 7), 2)
	case "next week":
		return span(monday.AddDate(0, 0, 7), monday.AddDate(0, 0, 14), 2)
	case "this month":
		return span(month, month.AddDate(0, 1, 0), 2)
	case "next month":
		return span(month.AddDate(0, 1, 0), month.AddDate(0, 2, 0), 2)
	case "this year":
		return span(year, year.AddDate(1, 0, 0), 2)
	case "next year":
		return span(year.AddDate(1, 0, 0), year.AddDate(2, 0, 0), 2)
	case "year end":
		return span(eoy, eoy.AddDate(0, 0, 1), 2)
	}
	switch toks[0] {
	case "today":
		return span(day, day.AddDate(0, 0, 1), 1)
	case "tomorrow":
		return span(day.AddDate(0, 0, 1), day.AddDate(0, 0, 2), 1)
	case "eoy", "yearend":
		return span(eoy, eoy.AddDate(0, 0, 1), 1)
	}
	return Term{}, 0, false
}

// singular trims a plural "s" from words long enough to have one.
func singular(w string) string {
	if len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is") {
		return strings.TrimSuffix(w, "s")
	}
	return w
}

func contains(s []string, w string) bool {
	for _, x := range s {
		if x == w {
			return true
		}
	}
	return false
}

// Describe says how q was read, for the answer.
func (q Query) Describe() string {
	parts := make([]string, len(q.Terms))
	for i, t := range q.Terms {
		parts[i] = t.String()
	}
	return fmt.Sprint(strings.Join(parts, " + "))
}
