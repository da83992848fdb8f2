package tools

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/search"
)

// MarketTools returns list_venues, search_markets, get_market and get_orderbook.
func MarketTools(d *Deps) []Tool {
	return []Tool{
		New("list_venues", "List venues",
			"List the prediction-market venues this server is configured for, with their mode (paper = simulated money, demo = the venue's test environment, live = real money), whether they are available, and what they support, plus the venues that exist but cannot be traded here, with the reason. Call this first to learn which venue names search_markets and get_market accept.",
			readOnly, ScopeRead, d.listVenues),
		New("search_markets", "Search prediction markets",
			"Search prediction markets by words in the question, by status and by category, across one venue or all. Without venue, every configured venue is searched at once and the results are merged and ranked (more of your words in the question first, then open markets, then the nearest close), each naming its venue. Returns compact market summaries (id, question, status, close time, Yes/No prices and implied probabilities, volume) and a next_cursor for the next page. Use the returned id with get_market or get_orderbook.",
			readOnly, ScopeRead, d.searchMarkets),
		New("get_market", "Get a market",
			"Get one prediction market by id (venue:native_id): the question, the resolution rules, each outcome's bid/ask/last/mid and implied probability, volume, open interest, close time, status, and the top levels of each outcome's order book. Prices are dollars per contract (0-1); a contract pays $1 if its outcome wins.",
			readOnly, ScopeRead, d.getMarket),
		New("get_orderbook", "Get an order book",
			"Get the order book of one outcome of a market: bids (best first) and asks (best first) with the contracts resting at each price, the spread and the mid. Use it to judge liquidity and slippage before placing an order.",
			readOnly, ScopeRead, d.getOrderbook),
	}
}

// Answer is embedded in every market answer: where and when it comes from.
type Answer struct {
	Venue     string    `json:"venue" jsonschema_description:"The venue the data comes from (for answers spanning venues: the venue names joined by commas)."`
	Timestamp time.Time `json:"timestamp" jsonschema_description:"When the data was true (RFC 3339, UTC)."`
	Simulated bool      `json:"simulated" jsonschema_description:"True when the data comes from a simulated venue (paper trading: no real money, simulated prices)."`
}

type listVenuesIn struct{}

// VenueOut describes one venue.
type VenueOut struct {
	Name         string          `json:"name" jsonschema_description:"Venue name, the prefix of its market ids."`
	Title        string          `json:"title" jsonschema_description:"Human-readable venue name."`
	Mode         string          `json:"mode" jsonschema:"enum=paper,enum=demo,enum=live,enum=read-only" jsonschema_description:"paper: simulated money on a simulated market; demo: the venue's own test environment; live: real money; read-only: market data only (no credentials configured), its trading tools say why they cannot trade."`
	Simulated    bool            `json:"simulated" jsonschema_description:"True when no real money moves."`
	Available    bool            `json:"available" jsonschema_description:"False when the venue is configured but cannot be used now."`
	Reason       string          `json:"reason,omitempty" jsonschema_description:"Why the venue is unavailable, when it is."`
	Capabilities []string        `json:"capabilities" jsonschema_description:"What the venue supports, such as markets, orderbook, trading."`
	RiskLimits   *VenueLimitsOut `json:"risk_limits,omitempty" jsonschema_description:"The risk limits orders on this venue must fit (a refusal has code risk_limit); absent when none apply."`
}

// FeedOut describes one price-history feed.
type FeedOut struct {
	Name      string `json:"name" jsonschema_description:"Feed name, for the source argument of the grade tools."`
	Simulated bool   `json:"simulated" jsonschema_description:"True when its prices are simulated."`
}

type listVenuesOut struct {
	Venues      []VenueOut            `json:"venues" jsonschema_description:"The configured venues, paper first."`
	Feeds       []FeedOut             `json:"feeds" jsonschema_description:"The price-history feeds the grade tools accept as source; the default one first."`
	Unavailable []UnavailableVenueOut `json:"unavailable" jsonschema_description:"Prediction-market venues that exist but cannot be used through this server, each with the reason; do not try their names."`
	Timestamp   time.Time             `json:"timestamp" jsonschema_description:"When this answer was made (RFC 3339, UTC)."`
}

