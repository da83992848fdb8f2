package hedge

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sibylmcp/sibyl"
)

// This file is the documented mapping from market metadata to a
// sibyl.PriceCondition. A venue adapter that knows its markets' structure
// should fill sibyl.Market.Underlying itself (the paper venue does); Condition
// falls back to reading the question and the native id, which covers:
//
//   - the paper venue: "Will BTC close above $120,000 on 2026-12-31?"
//     (observed 23:59:59 UTC that day);
//   - Kalshi's crypto price series: tickers KX<SYM>[D|W|M|Y]-<YY><MON><DD>[<HH>]-T<strike>
//     such as KXBTCD-25DEC3117-T100249.99 ("T" thresholds are "above": Kalshi
//     titles them "$100,250 or above"; HH is the hour in US Eastern time; when
//     the question names the same strike, its direction wins, which handles
//     the "or below" tails of the range series) and
//     titles such as "Bitcoin price on Dec 31, 2026?" with a subtitle
//     "$120,000 or above" (pass "title subtitle" as the question);
//     "B" range buckets (between two prices) are not single-direction and are
//     not recognised;
//   - Polymarket's "Bitcoin above 100,000 on December 31?" (no year: the year is
//     taken from the market's close time) and "Will the price of Ethereum be
//     above $4,000 on January 31, 2027?".
//
// Path-dependent questions ("reach", "hit", "dip to", "all-time high") and
// ranges ("between") are refused: their payoff is not a function of the price
// at expiry, so the sizing below would be wrong for them.

// tokenNames maps lower-case names and symbols to the symbol hedge uses.
var tokenNames = map[string]string{
	"bitcoin": "BTC", "btc": "BTC", "xbt": "BTC",
	"ethereum": "ETH", "ether": "ETH", "eth": "ETH",
	"solana": "SOL", "sol": "SOL",
	"bnb": "BNB", "xrp": "XRP", "ripple": "XRP",
	"cardano": "ADA", "ada": "ADA",
	"dogecoin": "DOGE", "doge": "DOGE",
	"avalanche": "AVAX", "avax": "AVAX",
	"polkadot": "DOT", "chainlink": "LINK", "link": "LINK",
	"litecoin": "LTC", "ltc": "LTC",
	"cosmos": "ATOM", "uniswap": "UNI",
	"polygon": "POL", "matic": "POL", "pol": "POL",
	"shiba": "SHIB", "shib": "SHIB",
	"monero": "XMR", "xmr": "XMR",
	"tron": "TRX", "trx": "TRX",
	"near": "NEAR", "aptos": "APT", "arbitrum": "ARB", "optimism": "OP",
	"hyperliquid": "HYPE", "hype": "HYPE", "sui": "SUI", "pepe": "PEPE",
}

// commonWords are token names that are also English words: they count only
// in upper case.
var commonWords = map[string]bool{"near": true, "link": true, "sol": true, "pol": true, "hype": true, "ada": true, "dot": true, "uni": true, "op": true}

// notSymbols are upper-case words that look like tickers but are not.
var notSymbols = map[string]bool{
	"USD": true, "USDT": true, "USDC": true, "UTC": true, "GMT": true, "ET": true, "EST": true, "EDT": true,
	"PT": true, "PST": true, "PDT": true, "AM": true, "PM": true, "YES": true, "NO": true, "WILL": true,
	"THE": true, "ON": true, "AT": true, "BY": true, "CLOSE": true, "PRICE": true, "ABOVE": true, "BELOW": true,
	"JAN": true, "FEB": true, "MAR": true, "APR": true, "MAY": true, "JUN": true, "JUL": true, "AUG": true,
	"SEP": true, "SEPT": true, "OCT": true, "NOV": true, "DEC": true, "Q1": true, "Q2": true, "Q3": true, "Q4": true,
}

var months = map[string]time.Month{
	"jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
	"may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
	"sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
	"dec": 12, "december": 12,
}

const monthRE = `jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?`

