package polymarket

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/sibylmcp/sibyl"
)

var conditionIDRe = regexp.MustCompile(`^0x[0-9a-fA-F]{64}$`)

// ValidOrderID reports whether s looks like a Polymarket order id (an order
// hash: 0x and 64 hex digits).
func ValidOrderID(s string) bool { return conditionIDRe.MatchString(s) }

// ValidConditionID reports whether s looks like a condition id (0x and 64 hex
// digits), the native id of a Polymarket market.
func ValidConditionID(s string) bool { return conditionIDRe.MatchString(s) }

// MarketByConditionID returns one market. Gamma is asked for open markets
// first and, when none matches, for closed ones (its /markets hides closed
// markets unless asked). NotFound when neither has it.
func (c *Client) MarketByConditionID(ctx context.Context, conditionID string) (Market, error) {
	if !ValidConditionID(conditionID) {
		return Market{}, sibyl.FieldErrorf(sibyl.NotFound, "market_id", "Polymarket has no market %q: its market ids are polymarket:<condition id>, the condition id being 0x and 64 hex digits", conditionID)
	}
	for _, closed := range []string{"false", "true"} {
		var ms []gammaMarket
		q := url.Values{"condition_ids": {conditionID}, "closed": {closed}}
		if err := c.do(ctx, request{method: http.MethodGet, base: c.gamma, path: "/markets", query: q}, &ms); err != nil {
			return Market{}, err
		}
		for _, g := range ms {
			if strings.EqualFold(g.ConditionID, conditionID) {
				m, err := parseMarket(g, nil)
				if err != nil {
					return Market{}, sibyl.WrapError(sibyl.Unavailable, err, "Polymarket sent a market sibyl cannot read")
				}
				return m, nil
			}
		}
	}
	return Market{}, sibyl.FieldErrorf(sibyl.NotFound, "market_id", "Polymarket has no market with condition id %s", conditionID)
}

// Search selects markets. Zero fields do not filter.
type Search struct {
	Text   string // words to search for (Gamma's public search over events and their markets)
	Closed *bool  // true: closed markets only; false: open only
	Tag    string // an event tag slug, such as "sports"
	Limit  int    // page size (default 20, at most 100)
	Cursor string // from a previous page
}

// SearchPage is one page of markets.
type SearchPage struct {
	Markets    []Market
	NextCursor string
}

// SearchMarkets runs a search. With Text it uses Gamma's /public-search (pages
// of events, their markets flattened; the cursor is the next page); with a Tag
// it pages /events?tag_slug=; otherwise /markets. Cursors are opaque.
func (c *Client) SearchMarkets(ctx context.Context, s Search) (SearchPage, error) {
	limit := s.Limit
	if limit <= 0 {
		limit = 20
	}
	if limit > 100 {
		limit = 100
	}
	pos := 0
	if s.Cursor != "" {
		n, err := strconv.Atoi(s.Cursor)
		if err != nil || n < 0 {
			return SearchPage{}, sibyl.FieldErrorf(sibyl.Invalid, "cursor", "not a cursor from a previous Polymarket page")
		}
		pos = n
	}
	q := url.Values{}
	if s.Closed != nil {
		q.Set("closed", strconv.FormatBool(*s.Closed))
	}
	var events []gammaEvent
	more := false
	switch {
	case strings.TrimSpace(s.Text) != "":
		q = url.Values{"q": {strings.TrimSpace(s.Text)}, "limit_per_type": {strconv.Itoa(limit)}, "page": {strconv.Itoa(pos + 1)}, "search_profiles": {"false"}, "search_tags": {"false"}}
		if s.Closed != nil {
			if *s.Closed {
				q.Set("events_status", "closed")
				q.Set("keep_closed_markets", "1")
			} else {
				q.Set("events_status", "active")
			}
		}
		if s.Tag != "" {
			q.Set("events_tag", s.Tag)
		}
		var ans gammaSearch
		if err := c.do(ctx, request{method: http.MethodGet, base: c.gamma, path: "/public-search", query: q}, &ans); err != nil {
			return SearchPage{}, err
		}
		events, more = ans.Events, ans.Pagination.HasMore
		pos++
	case s.Tag != "":
		q.Set("tag_slug", s.Tag)
		q.Set("limit", strconv.Itoa(limit))
		q.Set("offset", strconv.Itoa(pos))
		if err := c.do(ctx, request{method: http.MethodGet, base: c.gamma, path: "/events", query: q}, &events); err != nil {
			return SearchPage{}, err
		}
		more = len(events) == limit
		pos += len(events)
	default:
		q.Set("limit", strconv.Itoa(limit))
		q.Set("offset", strconv.Itoa(pos))
		var ms []gammaMarket
		if err := c.do(ctx, request{method: http.MethodGet, base: c.gamma, path: "/markets", query: q}, &ms); err != nil {
			return SearchPage{}, err
		}
		page := SearchPage{}
		for _, g := range ms {
			m, err := parseMarket(g, nil)
			if err != nil {
				continue // one unreadable market does not hide the page
			}
			page.Markets = append(page.Markets, m)
		}
		if len(ms) == limit {
			page.NextCursor = strconv.Itoa(pos + len(ms))
		}
		return page, nil
	}
	page := SearchPage{Markets: marketsOfEvents(events, s.Closed)}
	if more {
		page.NextCursor = strconv.Itoa(pos)
	}
	return page, nil
}

