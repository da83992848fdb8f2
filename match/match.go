// Package match decides whether two prediction markets, usually on different
// venues, pay on the same thing, so their prices can be compared side by
// side: markets on a token's price with the same token, strike and expiry
// (the same direction, or the opposite one with the outcomes swapped), and
// event markets whose questions say the same. It is pure: no I/O, no prices.
package match

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	sibyl "github.com/sibylmcp/sibyl"
)

// Kinds of match.
const (
	KindPrice = "price" // same token, strike and expiry
	KindEvent = "event" // the same question, in other words perhaps
)

// Match says how a candidate market relates to a reference market.
type Match struct {
	Kind  string  // KindPrice or KindEvent
	Score float64 // 0-1: 1 is the same contract; event matches score their wording's overlap
	// Outcomes maps each outcome of the reference to the candidate's outcome
	// that pays in the same case (Yes to No for an opposite direction).
	Outcomes map[string]string
	Reason   string // why they match, in words for an agent
}

// Equivalent reports whether c pays on the same thing as ref, and how.
// Price markets match on the same symbol and strike with expiries less than
// a day apart (score 1 within a minute, 0.9 otherwise, for venues that
// observe the price at different times of the same day); event markets match
// when their questions share at least minEventScore of their significant
// words (Jaccard) and they have the same outcome names.
func Equivalent(ref, c sibyl.Market) (Match, bool) {
	if ref.ID == c.ID {
		return Match{}, false
	}
	if ref.Underlying != nil || c.Underlying != nil {
		return priceMatch(ref, c)
	}
	return eventMatch(ref, c)
}

// minEventScore is the least word overlap of an event match.
const minEventScore = 0.5

func priceMatch(ref, c sibyl.Market) (Match, bool) {
	a, b := ref.Underlying, c.Underlying
	parsed := false
	if a == nil {
		a, parsed = ParsePriceQuestion(ref.Question, ref.CloseTime), true
	}
	if b == nil {
		b, parsed = ParsePriceQuestion(c.Question, c.CloseTime), true
	}
	if a == nil || b == nil || !strings.EqualFold(a.Symbol, b.Symbol) || a.Strike <= 0 {
		return Match{}, false
	}
	// The same level, or a cent apart: Kalshi writes "$120,000 or above" as
	// greater than 119999.99.
	strikeGap := math.Abs(a.Strike - b.Strike)
	if strikeGap > 1e-9*a.Strike && strikeGap > 0.01+1e-9 {
		return Match{}, false
	}
	gap := a.Expiry.Sub(b.Expiry)
	if gap < 0 {
		gap = -gap
	}
	if gap >= 24*time.Hour {
		return Match{}, false
	}
	score := 1.0
	reason := "same token, strike and expiry"
	if gap > time.Minute {
		score = 0.9
		reason = "same token and strike; expiries " + gap.Round(time.Minute).String() + " apart"
	}
	if strikeGap > 1e-9*a.Strike {
		reason += fmt.Sprintf("; strikes %s and %s are a cent apart (one venue's way of writing 'or above'): they differ only for a price between them", strconv.FormatFloat(a.Strike, 'f', -1, 64), strconv.FormatFloat(b.Strike, 'f', -1, 64))
	}
	if parsed {
		// One side states its condition only in words: read from the question,
		// observed at the market's close. Check its resolution source.
		score = min(score, 0.8)
		reason += "; one side's condition was read from its question (check its resolution source and time)"
	}
	m := Match{Kind: KindPrice, Score: score, Outcomes: map[string]string{}}
	yesA, noA := yesNo(ref.Outcomes)
	yesB, noB := yesNo(c.Outcomes)
	if yesA == "" || noA == "" || yesB == "" || noB == "" {
		return Match{}, false
	}
	if strings.EqualFold(a.Direction, b.Direction) {
		m.Outcomes[yesA], m.Outcomes[noA] = yesB, noB
	} else {
		// "above K" Yes pays when "below K" No pays (they differ only if the
		// price settles exactly at K, where the venues' rules decide).
		m.Outcomes[yesA], m.Outcomes[noA] = noB, yesB
		reason += "; opposite direction, so Yes here is No there (they differ only at exactly the strike)"
	}
	m.Reason = reason
	return m, true
}

func yesNo(os []sibyl.Outcome) (yes, no string) {
	for _, o := range os {
		switch strings.ToLower(o.Name) {
		case "yes":
			yes = o.Name
		case "no":
			no = o.Name
		}
	}
	return yes, no
}

func eventMatch(ref, c sibyl.Market) (Match, bool) {
	if len(ref.Outcomes) == 0 || len(ref.Outcomes) != len(c.Outcomes) {
		return Match{}, false
	}
	outs := map[string]string{}
	for _, o := range ref.Outcomes {
		found := false
		for _, p := range c.Outcomes {
			if strings.EqualFold(o.Name, p.Name) {
				outs[o.Name], found = p.Name, true
				break
			}
		}
		if !found {
			return Match{}, false
		}
	}
	score := Similarity(ref.Question, c.Question)
	if score < minEventScore {
		return Match{}, false
	}
	return Match{Kind: KindEvent, Score: math.Round(score*100) / 100, Outcomes: outs,
		Reason: "questions share most of their words; check both markets' rules before treating them as the same"}, true
}