var (
	kalshiTickerRE = regexp.MustCompile(`^KX([A-Z0-9]+)-(\d{2})([A-Z]{3})(\d{2})(\d{2})?-([TB])(\d+(?:\.\d+)?)$`)
	pathRE         = regexp.MustCompile(`\b(reach|reaches|hit|hits|touch|touches|dip|dips|drop to|fall to|rise to|all[- ]time high|ath|between|range|at any time|max|min|high of|low of)\b`)
	numRE          = `\$?\s?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s?([km])?\b`
	dirFirstRE     = regexp.MustCompile(`\b(above|over|greater than|more than|higher than|at least|at or above|exceed|exceeds|below|under|less than|lower than|at or below|at most)\s+(?:the price of\s+)?` + numRE)
	dirLastRE      = regexp.MustCompile(numRE + `\s+or\s+(above|more|higher|greater|over|below|less|lower|under)\b`)
	isoDateRE      = regexp.MustCompile(`\b(\d{4})-(\d{2})-(\d{2})\b`)
	mdyRE          = regexp.MustCompile(`\b(` + monthRE + `)\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(\d{4})\b)?`)
	dmyRE          = regexp.MustCompile(`\b(\d{1,2})(?:st|nd|rd|th)?\s+(` + monthRE + `)\b(?:,?\s+(\d{4})\b)?`)
	timeRE         = regexp.MustCompile(`\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*(et|est|edt|utc|gmt)\b`)
	wordRE         = regexp.MustCompile(`[A-Za-z][A-Za-z0-9]*`)
)

// ParsePriceQuestion reads a binary market on a token's price at a time from
// a question, a title (with its subtitle appended) or a Kalshi ticker, and
// reports whether it found one. The Yes outcome wins when the price at
// Expiry is on the Direction side of Strike. A date without a time of day
// means 23:59:59 UTC of that day (the paper venue's convention; Condition
// prefers the market's close time when it falls on that date); "at 5pm ET"
// and "12:00 UTC" are honoured. A date without a year gives an Expiry in
// year 0 (Condition takes the year from the market's close time). Ranges and
// path-dependent questions ("reach", "hit", "between") are refused.
func ParsePriceQuestion(question string) (sibyl.PriceCondition, bool) {
	q := strings.TrimSpace(question)
	if c, ok := parseKalshiTicker(q); ok {
		return c, true
	}
	lower := strings.ToLower(q)
	if pathRE.MatchString(lower) {
		return sibyl.PriceCondition{}, false
	}
	sym := findSymbol(q)
	if sym == "" {
		return sibyl.PriceCondition{}, false
	}
	// Dates go first so their numbers are not read as strikes.
	exp, dateAt, ok := findDate(lower)
	if !ok {
		return sibyl.PriceCondition{}, false
	}
	rest := lower
	if dateAt[0] >= 0 {
		rest = lower[:dateAt[0]] + strings.Repeat(" ", dateAt[1]-dateAt[0]) + lower[dateAt[1]:]
	}
	var dir, num, mult string
	if m := dirFirstRE.FindStringSubmatch(rest); m != nil {
		dir, num, mult = m[1], m[2], m[3]
	} else if m := dirLastRE.FindStringSubmatch(rest); m != nil {
		num, mult, dir = m[1], m[2], m[3]
	} else {
		return sibyl.PriceCondition{}, false
	}
	k, err := strconv.ParseFloat(strings.ReplaceAll(num, ",", ""), 64)
	if err != nil || k <= 0 {
		return sibyl.PriceCondition{}, false
	}
	switch mult {
	case "k":
		k *= 1e3
	case "m":
		k *= 1e6
	}
	c := sibyl.PriceCondition{Symbol: sym, Strike: k, Expiry: exp, Direction: Above}
	switch dir {
	case "below", "under", "less than", "lower than", "at or below", "at most", "less", "lower":
		c.Direction = Below
	}
	return c, true
}

