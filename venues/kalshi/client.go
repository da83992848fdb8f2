package kalshi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
)

// Kalshi's base URLs (they include /trade-api/v2).
const (
	ProdURL = "https://external-api.kalshi.com/trade-api/v2"
	DemoURL = "https://external-api.demo.kalshi.co/trade-api/v2"
)

// maxBody bounds how much of an answer is read.
const maxBody = 16 << 20

// Config configures a Client.
type Config struct {
	// BaseURL is Kalshi's API root including /trade-api/v2 (ProdURL, DemoURL,
	// or an httptest server's URL + "/trade-api/v2").
	BaseURL string
	// Signer signs requests; nil means no credentials: only public market data
	// can be read, and portfolio calls fail with Unauthorized.
	Signer *Signer
	// HTTPClient sends the requests; nil means one with a 15 s timeout.
	HTTPClient *http.Client
	// Now is the clock for signature timestamps (nil: time.Now).
	Now func() time.Time
	// Limiter paces requests; nil means a basic-tier limiter.
	Limiter *Limiter
	// RateLimitRetries is how many times a 429 is retried after backing off
	// before RateLimited is returned (a 429 means nothing was done, so a
	// retry is safe even for a create). 0 means 2; negative means none.
	RateLimitRetries int
}

// Client is Kalshi's Trade API v2 over HTTP. It is safe for concurrent use.
// Every method returns a *sibyl.Error: Unavailable when the outcome is unknown
// (no answer, 408, 5xx, an answer that does not parse), RateLimited after
// repeated 429s, and the codes of toSibylError for Kalshi's refusals.
type Client struct {
	base     *url.URL
	signer   *Signer
	http     *http.Client
	now      func() time.Time
	limiter  *Limiter
	retries  int
	basePath string
}

// NewClient returns a Client for cfg, or an error when BaseURL is not an
// absolute http(s) URL.
func NewClient(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("kalshi: base URL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("kalshi: base URL %q must not have a query or fragment", cfg.BaseURL)
	}
	c := &Client{base: u, signer: cfg.Signer, http: cfg.HTTPClient, now: cfg.Now, limiter: cfg.Limiter, retries: cfg.RateLimitRetries, basePath: u.Path}
	if c.http == nil {
		c.http = &http.Client{Timeout: 15 * time.Second}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.limiter == nil {
		// Pacing runs on the real clock even when Now is a test clock: the
		// limiter sleeps for real.
		c.limiter = NewLimiter(nil)
	}
	if c.retries == 0 {
		c.retries = 2
	} else if c.retries < 0 {
		c.retries = 0
	}
	return c, nil
}

// HasCredentials reports whether the Client can sign portfolio requests.
func (c *Client) HasCredentials() bool { return c.signer != nil }

// BaseURL returns the API root the Client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

var errNoCredentials = &sibyl.Error{
	Code:    sibyl.Unauthorized,
	Message: "Kalshi credentials are not configured, so this venue is read-only: set KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH (a PEM file) to trade",
}

// do sends one request and decodes a 2xx answer into out (when non-nil).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any, auth bool) error {
	if auth && c.signer == nil {
		return errNoCredentials
	}
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return sibyl.WrapError(sibyl.Internal, err, "encoding the Kalshi request failed")
		}
	}
	write := method != http.MethodGet
	fullPath := c.basePath + path
	for attempt := 0; ; attempt++ {
		if err := c.limiter.Wait(ctx, write, DefaultCost); err != nil {
			// Nothing was sent.
			return &sibyl.Error{Code: sibyl.Unavailable, Message: "the call to Kalshi was cancelled while waiting for the rate limiter; nothing was sent", Err: err}
		}
		status, data, err := c.send(ctx, method, fullPath, q, payload)
		if err != nil {
			return err
		}
		if status == http.StatusTooManyRequests {
			wait := c.limiter.Penalize(write)
			if attempt < c.retries {
				if serr := sleepCtx(ctx, wait); serr == nil {
					continue
				}
			}
			return toSibylError(parseAPIError(status, data, method, fullPath))
		}
		c.limiter.Succeeded(write)
		if status < 200 || status > 299 {
			return toSibylError(parseAPIError(status, data, method, fullPath))
		}
		if out == nil || len(bytes.TrimSpace(data)) == 0 && status == http.StatusNoContent {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return &sibyl.Error{Code: sibyl.Unavailable, Message: "Kalshi sent an answer sibyl cannot read; the outcome is unknown", Err: fmt.Errorf("kalshi %s %s: decoding: %w", method, fullPath, err)}
		}
		return nil
	}
}

