package kalshi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	sibyl "github.com/sibylmcp/sibyl"
)

// APIError is Kalshi's answer to a failed request, kept as the logged cause of
// the *sibyl.Error the client returns.
type APIError struct {
	Status  int    // HTTP status
	Code    string // Kalshi's error code, such as "invalid_order"
	Message string
	Details string
	Method  string
	Path    string // without the query
}

// Error implements error.
func (e *APIError) Error() string {
	s := fmt.Sprintf("kalshi %s %s: HTTP %d", e.Method, e.Path, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Details != "" {
		s += " (" + e.Details + ")"
	}
	return s
}

// parseAPIError reads an error body in any of Kalshi's shapes.
func parseAPIError(status int, body []byte, method, path string) *APIError {
	e := &APIError{Status: status, Method: method, Path: path}
	var w wireError
	if json.Unmarshal(body, &w) == nil {
		switch {
		case w.Error.Code != "" || w.Error.Message != "":
			e.Code, e.Message, e.Details = w.Error.Code, w.Error.Message, w.Error.Details
		case w.Error.Text != "":
			e.Message = w.Error.Text
		default:
			e.Code, e.Message, e.Details = w.Code, w.Message, w.Details
		}
	}
	return e
}

// Kalshi error codes that name a deterministic business refusal. Anything not
// listed falls back to its HTTP status.
var (
	fundsCodes  = map[string]bool{"insufficient_balance": true, "insufficient_funds": true, "insufficient_collateral": true}
	closedCodes = map[string]bool{
		"market_closed": true, "market_not_open": true, "market_not_active": true, "market_inactive": true,
		"market_settled": true, "market_paused": true, "trading_is_paused": true, "trading_paused": true,
		"exchange_closed": true, "exchange_paused": true, "exchange_unavailable_for_trading": true,
	}
)

// toSibylError translates a Kalshi error answer into sibyl's codes. 400/403/
// 404/409/410 and 429 are refusals (nothing happened); 408 and every 5xx leave
// the outcome unknown (Unavailable). The message shown to the agent carries
// Kalshi's code and a cleaned copy of its message, never request headers.
func toSibylError(e *APIError) *sibyl.Error {
	venueSays := e.Code
	if m := clean(e.Message); m != "" && m != e.Code {
		if venueSays != "" {
			venueSays += ": "
		}
		venueSays += m
	}
	if d := clean(e.Details); d != "" {
		venueSays += " (" + d + ")"
	}
	if venueSays == "" {
		venueSays = http.StatusText(e.Status)
	}
	mk := func(code sibyl.Code, msg string) *sibyl.Error {
		return &sibyl.Error{Code: code, Message: msg, Err: e}
	}
	switch {
	case fundsCodes[e.Code]:
		return mk(sibyl.InsufficientFunds, "Kalshi refused the order: the account balance does not cover it ("+venueSays+")")
	case closedCodes[e.Code]:
		return mk(sibyl.MarketClosed, "Kalshi refused the order: the market is not trading ("+venueSays+")")
	}
	switch {
	case e.Status == http.StatusTooManyRequests:
		return mk(sibyl.RateLimited, "Kalshi rate limit reached; nothing was done. Retry after a pause")
	case e.Status == http.StatusRequestTimeout || e.Status >= 500:
		return mk(sibyl.Unavailable, fmt.Sprintf("Kalshi failed with HTTP %d; the outcome is unknown, retry with the same idempotency key to reconcile", e.Status))
	case e.Status == http.StatusUnauthorized:
		return mk(sibyl.Unauthorized, "Kalshi refused the credentials (KALSHI_API_KEY_ID / KALSHI_PRIVATE_KEY_PATH): "+venueSays)
	case e.Status == http.StatusForbidden:
		return mk(sibyl.Unauthorized, "Kalshi refused the request for this API key (missing scope or restricted subaccount): "+venueSays)
	case e.Status == http.StatusNotFound:
		return mk(sibyl.NotFound, "Kalshi has no such market or order: "+venueSays)
	case e.Status == http.StatusConflict:
		return mk(sibyl.Conflict, "Kalshi refused the request as conflicting with the current state: "+venueSays)
	case e.Status == http.StatusGone:
		return mk(sibyl.MarketClosed, "Kalshi refused the request: the market or order is gone ("+venueSays+")")
	case e.Status >= 400 && e.Status < 500:
		return mk(sibyl.Invalid, "Kalshi refused the request: "+venueSays)
	}
	return mk(sibyl.Unavailable, fmt.Sprintf("Kalshi answered with unexpected HTTP %d; the outcome is unknown", e.Status))
}

// clean keeps a venue message printable and short.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// transportError translates a failure to get any answer (timeout, dropped
// connection, refused connection, cancelled context): the request may have
// reached Kalshi, so the outcome is unknown.
func transportError(err error, method, path string) *sibyl.Error {
	msg := "Kalshi did not answer (connection failed or dropped); the outcome is unknown, retry with the same idempotency key to reconcile"
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "Kalshi did not answer in time; the outcome is unknown, retry with the same idempotency key to reconcile"
	} else if errors.Is(err, context.Canceled) {
		msg = "the call to Kalshi was cancelled before its answer arrived; the outcome is unknown"
	}
	return &sibyl.Error{Code: sibyl.Unavailable, Message: msg, Err: fmt.Errorf("kalshi %s %s: %w", method, path, err)}
}
