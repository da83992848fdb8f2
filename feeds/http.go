package feeds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sibylmcp/sibyl"
	"golang.org/x/time/rate"
)

// maxBody bounds an upstream response; a year of daily klines is about 60 kB.
const maxBody = 8 << 20

// httpStatusError is an upstream answer other than 200, kept as the logged cause.
type httpStatusError struct {
	Status int
	Body   string
}

func (e *httpStatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

// getJSON fetches url and decodes its JSON body into v. headers are sent but never
// appear in errors (they may hold API keys). Any transport failure, timeout, 429
// or 5xx becomes Unavailable; other non-200 answers are returned as
// *httpStatusError for the caller to translate.
func getJSON(ctx context.Context, client *http.Client, feed, url string, headers map[string]string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return sibyl.WrapError(sibyl.Internal, err, "building the "+feed+" request")
	}
	req.Header.Set("Accept", "application/json")
	for k, val := range headers {
		req.Header.Set(k, val)
	}
	resp, err := client.Do(req)
	if err != nil {
		msg := feed + " did not answer"
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			msg = feed + " timed out"
		}
		// The url holds no secret (keys travel in headers), but *url.Error can
		// echo it; keep the cause for logs only.
		return sibyl.WrapError(sibyl.Unavailable, err, msg+"; try again later")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return sibyl.WrapError(sibyl.Unavailable, err, "reading the "+feed+" response failed; try again later")
	}
	if len(body) > maxBody {
		return sibyl.Errorf(sibyl.Unavailable, "%s response exceeds %d bytes", feed, maxBody)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == 418:
		wait := resp.Header.Get("Retry-After")
		msg := feed + " rate limit reached; try again later"
		if wait != "" {
			msg = fmt.Sprintf("%s rate limit reached; retry after %s seconds", feed, wait)
		}
		return sibyl.WrapError(sibyl.Unavailable, errors.New((&httpStatusError{resp.StatusCode, snippet(body, headers)}).Error()), msg)
	case resp.StatusCode >= 500:
		return sibyl.WrapError(sibyl.Unavailable, errors.New((&httpStatusError{resp.StatusCode, snippet(body, headers)}).Error()),
			fmt.Sprintf("%s failed (HTTP %d); try again later", feed, resp.StatusCode))
	case resp.StatusCode != http.StatusOK:
		return &httpStatusError{resp.StatusCode, snippet(body, headers)}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return sibyl.WrapError(sibyl.Unavailable, err, feed+" sent a response that is not in its documented format")
	}
	return nil
}

// snippet returns the start of an upstream body for logs, with the values of the
// request headers (API keys) removed in case the upstream echoes them.
func snippet(b []byte, headers map[string]string) string {
	s := string(b)
	for _, v := range headers {
		s = redact(s, v)
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// defaultClient is used when a live source is given no client: a 20 s overall
// timeout keeps a stuck upstream from holding a tool call.
func defaultClient() *http.Client { return &http.Client{Timeout: 20 * time.Second} }

// Client-side rate limits of the live sources: well inside what each upstream
// allows a client without a paid plan, so that sibyl is never the one to hit the
// limit (a 429 is still handled). Binance allows 6,000 request weight a minute
// per IP and a 1d klines request weighs 2; CoinGecko's public and demo plans
// allow about 30 calls a minute.
const (
	BinanceRate    = rate.Limit(10) // requests a second
	BinanceBurst   = 20
	CoinGeckoRate  = rate.Limit(0.5) // 30 a minute
	CoinGeckoBurst = 5
)

// pace waits for l (nil: no limit). When the wait would outlast ctx it returns
// Unavailable at once, saying the feed's client-side rate limit is reached.
func pace(ctx context.Context, l *rate.Limiter, feed string) error {
	if l == nil {
		return nil
	}
	if err := l.Wait(ctx); err != nil {
		return sibyl.WrapError(sibyl.Unavailable, err, feed+" request rate limit reached (sibyl paces its requests to stay within the upstream's limits); try again in a minute")
	}
	return nil
}