// marketsOfEvents flattens events into their markets, each tagged with its
// event's tags, keeping only open or closed ones when closed is set.
func marketsOfEvents(events []gammaEvent, closed *bool) []Market {
	var out []Market
	for _, e := range events {
		var tags []string
		for _, t := range e.Tags {
			tags = append(tags, t.Label)
		}
		for _, g := range e.Markets {
			if closed != nil && g.Closed != *closed {
				continue
			}
			m, err := parseMarket(g, tags)
			if err != nil {
				continue
			}
			if m.Category == "" {
				m.Category = e.Category
			}
			out = append(out, m)
		}
	}
	return out
}

// Book returns one outcome token's book, best first.
func (c *Client) Book(ctx context.Context, tokenID string) (Book, error) {
	var w clobBook
	if err := c.do(ctx, request{method: http.MethodGet, base: c.clobURL, path: "/book", query: url.Values{"token_id": {tokenID}}}, &w); err != nil {
		return Book{}, err
	}
	b, err := parseBook(w)
	if err != nil {
		return Book{}, sibyl.WrapError(sibyl.Unavailable, err, "Polymarket sent a book sibyl cannot read")
	}
	return b, nil
}

// Midpoint returns GET /midpoint for a token.
func (c *Client) Midpoint(ctx context.Context, tokenID string) (decimal.Decimal, error) {
	var a struct {
		Mid num `json:"mid"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, base: c.clobURL, path: "/midpoint", query: url.Values{"token_id": {tokenID}}}, &a); err != nil {
		return decimal.Decimal{}, err
	}
	if !a.Mid.Set {
		return decimal.Decimal{}, sibyl.Errorf(sibyl.NotFound, "Polymarket has no midpoint for this token")
	}
	return a.Mid.Decimal, nil
}

// TickSize returns GET /tick-size for a token, as Polymarket writes it.
func (c *Client) TickSize(ctx context.Context, tokenID string) (string, error) {
	var a struct {
		Min num `json:"minimum_tick_size"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, base: c.clobURL, path: "/tick-size", query: url.Values{"token_id": {tokenID}}}, &a); err != nil {
		return "", err
	}
	if !a.Min.Set {
		return "", sibyl.Errorf(sibyl.Unavailable, "Polymarket sent no tick size")
	}
	return a.Min.String(), nil
}

