package mcp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sibylmcp/sibyl/schema"
)

// Protocol revisions. The first three use the initialize handshake and sessions;
// 2026-07-28 is stateless: every request carries its version in _meta.
const (
	Version20250326 = "2025-03-26"
	Version20250618 = "2025-06-18"
	Version20251125 = "2025-11-25"
	Version20260728 = "2026-07-28"
)

// handshakeVersions are negotiated by initialize, newest first.
var handshakeVersions = []string{Version20251125, Version20250618, Version20250326}

// supportedVersions is what server/discover and UnsupportedProtocolVersion list.
var supportedVersions = []string{Version20260728, Version20251125, Version20250618, Version20250326}

// Error codes of the 2026-07-28 revision.
const (
	CodeHeaderMismatch             = -32020
	CodeMissingClientCapability    = -32021
	CodeUnsupportedProtocolVersion = -32022
)

// Meta keys of the 2026-07-28 revision.
const (
	metaProtocolVersion = "io.modelcontextprotocol/protocolVersion"
	metaClientCaps      = "io.modelcontextprotocol/clientCapabilities"
	metaClientInfo      = "io.modelcontextprotocol/clientInfo"
	metaLogLevel        = "io.modelcontextprotocol/logLevel"
	metaServerInfo      = "io.modelcontextprotocol/serverInfo"
)

// ServerOptions configure a Server. The zero value is usable.
type ServerOptions struct {
	// Instructions are sent in the initialize (and server/discover) result.
	Instructions string
	// Logger receives the server's own diagnostics (never stdout). Nil discards.
	Logger *slog.Logger
	// PageSize is the number of items per page of the list methods (default 100).
	PageSize int
	// StateKey signs the requestState of multi-round-trip requests
	// (2026-07-28). Servers behind a load balancer must share one key; the
	// default is a random key per Server.
	StateKey []byte
	// MaxMessageBytes bounds one stdio message (line); default 4 MiB. A longer
	// line gets an error response and is skipped.
	MaxMessageBytes int
	// StdioDrain bounds how long ServeStdio waits at the end of its input for
	// the requests still in flight before it cancels them (default 10s).
	StdioDrain time.Duration
	// ToolVisible, when set, hides from tools/list the tools a session with
	// scopes (an HTTP API key) cannot call: it is asked for each tool of a
	// session whose Scopes are not nil. Calling a hidden tool is still
	// refused by its handler, as before.
	ToolVisible func(sess *Session, tool string) bool
}

// Server holds the registered tools, resources and prompts and serves them on
// any number of sessions and transports. Register everything before serving;
// later registrations are visible to later list calls.
type Server struct {
	impl     Implementation
	opts     ServerOptions
	log      *slog.Logger
	pageSize int

	mu          sync.RWMutex
	tools       map[string]*toolEntry
	toolOrder   []*toolEntry
	toolPages   [][]byte // pre-encoded tools/list results (handshake form)
	toolPages26 [][]byte // with resultType etc.
	resources   map[string]*resourceEntry
	resOrder    []*resourceEntry
	uiResources map[string]*resourceEntry // MCP Apps views (apps.go)
	uiResOrder  []*resourceEntry
	toolUI      map[string]string // tool name -> view URI
	templates   []*templateEntry
	prompts     map[string]*promptEntry
	promptOrder []*promptEntry
	completion  CompletionHandler
	invalidArgs InvalidArgumentsHook
	sessionEnd  func(*Session)

	sessMu    sync.Mutex
	sessions  map[*Session]struct{}
	listeners map[*listener]struct{}

	keyOnce sync.Once
	key     []byte
}

type toolEntry struct {
	tool      Tool
	handler   ToolHandler
	validator argValidator
}

type resourceEntry struct {
	res     Resource
	handler ResourceHandler
}

type templateEntry struct {
	tmpl    ResourceTemplate
	re      *regexp.Regexp
	handler ResourceHandler
}

type promptEntry struct {
	prompt  Prompt
	handler PromptHandler
}

// NewServer returns a server that names itself impl in the handshake.
func NewServer(impl Implementation, opts *ServerOptions) *Server {
	s := &Server{
		impl:      impl,
		tools:     map[string]*toolEntry{},
		resources: map[string]*resourceEntry{},
		prompts:   map[string]*promptEntry{},
		sessions:  map[*Session]struct{}{},
		listeners: map[*listener]struct{}{},
	}
	if opts != nil {
		s.opts = *opts
	}
	s.log = s.opts.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.pageSize = s.opts.PageSize
	if s.pageSize <= 0 {
		s.pageSize = 100
	}
	return s
}

