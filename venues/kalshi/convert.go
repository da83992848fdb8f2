package kalshi

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	sibyl "github.com/sibylmcp/sibyl"
)

// VenueName is the name sibyl knows Kalshi by: market ids are "kalshi:<ticker>".
const VenueName = "kalshi"

// Outcome names of a Kalshi binary market.
const (
	OutcomeYes = "Yes"
	OutcomeNo  = "No"
)

// parseTime reads an RFC 3339 timestamp; empty is the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// marketStatus maps Kalshi's lifecycle onto sibyl's three statuses: only
// "active" takes orders; a market is settled once its result is known.
func marketStatus(status, result string) sibyl.MarketStatus {
	switch status {
	case "active", "open":
		return sibyl.StatusOpen
	case "finalized", "settled":
		return sibyl.StatusSettled
	case "determined", "amended":
		if result != "" {
			return sibyl.StatusSettled
		}
	}
	return sibyl.StatusClosed
}

// statusFilter maps sibyl's status filter onto GET /markets?status=.
func statusFilter(s sibyl.MarketStatus) string {
	switch s {
	case sibyl.StatusOpen:
		return "open"
	case sibyl.StatusClosed:
		return "closed"
	case sibyl.StatusSettled:
		return "settled"
	}
	return ""
}

func resultName(r string) string {
	switch r {
	case "yes":
		return OutcomeYes
	case "no":
		return OutcomeNo
	}
	return r
}

// quote is one market's top of book in exact decimals, derived from the YES
// side only: Kalshi's NO fields are the mirror image (NO bid = 1 - YES ask),
// and on some markets (multivariate combos with no quotes) they are filled
// with placeholders such as "1.0000", so the YES side is the one trusted.
type quote struct {
	yesBid, yesBidSize, yesAsk, yesAskSize, last decimal.Decimal
}