func (d *Deps) listVenues(ctx context.Context, c *Call, in listVenuesIn) (listVenuesOut, error) {
	out := listVenuesOut{Venues: []VenueOut{}, Feeds: []FeedOut{}, Unavailable: append([]UnavailableVenueOut{}, unavailableVenues...), Timestamp: d.now()}
	for _, n := range d.feedNames() {
		out.Feeds = append(out.Feeds, FeedOut{Name: n, Simulated: d.Feeds[n].Simulated()})
	}
	for _, n := range d.venueNames() {
		info := d.Venues[n].Info()
		caps := info.Capabilities
		if caps == nil {
			caps = []string{}
		}
		out.Venues = append(out.Venues, VenueOut{Name: info.Name, Title: info.Title, Mode: info.Mode,
			Simulated: info.Simulated, Available: info.Available, Reason: info.Reason, Capabilities: caps,
			RiskLimits: limitsOut(d.Limits[n], d.ConfirmAbove[n])})
	}
	return out, nil
}

type searchMarketsIn struct {
	Query    string `json:"query,omitempty" jsonschema:"maxLength=200" jsonschema_description:"What you are looking for, in your own words, in any order: names or tickers (bitcoin or BTC, ether or ETH, fed, super bowl), amounts (150k, $150,000, 3%), months and dates (december, dec 31, 2026-12-31, q4, next month, end of year). Matched against each market's question, rules, category and tags; words no market uses are ignored (and listed). Omit to list everything."`
	Venue    string `json:"venue,omitempty" jsonschema:"maxLength=40" jsonschema_description:"Only this venue (see list_venues). Omit to search all venues."`
	Status   string `json:"status,omitempty" jsonschema:"enum=open,enum=closed,enum=settled,enum=any" jsonschema_description:"Only markets in this status (default open: the ones you can trade); any for every status."`
	Category string `json:"category,omitempty" jsonschema:"maxLength=40" jsonschema_description:"Only this category, such as crypto, macro, sports or politics. Omit for all."`
	Limit    int    `json:"limit,omitempty" jsonschema:"minimum=1,maximum=100" jsonschema_description:"Most markets to return (1-100, default 20)."`
	Cursor   string `json:"cursor,omitempty" jsonschema:"maxLength=1000" jsonschema_description:"The next_cursor of a previous answer with the same query and filters, to get the next page."`
}

// OutcomeQuote is one outcome's prices. A price that does not exist (no bid, no
// ask, no trade) is absent, never 0; mid and implied_probability follow
// sibyl.PriceRule, and probability_source says which case applied.
type OutcomeQuote struct {
	Name               string   `json:"name" jsonschema_description:"Outcome name, such as Yes or No; use it as 'outcome' in get_orderbook and place_order."`
	Bid                *float64 `json:"bid,omitempty" jsonschema_description:"Best bid in dollars per contract; absent when no one bids."`
	BidSize            *float64 `json:"bid_size,omitempty" jsonschema_description:"Contracts at the best bid; absent with bid."`
	Ask                *float64 `json:"ask,omitempty" jsonschema_description:"Best ask in dollars per contract; absent when no one offers."`
	AskSize            *float64 `json:"ask_size,omitempty" jsonschema_description:"Contracts at the best ask; absent with ask."`
	Last               *float64 `json:"last,omitempty" jsonschema_description:"The market's last traded price in dollars (your own fills do not count); absent when there is none. On a settled market: what a contract paid (1 or 0)."`
	Mid                *float64 `json:"mid,omitempty" jsonschema_description:"Midpoint of bid and ask, 4 decimals; absent unless both sides are quoted."`
	ImpliedProbability *float64 `json:"implied_probability,omitempty" jsonschema:"minimum=0,maximum=1" jsonschema_description:"The market's probability for this outcome, 0-1, 4 decimals, by one rule on every venue: settled -> 1 or 0; both sides quoted -> the midpoint; else the last trade (kept within the quoted side); else the lone bid (a lower bound) or ask (an upper bound); else absent. probability_source says which."`
	ProbabilitySource  string   `json:"probability_source" jsonschema:"enum=settlement,enum=midpoint,enum=last_trade,enum=best_bid,enum=best_ask,enum=none" jsonschema_description:"Where implied_probability came from: settlement, midpoint (both sides quoted), last_trade (one side or none quoted), best_bid or best_ask (only that side and no trade: a bound, not an estimate), none (no probability)."`
}