// OrderVersion returns GET /version: the order version the CLOB accepts (2
// when the answer has none, as the official client assumes).
func (c *Client) OrderVersion(ctx context.Context) (int, error) {
	var a struct {
		Version *int `json:"version"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, base: c.clobURL, path: "/version"}, &a); err != nil {
		return 0, err
	}
	if a.Version == nil {
		return 2, nil
	}
	if *a.Version != 2 && *a.Version != 3 {
		return 0, sibyl.Errorf(sibyl.Unavailable, "Polymarket asks for order version %d, which sibyl does not sign (2 or 3)", *a.Version)
	}
	return *a.Version, nil
}

// Position is one holding from the Data API.
type Position struct {
	ConditionID  string
	TokenID      string
	Outcome      string
	Size         decimal.Decimal // shares
	AvgPrice     decimal.Decimal
	CurPrice     decimal.Decimal
	CurrentValue decimal.Decimal
	CashPnL      decimal.Decimal
	RealizedPnL  decimal.Decimal
	Redeemable   bool
	Title        string
}

type wirePosition struct {
	Asset        string `json:"asset"`
	ConditionID  string `json:"conditionId"`
	Outcome      string `json:"outcome"`
	Size         num    `json:"size"`
	AvgPrice     num    `json:"avgPrice"`
	CurPrice     num    `json:"curPrice"`
	CurrentValue num    `json:"currentValue"`
	CashPnl      num    `json:"cashPnl"`
	RealizedPnl  num    `json:"realizedPnl"`
	Redeemable   bool   `json:"redeemable"`
	Title        string `json:"title"`
}

// Positions returns every open position of a wallet (the maker: the funder, or
// the key's address for type 0) from the Data API v2, following its cursor.
func (c *Client) Positions(ctx context.Context, user string) ([]Position, error) {
	var out []Position
	cursor := ""
	for page := 0; page < 100; page++ {
		q := url.Values{"user": {user}, "status": {"OPEN"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var a struct {
			Data       []wirePosition `json:"data"`
			Pagination struct {
				NextCursor string `json:"next_cursor"`
			} `json:"pagination"`
		}
		if err := c.do(ctx, request{method: http.MethodGet, base: c.data, path: "/v2/positions", query: q}, &a); err != nil {
			return nil, err
		}
		for _, p := range a.Data {
			out = append(out, Position{ConditionID: p.ConditionID, TokenID: p.Asset, Outcome: p.Outcome,
				Size: p.Size.Decimal, AvgPrice: p.AvgPrice.Decimal, CurPrice: p.CurPrice.Decimal,
				CurrentValue: p.CurrentValue.Decimal, CashPnL: p.CashPnl.Decimal, RealizedPnL: p.RealizedPnl.Decimal,
				Redeemable: p.Redeemable, Title: p.Title})
		}
		if a.Pagination.NextCursor == "" || a.Pagination.NextCursor == cursor {
			return out, nil
		}
		cursor = a.Pagination.NextCursor
	}
	return nil, sibyl.Errorf(sibyl.Unavailable, "Polymarket's positions did not end after 100 pages")
}

// Balance returns the wallet's pUSD (collateral) balance from GET
// /balance-allowance, in dollars.
func (t *Trader) Balance(ctx context.Context) (decimal.Decimal, error) {
	q := url.Values{"asset_type": {"COLLATERAL"}, "signature_type": {strconv.Itoa(int(t.wallet.SignatureType))}}
	var a struct {
		Balance num `json:"balance"`
	}
	if err := t.c.do(ctx, request{method: http.MethodGet, base: t.c.clobURL, path: "/balance-allowance", query: q, auth: true}, &a); err != nil {
		return decimal.Decimal{}, err
	}
	if !a.Balance.Set {
		return decimal.Decimal{}, sibyl.Errorf(sibyl.Unavailable, "Polymarket sent no balance")
	}
	return a.Balance.Shift(-6), nil
}
