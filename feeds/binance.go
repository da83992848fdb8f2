package feeds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"time"

	"net/http"

	"github.com/sibylmcp/sibyl"
	"golang.org/x/time/rate"
)

// Binance is a live Source reading daily klines from Binance's public spot API
// (GET /api/v3/klines, interval 1d) for SYMBOL+Quote pairs. No key is needed.
// Volume is in the base asset. The day in progress is never returned: a kline
// counts only once its close time has passed (by Now).
type Binance struct {
	BaseURL  string           // default "https://api.binance.com"
	Quote    string           // quote asset, default "USDT"
	Universe []string         // symbols Symbols reports and Daily accepts; nil means DefaultUniverse()
	Client   *http.Client     // nil means a client with a 20 s timeout
	Now      func() time.Time // nil means time.Now
	// Limit, when not nil, paces requests to stay within Binance's request
	// weight limits (BinanceRate); a call that would wait past its context's
	// deadline fails with Unavailable at once.
	Limit *rate.Limiter
}

var _ Source = (*Binance)(nil)

// DefaultUniverse returns the token list of the live feeds when none is
// configured: a new slice each time, so that no caller can change the default.
func DefaultUniverse() []string {
	return []string{"ADA", "ATOM", "AVAX", "BNB", "BTC", "DOGE", "DOT", "ETH", "LINK", "LTC", "PAXG", "SHIB", "SOL", "UNI", "XRP"}
}

// binanceLimit is the most klines Binance returns per request.
const binanceLimit = 1000

// Name returns "binance".
func (b *Binance) Name() string { return "binance" }

// Simulated returns false.
func (b *Binance) Simulated() bool { return false }

// Symbols returns the configured universe, sorted.
func (b *Binance) Symbols(ctx context.Context) ([]string, error) { return universe(b.Universe), nil }

func universe(u []string) []string {
	if u == nil {
		u = DefaultUniverse()
	}
	out := make([]string, len(u))
	for i, s := range u {
		out[i] = NormalizeSymbol(s)
	}
	sort.Strings(out)
	return out
}

func inUniverse(u []string, sym string) bool {
	for _, s := range universe(u) {
		if s == sym {
			return true
		}
	}
	return false
}