// MarketSummary is a market as search_markets lists it.
type MarketSummary struct {
	ID           string         `json:"id" jsonschema_description:"Market id (venue:native_id) for get_market, get_orderbook and place_order."`
	Venue        string         `json:"venue" jsonschema_description:"Venue name."`
	Question     string         `json:"question" jsonschema_description:"The question the market resolves."`
	Status       string         `json:"status" jsonschema:"enum=open,enum=closed,enum=settled" jsonschema_description:"open: trading; closed: trading ended, result pending; settled: result known."`
	Category     string         `json:"category" jsonschema_description:"Category, such as crypto, macro, sports, politics."`
	Tags         []string       `json:"tags,omitempty" jsonschema_description:"Words the market is also known by (a token's name, a league, a person), when the venue has them."`
	CloseTime    time.Time      `json:"close_time" jsonschema_description:"When trading stops (RFC 3339, UTC)."`
	Outcomes     []OutcomeQuote `json:"outcomes" jsonschema_description:"Each outcome with its prices."`
	Volume       float64        `json:"volume" jsonschema_description:"Contracts traded since the market opened."`
	Volume24h    float64        `json:"volume_24h" jsonschema_description:"Contracts traded in the last 24 hours."`
	OpenInterest float64        `json:"open_interest" jsonschema_description:"Contracts outstanding."`
	Result       string         `json:"result,omitempty" jsonschema_description:"The winning outcome, once settled."`
	Simulated    bool           `json:"simulated" jsonschema_description:"True for simulated (paper) markets."`
}

// SearchSuggestion is a query that would find markets.
type SearchSuggestion struct {
	Query string `json:"query" jsonschema_description:"A query to try (with the same filters)."`
	Count int    `json:"count" jsonschema_description:"How many markets it finds."`
	Why   string `json:"why" jsonschema_description:"How it differs from your query."`
}

// CategoryCount is one category with the markets in it.
type CategoryCount struct {
	Category string `json:"category" jsonschema_description:"Category name, for the category filter."`
	Count    int    `json:"count" jsonschema_description:"Markets in it with the status asked for."`
}

type searchMarketsOut struct {
	Markets     []MarketSummary    `json:"markets" jsonschema_description:"The markets on this page, best match first (relevance, then the nearest close, then volume)."`
	NextCursor  string             `json:"next_cursor,omitempty" jsonschema_description:"Pass as cursor to get the next page; absent on the last page."`
	Total       int                `json:"total" jsonschema_description:"Markets matching, over all pages."`
	Interpreted string             `json:"interpreted,omitempty" jsonschema_description:"How the query was read: words with the synonyms they match (bitcoin (btc, xbt)), amounts, date ranges."`
	Ignored     []string           `json:"ignored_terms,omitempty" jsonschema_description:"Words of the query that appear in no market and were left out."`
	Suggestions []SearchSuggestion `json:"suggestions,omitempty" jsonschema_description:"When nothing (or little) matches: queries that would find markets."`
	Categories  []CategoryCount    `json:"categories,omitempty" jsonschema_description:"When nothing matches: the categories there are, with how many markets each has."`
	Note        string             `json:"note,omitempty" jsonschema_description:"Anything else to know about this answer, such as matches in another status."`
	Answer
}

// searchCursor is search_markets' opaque cursor: the offset into the ranked
// results and a hash of the query and filters it belongs to.
type searchCursor struct {
	Offset int    `json:"o"`
	Hash   string `json:"h"`
}

