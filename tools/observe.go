package tools

import (
	"context"
	"errors"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/mcp"
)

// CallObserver is told of every tool call once its handler has finished (or the
// call was refused by its input schema or its scope): the tool's name, the
// outcome ("ok", "input_required", or the error code of the isError result, such
// as invalid or risk_limit) and the time the call took. It runs on the call's
// goroutine and must be quick. cmd/sibyl feeds metrics from it.
type CallObserver func(tool, outcome string, elapsed time.Duration)

// callOutcome is the outcome a CallObserver is told for a handler's error.
func callOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, mcp.ErrInputRequired):
		return "input_required"
	case sibyl.ErrorCode(err) == sibyl.Internal && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		return string(sibyl.Unavailable) // as errorObject shows it
	default:
		return string(sibyl.ErrorCode(err))
	}
}