// send performs one HTTP exchange. A transport failure is returned as a
// *sibyl.Error (Unavailable); an HTTP status is returned as status and body.
func (c *Client) send(ctx context.Context, method, fullPath string, q url.Values, payload []byte) (int, []byte, error) {
	u := *c.base
	u.Path = fullPath
	u.RawPath = ""
	u.RawQuery = q.Encode()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, nil, sibyl.WrapError(sibyl.Internal, err, "building the Kalshi request failed")
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.signer != nil {
		if err := c.signer.SignRequest(req.Header, method, req.URL.EscapedPath()); err != nil {
			return 0, nil, sibyl.WrapError(sibyl.Internal, err, "signing the Kalshi request failed")
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, transportError(err, method, fullPath)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		// The status line arrived but the body was cut: for a 2xx the
		// request was done but its answer lost; treat as unknown.
		return 0, nil, transportError(err, method, fullPath)
	}
	return resp.StatusCode, data, nil
}

// MarketsQuery filters GET /markets. Zero fields do not filter.
type MarketsQuery struct {
	Limit        int
	Cursor       string
	EventTicker  string
	SeriesTicker string
	Status       string // unopened, open, paused, closed, settled
	Tickers      []string
	MveFilter    string // only | exclude
}

// GetMarkets returns one page of markets.
func (c *Client) GetMarkets(ctx context.Context, mq MarketsQuery) (MarketsPage, error) {
	q := url.Values{}
	if mq.Limit > 0 {
		q.Set("limit", strconv.Itoa(mq.Limit))
	}
	setIf(q, "cursor", mq.Cursor)
	setIf(q, "event_ticker", mq.EventTicker)
	setIf(q, "series_ticker", mq.SeriesTicker)
	setIf(q, "status", mq.Status)
	setIf(q, "mve_filter", mq.MveFilter)
	if len(mq.Tickers) > 0 {
		q.Set("tickers", strings.Join(mq.Tickers, ","))
	}
	var page MarketsPage
	err := c.do(ctx, http.MethodGet, "/markets", q, nil, &page, false)
	return page, err
}

// GetMarket returns one market, or NotFound.
func (c *Client) GetMarket(ctx context.Context, ticker string) (Market, error) {
	var env marketEnvelope
	if err := c.do(ctx, http.MethodGet, "/markets/"+url.PathEscape(ticker), nil, nil, &env, false); err != nil {
		return Market{}, err
	}
	return env.Market, nil
}

// GetOrderbook returns a market's book (depth <= 0: every level).
func (c *Client) GetOrderbook(ctx context.Context, ticker string, depth int) (Book, error) {
	q := url.Values{}
	if depth > 0 {
		q.Set("depth", strconv.Itoa(depth))
	}
	var w wireBook
	path := "/markets/" + url.PathEscape(ticker) + "/orderbook"
	if err := c.do(ctx, http.MethodGet, path, q, nil, &w, false); err != nil {
		return Book{}, err
	}
	b, err := parseBook(w)
	if err != nil {
		return Book{}, &sibyl.Error{Code: sibyl.Unavailable, Message: "Kalshi sent an order book sibyl cannot read", Err: fmt.Errorf("kalshi %s: %w", path, err)}
	}
	return b, nil
}

// EventsQuery filters GET /events.
type EventsQuery struct {
	Limit             int
	Cursor            string
	Status            string // unopened, open, closed, settled
	SeriesTicker      string
	WithNestedMarkets bool
}

// GetEvents returns one page of events.
func (c *Client) GetEvents(ctx context.Context, eq EventsQuery) (EventsPage, error) {
	q := url.Values{}
	if eq.Limit > 0 {
		q.Set("limit", strconv.Itoa(eq.Limit))
	}
	setIf(q, "cursor", eq.Cursor)
	setIf(q, "status", eq.Status)
	setIf(q, "series_ticker", eq.SeriesTicker)
	if eq.WithNestedMarkets {
		q.Set("with_nested_markets", "true")
	}
	var page EventsPage
	err := c.do(ctx, http.MethodGet, "/events", q, nil, &page, false)
	return page, err
}

// GetEvent returns one event and its markets.
func (c *Client) GetEvent(ctx context.Context, eventTicker string) (Event, error) {
	var env eventEnvelope
	if err := c.do(ctx, http.MethodGet, "/events/"+url.PathEscape(eventTicker), nil, nil, &env, false); err != nil {
		return Event{}, err
	}
	ev := env.Event
	if len(ev.Markets) == 0 {
		ev.Markets = env.Markets
	}
	return ev, nil
}

// GetSeries returns one series.
func (c *Client) GetSeries(ctx context.Context, seriesTicker string) (Series, error) {
	var env seriesEnvelope
	if err := c.do(ctx, http.MethodGet, "/series/"+url.PathEscape(seriesTicker), nil, nil, &env, false); err != nil {
		return Series{}, err
	}
	return env.Series, nil
}

// CreateOrder sends POST /portfolio/events/orders. Unavailable means the order
// may exist: reconcile with FindOrderByClientID before any resend.
func (c *Client) CreateOrder(ctx context.Context, req CreateOrderRequest) (CreateOrderResponse, error) {
	var resp CreateOrderResponse
	err := c.do(ctx, http.MethodPost, "/portfolio/events/orders", nil, req, &resp, true)
	return resp, err
}

// CancelOrder sends DELETE /portfolio/events/orders/{id}, with the order's
// shard and ticker so Kalshi routes it to the right exchange.
func (c *Client) CancelOrder(ctx context.Context, orderID string, exchangeIndex int, ticker string) (CancelOrderResponse, error) {
	q := url.Values{}
	q.Set("exchange_index", strconv.Itoa(exchangeIndex))
	setIf(q, "market_ticker", ticker)
	var resp CancelOrderResponse
	err := c.do(ctx, http.MethodDelete, "/portfolio/events/orders/"+url.PathEscape(orderID), q, nil, &resp, true)
	return resp, err
}

// GetOrder returns one order by Kalshi's id, or NotFound.
func (c *Client) GetOrder(ctx context.Context, orderID string) (Order, error) {
	var env orderEnvelope
	if err := c.do(ctx, http.MethodGet, "/portfolio/orders/"+url.PathEscape(orderID), nil, nil, &env, true); err != nil {
		return Order{}, err
	}
	return env.Order, nil
}

// OrdersQuery filters GET /portfolio/orders. MinTs and MaxTs are Unix seconds.
type OrdersQuery struct {
	Ticker      string
	EventTicker string
	MinTs       int64
	MaxTs       int64
	Status      string // resting, canceled, executed
	Limit       int
	Cursor      string
}

// GetOrders returns one page of the account's orders, newest first.
func (c *Client) GetOrders(ctx context.Context, oq OrdersQuery) (OrdersPage, error) {
	q := url.Values{}
	setIf(q, "ticker", oq.Ticker)
	setIf(q, "event_ticker", oq.EventTicker)
	if oq.MinTs > 0 {
		q.Set("min_ts", strconv.FormatInt(oq.MinTs, 10))
	}
	if oq.MaxTs > 0 {
		q.Set("max_ts", strconv.FormatInt(oq.MaxTs, 10))
	}
	setIf(q, "status", oq.Status)
	if oq.Limit > 0 {
		q.Set("limit", strconv.Itoa(oq.Limit))
	}
	setIf(q, "cursor", oq.Cursor)
	var page OrdersPage
	err := c.do(ctx, http.MethodGet, "/portfolio/orders", q, nil, &page, true)
	return page, err
}

// Reconciliation paging: the claim time is moved back by reconcileSlack to
// absorb clock skew between sibyl and Kalshi, and at most reconcilePages pages
// are read before giving up with Unavailable (never a guessed NotFound). The
// slack is generous on purpose: a NotFound lets the next attempt send the order
// again, and Kalshi refuses a repeated client_order_id only while the first
// order rests, so a window that started after the first order was created (a
// local clock more than the slack ahead) could place a second one. An hour of
// one market's orders costs a few more pages, and a window too long to read is
// Unavailable, which is safe.
const (
	reconcileSlack    = time.Hour
	reconcilePageSize = 200
	reconcilePages    = 50
)

// FindOrderByClientID finds the account's order with this client_order_id in
// market ticker, created at or after since (an empty ticker or a zero since
// widens the search to every market or all time). Kalshi cannot filter by
// client_order_id, so it pages GET /portfolio/orders?ticker&min_ts and
// matches. NotFound is returned only after every page was read; a scan cut
// short (too many pages, any error) is Unavailable. When several orders carry
// the id (a venue that did not deduplicate), the oldest is returned.
func (c *Client) FindOrderByClientID(ctx context.Context, ticker, clientOrderID string, since time.Time) (Order, error) {
	if clientOrderID == "" {
		return Order{}, sibyl.Errorf(sibyl.Invalid, "reconciling a Kalshi order needs its client order id")
	}
	oq := OrdersQuery{Ticker: ticker, Limit: reconcilePageSize}
	if !since.IsZero() {
		oq.MinTs = since.Add(-reconcileSlack).Unix()
	}
	var found *Order
	for page := 0; page < reconcilePages; page++ {
		p, err := c.GetOrders(ctx, oq)
		if err != nil {
			return Order{}, err
		}
		for i := range p.Orders {
			if p.Orders[i].ClientOrderID == clientOrderID {
				o := p.Orders[i]
				found = &o // pages are newest first: the last match is the oldest
			}
		}
		if p.Cursor == "" || len(p.Orders) == 0 {
			if found != nil {
				return *found, nil
			}
			where := "any market"
			if ticker != "" {
				where = ticker
			}
			return Order{}, sibyl.Errorf(sibyl.NotFound, "Kalshi has no order with client order id %s in %s", clientOrderID, where)
		}
		oq.Cursor = p.Cursor
	}
	if found != nil {
		return *found, nil
	}
	return Order{}, &sibyl.Error{Code: sibyl.Unavailable, Message: "Kalshi's order list was too long to finish the search for this order; its outcome is still unknown", Err: errors.New("kalshi: reconcile page limit reached")}
}

// FillsQuery filters GET /portfolio/fills.
type FillsQuery struct {
	Ticker  string
	OrderID string
	MinTs   int64
	Limit   int
	Cursor  string
}

// GetFills returns one page of the account's fills.
func (c *Client) GetFills(ctx context.Context, fq FillsQuery) (FillsPage, error) {
	q := url.Values{}
	setIf(q, "ticker", fq.Ticker)
	setIf(q, "order_id", fq.OrderID)
	if fq.MinTs > 0 {
		q.Set("min_ts", strconv.FormatInt(fq.MinTs, 10))
	}
	if fq.Limit > 0 {
		q.Set("limit", strconv.Itoa(fq.Limit))
	}
	setIf(q, "cursor", fq.Cursor)
	var page FillsPage
	err := c.do(ctx, http.MethodGet, "/portfolio/fills", q, nil, &page, true)
	return page, err
}

// GetBalance returns the account's balance.
func (c *Client) GetBalance(ctx context.Context) (Balance, error) {
	var b Balance
	err := c.do(ctx, http.MethodGet, "/portfolio/balance", nil, nil, &b, true)
	return b, err
}

// GetPositions returns one page of the account's market positions (only
// non-zero positions).
func (c *Client) GetPositions(ctx context.Context, cursor string, limit int) (PositionsPage, error) {
	q := url.Values{}
	setIf(q, "cursor", cursor)
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	q.Set("count_filter", "position")
	var p PositionsPage
	err := c.do(ctx, http.MethodGet, "/portfolio/positions", q, nil, &p, true)
	return p, err
}

// GetLimits returns the account's API rate limits.
func (c *Client) GetLimits(ctx context.Context) (AccountLimits, error) {
	var l AccountLimits
	err := c.do(ctx, http.MethodGet, "/account/limits", nil, nil, &l, true)
	return l, err
}

// SizeLimiter reads GET /account/limits and resizes the rate limiter to the
// account's tier. Without credentials it does nothing.
func (c *Client) SizeLimiter(ctx context.Context) (AccountLimits, error) {
	if c.signer == nil {
		return AccountLimits{}, nil
	}
	l, err := c.GetLimits(ctx)
	if err != nil {
		return AccountLimits{}, err
	}
	c.limiter.SetLimits(l)
	return l, nil
}

func setIf(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}
