// Package tokenmetrics reads Token Metrics' own token grades (the TM Trader
// Grade, TM Investor Grade and TM Grade) from its REST API, for sibyl to show
// beside its grades as a second opinion, labelled by source.
//
// Endpoints (api.tokenmetrics.com/v2, header x-api-key, every answer the
// envelope {success, message, length, data:[...]} with UPPERCASE fields):
// GET /v2/trader-grades?symbol=BTC,ETH (TOKEN_ID, TOKEN_SYMBOL, DATE,
// TM_TRADER_GRADE, ...), GET /v2/investor-grades?symbol=... (TM_INVESTOR_GRADE,
// ...) and GET /v2/tm-grade?token_id=... (TM_GRADE, TM_GRADE_SIGNAL, with
// numbers that may come as strings). Token Metrics prices each call, so
// answers are cached per symbol (default one hour) and one request serves many
// symbols.
//
// Every error is a *sibyl.Error: Unauthorized without a key or with a key Token
// Metrics refuses, RateLimited on HTTP 429, Unavailable when the plan's quota is
// exhausted, on network failures, 5xx and malformed answers. The API key is
// sent in a header only and never appears in an error or a log. This package
// knows nothing of sibyl's own grades, tools or the protocol.
package tokenmetrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sibylmcp/sibyl"
)

// Source labels Token Metrics' grades in sibyl's answers.
const Source = "token_metrics"

// DefaultBaseURL is Token Metrics' API.
const DefaultBaseURL = "https://api.tokenmetrics.com"

// Grades are Token Metrics' grades of one token, each 0-100; a grade Token
// Metrics did not give is nil.
type Grades struct {
	Symbol        string
	TraderGrade   *float64 // TM_TRADER_GRADE, short term
	InvestorGrade *float64 // TM_INVESTOR_GRADE, long term
	TMGrade       *float64 // TM_GRADE
	Signal        string   // TM_GRADE_SIGNAL, as Token Metrics words it
	Date          string   // DATE of the trader grade (YYYY-MM-DD), when given
}

// Client reads grades from Token Metrics. It is safe for concurrent use.
type Client struct {
	BaseURL string       // default DefaultBaseURL
	APIKey  string       // required; from TOKEN_METRICS_API_KEY
	HTTP    *http.Client // default: 20 s timeout
	TTL     time.Duration
	Now     func() time.Time

	mu    sync.Mutex
	cache map[string]cached // by symbol
}

type cached struct {
	at time.Time
	g  Grades
	ok bool // Token Metrics has the token
}