// findSymbol returns the first token name or ticker-like upper-case word.
func findSymbol(q string) string {
	words := wordRE.FindAllString(q, -1)
	for _, w := range words {
		if s, ok := tokenNames[strings.ToLower(w)]; ok && (!commonWords[strings.ToLower(w)] || w == strings.ToUpper(w)) {
			return s
		}
	}
	for _, w := range words {
		if len(w) >= 2 && len(w) <= 6 && w == strings.ToUpper(w) && !notSymbols[w] && w[0] >= 'A' && w[0] <= 'Z' {
			return w
		}
	}
	return ""
}

// findDate returns the expiry named in lower (year 0 when no year is given)
// and the byte range of the date text.
func findDate(lower string) (time.Time, [2]int, bool) {
	var y, d int
	var mo time.Month
	var at [2]int
	if m := isoDateRE.FindStringSubmatchIndex(lower); m != nil {
		y, _ = strconv.Atoi(lower[m[2]:m[3]])
		mi, _ := strconv.Atoi(lower[m[4]:m[5]])
		mo = time.Month(mi)
		d, _ = strconv.Atoi(lower[m[6]:m[7]])
		at = [2]int{m[0], m[1]}
	} else if m := mdyRE.FindStringSubmatchIndex(lower); m != nil {
		mo = months[lower[m[2]:m[3]]]
		d, _ = strconv.Atoi(lower[m[4]:m[5]])
		if m[6] >= 0 {
			y, _ = strconv.Atoi(lower[m[6]:m[7]])
		}
		at = [2]int{m[0], m[1]}
	} else if m := dmyRE.FindStringSubmatchIndex(lower); m != nil {
		d, _ = strconv.Atoi(lower[m[2]:m[3]])
		mo = months[lower[m[4]:m[5]]]
		if m[6] >= 0 {
			y, _ = strconv.Atoi(lower[m[6]:m[7]])
		}
		at = [2]int{m[0], m[1]}
	} else {
		return time.Time{}, at, false
	}
	if mo < 1 || mo > 12 || d < 1 || d > 31 {
		return time.Time{}, at, false
	}
	exp := time.Date(y, mo, d, 23, 59, 59, 0, time.UTC)
	if exp.Day() != d { // 31 of a 30-day month
		return time.Time{}, at, false
	}
	if m := timeRE.FindStringSubmatch(lower); m != nil {
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2]) // "" gives 0
		switch m[3] {
		case "pm":
			if h < 12 {
				h += 12
			}
		case "am":
			if h == 12 {
				h = 0
			}
		}
		if h < 24 && mi < 60 {
			exp = time.Date(y, mo, d, h, mi, 0, 0, time.UTC)
			switch m[4] {
			case "et", "est", "edt":
				exp = exp.Add(-easternOffset(y, mo, d, h))
			}
		}
	}
	return exp, at, true
}

// easternOffset returns US Eastern time's offset from UTC on a local date and
// hour (-4h in daylight saving time, from 2am on the second Sunday of March
// to 2am on the first Sunday of November, else -5h), without loading the
// time zone database.
func easternOffset(y int, mo time.Month, d, h int) time.Duration {
	sunday := func(mo time.Month, n int) int { // day of the nth Sunday
		first := time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC).Weekday()
		return 1 + (7-int(first))%7 + 7*(n-1)
	}
	local := time.Date(y, mo, d, h, 0, 0, 0, time.UTC)
	start := time.Date(y, time.March, sunday(time.March, 2), 2, 0, 0, 0, time.UTC)
	end := time.Date(y, time.November, sunday(time.November, 1), 2, 0, 0, 0, time.UTC)
	if !local.Before(start) && local.Before(end) {
		return -4 * time.Hour
	}
	return -5 * time.Hour
}

