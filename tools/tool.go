// Package tools defines sibyl's MCP tools as values and registers them on an
// mcp.Server. Each file holds one family (markets.go, grades.go, orders.go, ...).
//
// A tool is a typed handler func(ctx, *Call, In) (Out, error): its input and output
// schemas are generated from In and Out (package schema), its arguments arrive
// already validated, its result is sent both as structuredContent and as a text
// block with the same JSON, and its errors become isError results carrying a
// machine-readable error object an agent can act on. Handlers never see bbolt,
// HTTP or JSON-RPC; they reach venues only through the sibyl.Venue values in Deps.
package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/mcp"
	"github.com/sibylmcp/sibyl/schema"
)

// Scopes a tool may require of an HTTP API key. Stdio sessions have every scope.
const (
	ScopeRead  = "read"
	ScopeTrade = "trade"
)

// Tool is one MCP tool: its description for tools/list and its handler.
type Tool struct {
	Name         string
	Title        string
	Description  string // written for a model: what it does, when to use it, what it returns
	Annotations  mcp.ToolAnnotations
	Scope        string // ScopeRead or ScopeTrade
	InputSchema  json.RawMessage
	OutputSchema json.RawMessage
	handle       func(ctx context.Context, c *Call, args json.RawMessage) (any, error)
}

// Call is what a handler knows about the request beyond its arguments.
type Call struct {
	Tool      string
	Principal string // API key id over HTTP, "local" over stdio
	SessionID string
	Transport string // "stdio" or "http"
	Args      json.RawMessage

	req *mcp.CallToolRequest
	log *slog.Logger // internal error details of results inside an answer (hedge legs); may be nil
	// delegated is set by a handler once it hands the call to a component that
	// writes the call's audit entries itself, in the transactions of the state
	// they describe (the orders service). Otherwise the registry writes one
	// entry, so that every call is recorded, refusals before that point too.
	delegated bool
}

// Allowed reports whether the caller holds scope: stdio sessions and HTTP without
// API keys hold every scope; an API key holds its own (trade implies read).
func (c *Call) Allowed(scope string) bool {
	if c.req == nil {
		return true
	}
	return hasScope(c.req.Session, scope)
}

// Progress sends a progress notification when the client asked for them; it is a
// no-op otherwise.
func (c *Call) Progress(ctx context.Context, progress, total float64, message string) {
	if c.req != nil {
		_ = c.req.Progress(ctx, progress, total, message)
	}
}

// New builds a Tool from a typed handler. Its schemas are generated from In and
// Out; generation failure is a programming error and panics at start-up.
func New[In, Out any](name, title, description string, ann mcp.ToolAnnotations, scope string,
	h func(ctx context.Context, c *Call, in In) (Out, error)) Tool {
	ann.Title = title
	return Tool{
		Name:         name,
		Title:        title,
		Description:  description,
		Annotations:  ann,
		Scope:        scope,
		InputSchema:  schema.MustFor[In](),
		OutputSchema: schema.MustForOutput[Out](),
		handle: func(ctx context.Context, c *Call, args json.RawMessage) (any, error) {
			var in In
			if err := json.Unmarshal(args, &in); err != nil {
				// The validator accepted the arguments, so this is a type the schema
				// cannot express (such as a number too large for an int).
				return nil, sibyl.Errorf(sibyl.Invalid, "arguments do not fit the tool's types: %v", err)
			}
			return h(ctx, c, in)
		},
	}
}

// readOnly annotates the tools that change nothing.
var readOnly = mcp.ToolAnnotations{ReadOnlyHint: true, DestructiveHint: ptr(false), OpenWorldHint: ptr(false)}

func ptr[T any](v T) *T { return &v }

// Auditor records one tool call in the audit log. The store's asynchronous
// appender implements it for read-only tools.
type Auditor interface {
	RecordCall(e CallRecord)
}

// CallRecord is what the registry tells the Auditor about a finished call.
type CallRecord struct {
	Time      time.Time
	Principal string
	SessionID string
	Transport string
	Tool      string
	Args      json.RawMessage // raw arguments; the Auditor redacts secrets
	Outcome   string          // "ok" or the error code
}

// ErrorObject is the machine-readable error in an isError result, under "error".
type ErrorObject struct {
	Code      string `json:"code" jsonschema_description:"Machine-readable error code, such as invalid, not_found, insufficient_funds, unavailable."`
	Message   string `json:"message" jsonschema_description:"What was wrong and, where possible, what would work instead."`
	Field     string `json:"field,omitempty" jsonschema_description:"The argument at fault, when there is one."`
	Retryable bool   `json:"retryable" jsonschema_description:"True when the same call (same idempotency_key) may succeed if retried."`
}

// Register adds every tool to s. Tools whose Scope the caller's session lacks are
// refused with an unauthorized error. log receives internal error details, which
// are never shown to the client.
func Register(s *mcp.Server, tools []Tool, audit Auditor, log *slog.Logger) {
	RegisterObserved(s, tools, audit, nil, log)
}