// AddTool registers a tool. It panics when the name is not valid, is already
// registered, or the input schema does not compile: these are programming
// errors to be caught at start-up.
// InvalidArgumentsHook is told of a tools/call refused because its arguments
// failed the tool's input schema: the handler never ran, so it is the only
// one that sees the call. field and message are those of the refusal the
// client gets. req must not be kept after the hook returns.
type InvalidArgumentsHook func(ctx context.Context, req *CallToolRequest, field, message string)

// OnInvalidArguments sets the hook called, on the request's goroutine, for
// every tools/call refused by its input schema. A registry that audits tool
// calls sets it so that those refusals are recorded too.
func (s *Server) OnInvalidArguments(h InvalidArgumentsHook) {
	s.mu.Lock()
	s.invalidArgs = h
	s.mu.Unlock()
}

func (s *Server) AddTool(t Tool, h ToolHandler) {
	if err := schema.CheckToolName(t.Name); err != nil {
		panic(fmt.Sprintf("mcp: AddTool %q: %v", t.Name, err))
	}
	if h == nil {
		panic(fmt.Sprintf("mcp: AddTool %q: nil handler", t.Name))
	}
	if len(t.InputSchema) == 0 {
		t.InputSchema = json.RawMessage(`{"type":"object"}`)
	}
	v, err := compileSchema(t.InputSchema)
	if err != nil {
		panic(fmt.Sprintf("mcp: AddTool %q: input schema: %v", t.Name, err))
	}
	if len(t.OutputSchema) > 0 && !json.Valid(t.OutputSchema) {
		panic(fmt.Sprintf("mcp: AddTool %q: output schema is not valid JSON", t.Name))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.tools[t.Name]; dup {
		panic(fmt.Sprintf("mcp: AddTool %q: already registered", t.Name))
	}
	e := &toolEntry{tool: t, handler: h, validator: v}
	s.tools[t.Name] = e
	s.toolOrder = append(s.toolOrder, e)
	s.toolPages, s.toolPages26 = nil, nil
	s.broadcast("notifications/tools/list_changed")
}

// RemoveTool unregisters a tool; it reports whether the tool was registered.
// Sessions are told with notifications/tools/list_changed.
func (s *Server) RemoveTool(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tools[name]; !ok {
		return false
	}
	delete(s.tools, name)
	s.toolOrder = slices.DeleteFunc(s.toolOrder, func(e *toolEntry) bool { return e.tool.Name == name })
	s.toolPages, s.toolPages26 = nil, nil
	s.broadcast("notifications/tools/list_changed")
	return true
}

// RemovePrompt unregisters a prompt; it reports whether it was registered.
func (s *Server) RemovePrompt(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.prompts[name]; !ok {
		return false
	}
	delete(s.prompts, name)
	s.promptOrder = slices.DeleteFunc(s.promptOrder, func(e *promptEntry) bool { return e.prompt.Name == name })
	s.broadcast("notifications/prompts/list_changed")
	return true
}

// AddResource registers a concrete resource. It panics on an empty or duplicate URI.
func (s *Server) AddResource(r Resource, h ResourceHandler) {
	if r.URI == "" || h == nil {
		panic("mcp: AddResource: empty URI or nil handler")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.resources[r.URI]; dup {
		panic(fmt.Sprintf("mcp: AddResource %q: already registered", r.URI))
	}
	e := &resourceEntry{res: r, handler: h}
	s.resources[r.URI] = e
	s.resOrder = append(s.resOrder, e)
	s.broadcast("notifications/resources/list_changed")
}

// AddResourceTemplate registers a resource template (RFC 6570, simple and
// reserved expansion such as {id} and {+path}). resources/read calls h for any
// URI that matches it and names no concrete resource. It panics on a bad template.
func (s *Server) AddResourceTemplate(t ResourceTemplate, h ResourceHandler) {
	re, err := templateRegexp(t.URITemplate)
	if err != nil || h == nil {
		panic(fmt.Sprintf("mcp: AddResourceTemplate %q: %v", t.URITemplate, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.templates = append(s.templates, &templateEntry{tmpl: t, re: re, handler: h})
	s.broadcast("notifications/resources/list_changed")
}

// AddPrompt registers a prompt. It panics on an empty or duplicate name.
func (s *Server) AddPrompt(p Prompt, h PromptHandler) {
	if p.Name == "" || h == nil {
		panic("mcp: AddPrompt: empty name or nil handler")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.prompts[p.Name]; dup {
		panic(fmt.Sprintf("mcp: AddPrompt %q: already registered", p.Name))
	}
	e := &promptEntry{prompt: p, handler: h}
	s.prompts[p.Name] = e
	s.promptOrder = append(s.promptOrder, e)
	s.broadcast("notifications/prompts/list_changed")
}

// SetCompletionHandler sets the handler of completion/complete and makes the
// server advertise the completions capability.
func (s *Server) SetCompletionHandler(h CompletionHandler) {
	s.mu.Lock()
	s.completion = h
	s.mu.Unlock()
}

// NotifyResourceUpdated sends notifications/resources/updated to every session
// subscribed to uri.
func (s *Server) NotifyResourceUpdated(uri string) {
	s.notifyListeners("notifications/resources/updated", uri)
	b, _ := encodeNotification("notifications/resources/updated", map[string]string{"uri": uri})
	for _, sess := range s.sessionList() {
		sess.mu.Lock()
		sub := sess.subscribed[uri]
		sess.mu.Unlock()
		if sub {
			_ = sess.send(context.Background(), b)
		}
	}
}

func (s *Server) sessionList() []*Session {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	out := make([]*Session, 0, len(s.sessions))
	for sess := range s.sessions {
		out = append(out, sess)
	}
	return out
}

// broadcast sends a parameterless notification to every session initialized
// now, without waiting for the sends.
func (s *Server) broadcast(method string) {
	var targets []*Session
	for _, sess := range s.sessionList() {
		sess.mu.Lock()
		ok := sess.initialized && !sess.stateless
		sess.mu.Unlock()
		if ok {
			targets = append(targets, sess)
		}
	}
	s.notifyListeners(method, "")
	if len(targets) == 0 {
		return
	}
	b, _ := encodeNotification(method, nil)
	go func() {
		for _, sess := range targets {
			_ = sess.send(context.Background(), b)
		}
	}()
}

func (s *Server) addSession(sess *Session) {
	s.sessMu.Lock()
	s.sessions[sess] = struct{}{}
	s.sessMu.Unlock()
}

func (s *Server) removeSession(sess *Session) {
	s.sessMu.Lock()
	_, known := s.sessions[sess]
	delete(s.sessions, sess)
	s.sessMu.Unlock()
	sess.close()
	s.mu.Lock()
	h := s.sessionEnd
	s.mu.Unlock()
	if known && h != nil {
		h(sess)
	}
}

// dropSession forgets a session this process holds a copy of, without
// reporting its end: it goes on (or was ended) at another instance.
func (s *Server) dropSession(sess *Session) {
	s.sessMu.Lock()
	delete(s.sessions, sess)
	s.sessMu.Unlock()
	sess.close()
}

// OnSessionEnd sets a hook called once for every session that ends: stdio's
// input closed, an HTTP DELETE, or an HTTP session reaped as idle. It runs on
// the goroutine ending the session, after the session's handlers were
// cancelled; it must not block for long (start background work instead).
// Sessions still open when the process exits are not reported.
func (s *Server) OnSessionEnd(h func(sess *Session)) {
	s.mu.Lock()
	s.sessionEnd = h
	s.mu.Unlock()
}

// templateRegexp turns a URI template into a regexp matching its expansions.
func templateRegexp(t string) (*regexp.Regexp, error) {
	if t == "" {
		return nil, errors.New("empty template")
	}
	var b strings.Builder
	b.WriteString("^")
	for len(t) > 0 {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			b.WriteString(regexp.QuoteMeta(t))
			break
		}
		b.WriteString(regexp.QuoteMeta(t[:i]))
		j := strings.IndexByte(t[i:], '}')
		if j < 0 {
			return nil, errors.New("unclosed {")
		}
		expr := t[i+1 : i+j]
		switch {
		case strings.HasPrefix(expr, "+") || strings.HasPrefix(expr, "#"):
			b.WriteString("(.+)")
		case strings.HasPrefix(expr, "?") || strings.HasPrefix(expr, "&"):
			b.WriteString("(?:[?&].*)?")
		default:
			b.WriteString("([^/?#]+)")
		}
		t = t[i+j+1:]
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// reqCtx is what a request's context carries.
type reqCtx struct {
	sess          *Session
	out           stream
	id            json.RawMessage
	progressToken json.RawMessage
	logLevel      int // stateless: minimum level requested in _meta, -1 for none

	// Multi-round-trip requests (2026-07-28).
	mu        sync.Mutex
	roundName string
	answers   map[string]json.RawMessage
	inputs    map[string]InputRequest
	userState string
	autoKey   int
}

type reqCtxKey struct{}

func reqFromContext(ctx context.Context) *reqCtx {
	rc, _ := ctx.Value(reqCtxKey{}).(*reqCtx)
	return rc
}

// reqParams is the union of all request params this server reads, so that
// params are decoded once whatever the method.
type reqParams struct {
	Meta *reqMeta `json:"_meta"`

	ProtocolVersion string          `json:"protocolVersion"`
	Capabilities    json.RawMessage `json:"capabilities"`
	ClientInfo      *Implementation `json:"clientInfo"`

	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	URI       string          `json:"uri"`
	Cursor    *string         `json:"cursor"`
	Level     string          `json:"level"`

	Ref      *CompletionRef `json:"ref"`
	Argument *struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"argument"`
	Context *struct {
		Arguments map[string]string `json:"arguments"`
	} `json:"context"`

	RequestID json.RawMessage `json:"requestId"`

	InputResponses map[string]json.RawMessage `json:"inputResponses"`
	RequestState   string                     `json:"requestState"`
	Notifications  *subscriptionFilter        `json:"notifications"`
}

type reqMeta struct {
	ProgressToken   json.RawMessage `json:"progressToken"`
	ProtocolVersion *string         `json:"io.modelcontextprotocol/protocolVersion"`
	ClientCaps      json.RawMessage `json:"io.modelcontextprotocol/clientCapabilities"`
	ClientInfo      *Implementation `json:"io.modelcontextprotocol/clientInfo"`
	LogLevel        string          `json:"io.modelcontextprotocol/logLevel"`
}

var paramsPool = sync.Pool{New: func() any { return new(reqParams) }}

// request is one decoded incoming request handed to a method.
type request struct {
	method string
	p      *reqParams
	sess   *Session
	rc     *reqCtx
}

// errNoResponse marks a request whose response must not be sent (cancelled).
var errNoResponse = errors.New("mcp: no response")

// invalidParams returns a -32602 error.
func invalidParams(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidParams, Message: "invalid params: " + fmt.Sprintf(format, args...)}
}

// metaError marks e as a fault of the request's _meta: on the stateless
// revision it is answered with HTTP 400, unlike a tool's invalid params.
func metaError(e *Error) *Error {
	e.badMeta = true
	return e
}

// stateless reports whether the request uses the 2026-07-28 revision, and
// returns the error to answer when its _meta is unusable. HTTP status hints
// are carried by the code.
func statelessMeta(p *reqParams) (bool, *Error) {
	if p.Meta == nil || p.Meta.ProtocolVersion == nil {
		return false, nil
	}
	v := *p.Meta.ProtocolVersion
	if v != Version20260728 {
		return true, unsupportedVersion(v)
	}
	if len(p.Meta.ClientCaps) == 0 || p.Meta.ClientCaps[0] != '{' {
		return true, metaError(invalidParams("_meta is missing %s", metaClientCaps))
	}
	return true, nil
}

func unsupportedVersion(v string) *Error {
	return &Error{
		Code:    CodeUnsupportedProtocolVersion,
		Message: fmt.Sprintf("unsupported protocol version %q", v),
		Data:    map[string]any{"supported": supportedVersions, "requested": v},
	}
}

func toRPCError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternalError, Message: "internal error: " + err.Error()}
}

// call runs a request and returns its result (json.RawMessage or a value to encode).
func (s *Server) call(ctx context.Context, sess *Session, id json.RawMessage, method string, params json.RawMessage, out stream) (any, error) {
	p := paramsPool.Get().(*reqParams)
	*p = reqParams{}
	defer paramsPool.Put(p)
	if len(params) > 0 && params[0] == '{' {
		if method != "tools/call" || !toolCallParams(params, p) {
			*p = reqParams{}
			if err := json.Unmarshal(params, p); err != nil {
				return nil, invalidParams("%v", err)
			}
		}
	}
	rc := &reqCtx{sess: sess, out: out, id: id, logLevel: -1}
	if p.Meta != nil {
		rc.progressToken = p.Meta.ProgressToken
	}

	stateless, merr := statelessMeta(p)
	if merr != nil {
		return nil, merr
	}
	if stateless {
		if removedInStateless(method) {
			return nil, &Error{Code: CodeMethodNotFound, Message: "method not found: " + method + " (removed in " + Version20260728 + ")"}
		}
		// A stateless request gets its own session view built from _meta.
		ss := newSession(ctx, s, "", sess.principal, sess.scopes, sess.transport)
		ss.initialized, ss.stateless, ss.version = true, true, Version20260728
		ss.clientCaps = p.Meta.ClientCaps
		if p.Meta.ClientInfo != nil {
			ss.clientInfo = *p.Meta.ClientInfo
		}
		if p.Meta.LogLevel != "" {
			if rc.logLevel = levelIndex(p.Meta.LogLevel); rc.logLevel < 0 {
				return nil, invalidParams("unknown log level %q", p.Meta.LogLevel)
			}
		}
		defer ss.close()
		sess = ss
		rc.sess = ss
	} else if method == "server/discover" {
		// server/discover belongs to the stateless revision: it needs _meta.
		return nil, metaError(invalidParams("server/discover needs _meta with %s and %s", metaProtocolVersion, metaClientCaps))
	} else {
		sess.mu.Lock()
		inited := sess.initialized
		sess.mu.Unlock()
		if !inited && method != "initialize" && method != "ping" {
			return nil, &Error{Code: CodeInvalidRequest, Message: "invalid request: the session is not initialized: send initialize first (or use protocol version " + Version20260728 + " with _meta)"}
		}
	}
	ctx = context.WithValue(ctx, reqCtxKey{}, rc)
	r := request{method: method, p: p, sess: sess, rc: rc}
	if stateless {
		switch method {
		case "tools/call", "prompts/get", "resources/read":
			if err := s.beginRounds(rc, p, method+" "+p.Name+p.URI); err != nil {
				return nil, err
			}
			res, err := s.dispatch(ctx, &r, stateless)
			if err == nil || errors.Is(err, ErrInputRequired) {
				rc.mu.Lock()
				n := len(rc.inputs)
				rc.mu.Unlock()
				if n > 0 {
					return s.inputRequired(rc), nil
				}
			}
			return res, err
		}
	}
	return s.dispatch(ctx, &r, stateless)
}

// dispatch runs the method of a request whose version checks are done.
func (s *Server) dispatch(ctx context.Context, r *request, stateless bool) (any, error) {
	method, p, sess := r.method, r.p, r.sess

	switch method {
	case "initialize":
		return s.initialize(sess, p)
	case "ping":
		return json.RawMessage("{}"), nil
	case "server/discover":
		return s.discover(sess), nil
	case "subscriptions/listen":
		if !stateless {
			break
		}
		return s.listen(ctx, r)
	case "tools/list":
		if s.uiActive(sess) {
			return s.listUITools(p, stateless, sess)
		}
		if s.opts.ToolVisible != nil && sess != nil && sess.Scopes() != nil {
			return s.listVisibleTools(p, stateless, sess)
		}
		return s.listTools(p, stateless)
	case "tools/call":
		return s.callTool(ctx, r)
	case "resources/list":
		return s.listResources(p, stateless, sess)
	case "resources/templates/list":
		return s.listTemplates(p, stateless)
	case "resources/read":
		return s.readResource(ctx, r, stateless)
	case "resources/subscribe", "resources/unsubscribe":
		if p.URI == "" {
			return nil, invalidParams("uri is required")
		}
		sess.mu.Lock()
		if sess.subscribed == nil {
			sess.subscribed = map[string]bool{}
		}
		if method == "resources/subscribe" {
			sess.subscribed[p.URI] = true
		} else {
			delete(sess.subscribed, p.URI)
		}
		sess.mu.Unlock()
		return json.RawMessage("{}"), nil
	case "prompts/list":
		return s.listPrompts(p, stateless)
	case "prompts/get":
		return s.getPrompt(ctx, r, stateless)
	case "completion/complete":
		return s.complete(ctx, r, stateless)
	case "logging/setLevel":
		li := levelIndex(p.Level)
		if li < 0 {
			return nil, invalidParams("unknown log level %q; want one of %s", p.Level, strings.Join(logLevels, ", "))
		}
		sess.mu.Lock()
		sess.logLevel = li
		sess.mu.Unlock()
		return json.RawMessage("{}"), nil
	}
	return nil, &Error{Code: CodeMethodNotFound, Message: "method not found: " + method}
}

func removedInStateless(method string) bool {
	switch method {
	case "initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe":
		return true
	}
	return false
}

// serveNotification handles a notification from the client.
func (s *Server) serveNotification(sess *Session, method string, params json.RawMessage) {
	switch method {
	case "notifications/initialized":
		// Nothing to do: the session is usable once initialize is answered.
	case "notifications/cancelled":
		var p struct {
			RequestID json.RawMessage `json:"requestId"`
		}
		if json.Unmarshal(params, &p) != nil || len(p.RequestID) == 0 {
			return
		}
		sess.cancelRequest(idKey(p.RequestID))
	}
}

// track registers an in-flight request so notifications/cancelled can cancel it.
func (sess *Session) track(key string, cancel context.CancelFunc) bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if _, dup := sess.inflight[key]; dup {
		return false
	}
	sess.inflight[key] = cancel
	return true
}

// untrack removes an in-flight request and reports whether it was cancelled
// by the client.
func (sess *Session) untrack(key string) bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	delete(sess.inflight, key)
	c := sess.cancelled[key]
	if c {
		delete(sess.cancelled, key)
	}
	return c
}

func (sess *Session) cancelRequest(key string) {
	sess.mu.Lock()
	cancel, ok := sess.inflight[key]
	if ok {
		if sess.cancelled == nil {
			sess.cancelled = map[string]bool{}
		}
		sess.cancelled[key] = true
	}
	sess.mu.Unlock()
	if ok {
		cancel()
	}
}

// handleRequest runs a request with cancellation tracking: the goroutine body
// used by every transport.
// Notifications and server requests go to out, the response to reply.
// When link is not nil, the handler's context also ends when link does.
func (s *Server) handleRequest(ctx, link context.Context, sess *Session, id json.RawMessage, method string, params json.RawMessage, out, reply stream) {
	key := idKey(id)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if link != nil {
		stop := context.AfterFunc(link, cancel)
		defer stop()
	}
	if !sess.track(key, cancel) {
		buf := getBuf()
		e := &Error{Code: CodeInvalidRequest, Message: "invalid request: id " + string(id) + " is already in use by a request in flight"}
		appendError(buf, id, e)
		_ = send(reply, buf.Bytes(), kindResponse, e)
		putBuf(buf)
		return
	}
	res, err := s.call(ctx, sess, id, method, params, out)
	if sess.untrack(key) {
		return // cancelled by the client: no response
	}
	if errors.Is(err, errNoResponse) {
		return
	}
	buf := getBuf()
	var rpcErr *Error // nil: a result
	if err != nil {
		rpcErr = toRPCError(err)
		appendError(buf, id, rpcErr)
	} else if e := appendResponse(buf, id, res); e != nil {
		buf.Reset()
		rpcErr = &Error{Code: CodeInternalError, Message: "internal error: encoding the result: " + e.Error()}
		appendError(buf, id, rpcErr)
	}
	if werr := send(reply, buf.Bytes(), kindResponse, rpcErr); werr != nil {
		s.log.Debug("mcp: writing response", "err", werr)
	}
	putBuf(buf)
}

func (s *Server) capabilities() map[string]any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	caps := map[string]any{
		"logging": struct{}{},
		"tools":   map[string]bool{"listChanged": true},
	}
	if len(s.resources) > 0 || len(s.templates) > 0 {
		caps["resources"] = map[string]bool{"subscribe": true, "listChanged": true}
	}
	if len(s.prompts) > 0 {
		caps["prompts"] = map[string]bool{"listChanged": true}
	}
	if s.completion != nil {
		caps["completions"] = struct{}{}
	}
	return caps
}

func (s *Server) initialize(sess *Session, p *reqParams) (any, error) {
	if p.ProtocolVersion == "" {
		return nil, invalidParams("protocolVersion is required")
	}
	version := handshakeVersions[0]
	if slices.Contains(handshakeVersions, p.ProtocolVersion) {
		version = p.ProtocolVersion
	}
	sess.mu.Lock()
	if sess.initialized {
		sess.mu.Unlock()
		return nil, &Error{Code: CodeInvalidRequest, Message: "invalid request: the session is already initialized"}
	}
	sess.initialized = true
	sess.version = version
	if p.ClientInfo != nil {
		sess.clientInfo = *p.ClientInfo
	}
	sess.clientCaps = append(json.RawMessage(nil), p.Capabilities...)
	sess.mu.Unlock()
	res := map[string]any{
		"protocolVersion": version,
		"capabilities":    s.uiCapabilities(s.capabilities(), p.Capabilities),
		"serverInfo":      s.impl,
	}
	if s.opts.Instructions != "" {
		res["instructions"] = s.opts.Instructions
	}
	return res, nil
}

func (s *Server) discover(sess *Session) any {
	res := map[string]any{
		"supportedVersions": supportedVersions,
		"capabilities":      s.uiCapabilities(s.capabilities(), sessCaps(sess)),
		"serverInfo":        s.impl,
		"_meta":             map[string]any{metaServerInfo: s.impl},
		"resultType":        "complete",
		"ttlMs":             0,
		"cacheScope":        "private",
	}
	if s.opts.Instructions != "" {
		res["instructions"] = s.opts.Instructions
	}
	return res
}

// Cursors are opaque to clients: base64 of "o" and the offset.
func encodeCursor(off int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.Itoa(off)))
}

func decodeCursor(c *string, n int) (int, error) {
	if c == nil {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*c)
	if err != nil || len(b) < 2 || b[0] != 'o' {
		return 0, invalidParams("invalid cursor %q", *c)
	}
	off, err := strconv.Atoi(string(b[1:]))
	if err != nil || off < 0 || off > n {
		return 0, invalidParams("invalid cursor %q", *c)
	}
	return off, nil
}

// page returns the bounds of the page at the cursor, and the next cursor.
func (s *Server) page(c *string, n int) (lo, hi int, next string, err error) {
	lo, err = decodeCursor(c, n)
	if err != nil {
		return 0, 0, "", err
	}
	hi = min(lo+s.pageSize, n)
	if hi < n {
		next = encodeCursor(hi)
	}
	return lo, hi, next, nil
}

// listResult encodes a list result with the items under key.
func listResult(key string, items any, next string, stateless bool) json.RawMessage {
	var b bytes.Buffer
	b.WriteString(`{"`)
	b.WriteString(key)
	b.WriteString(`":`)
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(items)
	b.Truncate(b.Len() - 1)
	if next != "" {
		b.WriteString(`,"nextCursor":`)
		appendString(&b, next)
	}
	if stateless {
		b.WriteString(`,"resultType":"complete","ttlMs":0,"cacheScope":"private"`)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func (s *Server) listTools(p *reqParams, stateless bool) (any, error) {
	s.mu.RLock()
	pages := s.toolPages
	if stateless {
		pages = s.toolPages26
	}
	n := len(s.toolOrder)
	s.mu.RUnlock()
	if pages == nil {
		s.mu.Lock()
		s.buildToolPages()
		pages = s.toolPages
		if stateless {
			pages = s.toolPages26
		}
		n = len(s.toolOrder)
		s.mu.Unlock()
	}
	off, err := decodeCursor(p.Cursor, n)
	if err != nil {
		return nil, err
	}
	if off%s.pageSize != 0 || off/s.pageSize >= len(pages) {
		if off == n && n%s.pageSize == 0 {
			return listResult("tools", []Tool{}, "", stateless), nil
		}
		return nil, invalidParams("invalid cursor %q", *p.Cursor)
	}
	return json.RawMessage(pages[off/s.pageSize]), nil
}

// listVisibleTools is tools/list for a session that may not see every tool.
func (s *Server) listVisibleTools(p *reqParams, stateless bool, sess *Session) (any, error) {
	s.mu.RLock()
	all := make([]Tool, 0, len(s.toolOrder))
	for _, e := range s.toolOrder {
		all = append(all, e.tool)
	}
	s.mu.RUnlock()
	vis := all[:0]
	for _, t := range all {
		if s.opts.ToolVisible(sess, t.Name) {
			vis = append(vis, t)
		}
	}
	lo, hi, next, err := s.page(p.Cursor, len(vis))
	if err != nil {
		return nil, err
	}
	return json.RawMessage(listResult("tools", vis[lo:hi], next, stateless)), nil
}

// buildToolPages pre-encodes the tools/list pages. Caller holds s.mu.
func (s *Server) buildToolPages() {
	n := len(s.toolOrder)
	s.toolPages, s.toolPages26 = nil, nil
	for lo := 0; lo < n || lo == 0; lo += s.pageSize {
		hi := min(lo+s.pageSize, n)
		tools := make([]Tool, 0, hi-lo)
		for _, e := range s.toolOrder[lo:hi] {
			tools = append(tools, e.tool)
		}
		next := ""
		if hi < n {
			next = encodeCursor(hi)
		}
		s.toolPages = append(s.toolPages, listResult("tools", tools, next, false))
		s.toolPages26 = append(s.toolPages26, listResult("tools", tools, next, true))
		if n == 0 {
			break
		}
	}
}

func (s *Server) listResources(p *reqParams, stateless bool, sess *Session) (any, error) {
	s.mu.RLock()
	all := make([]Resource, len(s.resOrder))
	for i, e := range s.resOrder {
		all[i] = e.res
	}
	s.mu.RUnlock()
	if s.uiActive(sess) {
		all = append(all, s.uiResourceList()...)
	}
	lo, hi, next, err := s.page(p.Cursor, len(all))
	if err != nil {
		return nil, err
	}
	return listResult("resources", all[lo:hi], next, stateless), nil
}

func (s *Server) listTemplates(p *reqParams, stateless bool) (any, error) {
	s.mu.RLock()
	all := make([]ResourceTemplate, len(s.templates))
	for i, e := range s.templates {
		all[i] = e.tmpl
	}
	s.mu.RUnlock()
	lo, hi, next, err := s.page(p.Cursor, len(all))
	if err != nil {
		return nil, err
	}
	return listResult("resourceTemplates", all[lo:hi], next, stateless), nil
}

func (s *Server) listPrompts(p *reqParams, stateless bool) (any, error) {
	s.mu.RLock()
	all := make([]Prompt, len(s.promptOrder))
	for i, e := range s.promptOrder {
		all[i] = e.prompt
	}
	s.mu.RUnlock()
	lo, hi, next, err := s.page(p.Cursor, len(all))
	if err != nil {
		return nil, err
	}
	return listResult("prompts", all[lo:hi], next, stateless), nil
}

func (s *Server) readResource(ctx context.Context, r *request, stateless bool) (any, error) {
	uri := r.p.URI
	if uri == "" {
		return nil, invalidParams("uri is required")
	}
	s.mu.RLock()
	var h ResourceHandler
	if e, ok := s.resources[uri]; ok {
		h = e.handler
	} else {
		for _, t := range s.templates {
			if t.re.MatchString(uri) {
				h = t.handler
				break
			}
		}
	}
	s.mu.RUnlock()
	if h == nil {
		h = s.uiHandler(uri, r.sess)
	}
	notFound := func() error {
		code := int64(CodeResourceNotFound)
		if stateless {
			code = CodeInvalidParams // SEP-2164
		}
		return &Error{Code: code, Message: "resource not found: " + uri, Data: map[string]string{"uri": uri}}
	}
	if h == nil {
		return nil, notFound()
	}
	contents, err := safeResource(ctx, h, uri, r.sess)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == CodeResourceNotFound {
			return nil, notFound()
		}
		return nil, err
	}
	if contents == nil {
		contents = []ResourceContents{}
	}
	res := map[string]any{"contents": contents}
	if stateless {
		res["resultType"] = "complete"
		res["ttlMs"] = 0
		res["cacheScope"] = "private"
	}
	return res, nil
}

func safeResource(ctx context.Context, h ResourceHandler, uri string, sess *Session) (c []ResourceContents, err error) {
	defer func() {
		if v := recover(); v != nil {
			sess.srv.log.Error("mcp: resource handler panicked", "uri", uri, "panic", v, "stack", string(debug.Stack()))
			err = &Error{Code: CodeInternalError, Message: "internal error"}
		}
	}()
	return h(ctx, uri, sess)
}

func (s *Server) getPrompt(ctx context.Context, r *request, stateless bool) (any, error) {
	s.mu.RLock()
	e, ok := s.prompts[r.p.Name]
	s.mu.RUnlock()
	if !ok {
		return nil, invalidParams("unknown prompt %q", r.p.Name)
	}
	var args map[string]string
	if len(r.p.Arguments) > 0 && string(r.p.Arguments) != "null" {
		if err := json.Unmarshal(r.p.Arguments, &args); err != nil {
			return nil, invalidParams("prompt arguments must be an object of strings: %v", err)
		}
	}
	for _, a := range e.prompt.Arguments {
		if _, ok := args[a.Name]; a.Required && !ok {
			return nil, invalidParams("prompt %q: missing required argument %q", r.p.Name, a.Name)
		}
	}
	var res *GetPromptResult
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("mcp: prompt handler panicked", "prompt", r.p.Name, "panic", v, "stack", string(debug.Stack()))
				err = &Error{Code: CodeInternalError, Message: "internal error"}
			}
		}()
		res, err = e.handler(ctx, args, r.sess)
	}()
	if err != nil {
		return nil, err
	}
	if res == nil {
		res = &GetPromptResult{}
	}
	if res.Messages == nil {
		res.Messages = []PromptMessage{}
	}
	if stateless {
		return struct {
			*GetPromptResult
			ResultType string `json:"resultType"`
		}{res, "complete"}, nil
	}
	return res, nil
}

func (s *Server) complete(ctx context.Context, r *request, stateless bool) (any, error) {
	s.mu.RLock()
	h := s.completion
	s.mu.RUnlock()
	if h == nil {
		return nil, &Error{Code: CodeMethodNotFound, Message: "method not found: completion/complete (the server offers no completions)"}
	}
	if r.p.Ref == nil || r.p.Argument == nil {
		return nil, invalidParams("ref and argument are required")
	}
	var ctxArgs map[string]string
	if r.p.Context != nil {
		ctxArgs = r.p.Context.Arguments
	}
	values, err := h(ctx, *r.p.Ref, r.p.Argument.Name, r.p.Argument.Value, ctxArgs)
	if err != nil {
		return nil, err
	}
	total := len(values)
	hasMore := false
	if len(values) > 100 {
		values, hasMore = values[:100], true
	}
	if values == nil {
		values = []string{}
	}
	res := map[string]any{"completion": map[string]any{"values": values, "total": total, "hasMore": hasMore}}
	if stateless {
		res["resultType"] = "complete"
	}
	return res, nil
}
