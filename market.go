package sibyl

import (
	"strings"
	"time"
)

// MarketStatus is where a market is in its life.
type MarketStatus string

// Market statuses.
const (
	StatusOpen    MarketStatus = "open"    // accepting orders
	StatusClosed  MarketStatus = "closed"  // trading ended, result not yet known
	StatusSettled MarketStatus = "settled" // result known, positions paid out
)

// Market is one prediction market: a question with a closed set of outcomes, each
// traded as a contract that pays $1 if it wins and $0 otherwise. Prices are dollars
// per contract (0-1); sizes and volumes are in contracts.
type Market struct {
	ID           string          // "venue:native_id", the id agents use
	Venue        string          // venue name, such as "paper"
	NativeID     string          // the venue's own id
	Question     string          // the question in plain words
	Rules        string          // how the market resolves
	Category     string          // crypto, macro, sports, politics, ...
	Tags         []string        // words people search this market by that its question may lack (a token's name, a league, a person), when the venue has them
	Status       MarketStatus    // open, closed or settled
	Outcomes     []Outcome       // usually Yes and No
	Volume       float64         // contracts traded since the market opened
	Volume24h    float64         // contracts traded in the last 24 hours
	OpenInterest float64         // contracts outstanding
	OpenTime     time.Time       // when trading started
	CloseTime    time.Time       // when trading stops
	TickSize     float64         // smallest price step, in dollars, for display (OrderRules holds the exact rules)
	OrderRules   OrderRules      // the prices and quantities the market accepts, exactly
	Result       string          // the winning outcome's name once settled, else ""
	Underlying   *PriceCondition // set for markets on a token's price, else nil
	Simulated    bool            // true for the paper venue
	UpdatedAt    time.Time       // when these numbers were true
}

// PriceCondition describes a binary market on a token's price at a time: "Will BTC
// close above $120,000 on 2026-12-31?" is {BTC, 120000, above, 2026-12-31T...}.
// Venue adapters fill it in from market metadata so hedge can find such markets.
type PriceCondition struct {
	Symbol    string    // token symbol, such as "BTC"
	Strike    float64   // price level in USD
	Direction string    // "above" or "below": the Yes outcome wins when the price is on this side of Strike
	Expiry    time.Time // when the price is observed
}

// Outcome is one side of a market with its top of book. A zero Bid, Ask or Last
// means there is none (prices live strictly between 0 and 1 while a market
// trades): never show such a zero as a price. Mid, ImpliedProbability and
// ProbabilitySource follow PriceRule; ApplyPriceRule sets them.
type Outcome struct {
	Name               string      // such as "Yes" or "No"
	TokenID            string      // the venue's id for this outcome's contract, when it has one
	Bid                float64     // best bid, dollars; 0 when there is none
	BidSize            float64     // contracts at the best bid
	Ask                float64     // best ask, dollars; 0 when there is none
	AskSize            float64     // contracts at the best ask
	Last               float64     // the market's last traded price, dollars; 0 when none (settled: the payout)
	Mid                float64     // (Bid+Ask)/2 when both exist, else 0 (see PriceRule)
	ImpliedProbability float64     // the market's probability for this outcome, 0-1 (see PriceRule)
	ProbabilitySource  PriceSource // where ImpliedProbability came from; "" until ApplyPriceRule ran
}

// PriceLevel is one price of an order book side with the size resting there.
type PriceLevel struct {
	Price float64 // dollars per contract
	Size  float64 // contracts
}

// OrderBook is the depth of one outcome: Bids best (highest) first, Asks best
// (lowest) first.
type OrderBook struct {
	MarketID  string // "venue:native_id"
	Outcome   string
	Bids      []PriceLevel
	Asks      []PriceLevel
	TickSize  float64
	Time      time.Time
	Simulated bool
}

// MarketQuery selects markets for SearchMarkets. Zero fields do not filter.
type MarketQuery struct {
	Text     string       // words that must all appear in the question, rules or id (case-insensitive)
	Status   MarketStatus // only markets in this status
	Category string       // only markets in this category
	Limit    int          // page size; the venue applies its default when 0
	Cursor   string       // opaque cursor from a previous page
}

// MarketPage is one page of search results. NextCursor is empty on the last page.
type MarketPage struct {
	Markets    []Market
	NextCursor string
}

// Venue modes.
const (
	ModePaper = "paper" // simulated, no money
	ModeDemo  = "demo"  // the venue's own test environment
	ModeLive  = "live"  // real money
	// ModeReadOnly: market data only (no credentials, or trading not built).
	ModeReadOnly = "read-only"
)

// VenueInfo describes a configured venue for list_venues.
type VenueInfo struct {
	Name         string   // such as "paper", "kalshi"
	Title        string   // human-readable name
	Mode         string   // ModePaper, ModeDemo, ModeLive or ModeReadOnly
	Simulated    bool     // true when no real money moves
	Available    bool     // false when configured but unusable
	Reason       string   // why it is unavailable, when it is
	Capabilities []string // such as "markets", "orderbook", "trading"
	// SharedAccount is true when every principal trades one real account at
	// the venue (Kalshi, Polymarket with one set of credentials): sibyl then
	// records which principal placed which order and shows and touches only
	// the caller's, and balances and positions are the account's. False for
	// the paper venue, which keeps an account per principal.
	SharedAccount bool
	// RealMoney is true when orders move real money (Kalshi prod, Polymarket):
	// place_order and cancel_order are refused unless sibyl serve runs with
	// --live.
	RealMoney bool
}

// SplitMarketID splits "venue:native_id" at the first colon. ok is false when
// there is no colon or either part is empty.
func SplitMarketID(id string) (venue, native string, ok bool) {
	venue, native, ok = strings.Cut(id, ":")
	if !ok || venue == "" || native == "" {
		return "", "", false
	}
	return venue, native, true
}