// Similarity is the Jaccard overlap of two questions' significant words
// (lowercased, a plural s dropped, punctuation and common words dropped,
// numbers kept as written without separators): 1 for the same words, 0 for none in common.
func Similarity(a, b string) float64 {
	wa, wb := words(a), words(b)
	if len(wa) == 0 || len(wb) == 0 {
		return 0
	}
	inter := 0
	for w := range wa {
		if wb[w] {
			inter++
		}
	}
	return float64(inter) / float64(len(wa)+len(wb)-inter)
}

var stop = map[string]bool{"will": true, "the": true, "a": true, "an": true, "be": true, "by": true, "on": true, "in": true,
	"of": true, "to": true, "at": true, "before": true, "end": true, "is": true, "for": true, "this": true, "and": true, "or": true}

func words(s string) map[string]bool {
	out := map[string]bool{}
	var cur strings.Builder
	flush := func() {
		w := cur.String()
		if len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && unicode.IsLetter(rune(w[0])) {
			w = w[:len(w)-1] // a plain stem: cuts/cut, rates/rate
		}
		if w != "" && !stop[w] {
			out[w] = true
		}
		cur.Reset()
	}
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.':
			cur.WriteRune(r)
		case r == ',' || r == '$':
			// 120,000 and $120000 are the same number
		default:
			flush()
		}
	}
	flush()
	for w := range out {
		if t := strings.Trim(w, "."); t != w {
			delete(out, w)
			if t != "" && !stop[t] {
				out[t] = true
			}
		}
	}
	return out
}

// tokenNames maps the names questions use to token symbols.
var tokenNames = map[string]string{
	"bitcoin": "BTC", "btc": "BTC", "ethereum": "ETH", "ether": "ETH", "eth": "ETH", "solana": "SOL", "sol": "SOL",
	"xrp": "XRP", "dogecoin": "DOGE", "doge": "DOGE", "cardano": "ADA", "ada": "ADA", "bnb": "BNB",
}

// Names returns the words questions use for a token symbol: the symbol
// itself and its names (BTC: btc, bitcoin), for searching venues that
// state conditions in words.
func Names(symbol string) []string {
	out := []string{strings.ToLower(symbol)}
	for name, sym := range tokenNames {
		if strings.EqualFold(sym, symbol) && name != out[0] {
			out = append(out, name)
		}
	}
	slices.Sort(out[1:])
	return out
}

var (
	reAmount = regexp.MustCompile(`^\$?([0-9][0-9,]*(?:\.[0-9]+)?)([km]?)$`)
	// Path-dependent wording ("reach", "hit", "dip to") asks whether the
	// price touches a level at any time, not where it is at expiry.
	pathWords = []string{"reach", "hit", "touch", "dip", "all time high", "all-time high", "ath"}
)

// ParsePriceQuestion reads a price condition from a question such as "Will
// Bitcoin be above $120,000 on December 31?" or "BTC above 120k on Dec 31":
// a known token, above/over/greater than or below/under/less than, and an
// amount; the expiry is the market's close. It returns nil for anything else,
// including questions about touching a level ("reach", "hit", "dip to").
func ParsePriceQuestion(q string, closeTime time.Time) *sibyl.PriceCondition {
	lq := strings.ToLower(q)
	for _, w := range pathWords {
		if strings.Contains(lq, w) {
			return nil
		}
	}
	f := strings.FieldsFunc(lq, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '$' || r == ',' || r == '.')
	})
	for i := range f {
		f[i] = strings.TrimRight(f[i], ",.")
	}
	sym, dir := "", ""
	for i, w := range f {
		if s, ok := tokenNames[w]; ok && sym == "" {
			sym = s
		}
		switch w {
		case "above", "over":
			dir = "above"
		case "below", "under":
			dir = "below"
		case "greater", "higher":
			dir = "above"
		case "less", "lower":
			dir = "below"
		default:
			continue
		}
		if sym == "" || closeTime.IsZero() {
			return nil
		}
		for _, v := range f[i+1 : min(i+4, len(f))] {
			if v == "than" || v == "or" || v == "equal" || v == "to" {
				continue
			}
			m := reAmount.FindStringSubmatch(v)
			if m == nil {
				return nil
			}
			amt, err := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
			if err != nil || amt <= 0 {
				return nil
			}
			switch m[2] {
			case "k":
				amt *= 1e3
			case "m":
				amt *= 1e6
			}
			return &sibyl.PriceCondition{Symbol: sym, Strike: amt, Direction: dir, Expiry: closeTime}
		}
		return nil
	}
	return nil
}
