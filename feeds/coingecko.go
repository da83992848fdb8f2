package feeds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sibylmcp/sibyl"
	"golang.org/x/time/rate"
)

// CoinGecko is a live Source reading daily prices from CoinGecko's
// /api/v3/coins/{id}/market_chart/range (vs_currency=usd). That endpoint gives one
// price per day (for ranges over 90 days, which Daily always asks for) and the
// day's total volume in USD, but no open, high or low: each candle has
// Open = High = Low = Close, and Volume in USD, not the base asset. So ranges and
// true-range indicators (ATR) are degenerate on this feed; prefer Binance or CSV.
//
// The point stamped 00:00 UTC of day D+1 is taken as the close of day D; points
// not at a UTC midnight (the latest, "now" point) are dropped.
type CoinGecko struct {
	BaseURL string            // default "https://api.coingecko.com"; the pro API is "https://pro-api.coingecko.com"
	APIKey  string            // optional; sent in a header, never logged or returned
	KeyHdr  string            // header for APIKey, default "x-cg-demo-api-key" ("x-cg-pro-api-key" for pro)
	IDs     map[string]string // symbol -> CoinGecko coin id; nil means DefaultCoinGeckoIDs()
	Client  *http.Client      // nil means a client with a 20 s timeout
	Now     func() time.Time  // nil means time.Now
	// Limit, when not nil, paces requests to stay within CoinGecko's per-minute
	// call limit (CoinGeckoRate); a call that would wait past its context's
	// deadline fails with Unavailable at once.
	Limit *rate.Limiter
}

var _ Source = (*CoinGecko)(nil)

// DefaultCoinGeckoIDs returns the CoinGecko coin ids of the default universe,
// by symbol: a new map each time, so that no caller can change the default.
func DefaultCoinGeckoIDs() map[string]string {
	return map[string]string{
		"ADA": "cardano", "ATOM": "cosmos", "AVAX": "avalanche-2", "BNB": "binancecoin", "BTC": "bitcoin",
		"DOGE": "dogecoin", "DOT": "polkadot", "ETH": "ethereum", "LINK": "chainlink", "LTC": "litecoin",
		"PAXG": "pax-gold", "SHIB": "shiba-inu", "SOL": "solana", "UNI": "uniswap", "XRP": "ripple",
	}
}

// Name returns "coingecko".
func (g *CoinGecko) Name() string { return "coingecko" }

// Simulated returns false.
func (g *CoinGecko) Simulated() bool { return false }

func (g *CoinGecko) ids() map[string]string {
	if g.IDs == nil {
		return DefaultCoinGeckoIDs()
	}
	return g.IDs
}

// Symbols returns the symbols with a known coin id, sorted.
func (g *CoinGecko) Symbols(ctx context.Context) ([]string, error) {
	out := make([]string, 0, len(g.ids()))
	for s := range g.ids() {
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

// Daily fetches daily closes of symbol in [from, to] (zero from: 365 days before
// to). Errors: NotFound for a symbol without a coin id or a coin CoinGecko does
// not know (HTTP 404), Invalid for a bad range, Unavailable for network failures,
// 429/5xx, other refusals (such as 401 for a bad key) and malformed data.
func (g *CoinGecko) Daily(ctx context.Context, symbol string, from, to time.Time) ([]sibyl.Candle, error) {
	from, to, err := checkRange(from, to)
	if err != nil {
		return nil, err
	}
	sym := NormalizeSymbol(symbol)
	id, ok := g.ids()[sym]
	if !ok {
		known, _ := g.Symbols(ctx)
		return nil, unknownSymbol(g.Name(), sym, known)
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	lastComplete := LastCompleteDay(now())
	if to.IsZero() || to.After(lastComplete) {
		to = lastComplete
	}
	if from.IsZero() {
		from = to.Add(-364 * Day)
	}
	if from.After(to) {
		return nil, sibyl.FieldErrorf(sibyl.Invalid, "from", "from %s is after the latest complete day %s", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	// Ask for at least 91 days so CoinGecko answers with daily points, and for the
	// midnight after `to`, which carries to's close.
	qFrom := from
	if to.Sub(qFrom) < 91*Day {
		qFrom = to.Add(-91 * Day)
	}
	q := url.Values{}
	q.Set("vs_currency", "usd")
	q.Set("from", strconv.FormatInt(qFrom.Unix(), 10))
	q.Set("to", strconv.FormatInt(to.Add(Day).Unix(), 10))
	base := g.BaseURL
	if base == "" {
		base = "https://api.coingecko.com"
	}
	var headers map[string]string
	if g.APIKey != "" {
		h := g.KeyHdr
		if h == "" {
			h = "x-cg-demo-api-key"
		}
		headers = map[string]string{h: g.APIKey}
	}
	client := g.Client
	if client == nil {
		client = defaultClient()
	}
	var body struct {
		Prices       [][2]float64 `json:"prices"`
		TotalVolumes [][2]float64 `json:"total_volumes"`
	}
	if err := pace(ctx, g.Limit, "coingecko"); err != nil {
		return nil, err
	}
	err = getJSON(ctx, client, "coingecko", base+"/api/v3/coins/"+url.PathEscape(id)+"/market_chart/range?"+q.Encode(), headers, &body)
	var se *httpStatusError
	if errors.As(err, &se) {
		if se.Status == http.StatusNotFound {
			return nil, &sibyl.Error{Code: sibyl.NotFound, Field: "symbol", Message: fmt.Sprintf("coingecko does not know coin id %q for %s", id, sym), Err: err}
		}
		// 401/403 mean a bad or missing key: an operator problem, not the agent's.
		return nil, sibyl.WrapError(sibyl.Unavailable, errors.New(redact(se.Error(), g.APIKey)), fmt.Sprintf("coingecko refused the request (HTTP %d)", se.Status))
	}
	if err != nil {
		return nil, err
	}
	vol := make(map[int64]float64, len(body.TotalVolumes))
	for _, v := range body.TotalVolumes {
		vol[int64(v[0])] = v[1]
	}
	var out []sibyl.Candle
	for _, p := range body.Prices {
		ts := time.UnixMilli(int64(p[0])).UTC()
		if !ts.Equal(UTCDay(ts)) {
			continue
		}
		day := ts.Add(-Day)
		if day.Before(from) || day.After(to) {
			continue
		}
		if !(p[1] > 0) || p[1] > 1e15 {
			return nil, sibyl.Errorf(sibyl.Unavailable, "coingecko sent a bad price %v for %s on %s", p[1], sym, day.Format(time.DateOnly))
		}
		if n := len(out); n > 0 && !day.After(out[n-1].Time) {
			continue // duplicate midnight point
		}
		out = append(out, sibyl.Candle{Time: day, Open: p[1], High: p[1], Low: p[1], Close: p[1], Volume: vol[int64(p[0])]})
	}
	if len(out) == 0 {
		return nil, sibyl.FieldErrorf(sibyl.Invalid, "from", "coingecko has no daily %s prices between %s and %s", sym, from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	return out, nil
}

// redact removes key from s, so an upstream that echoes the key cannot leak it.
func redact(s, key string) string {
	if key == "" {
		return s
	}
	return strings.ReplaceAll(s, key, "[redacted]")
}