func parseQuote(m Market) (quote, error) {
	var q quote
	var err error
	fields := []struct {
		dst  *decimal.Decimal
		s    string
		name string
		cnt  bool
	}{
		{&q.yesBid, m.YesBidDollars, "yes_bid_dollars", false},
		{&q.yesBidSize, m.YesBidSizeFP, "yes_bid_size_fp", true},
		{&q.yesAsk, m.YesAskDollars, "yes_ask_dollars", false},
		{&q.yesAskSize, m.YesAskSizeFP, "yes_ask_size_fp", true},
		{&q.last, m.LastPriceDollars, "last_price_dollars", false},
	}
	for _, f := range fields {
		if f.cnt {
			*f.dst, err = ParseCount(f.s)
		} else {
			*f.dst, err = ParseDollars(f.s)
		}
		if err != nil {
			return quote{}, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	// A price of 0 or 1 is "no quote" on Kalshi.
	if !q.yesBid.IsPositive() || !q.yesBid.LessThan(one) {
		q.yesBid, q.yesBidSize = decimal.Zero, decimal.Zero
	}
	if !q.yesAsk.IsPositive() || !q.yesAsk.LessThan(one) {
		q.yesAsk, q.yesAskSize = decimal.Zero, decimal.Zero
	}
	return q, nil
}

// MarketDetail is a Kalshi market in sibyl's terms plus what the adapter needs
// to trade it: the exact price rules and the exchange shard.
type MarketDetail struct {
	Market        sibyl.Market
	Ranges        PriceRanges
	ExchangeIndex int
	Active        bool // Kalshi status "active": the market takes orders
}

// ConvertMarket maps a Kalshi market onto sibyl.Market. now stamps UpdatedAt.
// It fails on malformed prices, counts, times or price ranges.
func ConvertMarket(m Market, now time.Time) (MarketDetail, error) {
	if m.Ticker == "" {
		return MarketDetail{}, fmt.Errorf("market has no ticker")
	}
	q, err := parseQuote(m)
	if err != nil {
		return MarketDetail{}, fmt.Errorf("market %s: %w", m.Ticker, err)
	}
	ranges, err := parsePriceRanges(m.PriceRanges)
	if err != nil {
		return MarketDetail{}, fmt.Errorf("market %s: %w", m.Ticker, err)
	}
	vol, err := ParseCount(m.VolumeFP)
	if err != nil {
		return MarketDetail{}, fmt.Errorf("market %s volume_fp: %w", m.Ticker, err)
	}
	vol24, err := ParseCount(m.Volume24hFP)
	if err != nil {
		return MarketDetail{}, fmt.Errorf("market %s volume_24h_fp: %w", m.Ticker, err)
	}
	oi, err := ParseCount(m.OpenInterestFP)
	if err != nil {
		return MarketDetail{}, fmt.Errorf("market %s open_interest_fp: %w", m.Ticker, err)
	}
	openT, err := parseTime(m.OpenTime)
	if err != nil {
		return MarketDetail{}, fmt.Errorf("market %s open_time: %w", m.Ticker, err)
	}
	closeT, err := parseTime(m.CloseTime)
	if err != nil {
		return MarketDetail{}, fmt.Errorf("market %s close_time: %w", m.Ticker, err)
	}
	under, err := underlying(m)
	if err != nil {
		return MarketDetail{}, fmt.Errorf("market %s: %w", m.Ticker, err)
	}

	// The title often names the event ("PSG vs Chelsea Winner?", "Bitcoin
	// price on Dec 31?") and yes_sub_title what YES means ("PSG", "$120,000
	// or above"); a title that already states the outcome ("Dallas wins")
	// stands alone.
	question := m.Title
	if sub := m.YesSubTitle; sub != "" && sub != m.Title && (strings.HasSuffix(m.Title, "?") || !strings.Contains(m.Title, sub)) {
		question = strings.TrimSpace(m.Title + " — " + m.YesSubTitle)
	}
	rules := m.RulesPrimary
	if m.RulesSecondary != "" {
		rules = strings.TrimSpace(rules + "\n\n" + m.RulesSecondary)
	}

	yes := outcomeFrom(OutcomeYes, q.yesBid, q.yesBidSize, q.yesAsk, q.yesAskSize, q.last)
	// NO mirrors YES: its bid is 1 - YES ask (with the ask's size) and its ask
	// is 1 - YES bid.
	var noBid, noBidSize, noAsk, noAskSize, noLast decimal.Decimal
	if q.yesAsk.IsPositive() {
		noBid, noBidSize = one.Sub(q.yesAsk), q.yesAskSize
	}
	if q.yesBid.IsPositive() {
		noAsk, noAskSize = one.Sub(q.yesBid), q.yesBidSize
	}
	if q.last.IsPositive() && q.last.LessThan(one) {
		noLast = one.Sub(q.last)
	}
	no := outcomeFrom(OutcomeNo, noBid, noBidSize, noAsk, noAskSize, noLast)

	return MarketDetail{
		Market: sibyl.Market{
			ID:           VenueName + ":" + m.Ticker,
			Venue:        VenueName,
			NativeID:     m.Ticker,
			Question:     question,
			Rules:        rules,
			Category:     category(m),
			Status:       marketStatus(m.Status, m.Result),
			Outcomes:     []sibyl.Outcome{yes, no},
			Volume:       vol.InexactFloat64(),
			Volume24h:    vol24.InexactFloat64(),
			OpenInterest: oi.InexactFloat64(),
			OpenTime:     openT,
			CloseTime:    closeT,
			TickSize:     ranges.MinStep().InexactFloat64(),
			OrderRules:   orderRules(ranges, m.FractionalTradingEnabled),
			Result:       resultName(m.Result),
			Underlying:   under,
			UpdatedAt:    now,
		},
		Ranges:        ranges,
		ExchangeIndex: m.ExchangeIndex,
		Active:        m.Status == "active",
	}, nil
}

// orderRules turns Kalshi's price_ranges (YES prices, bands written from 0 to
// 1) into sibyl's rules: the bands clipped to the tradable prices strictly
// inside (0,1), quantities in steps of 0.01 contract (whole contracts on a
// market that says fractional_trading_enabled: false). Kalshi's price
// structures are symmetric, so a NO price is on a step exactly when its YES
// mirror is; the adapter checks the mirror anyway before sending.
func orderRules(rs PriceRanges, fractional *bool) sibyl.OrderRules {
	var out sibyl.OrderRules
	for _, r := range rs {
		start, end := r.Start, r.End
		if !start.IsPositive() {
			start = start.Add(r.Step)
		}
		if !end.LessThan(one) {
			end = r.Start.Add(one.Sub(r.Start).Div(r.Step).Ceil().Sub(one).Mul(r.Step))
		}
		if start.GreaterThan(end) {
			continue
		}
		out.PriceRanges = append(out.PriceRanges, sibyl.PriceRange{Start: start, End: end, Step: r.Step})
	}
	out.QuantityStep = decimal.New(1, -countDecimals)
	if fractional != nil && !*fractional {
		out.QuantityStep = decimal.NewFromInt(1)
	}
	return out
}

func outcomeFrom(name string, bid, bidSize, ask, askSize, last decimal.Decimal) sibyl.Outcome {
	mid := last
	if bid.IsPositive() && ask.IsPositive() {
		mid = bid.Add(ask).Div(decimal.NewFromInt(2))
	}
	return sibyl.Outcome{
		Name:               name,
		Bid:                bid.InexactFloat64(),
		BidSize:            bidSize.InexactFloat64(),
		Ask:                ask.InexactFloat64(),
		AskSize:            askSize.InexactFloat64(),
		Last:               last.InexactFloat64(),
		Mid:                mid.InexactFloat64(),
		ImpliedProbability: mid.InexactFloat64(),
	}
}

// category guesses sibyl's category from the ticker family: Kalshi puts the
// category on the series, which a market does not carry.
func category(m Market) string {
	if _, ok := cryptoSymbol(seriesOf(m.EventTicker)); ok {
		return "crypto"
	}
	return ""
}

func seriesOf(eventTicker string) string {
	s, _, _ := strings.Cut(eventTicker, "-")
	return s
}

// cryptoSeries are the tokens whose Kalshi price series sibyl recognises:
// KXBTCD (daily above/below) and KXBTC (ranges) for BTC, and so on.
var cryptoSeries = map[string]string{
	"BTC": "BTC", "ETH": "ETH", "SOL": "SOL", "XRP": "XRP", "DOGE": "DOGE",
	"BNB": "BNB", "ADA": "ADA", "AVAX": "AVAX", "LINK": "LINK", "LTC": "LTC",
	"SHIBA": "SHIB", "HYPE": "HYPE", "SUI": "SUI",
}

// cryptoSymbol maps a series ticker such as KXBTCD or KXETH onto its token.
func cryptoSymbol(series string) (string, bool) {
	s, ok := strings.CutPrefix(series, "KX")
	if !ok {
		return "", false
	}
	if sym, ok := cryptoSeries[s]; ok {
		return sym, true
	}
	if base, ok := strings.CutSuffix(s, "D"); ok {
		if sym, ok := cryptoSeries[base]; ok {
			return sym, true
		}
	}
	return "", false
}

// underlying fills sibyl.PriceCondition for Kalshi's crypto price markets
// (KXBTCD-style): strike_type greater/greater_or_equal with floor_strike is
// "above floor_strike"; less/less_or_equal with cap_strike is "below
// cap_strike". Range markets ("between") and everything else give nil.
func underlying(m Market) (*sibyl.PriceCondition, error) {
	sym, ok := cryptoSymbol(seriesOf(m.EventTicker))
	if !ok {
		return nil, nil
	}
	var dir string
	var strike *jsonNumber
	switch m.StrikeType {
	case "greater", "greater_or_equal":
		dir, strike = "above", m.FloorStrike
	case "less", "less_or_equal":
		dir, strike = "below", m.CapStrike
	default:
		return nil, nil
	}
	if strike == nil {
		return nil, nil
	}
	k, err := decimal.NewFromString(string(*strike))
	if err != nil || !k.IsPositive() {
		return nil, fmt.Errorf("strike %q is not a positive number", string(*strike))
	}
	exp := m.ExpectedExpirationTime
	if exp == "" {
		exp = m.CloseTime
	}
	expiry, err := parseTime(exp)
	if err != nil {
		return nil, err
	}
	return &sibyl.PriceCondition{Symbol: sym, Strike: k.InexactFloat64(), Direction: dir, Expiry: expiry}, nil
}

// ConvertBook maps one outcome of a Kalshi book onto sibyl.OrderBook.
func ConvertBook(ticker string, b Book, yes bool, depth int, tick decimal.Decimal, now time.Time) sibyl.OrderBook {
	bids, asks := b.Outcome(yes, depth)
	name := OutcomeYes
	if !yes {
		name = OutcomeNo
	}
	return sibyl.OrderBook{
		MarketID: VenueName + ":" + ticker,
		Outcome:  name,
		Bids:     levels(bids),
		Asks:     levels(asks),
		TickSize: tick.InexactFloat64(),
		Time:     now,
	}
}

func levels(ls []Level) []sibyl.PriceLevel {
	out := make([]sibyl.PriceLevel, len(ls))
	for i, l := range ls {
		out[i] = sibyl.PriceLevel{Price: l.Price.InexactFloat64(), Size: l.Count.InexactFloat64()}
	}
	return out
}