// maxSearchScan bounds the markets read from one venue for one search.
const maxSearchScan = 5000

func (d *Deps) searchMarkets(ctx context.Context, c *Call, in searchMarketsIn) (searchMarketsOut, error) {
	names := d.venueNames()
	if in.Venue != "" {
		if _, err := d.venue(in.Venue, "venue"); err != nil {
			return searchMarketsOut{}, err
		}
		names = []string{in.Venue}
	}
	limit := in.Limit
	if limit == 0 {
		limit = 20
	}
	status := in.Status
	if status == "" {
		status = string(sibyl.StatusOpen)
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{in.Query, in.Venue, status, strings.ToLower(in.Category)}, "\x00")))
	hash := base64.RawURLEncoding.EncodeToString(sum[:9])
	offset := 0
	if in.Cursor != "" {
		var cur searchCursor
		raw, err := base64.RawURLEncoding.DecodeString(in.Cursor)
		if err != nil || json.Unmarshal(raw, &cur) != nil || cur.Hash != hash || cur.Offset < 0 {
			return searchMarketsOut{}, errBadSearchCursor()
		}
		offset = cur.Offset
	}
	now := d.now()
	q := search.Parse(in.Query, now)
	cands, simulated, truncated, err := d.searchCandidates(ctx, names, status, q)
	if err != nil {
		return searchMarketsOut{}, err
	}
	inCategory := cands
	if in.Category != "" {
		inCategory = nil
		for _, m := range cands {
			if strings.EqualFold(m.Category, strings.TrimSpace(in.Category)) {
				inCategory = append(inCategory, m)
			}
		}
	}
	res := d.searchIndex.Rank(inCategory, q)
	out := searchMarketsOut{Markets: []MarketSummary{}, Total: len(res.Markets)}
	if !q.Empty() {
		out.Interpreted = search.Query{Terms: res.Used}.Describe()
	}
	for _, t := range res.Ignored {
		out.Ignored = append(out.Ignored, t.Raw)
	}
	for i := offset; i < len(res.Markets) && len(out.Markets) < limit; i++ {
		out.Markets = append(out.Markets, summarize(res.Markets[i]))
	}
	if next := offset + len(out.Markets); next < len(res.Markets) {
		raw, _ := json.Marshal(searchCursor{Offset: next, Hash: hash})
		out.NextCursor = base64.RawURLEncoding.EncodeToString(raw)
	}
	if len(res.Markets) == 0 {
		d.whatWouldMatch(ctx, names, status, in.Category, q, cands, inCategory, &out)
	}
	if truncated {
		out.Note = strings.TrimSpace(out.Note + fmt.Sprintf(" A venue lists more than %d markets; only those and the ones its own search finds for your words were ranked: add words or a category to narrow it.", maxSearchScan))
	}
	out.Answer = Answer{Venue: strings.Join(names, ","), Timestamp: now, Simulated: simulated}
	return out, nil
}

// searchCandidates reads every market of the venues in status ("any": all),
// up to maxSearchScan a venue; a venue with more is also asked, with its own
// text search, for each word of q, so its relevant markets are not missed.
func (d *Deps) searchCandidates(ctx context.Context, names []string, status string, q search.Query) ([]sibyl.Market, bool, bool, error) {
	st := sibyl.MarketStatus(status)
	if status == "any" {
		st = ""
	}
	var out []sibyl.Market
	seen := map[string]bool{}
	simulated, truncated := true, false
	scan := func(v sibyl.Venue, text string, max int) (bool, error) {
		mq := sibyl.MarketQuery{Text: text, Status: st, Limit: 100}
		for n := 0; n < max; {
			page, err := v.SearchMarkets(ctx, mq)
			if err != nil {
				return false, err
			}
			for _, m := range page.Markets {
				if !seen[m.ID] {
					seen[m.ID] = true
					out = append(out, m)
				}
			}
			n += len(page.Markets)
			if page.NextCursor == "" || len(page.Markets) == 0 {
				return false, nil
			}
			mq.Cursor = page.NextCursor
		}
		return true, nil
	}
	for _, n := range names {
		v := d.Venues[n]
		simulated = simulated && v.Info().Simulated
		more, err := scan(v, "", maxSearchScan)
		if err != nil {
			return nil, false, false, err
		}
		if !more {
			continue
		}
		truncated = true
		for _, t := range q.Terms {
			for _, w := range t.Words {
				if _, err := scan(v, w, 500); err != nil {
					return nil, false, false, err
				}
			}
		}
	}
	return out, simulated, truncated, nil
}

