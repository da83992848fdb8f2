package search

import "time"

// synonymGroups are words people use for the same thing: a token's name and
// ticker, and the usual names of the events venues list. Each word of a
// group matches every other. Words are singular and lower-case.
var synonymGroups = [][]string{
	// Tokens: ticker, name, nicknames.
	{"btc", "bitcoin", "xbt"},
	{"eth", "ether", "ethereum"},
	{"sol", "solana"},
	{"bnb", "binance"},
	{"xrp", "ripple"},
	{"ada", "cardano"},
	{"doge", "dogecoin"},
	{"avax", "avalanche"},
	{"dot", "polkadot"},
	{"link", "chainlink"},
	{"ltc", "litecoin"},
	{"atom", "cosmo"}, // "cosmos" made singular
	{"uni", "uniswap"},
	{"pol", "polygon", "matic"},
	{"shib", "shiba"},
	{"xmr", "monero"},
	{"paxg", "gold"},
	{"trx", "tron"},
	{"apt", "aptos"},
	{"arb", "arbitrum"},
	{"op", "optimism"},
	{"crypto", "cryptocurrency", "coin", "token"},
	// Directions.
	{"above", "over", "exceed", "higher"},
	{"below", "under", "beneath"},
	// Macro.
	{"fed", "fomc", "federal", "powell"},
	{"cut", "lower", "ease"},
	{"hike", "raise", "increase"},
	{"inflation", "cpi"},
	{"unemployment", "jobless", "job", "payroll"},
	{"gdp", "growth"},
	{"ecb", "lagarde"},
	{"recession", "downturn"},
	// Politics.
	{"election", "elect", "midterm", "vote"},
	{"democrat", "dem", "democratic"},
	{"republican", "gop"},
	{"president", "presidential", "potus"},
	{"shutdown", "appropriation"},
	{"uk", "britain", "british"},
	// Sports.
	{"superbowl", "nfl"},
	{"nba", "basketball"},
	{"f1", "formula"},
	{"ucl", "uefa", "champions"},
	{"epl", "premier"},
	{"ws", "baseball", "mlb"},
}

// phrases are two-word names read as one word.
var phrases = map[string][]string{
	"super bowl":          {"superbowl"},
	"federal reserve":     {"fed"},
	"world series":        {"ws"},
	"champions league":    {"ucl"},
	"premier league":      {"epl"},
	"formula 1":           {"f1"},
	"formula one":         {"f1"},
	"prime minister":      {"pm"},
	"white house":         {"president"},
	"shiba inu":           {"shib"},
	"real madrid":         {"madrid"},
	"kansas city":         {"chief"},
	"rate cut":            {"cut"},
	"rate hike":           {"hike"},
	"government shutdown": {"shutdown"},
}

// synonyms maps each word to the other words of its group.
var synonyms = func() map[string][]string {
	m := map[string][]string{}
	for _, g := range synonymGroups {
		for _, w := range g {
			for _, o := range g {
				if o != w {
					m[w] = append(m[w], o)
				}
			}
		}
	}
	return m
}()

var months = map[string]time.Month{
	"january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
	"may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
	"september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
	"december": 12, "dec": 12,
}

// stop are words that say nothing about which market is meant.
var stop = map[string]bool{
	"a": true, "an": true, "the": true, "will": true, "would": true, "be": true, "is": true, "are": true,
	"of": true, "in": true, "on": true, "at": true, "by": true, "to": true, "for": true, "and": true,
	"or": true, "what": true, "whats": true, "which": true, "who": true, "when": true, "how": true,
	"market": true, "markets": true, "odds": true, "chance": true, "chances": true, "probability": true,
	"price": true, "prices": true, "bet": true, "bets": true, "prediction": true, "predictions": true,
	"does": true, "do": true, "did": true, "it": true, "its": true, "go": true, "get": true,
	"hit": true, "reach": true, "close": true, "closes": true, "end": true, "before": true, "after": true,
	"than": true, "with": true, "from": true, "any": true, "me": true, "show": true, "find": true,
	"about": true, "there": true, "this": true, "that": true,
	"win": true, "wins": true, "winning": true, "still": true, "happen": true,
}