// Daily fetches complete daily klines of symbol in [from, to], paging 1000 at a
// time. A zero from means 1000 days before to. Errors: NotFound for a symbol
// outside the universe or one Binance does not list (code -1121), Invalid for a
// bad range, Unavailable for network failures, 429/418/5xx and malformed data.
func (b *Binance) Daily(ctx context.Context, symbol string, from, to time.Time) ([]sibyl.Candle, error) {
	from, to, err := checkRange(from, to)
	if err != nil {
		return nil, err
	}
	sym := NormalizeSymbol(symbol)
	if !inUniverse(b.Universe, sym) {
		return nil, unknownSymbol(b.Name(), sym, universe(b.Universe))
	}
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	lastComplete := LastCompleteDay(now())
	if to.IsZero() || to.After(lastComplete) {
		to = lastComplete
	}
	if from.IsZero() {
		from = to.Add(-(binanceLimit - 1) * Day)
	}
	if from.After(to) {
		return nil, sibyl.FieldErrorf(sibyl.Invalid, "from", "from %s is after the latest complete day %s", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	base, quote := b.BaseURL, b.Quote
	if base == "" {
		base = "https://api.binance.com"
	}
	if quote == "" {
		quote = "USDT"
	}
	client := b.Client
	if client == nil {
		client = defaultClient()
	}
	var out []sibyl.Candle
	for start := from; !start.After(to); {
		q := url.Values{}
		q.Set("symbol", sym+quote)
		q.Set("interval", "1d")
		q.Set("startTime", strconv.FormatInt(start.UnixMilli(), 10))
		q.Set("endTime", strconv.FormatInt(to.Add(Day-time.Millisecond).UnixMilli(), 10))
		q.Set("limit", strconv.Itoa(binanceLimit))
		var rows [][]json.RawMessage
		if err := pace(ctx, b.Limit, "binance"); err != nil {
			return nil, err
		}
		err := getJSON(ctx, client, "binance", base+"/api/v3/klines?"+q.Encode(), nil, &rows)
		var se *httpStatusError
		if errors.As(err, &se) {
			var be struct {
				Code int    `json:"code"`
				Msg  string `json:"msg"`
			}
			if json.Unmarshal([]byte(se.Body), &be) == nil && be.Code == -1121 {
				return nil, &sibyl.Error{Code: sibyl.NotFound, Field: "symbol", Message: fmt.Sprintf("binance does not list %s%s", sym, quote), Err: err}
			}
			return nil, sibyl.WrapError(sibyl.Unavailable, err, fmt.Sprintf("binance refused the klines request (HTTP %d)", se.Status))
		}
		if err != nil {
			return nil, err
		}
		for i, r := range rows {
			c, closeTime, err := parseKline(r)
			if err != nil {
				return nil, sibyl.WrapError(sibyl.Unavailable, fmt.Errorf("kline %d: %w", i, err), "binance sent a kline that is not in its documented format")
			}
			if closeTime.After(now()) || c.Time.Before(from) || c.Time.After(to) {
				continue // the day in progress, or outside the asked range
			}
			if n := len(out); n > 0 && !c.Time.After(out[n-1].Time) {
				continue // overlap between pages
			}
			out = append(out, c)
		}
		if len(rows) < binanceLimit {
			break
		}
		next := UTCDay(time.UnixMilli(firstMillis(rows[len(rows)-1])).UTC()).Add(Day)
		if !next.After(start) {
			break
		}
		start = next
	}
	if len(out) == 0 {
		return nil, sibyl.FieldErrorf(sibyl.Invalid, "from", "binance has no %s%s daily klines between %s and %s", sym, quote, from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	return out, nil
}

func firstMillis(r []json.RawMessage) int64 {
	if len(r) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(string(r[0]), 10, 64)
	return n
}

// parseKline reads one kline: [openTime, "open", "high", "low", "close", "volume",
// closeTime, "quoteVolume", trades, "takerBuyBase", "takerBuyQuote", "ignore"].
func parseKline(r []json.RawMessage) (sibyl.Candle, time.Time, error) {
	var c sibyl.Candle
	if len(r) < 7 {
		return c, time.Time{}, fmt.Errorf("%d fields, want at least 7", len(r))
	}
	var openMs, closeMs int64
	if err := json.Unmarshal(r[0], &openMs); err != nil {
		return c, time.Time{}, fmt.Errorf("open time: %w", err)
	}
	if err := json.Unmarshal(r[6], &closeMs); err != nil {
		return c, time.Time{}, fmt.Errorf("close time: %w", err)
	}
	c.Time = time.UnixMilli(openMs).UTC()
	if !c.Time.Equal(UTCDay(c.Time)) {
		return c, time.Time{}, fmt.Errorf("open time %s is not a UTC midnight", c.Time.Format(time.RFC3339))
	}
	for i, f := range []struct {
		name string
		dst  *float64
	}{{"open", &c.Open}, {"high", &c.High}, {"low", &c.Low}, {"close", &c.Close}, {"volume", &c.Volume}} {
		var s string
		if err := json.Unmarshal(r[i+1], &s); err != nil {
			return c, time.Time{}, fmt.Errorf("field %d: %w", i+1, err)
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return c, time.Time{}, fmt.Errorf("field %d: bad number %q", i+1, s)
		}
		if msg := badValue(f.name, v); msg != "" {
			return c, time.Time{}, fmt.Errorf("field %d: %s", i+1, msg)
		}
		*f.dst = v
	}
	if msg := badPrices(c); msg != "" {
		return c, time.Time{}, errors.New(msg)
	}
	return c, time.UnixMilli(closeMs).UTC(), nil
}