// whatWouldMatch fills in, for a search that found nothing, what would find
// something: nearby queries, the categories there are, and matches in other
// statuses.
func (d *Deps) whatWouldMatch(ctx context.Context, names []string, status, category string, q search.Query, cands, inCategory []sibyl.Market, out *searchMarketsOut) {
	counts := map[string]int{}
	for _, m := range cands {
		counts[m.Category]++
	}
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		out.Categories = append(out.Categories, CategoryCount{Category: name, Count: counts[name]})
	}
	for _, s := range d.searchIndex.Suggest(inCategory, q, d.now(), 5) {
		out.Suggestions = append(out.Suggestions, SearchSuggestion{Query: s.Query, Count: s.Count, Why: s.Why})
	}
	var notes []string
	if category != "" && len(inCategory) < len(cands) {
		if n := len(d.searchIndex.Rank(cands, q).Markets); n > 0 {
			notes = append(notes, fmt.Sprintf("%d markets in other categories match; omit category to see them.", n))
		}
	}
	if status != "any" {
		if all, _, _, err := d.searchCandidates(ctx, names, "any", q); err == nil {
			if n := len(d.searchIndex.Rank(all, q).Markets); n > 0 {
				notes = append(notes, fmt.Sprintf("%d markets in other statuses (closed or settled) match; pass status any to see them.", n))
			}
		}
	}
	if len(q.Terms) > 0 && len(out.Suggestions) == 0 && len(notes) == 0 {
		notes = append(notes, "No market mentions these words; try a token (bitcoin, ETH), an event (fed, inflation, election, super bowl) or a category below.")
	}
	out.Note = strings.Join(notes, " ")
}

// quotes shows m's outcomes by sibyl.PriceRule, whatever the venue filled in.
func quotes(m sibyl.Market) []OutcomeQuote {
	sibyl.ApplyPriceRule(&m)
	out := make([]OutcomeQuote, len(m.Outcomes))
	for i, o := range m.Outcomes {
		q := OutcomeQuote{Name: o.Name, ProbabilitySource: string(o.ProbabilitySource)}
		if o.Bid > 0 {
			q.Bid, q.BidSize = ptr(o.Bid), ptr(o.BidSize)
		}
		if o.Ask > 0 {
			q.Ask, q.AskSize = ptr(o.Ask), ptr(o.AskSize)
		}
		if o.Last > 0 || (m.Status == sibyl.StatusSettled && m.Result != "") {
			q.Last = ptr(o.Last)
		}
		if o.Mid > 0 {
			q.Mid = ptr(o.Mid)
		}
		if o.ProbabilitySource != sibyl.SourceNone {
			q.ImpliedProbability = ptr(o.ImpliedProbability)
		}
		out[i] = q
	}
	return out
}

func summarize(m sibyl.Market) MarketSummary {
	return MarketSummary{ID: m.ID, Venue: m.Venue, Question: m.Question, Status: string(m.Status), Category: m.Category, Tags: m.Tags,
		CloseTime: m.CloseTime.UTC(), Outcomes: quotes(m), Volume: m.Volume, Volume24h: m.Volume24h,
		OpenInterest: m.OpenInterest, Result: m.Result, Simulated: m.Simulated}
}