// Grades returns Token Metrics' grades of symbols (upper-case symbols such as
// BTC), from the cache when fresh, else with one request per endpoint for all
// the symbols missing. A symbol Token Metrics does not grade is absent from
// the map. Errors are documented on the package.
func (c *Client) Grades(ctx context.Context, symbols []string) (map[string]Grades, error) {
	if c.APIKey == "" {
		return nil, sibyl.Errorf(sibyl.Unauthorized, "Token Metrics grades are not available: this server has no Token Metrics API key (the operator sets TOKEN_METRICS_API_KEY)")
	}
	now := c.now()
	out := map[string]Grades{}
	var missing []string
	c.mu.Lock()
	for _, s := range symbols {
		s = strings.ToUpper(strings.TrimSpace(s))
		if e, ok := c.cache[s]; ok && now.Sub(e.at) < c.ttl() {
			if e.ok {
				out[s] = e.g
			}
			continue
		}
		if !slices.Contains(missing, s) {
			missing = append(missing, s)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	fetched, err := c.fetch(ctx, missing)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.cache == nil || len(c.cache) > 10000 {
		c.cache = map[string]cached{}
	}
	for _, s := range missing {
		g, ok := fetched[s]
		c.cache[s] = cached{at: now, g: g, ok: ok}
		if ok {
			out[s] = g
		}
	}
	c.mu.Unlock()
	return out, nil
}

func (c *Client) ttl() time.Duration {
	if c.TTL > 0 {
		return c.TTL
	}
	return time.Hour
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// row is one element of data[]: only the fields sibyl reads.
type row struct {
	TokenID       num    `json:"TOKEN_ID"`
	Symbol        string `json:"TOKEN_SYMBOL"`
	Date          string `json:"DATE"`
	TraderGrade   *num   `json:"TM_TRADER_GRADE"`
	InvestorGrade *num   `json:"TM_INVESTOR_GRADE"`
	TMGrade       *num   `json:"TM_GRADE"`
	Signal        string `json:"TM_GRADE_SIGNAL"`
}

// num is a number Token Metrics may send as a JSON number or as a string.
type num float64

func (n *num) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %s", b)
	}
	*n = num(v)
	return nil
}

func (n *num) ptr() *float64 {
	if n == nil {
		return nil
	}
	v := float64(*n)
	return &v
}

func (c *Client) fetch(ctx context.Context, symbols []string) (map[string]Grades, error) {
	out := map[string]Grades{}
	ids := map[string]string{} // TOKEN_ID -> symbol
	trader, err := c.get(ctx, "/v2/trader-grades", url.Values{"symbol": {strings.Join(symbols, ",")}, "limit": {"100"}})
	if err != nil {
		return nil, err
	}
	for _, r := range trader {
		sym := strings.ToUpper(r.Symbol)
		if !slices.Contains(symbols, sym) {
			continue
		}
		g := out[sym]
		if g.Symbol != "" && r.Date <= g.Date {
			continue // keep the latest day
		}
		g.Symbol, g.Date, g.TraderGrade = sym, dateOnly(r.Date), r.TraderGrade.ptr()
		out[sym] = g
		if r.TokenID != 0 {
			ids[strconv.FormatFloat(float64(r.TokenID), 'f', -1, 64)] = sym
		}
	}
	investor, err := c.get(ctx, "/v2/investor-grades", url.Values{"symbol": {strings.Join(symbols, ",")}, "limit": {"100"}})
	if err != nil {
		return nil, err
	}
	seen := map[string]string{}
	for _, r := range investor {
		sym := strings.ToUpper(r.Symbol)
		if !slices.Contains(symbols, sym) || r.Date < seen[sym] {
			continue
		}
		seen[sym] = r.Date
		g := out[sym]
		g.Symbol, g.InvestorGrade = sym, r.InvestorGrade.ptr()
		out[sym] = g
	}
	if len(ids) > 0 {
		keys := make([]string, 0, len(ids))
		for id := range ids {
			keys = append(keys, id)
		}
		slices.Sort(keys)
		tm, err := c.get(ctx, "/v2/tm-grade", url.Values{"token_id": {strings.Join(keys, ",")}})
		if err != nil {
			return nil, err
		}
		for _, r := range tm {
			sym, ok := ids[strconv.FormatFloat(float64(r.TokenID), 'f', -1, 64)]
			if !ok {
				continue
			}
			g := out[sym]
			g.TMGrade, g.Signal = r.TMGrade.ptr(), r.Signal
			out[sym] = g
		}
	}
	return out, nil
}

func dateOnly(s string) string {
	if len(s) >= 10 {
		return s[:10]
	}
	return s
}

// envelope is every Token Metrics answer.
type envelope struct {
	Success *bool           `json:"success"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// quotaWords mark a refusal for an exhausted plan rather than a bad key.
var quotaWords = []string{"quota", "credits", "monthly", "usage limit", "plan limit"}

func (c *Client) get(ctx context.Context, path string, q url.Values) ([]row, error) {
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, sibyl.WrapError(sibyl.Internal, err, "building the Token Metrics request")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("x-api-key", c.APIKey)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 20 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, sibyl.WrapError(sibyl.Unavailable, errors.New(c.scrub(err.Error())), "Token Metrics did not answer; try again later")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, sibyl.WrapError(sibyl.Unavailable, err, "reading Token Metrics' answer failed; try again later")
	}
	var env envelope
	_ = json.Unmarshal(body, &env)
	msg := c.scrub(env.Message)
	if len(msg) > 200 {
		msg = msg[:200]
	}
	cause := fmt.Errorf("token metrics %s: HTTP %d: %s", path, resp.StatusCode, c.scrub(string(body[:min(len(body), 300)])))
	quota := false
	for _, w := range quotaWords {
		quota = quota || strings.Contains(strings.ToLower(env.Message), w)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests && !quota:
		m := "Token Metrics rate limit reached; try again in a minute"
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			m = fmt.Sprintf("Token Metrics rate limit reached; retry after %s seconds", ra)
		}
		return nil, sibyl.WrapError(sibyl.RateLimited, cause, m)
	case quota && (resp.StatusCode >= 400 || env.Success != nil && !*env.Success):
		return nil, sibyl.WrapError(sibyl.Unavailable, cause, "the Token Metrics plan's API quota is used up"+detail(msg)+"; its grades come back when the quota renews")
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, sibyl.WrapError(sibyl.Unauthorized, cause, fmt.Sprintf("Token Metrics refused this server's API key (HTTP %d)%s; the operator must check TOKEN_METRICS_API_KEY", resp.StatusCode, detail(msg)))
	case resp.StatusCode >= 500:
		return nil, sibyl.WrapError(sibyl.Unavailable, cause, fmt.Sprintf("Token Metrics failed (HTTP %d); try again later", resp.StatusCode))
	case resp.StatusCode != http.StatusOK:
		return nil, sibyl.WrapError(sibyl.Unavailable, cause, fmt.Sprintf("Token Metrics refused the request (HTTP %d)%s", resp.StatusCode, detail(msg)))
	case env.Success != nil && !*env.Success:
		return nil, sibyl.WrapError(sibyl.Unavailable, cause, "Token Metrics answered without data"+detail(msg))
	}
	var rows []row
	if err := json.Unmarshal(env.Data, &rows); err != nil {
		return nil, sibyl.WrapError(sibyl.Unavailable, err, "Token Metrics sent an answer that is not in its documented format")
	}
	return rows, nil
}

func detail(msg string) string {
	if msg == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", msg)
}

// scrub removes the API key from s, in case an upstream or a transport error
// echoes it.
func (c *Client) scrub(s string) string {
	if c.APIKey == "" {
		return s
	}
	return strings.ReplaceAll(s, c.APIKey, "[redacted]")
}