// RegisterObserved is Register with obs (when not nil) told of every call once
// it has finished (see CallObserver): the one seam for tool metrics, so that no
// tool counts its own calls.
func RegisterObserved(s *mcp.Server, tools []Tool, audit Auditor, obs CallObserver, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if audit != nil || obs != nil {
		// Calls refused by their input schema never reach a handler. Their
		// arguments may be anything: only the declared ones are audited.
		declared := make(map[string]map[string]bool, len(tools))
		for _, t := range tools {
			declared[t.Name] = declaredArgNames(t.InputSchema)
		}
		s.OnInvalidArguments(func(ctx context.Context, req *mcp.CallToolRequest, field, message string) {
			if audit != nil {
				audit.RecordCall(CallRecord{Time: time.Now().UTC(), Principal: req.Session.Principal(), SessionID: req.Session.ID(),
					Transport: req.Session.Transport(), Tool: req.Name, Args: declaredArgs(req.Arguments, declared[req.Name]),
					Outcome: string(sibyl.Invalid)})
			}
			if obs != nil {
				obs(req.Name, string(sibyl.Invalid), 0)
			}
		})
	}
	for _, t := range tools {
		s.AddTool(mcp.Tool{
			Name:         t.Name,
			Title:        t.Title,
			Description:  t.Description,
			InputSchema:  t.InputSchema,
			OutputSchema: t.OutputSchema,
			Annotations:  &t.Annotations,
		}, handler(t, audit, obs, log))
	}
}

func handler(t Tool, audit Auditor, obs CallObserver, log *slog.Logger) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		start := time.Now()
		c := &Call{
			Tool:      t.Name,
			Principal: req.Session.Principal(),
			SessionID: req.Session.ID(),
			Transport: req.Session.Transport(),
			Args:      req.Arguments,
			req:       req,
			log:       log,
		}
		var out any
		var err error
		if !hasScope(req.Session, t.Scope) {
			err = sibyl.Errorf(sibyl.Unauthorized, "tool %s needs an API key with the %q scope", t.Name, t.Scope)
		} else {
			out, err = t.handle(ctx, c, req.Arguments)
		}
		if audit != nil && !c.delegated && !errors.Is(err, mcp.ErrInputRequired) {
			outcome := "ok"
			if err != nil {
				outcome = string(sibyl.ErrorCode(err))
			}
			audit.RecordCall(CallRecord{Time: time.Now().UTC(), Principal: c.Principal, SessionID: c.SessionID,
				Transport: c.Transport, Tool: t.Name, Args: req.Arguments, Outcome: outcome})
		}
		if obs != nil {
			obs(t.Name, callOutcome(err), time.Since(start))
		}
		if errors.Is(err, mcp.ErrInputRequired) {
			return nil, err // a stateless request: the client answers the question and calls again
		}
		if err != nil {
			return errorResult(ctx, t.Name, err, log), nil
		}
		body, err := json.Marshal(out)
		if err != nil {
			return errorResult(ctx, t.Name, fmt.Errorf("encoding result: %w", err), log), nil
		}
		return &mcp.CallToolResult{
			Content:           []mcp.Content{mcp.TextContent(string(body))},
			StructuredContent: json.RawMessage(body),
		}, nil
	}
}

func hasScope(s *mcp.Session, scope string) bool {
	if scope == "" {
		return true
	}
	scopes := s.Scopes()
	if scopes == nil { // stdio, or HTTP without authentication: local trust
		return true
	}
	for _, have := range scopes {
		if have == scope || (scope == ScopeRead && have == ScopeTrade) {
			return true
		}
	}
	return false
}

// errorResult turns err into an isError result.
func errorResult(ctx context.Context, tool string, err error, log *slog.Logger) *mcp.CallToolResult {
	obj := struct {
		Error ErrorObject `json:"error"`
	}{errorObject(ctx, tool, err, log)}
	body, _ := json.Marshal(obj)
	return &mcp.CallToolResult{
		Content:           []mcp.Content{mcp.TextContent(string(body))},
		StructuredContent: json.RawMessage(body),
		IsError:           true,
	}
}

// errorObject is err as an agent sees it. Only *sibyl.Error messages reach the
// client; a bare cancellation or deadline is unavailable (retryable), and any
// other error is logged (when log is not nil) and shown as internal.
func errorObject(ctx context.Context, tool string, err error, log *slog.Logger) ErrorObject {
	code := sibyl.ErrorCode(err)
	if code == sibyl.Internal && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// A *sibyl.Error that wraps a cancellation keeps its own code and message.
		code = sibyl.Unavailable
		err = sibyl.WrapError(sibyl.Unavailable, err, "the call was cancelled or timed out before it finished; retry it (with the same idempotency_key for order tools)")
	}
	if code == sibyl.Internal && log != nil {
		log.ErrorContext(ctx, "tool failed", "tool", tool, "err", err)
	}
	return ErrorObject{Code: string(code), Message: sibyl.ErrorMessage(err), Field: argumentName(sibyl.ErrorField(err)), Retryable: code.Retryable()}
}

// argumentName names a field of a venue or orders error (named after the Go
// request types, such as sibyl.OrderRequest's market_id) by the tool argument
// an agent would change: every tool that takes a market calls it "market".
func argumentName(field string) string {
	if field == "market_id" {
		return "market"
	}
	return field
}

// VisibleTo returns mcp.ServerOptions.ToolVisible for tools: a session sees
// in tools/list only the tools whose scope it holds (a read-only API key does
// not see place_order); unknown names are shown.
func VisibleTo(tools []Tool) func(s *mcp.Session, name string) bool {
	scope := make(map[string]string, len(tools))
	for _, t := range tools {
		scope[t.Name] = t.Scope
	}
	return func(s *mcp.Session, name string) bool {
		sc, ok := scope[name]
		return !ok || hasScope(s, sc)
	}
}