type getMarketIn struct {
	Market string `json:"market" jsonschema:"minLength=3,maxLength=300" jsonschema_description:"Market id as venue:native_id, for example paper:BTC-ABOVE-120000-2026-12-31 (search_markets returns ids)."`
	Depth  *int   `json:"depth,omitempty" jsonschema:"minimum=0,maximum=50" jsonschema_description:"Order-book levels per side to include for each outcome (0-50, default 5; 0 leaves books out)."`
}

// Level is one price level of a book.
type Level struct {
	Price float64 `json:"price" jsonschema_description:"Dollars per contract."`
	Size  float64 `json:"size" jsonschema_description:"Contracts resting at this price."`
}

// BookOut is one outcome's book.
type BookOut struct {
	Outcome string  `json:"outcome" jsonschema_description:"Outcome name."`
	Bids    []Level `json:"bids" jsonschema_description:"Bids, best (highest) first."`
	Asks    []Level `json:"asks" jsonschema_description:"Asks, best (lowest) first."`
}

// UnderlyingOut describes a market on a token's price.
type UnderlyingOut struct {
	Symbol    string    `json:"symbol" jsonschema_description:"Token symbol, such as BTC."`
	Strike    float64   `json:"strike" jsonschema_description:"Price level in USD."`
	Direction string    `json:"direction" jsonschema:"enum=above,enum=below" jsonschema_description:"Yes wins when the price is on this side of the strike at expiry."`
	Expiry    time.Time `json:"expiry" jsonschema_description:"When the price is observed (RFC 3339, UTC)."`
}

type getMarketOut struct {
	MarketSummary
	Rules      string         `json:"rules" jsonschema_description:"How the market resolves, in the venue's words."`
	OpenTime   time.Time      `json:"open_time" jsonschema_description:"When trading started (RFC 3339, UTC)."`
	TickSize   float64        `json:"tick_size" jsonschema_description:"Smallest price step in dollars; limit prices must be multiples of it."`
	Underlying *UnderlyingOut `json:"underlying,omitempty" jsonschema_description:"For markets on a token's price: the token, strike, direction and expiry."`
	Books      []BookOut      `json:"books" jsonschema_description:"Top of each outcome's order book, up to depth levels per side."`
	Fees       FeesOut        `json:"fees" jsonschema_description:"What an order in this market would pay in fees."`
	Timestamp  time.Time      `json:"timestamp" jsonschema_description:"When the data was true (RFC 3339, UTC)."`
}

func (d *Deps) getMarket(ctx context.Context, c *Call, in getMarketIn) (getMarketOut, error) {
	v, native, err := d.marketVenue(in.Market, "market")
	if err != nil {
		return getMarketOut{}, err
	}
	m, err := v.Market(ctx, native)
	if err != nil {
		return getMarketOut{}, err
	}
	depth := 5
	if in.Depth != nil {
		depth = *in.Depth
	}
	out := getMarketOut{MarketSummary: summarize(m), Rules: m.Rules, OpenTime: m.OpenTime.UTC(), TickSize: m.TickSize, Books: []BookOut{},
		Timestamp: m.UpdatedAt.UTC()}
	out.Fees = marketFees(m)
	if u := m.Underlying; u != nil {
		out.Underlying = &UnderlyingOut{Symbol: u.Symbol, Strike: u.Strike, Direction: u.Direction, Expiry: u.Expiry.UTC()}
	}
	if depth > 0 {
		for _, o := range m.Outcomes {
			b, err := v.OrderBook(ctx, native, o.Name, depth)
			if err != nil {
				return getMarketOut{}, err
			}
			out.Books = append(out.Books, BookOut{Outcome: o.Name, Bids: levels(b.Bids), Asks: levels(b.Asks)})
		}
	}
	return out, nil
}

func levels(ls []sibyl.PriceLevel) []Level {
	out := make([]Level, len(ls))
	for i, l := range ls {
		out[i] = Level{Price: sibyl.RoundProbability(l.Price), Size: l.Size}
	}
	return out
}

