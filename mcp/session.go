package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
)

// Session is one client connection: a stdio stream or an HTTP Mcp-Session-Id.
// On the stateless revision (2026-07-28) a Session lives for one request only.
// Its methods are safe for concurrent use.
type Session struct {
	srv       *Server
	id        string
	principal string
	scopes    []string
	transport string // "stdio" or "http"

	// out is the session's default stream for messages not tied to a request:
	// stdout over stdio, the GET stream over HTTP (nil when none is open).
	outMu sync.Mutex
	out   stream

	ctx    context.Context // cancelled when the session ends
	cancel context.CancelFunc

	mu          sync.Mutex
	initialized bool // initialize answered (handshake revisions) or stateless
	stateless   bool
	noReplies   bool // no way for client responses to come back (stateless HTTP)
	version     string
	clientInfo  Implementation
	clientCaps  json.RawMessage
	logLevel    int // index into logLevels; messages below it are dropped
	inflight    map[string]context.CancelFunc
	cancelled   map[string]bool
	subscribed  map[string]bool

	nextID  atomic.Int64
	pending sync.Map // string(id) -> chan *inMsg
}

func newSession(parent context.Context, srv *Server, id, principal string, scopes []string, transport string) *Session {
	ctx, cancel := context.WithCancel(parent)
	return &Session{
		srv: srv, id: id, principal: principal, scopes: scopes, transport: transport,
		ctx: ctx, cancel: cancel,
		inflight: map[string]context.CancelFunc{},
	}
}

// ID returns the session id: the Mcp-Session-Id over HTTP, "" over stdio and on
// stateless requests.
func (s *Session) ID() string { return s.id }

// Principal returns who the session acts for: "local" over stdio, "anonymous"
// over HTTP without authentication, else what HTTPOptions.Authenticate returned.
func (s *Session) Principal() string { return s.principal }

// Scopes returns the scopes granted by HTTPOptions.Authenticate (nil otherwise).
// The caller must not modify the slice.
func (s *Session) Scopes() []string { return s.scopes }

// Transport returns "stdio" or "http".
func (s *Session) Transport() string { return s.transport }

// ProtocolVersion returns the negotiated protocol version ("" before initialize).
func (s *Session) ProtocolVersion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// ClientInfo returns the client's name and version from initialize (or the
// stateless request's _meta).
func (s *Session) ClientInfo() Implementation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clientInfo
}

// ClientCapabilities returns the client's capabilities object as sent (nil when
// none were sent).
func (s *Session) ClientCapabilities() json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clientCaps
}

// Log levels in increasing severity (RFC 5424 names, as the spec uses).
var logLevels = []string{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}

func levelIndex(level string) int {
	for i, l := range logLevels {
		if l == level {
			return i
		}
	}
	return -1
}

// ErrNoClientStream is returned when a message cannot reach the client: no
// stream is open for it (HTTP without a GET stream, or a stateless request).
var ErrNoClientStream = errors.New("mcp: no stream to the client is open")

// Log sends notifications/message with the given level ("debug" ... "emergency"),
// logger name (may be empty) and data, unless the client set a higher level with
// logging/setLevel (before that, every level is sent, as the specification
// leaves it to the server). Inside a request handler, pass its ctx so the message
// travels on that request's stream. It returns an error for an unknown level or
// when the client cannot be reached.
func (s *Session) Log(ctx context.Context, level, logger string, data any) error {
	li := levelIndex(level)
	if li < 0 {
		return errors.New("mcp: unknown log level " + strconv.Quote(level))
	}
	s.mu.Lock()
	min, stateless := s.logLevel, s.stateless
	s.mu.Unlock()
	if li < min {
		return nil
	}
	if stateless {
		// 2026-07-28: log messages only when the request asked for a level.
		rc := reqFromContext(ctx)
		if rc == nil || rc.logLevel < 0 || li < rc.logLevel {
			return nil
		}
	}
	p := struct {
		Level  string `json:"level"`
		Logger string `json:"logger,omitempty"`
		Data   any    `json:"data"`
	}{level, logger, data}
	return s.Notify(ctx, "notifications/message", p)
}

// NotifyProgress sends notifications/progress for the request that carried
// token as its _meta.progressToken. total and message are omitted when zero.
// Progress must increase with each call for the same token.
func (s *Session) NotifyProgress(ctx context.Context, token any, progress, total float64, message string) error {
	if token == nil {
		return nil
	}
	p := struct {
		Token    any     `json:"progressToken"`
		Progress float64 `json:"progress"`
		Total    float64 `json:"total,omitempty"`
		Message  string  `json:"message,omitempty"`
	}{token, progress, total, message}
	return s.Notify(ctx, "notifications/progress", p)
}