// parseKalshiTicker reads KX<SYM>[D|W|M|Y]-<YY><MON><DD>[<HH>]-T<strike>.
func parseKalshiTicker(s string) (sibyl.PriceCondition, bool) {
	m := kalshiTickerRE.FindStringSubmatch(strings.ToUpper(s))
	if m == nil || m[6] != "T" {
		return sibyl.PriceCondition{}, false
	}
	series := m[1]
	sym, ok := tokenNames[strings.ToLower(series)]
	if !ok && len(series) > 1 && strings.ContainsRune("DWMY", rune(series[len(series)-1])) {
		sym, ok = tokenNames[strings.ToLower(series[:len(series)-1])]
	}
	if !ok {
		return sibyl.PriceCondition{}, false
	}
	yy, _ := strconv.Atoi(m[2])
	mo, ok := months[strings.ToLower(m[3])]
	if !ok {
		return sibyl.PriceCondition{}, false
	}
	d, _ := strconv.Atoi(m[4])
	k, err := strconv.ParseFloat(m[7], 64)
	if err != nil || k <= 0 {
		return sibyl.PriceCondition{}, false
	}
	y := 2000 + yy
	exp := time.Date(y, mo, d, 23, 59, 59, 0, time.UTC)
	if exp.Day() != d {
		return sibyl.PriceCondition{}, false
	}
	if m[5] != "" {
		h, _ := strconv.Atoi(m[5])
		if h > 23 {
			return sibyl.PriceCondition{}, false
		}
		exp = time.Date(y, mo, d, h, 0, 0, 0, time.UTC).Add(-easternOffset(y, mo, d, h))
	}
	return sibyl.PriceCondition{Symbol: sym, Strike: k, Direction: Above, Expiry: exp}, true
}

// Condition returns the price condition of a market and whether it has one:
// m.Underlying when the venue adapter filled it in, else what
// ParsePriceQuestion reads from the native id (Kalshi tickers) or the
// question. When the question names a date without a time, a close time on
// that date (UTC, or up to six hours into the next day for US evening
// closes) is taken as the expiry; a missing year is taken from the close time
// (the date nearest to it). Symbols are upper case.
func Condition(m sibyl.Market) (sibyl.PriceCondition, bool) {
	if u := m.Underlying; u != nil {
		if u.Strike <= 0 || (u.Direction != Above && u.Direction != Below) || u.Symbol == "" {
			return sibyl.PriceCondition{}, false
		}
		c := *u
		c.Symbol = strings.ToUpper(c.Symbol)
		return c, true
	}
	c, ok := parseKalshiTicker(m.NativeID)
	if ok {
		// A bare "T" ticker reads as "above" (the KX...D convention); the
		// tails of Kalshi's range series are "T" markets too, and the title
		// ("$80,000 or below") says which side they are on.
		if q, qok := ParsePriceQuestion(m.Question); qok && q.Strike == c.Strike {
			c.Direction = q.Direction
		}
	} else {
		c, ok = ParsePriceQuestion(m.Question)
	}
	if !ok {
		return sibyl.PriceCondition{}, false
	}
	if c.Expiry.Year() == 0 {
		if m.CloseTime.IsZero() {
			return sibyl.PriceCondition{}, false
		}
		best := time.Time{}
		for y := m.CloseTime.Year() - 1; y <= m.CloseTime.Year()+1; y++ {
			e := time.Date(y, c.Expiry.Month(), c.Expiry.Day(), c.Expiry.Hour(), c.Expiry.Minute(), c.Expiry.Second(), 0, time.UTC)
			if e.Day() != c.Expiry.Day() {
				continue
			}
			if best.IsZero() || absDur(e.Sub(m.CloseTime)) < absDur(best.Sub(m.CloseTime)) {
				best = e
			}
		}
		if best.IsZero() {
			return sibyl.PriceCondition{}, false
		}
		c.Expiry = best
	}
	if c.Expiry.Hour() == 23 && c.Expiry.Minute() == 59 && c.Expiry.Second() == 59 && !m.CloseTime.IsZero() && sameDay(c.Expiry, m.CloseTime) {
		c.Expiry = m.CloseTime
	}
	return c, true
}

// sameDay reports whether t falls on day's UTC date or within six hours after it.
func sameDay(day, t time.Time) bool {
	start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	return !t.Before(start) && t.Before(start.Add(30*time.Hour))
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
