package sibyl

import (
	"errors"
	"fmt"
)

// Code is a machine-readable error class. Agents branch on it; people read Message.
// The set is small on purpose: adapters translate their exchange's errors into it.
type Code string

// The error codes. The first six are general classes; the rest name specific,
// actionable situations of the order path.
const (
	// Invalid: the request is malformed or breaks a rule; retrying it unchanged cannot help.
	Invalid Code = "invalid"
	// NotFound: the named market, outcome, order or token does not exist.
	NotFound Code = "not_found"
	// Conflict: the request clashes with current state (for example cancelling a filled order).
	Conflict Code = "conflict"
	// Unavailable: a dependency (venue, feed) failed or timed out; a retry may help.
	Unavailable Code = "unavailable"
	// Unauthorized: missing or insufficient credentials or scope.
	Unauthorized Code = "unauthorized"
	// Internal: a bug or an unexpected failure inside sibyl; details are logged, not shown.
	Internal Code = "internal"

	// IdempotencyKeyReused: the idempotency key was used before with different arguments.
	IdempotencyKeyReused Code = "idempotency_key_reused"
	// InProgress: another call with the same idempotency key is still running; retry later.
	InProgress Code = "in_progress"
	// PossibleDuplicate: an identical order was placed moments ago under another key.
	PossibleDuplicate Code = "possible_duplicate"
	// InsufficientFunds: the balance does not cover the order.
	InsufficientFunds Code = "insufficient_funds"
	// MarketClosed: the market does not accept orders (closed, settled or halted).
	MarketClosed Code = "market_closed"
	// RateLimited: too many requests; retry after a pause.
	RateLimited Code = "rate_limited"
	// RiskLimit: a configured risk limit or the kill switch refused the order.
	RiskLimit Code = "risk_limit"
)

// Retryable reports whether a call that failed with this code may succeed if it is
// retried unchanged (with the same idempotency key for state-changing tools).
func (c Code) Retryable() bool {
	switch c {
	case Unavailable, InProgress, RateLimited:
		return true
	}
	return false
}

// Error is the error type that crosses package boundaries. Its Message is safe to
// show to an agent: it must never contain secrets or internal details; those belong
// in Err, which is logged but never shown.
type Error struct {
	Code    Code   // machine-readable class
	Message string // what was wrong and, where possible, what would work instead
	Field   string // the argument at fault, as a JSON path such as "limit_price"; may be empty
	Err     error  // the underlying cause, for logs only
}

// Error implements error.
func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, msg, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, msg)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an *Error about one argument field.
func FieldErrorf(code Code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with the given code and agent-safe message that keeps
// err as its (logged, never shown) cause.
func WrapError(code Code, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the Code of the first *Error in err's chain, Internal for any
// other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the agent-safe message of err: the Message of the first
// *Error in its chain, or a generic text for any other error (whose details may
// not be safe to show).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorField returns the Field of the first *Error in err's chain, or "".
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
