package kalshi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	sibyl "github.com/sibylmcp/sibyl"
)

// Options configures a Venue.
type Options struct {
	Client *Client // required
	Env    string  // EnvDemo or EnvProd (default demo)
	// Live is --live: orders on the prod exchange are refused without it.
	Live   bool
	Now    func() time.Time
	Logger *slog.Logger
	// MarketTTL is how long a market's price rules are cached for order
	// checks (default one minute).
	MarketTTL time.Duration
}

// Venue is sibyl's Kalshi venue. It is safe for concurrent use.
type Venue struct {
	c        *Client
	env      string
	live     bool
	now      func() time.Time
	log      *slog.Logger
	ttl      time.Duration
	mu       sync.Mutex
	cache    map[string]cachedMarket
	attempts attempts
	health   struct {
		sync.Mutex
		reason string
	}
}

type cachedMarket struct {
	md MarketDetail
	at time.Time
}

// New returns a Venue.
func New(opts Options) (*Venue, error) {
	if opts.Client == nil {
		return nil, errors.New("kalshi: nil client")
	}
	if opts.Env == "" {
		opts.Env = EnvDemo
	}
	if opts.Env != EnvDemo && opts.Env != EnvProd {
		return nil, fmt.Errorf("kalshi: environment %q: want demo or prod", opts.Env)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MarketTTL <= 0 {
		opts.MarketTTL = time.Minute
	}
	return &Venue{c: opts.Client, env: opts.Env, live: opts.Live, now: opts.Now, log: opts.Logger, ttl: opts.MarketTTL, cache: map[string]cachedMarket{}}, nil
}

// Client returns the wire client.
func (v *Venue) Client() *Client { return v.c }

// Mode is read-only without credentials, demo on the demo exchange, live on
// prod.
func (v *Venue) Mode() string {
	switch {
	case !v.c.HasCredentials():
		return sibyl.ModeReadOnly
	case v.env == EnvProd:
		return sibyl.ModeLive
	}
	return sibyl.ModeDemo
}

// tradeRefusal says why this venue may not send an order or a cancel (nil
// when it may): no credentials, or prod without --live. Nothing is sent.
func (v *Venue) tradeRefusal() error {
	if !v.c.HasCredentials() {
		return errNoCredentials
	}
	if v.env == EnvProd && !v.live {
		return &sibyl.Error{Code: sibyl.Unauthorized, Message: "Kalshi is configured for the production exchange (real money) and sibyl was started without --live (SIBYL_LIVE=1): orders and cancels are refused and nothing was sent. Restart with --live to trade real money, or use SIBYL_KALSHI_ENV=demo"}
	}
	return nil
}

// Probe checks that Kalshi answers (and, with credentials, sizes the rate
// limiter from GET /account/limits). Its error is kept as the venue's reason
// for list_venues until a later call succeeds.
func (v *Venue) Probe(ctx context.Context) error {
	_, err := v.c.GetMarkets(ctx, MarketsQuery{Limit: 1})
	if err == nil && v.c.HasCredentials() {
		if _, lerr := v.c.SizeLimiter(ctx); lerr != nil {
			v.log.Warn("kalshi: reading /account/limits failed; keeping basic-tier rate limits", "err", lerr)
			if sibyl.ErrorCode(lerr) == sibyl.Unauthorized {
				err = lerr
			}
		}
	}
	v.noteHealth(err)
	return err
}

func (v *Venue) noteHealth(err error) {
	v.health.Lock()
	defer v.health.Unlock()
	switch sibyl.ErrorCode(err) {
	case "":
		v.health.reason = ""
	case sibyl.Unavailable, sibyl.Unauthorized:
		v.health.reason = sibyl.ErrorMessage(err)
	}
}

// Info describes the venue: its mode and, when the last probe or call found
// Kalshi unreachable or the credentials refused, why.
func (v *Venue) Info() sibyl.VenueInfo {
	v.health.Lock()
	reason := v.health.reason
	v.health.Unlock()
	caps := []string{"markets", "orderbook"}
	title := "Kalshi"
	switch v.Mode() {
	case sibyl.ModeReadOnly:
		title = "Kalshi (read-only: no credentials)"
	case sibyl.ModeDemo:
		title = "Kalshi demo exchange"
		caps = append(caps, "trading")
	case sibyl.ModeLive:
		if v.live {
			caps = append(caps, "trading")
		} else {
			title = "Kalshi (production; trading needs --live)"
		}
	}
	return sibyl.VenueInfo{
		Name: VenueName, Title: title, Mode: v.Mode(), Simulated: false,
		Available: reason == "", Reason: reason, Capabilities: caps,
		SharedAccount: true, RealMoney: v.env == EnvProd,
	}
}

// marketDetail returns a market's detail, cached for the TTL.
func (v *Venue) marketDetail(ctx context.Context, ticker string, fresh bool) (MarketDetail, error) {
	now := v.now()
	if !fresh {
		v.mu.Lock()
		c, ok := v.cache[ticker]
		v.mu.Unlock()
		if ok && now.Sub(c.at) < v.ttl {
			return c.md, nil
		}
	}
	m, err := v.c.GetMarket(ctx, ticker)
	v.noteHealth(err)
	if err != nil {
		return MarketDetail{}, err
	}
	md, err := ConvertMarket(m, now)
	if err != nil {
		return MarketDetail{}, &sibyl.Error{Code: sibyl.Unavailable, Message: "Kalshi sent a market sibyl cannot read", Err: err}
	}
	v.mu.Lock()
	v.cache[ticker] = cachedMarket{md: md, at: now}
	v.mu.Unlock()
	return md, nil
}

// Market returns one market by its ticker, or NotFound.
func (v *Venue) Market(ctx context.Context, nativeID string) (sibyl.Market, error) {
	md, err := v.marketDetail(ctx, nativeID, true)
	if err != nil {
		return sibyl.Market{}, err
	}
	return md.Market, nil
}

// searchPages bounds how many Kalshi pages one SearchMarkets call reads when
// it filters by text (Kalshi has no text search on /markets).
const (
	searchPages    = 5
	searchPageSize = 1000
	defaultLimit   = 50
)

var tickerLike = regexp.MustCompile(`^[A-Z0-9][A-Z0-9.]*(-[A-Z0-9.]+)*$`)

// SearchMarkets returns one page of markets. Kalshi cannot search text, so
// words are matched here over up to searchPages pages of Kalshi's list
// (multivariate combo markets excluded); a single ticker-like word is looked
// up as a series or event ticker first.
func (v *Venue) SearchMarkets(ctx context.Context, q sibyl.MarketQuery) (sibyl.MarketPage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	text := strings.TrimSpace(q.Text)
	if series := symbolSeries(text); series != nil && q.Category == "" {
		return v.searchSeries(ctx, series, q, limit)
	}
	mq := MarketsQuery{Status: statusFilter(q.Status), Cursor: q.Cursor, MveFilter: "exclude"}
	if up := strings.ToUpper(text); text != "" && tickerLike.MatchString(up) && strings.HasPrefix(up, "KX") {
		if strings.Contains(up, "-") {
			mq.EventTicker = up
		} else {
			mq.SeriesTicker = up
		}
		text = ""
	}
	words := strings.Fields(strings.ToLower(text))
	now := v.now()
	var out sibyl.MarketPage
	for page := 0; page < searchPages; page++ {
		mq.Limit = limit
		if len(words) > 0 || q.Category != "" {
			mq.Limit = searchPageSize
		}
		p, err := v.c.GetMarkets(ctx, mq)
		v.noteHealth(err)
		if err != nil {
			return sibyl.MarketPage{}, err
		}
		for _, w := range p.Markets {
			md, err := ConvertMarket(w, now)
			if err != nil {
				v.log.Warn("kalshi: skipping a market sibyl cannot read", "ticker", w.Ticker, "err", err)
				continue
			}
			if !matches(md.Market, words, q.Category) {
				continue
			}
			out.Markets = append(out.Markets, md.Market)
		}
		mq.Cursor = p.Cursor
		if p.Cursor == "" || len(out.Markets) >= limit {
			break
		}
	}
	if len(out.Markets) > limit {
		out.Markets = out.Markets[:limit]
		// The rest of this Kalshi page is skipped; the cursor moves on.
	}
	out.NextCursor = mq.Cursor
	return out, nil
}

// symbolSeries returns the Kalshi series of a token symbol searched alone
// ("BTC", "eth"): its daily above/below series (KXBTCD, which fill
// Underlying) and its range series (KXBTC). Kalshi lists tens of thousands of
// markets; a token's price markets are found by series, not by scanning.
func symbolSeries(text string) []string {
	up := strings.ToUpper(text)
	if up == "" || strings.ContainsAny(up, " -") {
		return nil
	}
	for series, sym := range cryptoSeries {
		if sym == up || series == up {
			return []string{"KX" + series + "D", "KX" + series}
		}
	}
	return nil
}

// searchSeries pages through several series in turn. Its cursor is
// "<series index>:<Kalshi's cursor>".
func (v *Venue) searchSeries(ctx context.Context, series []string, q sibyl.MarketQuery, limit int) (sibyl.MarketPage, error) {
	idx, inner := 0, ""
	if q.Cursor != "" {
		i, c, ok := strings.Cut(q.Cursor, ":")
		n, err := strconv.Atoi(i)
		if !ok || err != nil || n < 0 || n >= len(series) {
			return sibyl.MarketPage{}, sibyl.FieldErrorf(sibyl.Invalid, "cursor", "this cursor was not made by this search")
		}
		idx, inner = n, c
	}
	now := v.now()
	var out sibyl.MarketPage
	for idx < len(series) {
		p, err := v.c.GetMarkets(ctx, MarketsQuery{SeriesTicker: series[idx], Status: statusFilter(q.Status), Cursor: inner, Limit: limit - len(out.Markets)})
		v.noteHealth(err)
		if err != nil {
			return sibyl.MarketPage{}, err
		}
		for _, w := range p.Markets {
			md, err := ConvertMarket(w, now)
			if err != nil {
				v.log.Warn("kalshi: skipping a market sibyl cannot read", "ticker", w.Ticker, "err", err)
				continue
			}
			out.Markets = append(out.Markets, md.Market)
		}
		inner = p.Cursor
		if inner == "" {
			idx++
		}
		if len(out.Markets) >= limit {
			break
		}
	}
	if idx < len(series) {
		out.NextCursor = strconv.Itoa(idx) + ":" + inner
	}
	return out, nil
}

func matches(m sibyl.Market, words []string, category string) bool {
	if category != "" && !strings.EqualFold(m.Category, category) {
		return false
	}
	hay := strings.ToLower(m.Question + " " + m.Rules + " " + m.NativeID)
	for _, w := range words {
		if !strings.Contains(hay, w) {
			return false
		}
	}
	return true
}

// OrderBook returns one outcome's book: for "Yes" the YES bids and the NO
// bids as asks at 1-q; for "No" the mirror image.
func (v *Venue) OrderBook(ctx context.Context, nativeID, outcome string, depth int) (sibyl.OrderBook, error) {
	yes, err := outcomeIsYes(outcome)
	if err != nil {
		return sibyl.OrderBook{}, err
	}
	md, err := v.marketDetail(ctx, nativeID, false)
	if err != nil {
		return sibyl.OrderBook{}, err
	}
	b, err := v.c.GetOrderbook(ctx, nativeID, depth)
	v.noteHealth(err)
	if err != nil {
		return sibyl.OrderBook{}, err
	}
	return ConvertBook(nativeID, b, yes, depth, md.Ranges.MinStep(), v.now()), nil
}

func outcomeIsYes(outcome string) (bool, error) {
	switch strings.ToLower(outcome) {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, sibyl.FieldErrorf(sibyl.Invalid, "outcome", "Kalshi markets have the outcomes Yes and No, not %q", outcome)
}

// decimalFromFloat converts a float the current sibyl types carry into an
// exact decimal: the shortest decimal that round-trips the float, so 0.56 is
// 0.56 (never 0.56000000000000005).
func decimalFromFloat(f float64) decimal.Decimal {
	return decimal.NewFromFloat(f)
}