type getOrderbookIn struct {
	Market  string `json:"market" jsonschema:"minLength=3,maxLength=300" jsonschema_description:"Market id as venue:native_id (search_markets returns ids)."`
	Outcome string `json:"outcome,omitempty" jsonschema:"maxLength=100" jsonschema_description:"Outcome name as get_market lists it (default Yes)."`
	Depth   int    `json:"depth,omitempty" jsonschema:"minimum=1,maximum=200" jsonschema_description:"Levels per side (1-200, default 20)."`
}

type getOrderbookOut struct {
	Market             string   `json:"market" jsonschema_description:"Market id."`
	Outcome            string   `json:"outcome" jsonschema_description:"Outcome name."`
	Bids               []Level  `json:"bids" jsonschema_description:"Bids, best (highest) first; empty when no one bids."`
	Asks               []Level  `json:"asks" jsonschema_description:"Asks, best (lowest) first; empty when no one offers."`
	TickSize           float64  `json:"tick_size" jsonschema_description:"Smallest price step in dollars."`
	Spread             *float64 `json:"spread,omitempty" jsonschema_description:"Best ask minus best bid in dollars; absent unless both sides are quoted."`
	Mid                *float64 `json:"mid,omitempty" jsonschema_description:"Midpoint of best bid and ask in dollars, 4 decimals; absent unless both sides are quoted."`
	Last               *float64 `json:"last,omitempty" jsonschema_description:"The market's last traded price for this outcome (your own fills do not count); absent when there is none."`
	ImpliedProbability *float64 `json:"implied_probability,omitempty" jsonschema:"minimum=0,maximum=1" jsonschema_description:"The market's probability for this outcome, by the same rule as get_market (the two always agree): settled -> 1 or 0; both sides quoted -> the midpoint; else the last trade; else the lone bid or ask as a bound; else absent."`
	ProbabilitySource  string   `json:"probability_source" jsonschema:"enum=settlement,enum=midpoint,enum=last_trade,enum=best_bid,enum=best_ask,enum=none" jsonschema_description:"Where implied_probability came from (see get_market)."`
	Answer
}

func (d *Deps) getOrderbook(ctx context.Context, c *Call, in getOrderbookIn) (getOrderbookOut, error) {
	v, native, err := d.marketVenue(in.Market, "market")
	if err != nil {
		return getOrderbookOut{}, err
	}
	outcome, depth := in.Outcome, in.Depth
	if outcome == "" {
		outcome = "Yes"
	}
	if depth == 0 {
		depth = 20
	}
	b, err := v.OrderBook(ctx, native, outcome, depth)
	if err != nil {
		return getOrderbookOut{}, err
	}
	// The market's status and last trade complete the rule get_market uses.
	m, err := v.Market(ctx, native)
	if err != nil {
		return getOrderbookOut{}, err
	}
	sibyl.ApplyPriceRule(&m)
	last := 0.0
	for _, o := range m.Outcomes {
		if strings.EqualFold(o.Name, b.Outcome) {
			last = o.Last
		}
	}
	out := getOrderbookOut{Market: b.MarketID, Outcome: b.Outcome, Bids: levels(b.Bids), Asks: levels(b.Asks), TickSize: b.TickSize,
		Answer: Answer{Venue: v.Info().Name, Timestamp: b.Time.UTC(), Simulated: b.Simulated}}
	q := sibyl.BookQuote(m.Status, m.Result, b, last)
	out.ProbabilitySource = string(q.Source)
	if q.Source != sibyl.SourceNone {
		out.ImpliedProbability = ptr(q.Probability)
	}
	if q.Mid > 0 {
		out.Mid = ptr(q.Mid)
		out.Spread = ptr(sibyl.RoundProbability(b.Asks[0].Price - b.Bids[0].Price))
	}
	if last > 0 || (m.Status == sibyl.StatusSettled && m.Result != "") {
		out.Last = ptr(last)
	}
	return out, nil
}

func errBadSearchCursor() error {
	return sibyl.FieldErrorf(sibyl.Invalid, "cursor", "cursor is not one this server issued for this query and these filters; start again without a cursor")
}