// Progress sends a progress notification for this tool call; it is a no-op
// when the client sent no progress token.
func (r *CallToolRequest) Progress(ctx context.Context, progress, total float64, message string) error {
	if r.ProgressToken == nil {
		return nil
	}
	return r.Session.NotifyProgress(ctx, r.ProgressToken, progress, total, message)
}

// Notify sends a notification with the given method and params to the client:
// on the stream of the request in ctx when there is one, else on the session's
// stream.
func (s *Session) Notify(ctx context.Context, method string, params any) error {
	b, err := encodeNotification(method, params)
	if err != nil {
		return err
	}
	return s.send(ctx, b)
}

// streamFor returns where to send a message in ctx: the request's stream when
// ctx belongs to a request of this session, else the session's default stream.
func (s *Session) streamFor(ctx context.Context) stream {
	if rc := reqFromContext(ctx); rc != nil && rc.sess == s && rc.out != nil {
		return rc.out
	}
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return s.out
}

func (s *Session) send(ctx context.Context, msg []byte) error {
	out := s.streamFor(ctx)
	if out == nil {
		return ErrNoClientStream
	}
	return out.write(msg)
}

func (s *Session) setOut(out stream) {
	s.outMu.Lock()
	s.out = out
	s.outMu.Unlock()
}

// hasClientCap reports whether the client declared the named capability.
func (s *Session) hasClientCap(name string) bool {
	caps := s.ClientCapabilities()
	if len(caps) == 0 {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(caps, &m) != nil {
		return false
	}
	v, ok := m[name]
	return ok && string(v) != "null"
}

// CreateMessage sends sampling/createMessage with params to the client and
// returns its result. It fails when the client did not declare the sampling
// capability, on a stateless request, when no stream reaches the client, when
// the client answers with an error (an *Error), or when ctx ends.
func (s *Session) CreateMessage(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
	return s.request(ctx, "sampling", "sampling/createMessage", params)
}

// Elicit sends elicitation/create with params to the client and returns its
// result. Errors as for CreateMessage, with the elicitation capability.
func (s *Session) Elicit(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
	return s.request(ctx, "elicitation", "elicitation/create", params)
}

// Request sends a request to the client and waits for its result. Use it for
// client methods without a dedicated helper (for example roots/list).
func (s *Session) Request(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	return s.request(ctx, "", method, params)
}

func (s *Session) request(ctx context.Context, capName, method string, params json.RawMessage) (json.RawMessage, error) {
	if capName == "" {
		capName = capabilityFor(method)
	}
	s.mu.Lock()
	stateless, noReplies := s.stateless, s.noReplies
	s.mu.Unlock()
	if stateless {
		return s.statelessInput(ctx, method, params)
	}
	if noReplies {
		return nil, errors.New("mcp: " + method + " is not available on a stateless HTTP server")
	}
	if capName != "" && !s.hasClientCap(capName) {
		return nil, errors.New("mcp: the client did not declare the " + capName + " capability")
	}
	out := s.streamFor(ctx)
	if out == nil {
		return nil, ErrNoClientStream
	}
	id := "s" + strconv.FormatInt(s.nextID.Add(1), 10)
	ch := make(chan *inMsg, 1)
	s.pending.Store(id, ch)
	defer s.pending.Delete(id)

	if len(params) == 0 {
		params = json.RawMessage("{}")
	}
	b := make([]byte, 0, 64+len(method)+len(params))
	// Method first: transports tell responses by their `{"jsonrpc":"2.0","id":` prefix.
	b = append(b, `{"jsonrpc":"2.0","method":`...)
	b = strconv.AppendQuote(b, method)
	b = append(b, `,"params":`...)
	b = append(b, params...)
	b = append(b, `,"id":"`...)
	b = append(b, id...)
	b = append(b, `"}`...)
	if err := send(out, b, kindRequest, nil); err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			e := &Error{Code: m.Error.Code, Message: m.Error.Message}
			if m.Error.Data != nil {
				e.Data = *m.Error.Data
			}
			return nil, e
		}
		return m.Result, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.ctx.Done():
		return nil, errors.New("mcp: session ended")
	}
}

// deliver routes a client's response to the server request waiting for it.
// It reports whether a request was waiting.
func (s *Session) deliver(m *inMsg) bool {
	var key string
	if err := json.Unmarshal(m.ID, &key); err != nil {
		key = string(m.ID)
	}
	v, ok := s.pending.Load(key)
	if !ok {
		return false
	}
	select {
	case v.(chan *inMsg) <- m:
	default:
	}
	return true
}

// close ends the session: in-flight handlers see their context cancelled.
func (s *Session) close() {
	s.cancel()
}
