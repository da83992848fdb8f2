package mcp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPOptions configure an HTTPHandler. The zero value is usable: localhost
// hosts and origins only, 4 MiB bodies, no authentication, sessions that end
// only on DELETE or Shutdown.
type HTTPOptions struct {
	// AllowedOrigins lists the Origin header values accepted besides the
	// loopback ones (for example "https://app.example.com"); "*" accepts any.
	// Requests without Origin are always accepted, and so are origins whose
	// host is localhost, 127.0.0.1 or [::1] (any scheme and port).
	AllowedOrigins []string
	// AllowedHosts lists Host header values accepted besides the loopback
	// names, as "name" (any port) or "name:port"; "*" accepts any. localhost,
	// 127.0.0.1 and [::1] are always accepted on any port: a DNS-rebinding
	// attack never arrives under them. Nil accepts only those.
	AllowedHosts []string
	// MaxBodyBytes bounds a POST body (default 4 MiB); larger bodies get 413.
	MaxBodyBytes int64
	// BodyTimeout bounds reading a POST body once its headers have arrived
	// (default 15s; negative: no bound). A slower body is cut: 408 and the
	// connection closed. Headers are bounded by http.Server.ReadHeaderTimeout.
	BodyTimeout time.Duration
	// SSEKeepAlive is how often an SSE stream that carries nothing gets a
	// comment line (": keepalive"), which clients ignore: a GET stream, a
	// subscriptions/listen request, a POST answered as SSE, or a POST whose
	// answer takes longer than this (it then turns into an SSE stream, when
	// the client takes one and did not ask for JSON). Proxies and load
	// balancers cut connections that are silent past their timeout (HAProxy's
	// "timeout server", nginx's proxy_read_timeout: 60 s by default). Default
	// DefaultSSEKeepAlive; negative: never.
	SSEKeepAlive time.Duration
	// SessionIdleTimeout ends sessions without traffic for this long (0: never).
	// A session with a request in flight or a GET stream open is not idle.
	SessionIdleTimeout time.Duration
	// MaxBatch bounds the messages of one JSON-RPC batch (default 100;
	// negative: no bound). A larger batch is refused whole with -32600.
	MaxBatch int
	// MaxSessionsPerPrincipal bounds the open sessions of one principal
	// (default 100; negative: no bound); initialize beyond it gets 429.
	MaxSessionsPerPrincipal int
	// MaxSessions bounds the open sessions of all principals together
	// (default 10000; negative: no bound); initialize beyond it gets 503.
	MaxSessions int
	// MaxStreamsPerPrincipal bounds the open GET streams and stateless
	// subscriptions/listen requests of one principal (default 100; negative:
	// no bound); one beyond it gets 429.
	MaxStreamsPerPrincipal int
	// AdmitBatch, when set, is asked before a batch runs, with the number of
	// its entries: a rate limit that counts messages charges them here (the
	// HTTP request that carried them may have been counted once already, in
	// front of this handler). An error refuses the whole batch with 429 and
	// the error's text; nothing in it runs.
	AdmitBatch func(r *http.Request, principal string, entries int) error
	// Authenticate, when set, authenticates every request. An error answers
	// 401 with a WWW-Authenticate challenge. Nil: principal "anonymous".
	Authenticate func(r *http.Request) (principal string, scopes []string, err error)
	// Stateless serves without sessions: no Mcp-Session-Id, no GET stream
	// (405), and no server-to-client requests.
	Stateless bool
	// Sessions, when set, keeps every session's SessionMeta where all the
	// instances serving this endpoint read it: a request naming a session
	// this instance does not hold is served from the stored meta (same
	// principal only), DELETE and idle expiry remove it there, and the end
	// is reported (Server.OnSessionEnd) by the one instance that removed it.
	// Shutdown then leaves the sessions to the other instances. An open GET
	// stream, server-to-client requests awaiting answers, requests in flight
	// (and their notifications/cancelled) stay with the instance holding
	// them; the session limits count this instance's sessions only. Nil:
	// sessions live in this process only.
	Sessions SessionStore
	// JSONResponse answers a request with application/json unless its handler
	// streams notifications or requests to the client first, or the client
	// accepts only text/event-stream. When false, every request is answered
	// with an SSE stream (when the client accepts one).
	JSONResponse bool
}

// HTTPHandler serves the Streamable HTTP transport on one endpoint: POST for
// client messages, GET for the server-to-client stream, DELETE to end a
// session. Mount it at /mcp.
type HTTPHandler struct {
	srv  *Server
	opts HTTPOptions

	mu       sync.Mutex
	sessions map[string]*httpSession
	perPrin  map[string]int // open sessions per principal
	streams  map[string]int // open GET streams per principal
	closing  bool
	active   sync.WaitGroup
	stop     chan struct{}
}

type httpSession struct {
	*Session
	lastUsed atomic.Int64 // unix nanoseconds
	busy     atomic.Int32 // requests and GET streams in progress
	getOpen  atomic.Bool

	// With HTTPOptions.Sessions: what the store holds, as last seen here.
	storedUsed atomic.Int64 // its LastUsed, unix nanoseconds
	storedMu   sync.Mutex
	storedMut  mutable // its log level and subscriptions
}

// Defaults of HTTPOptions' limits.
const (
	DefaultMaxBatch                = 100
	DefaultMaxSessionsPerPrincipal = 100
	DefaultMaxSessions             = 10000
	DefaultMaxStreamsPerPrincipal  = 100
	DefaultBodyTimeout             = 15 * time.Second
	// DefaultSSEKeepAlive is well under the 60 s idle timeouts of HAProxy's
	// and nginx's usual configurations.
	DefaultSSEKeepAlive = 15 * time.Second
)

// NewHTTPHandler returns a handler serving s.
func NewHTTPHandler(s *Server, opts *HTTPOptions) *HTTPHandler {
	h := &HTTPHandler{srv: s, sessions: map[string]*httpSession{}, perPrin: map[string]int{}, streams: map[string]int{},
		stop: make(chan struct{})}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.MaxBodyBytes <= 0 {
		h.opts.MaxBodyBytes = 4 << 20
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&h.opts.MaxBatch, DefaultMaxBatch)
	def(&h.opts.MaxSessionsPerPrincipal, DefaultMaxSessionsPerPrincipal)
	def(&h.opts.MaxSessions, DefaultMaxSessions)
	def(&h.opts.MaxStreamsPerPrincipal, DefaultMaxStreamsPerPrincipal)
	if h.opts.BodyTimeout == 0 {
		h.opts.BodyTimeout = DefaultBodyTimeout
	}
	if h.opts.SSEKeepAlive == 0 {
		h.opts.SSEKeepAlive = DefaultSSEKeepAlive
	}
	if h.opts.SessionIdleTimeout > 0 {
		go h.reap()
	}
	return h
}

// Shutdown stops accepting requests (503), ends every session and GET stream,
// and waits for in-flight requests to finish or ctx to end.
func (h *HTTPHandler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	if !h.closing {
		h.closing = true
		close(h.stop)
	}
	sessions := h.sessions
	h.sessions = map[string]*httpSession{}
	clear(h.perPrin)
	h.mu.Unlock()
	for _, hs := range sessions {
		if h.opts.Sessions != nil {
			h.srv.dropSession(hs.Session) // it goes on at the other instances
		} else {
			h.srv.removeSession(hs.Session)
		}
	}
	done := make(chan struct{})
	go func() { h.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *HTTPHandler) reap() {
	t := time.NewTicker(max(h.opts.SessionIdleTimeout/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case now := <-t.C:
			if h.opts.Sessions != nil {
				h.reapStored(now)
				continue
			}
			limit := now.Add(-h.opts.SessionIdleTimeout).UnixNano()
			h.mu.Lock()
			var idle []*httpSession
			for id, hs := range h.sessions {
				if hs.busy.Load() == 0 && hs.lastUsed.Load() < limit {
					idle = append(idle, hs)
					h.forget(id, hs)
				}
			}
			h.mu.Unlock()
			for _, hs := range idle {
				h.srv.removeSession(hs.Session)
			}
		}
	}
}

// openStream counts a long-lived stream of principal (a GET stream, or a
// subscriptions/listen POST) against MaxStreamsPerPrincipal. Beyond it, it
// answers 429 and reports false; else the caller must closeStream.
func (h *HTTPHandler) openStream(w http.ResponseWriter, principal string, id json.RawMessage) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.opts.MaxStreamsPerPrincipal > 0 && h.streams[principal] >= h.opts.MaxStreamsPerPrincipal {
		w.Header().Set("Retry-After", "60")
		httpError(w, http.StatusTooManyRequests, id, CodeInvalidRequest, "too many streams: this principal has "+strconv.Itoa(h.opts.MaxStreamsPerPrincipal)+
			" streams open (GET streams and subscriptions/listen), the most allowed; close one and retry")
		return false
	}
	h.streams[principal]++
	return true
}

func (h *HTTPHandler) closeStream(principal string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := h.streams[principal] - 1; n > 0 {
		h.streams[principal] = n
	} else {
		delete(h.streams, principal)
	}
}

// forget removes a session from the table and its principal's count. Caller
// holds h.mu.
func (h *HTTPHandler) forget(id string, hs *httpSession) {
	delete(h.sessions, id)
	if n := h.perPrin[hs.principal] - 1; n > 0 {
		h.perPrin[hs.principal] = n
	} else {
		delete(h.perPrin, hs.principal)
	}
}

// httpError writes a JSON-RPC error body with an HTTP status.
func httpError(w http.ResponseWriter, status int, id json.RawMessage, code int64, msg string) {
	httpErrorData(w, status, id, &Error{Code: code, Message: msg})
}

func httpErrorData(w http.ResponseWriter, status int, id json.RawMessage, e *Error) {
	b := errorBytes(id, e)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func isLocalHost(host string) bool {
	switch strings.ToLower(host) {
	case "localhost", "127.0.0.1", "::1", "[::1]":
		return true
	}
	return false
}

func (h *HTTPHandler) hostAllowed(hostport string) bool {
	host := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		host = hh
	}
	if isLocalHost(host) {
		return true
	}
	for _, a := range h.opts.AllowedHosts {
		if a == "*" || strings.EqualFold(a, hostport) || strings.EqualFold(strings.Trim(a, "[]"), strings.Trim(host, "[]")) {
			return true
		}
	}
	return false
}

func (h *HTTPHandler) originAllowed(origin string) bool {
	if u, err := url.Parse(origin); err == nil && u.Host != "" && isLocalHost(u.Hostname()) {
		return true
	}
	return slices.Contains(h.opts.AllowedOrigins, "*") || slices.Contains(h.opts.AllowedOrigins, origin)
}

// accepts reports whether the Accept header admits JSON and SSE. A missing
// header admits both.
func accepts(r *http.Request) (jsonOK, sseOK bool) {
	vals := r.Header.Values("Accept")
	if len(vals) == 0 {
		return true, true
	}
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			mt := strings.TrimSpace(part)
			if i := strings.IndexByte(mt, ';'); i >= 0 {
				mt = strings.TrimSpace(mt[:i])
			}
			switch strings.ToLower(mt) {
			case "application/json", "application/*":
				jsonOK = true
			case "text/event-stream", "text/*":
				sseOK = true
			case "*/*":
				jsonOK, sseOK = true, true
			}
		}
	}
	return
}

// ServeHTTP implements http.Handler.
func (h *HTTPHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.hostAllowed(r.Host) {
		httpError(w, http.StatusForbidden, nil, CodeInvalidRequest, "forbidden: Host "+strconv.Quote(r.Host)+" is not allowed")
		return
	}
	if o := r.Header.Get("Origin"); o != "" && !h.originAllowed(o) {
		httpError(w, http.StatusForbidden, nil, CodeInvalidRequest, "forbidden: Origin "+strconv.Quote(o)+" is not allowed")
		return
	}
	h.mu.Lock()
	closing := h.closing
	if !closing {
		h.active.Add(1)
	}
	h.mu.Unlock()
	if closing {
		httpError(w, http.StatusServiceUnavailable, nil, CodeInternalError, "the server is shutting down")
		return
	}
	defer h.active.Done()

	principal, scopes := "anonymous", []string(nil)
	if h.opts.Authenticate != nil {
		p, sc, err := h.opts.Authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mcp", error="invalid_token"`)
			httpError(w, http.StatusUnauthorized, nil, CodeInvalidRequest, "unauthorized: "+err.Error())
			return
		}
		principal, scopes = p, sc
	}

	switch r.Method {
	case http.MethodPost:
		h.post(w, r, principal, scopes)
	case http.MethodGet:
		h.get(w, r, principal, scopes)
	case http.MethodDelete:
		h.delete(w, r, principal, scopes)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		httpError(w, http.StatusMethodNotAllowed, nil, CodeInvalidRequest, "method "+r.Method+" not allowed")
	}
}

// lookup finds the session named by the request's Mcp-Session-Id and checks
// it belongs to principal (with HTTPOptions.Sessions: as the store says, and
// rebuilt here with scopes when this instance does not hold it). It writes
// the error response and returns nil when there is none.
func (h *HTTPHandler) lookup(w http.ResponseWriter, r *http.Request, principal string, scopes []string, id json.RawMessage) *httpSession {
	sid := r.Header.Get("Mcp-Session-Id")
	if sid == "" {
		httpError(w, http.StatusBadRequest, id, CodeInvalidRequest, "bad request: the Mcp-Session-Id header is required (send initialize first)")
		return nil
	}
	if h.opts.Sessions != nil {
		return h.lookupStored(w, r, sid, principal, scopes, id)
	}
	h.mu.Lock()
	hs := h.sessions[sid]
	h.mu.Unlock()
	if hs == nil {
		httpError(w, http.StatusNotFound, id, CodeInvalidRequest, "session not found: it has ended or never existed; initialize a new one")
		return nil
	}
	if hs.principal != principal {
		httpError(w, http.StatusForbidden, id, CodeInvalidRequest, "forbidden: the session belongs to another principal")
		return nil
	}
	hs.lastUsed.Store(time.Now().UnixNano())
	return hs
}

func newSessionID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// stateless2026 holds what the 2026-07-28 header checks read from params.
type stateless2026 struct {
	Name string `json:"name"`
	URI  string `json:"uri"`
	Meta *struct {
		ProtocolVersion *string `json:"io.modelcontextprotocol/protocolVersion"`
	} `json:"_meta"`
}

func (h *HTTPHandler) post(w http.ResponseWriter, r *http.Request, principal string, scopes []string) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt := strings.TrimSpace(strings.ToLower(strings.SplitN(ct, ";", 2)[0]))
		if mt != "application/json" {
			httpError(w, http.StatusUnsupportedMediaType, nil, CodeInvalidRequest, "unsupported media type: Content-Type must be application/json")
			return
		}
	}
	jsonOK, sseOK := accepts(r)
	if !jsonOK && !sseOK {
		httpError(w, http.StatusNotAcceptable, nil, CodeInvalidRequest, "not acceptable: the Accept header must list application/json and text/event-stream")
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	// A slow body holds a connection and a buffer: it gets BodyTimeout from
	// now. The deadline is lifted once the body is in, so that a long
	// answer (an SSE stream) is not cut by it.
	rc := http.NewResponseController(w)
	timed := h.opts.BodyTimeout > 0 && rc.SetReadDeadline(time.Now().Add(h.opts.BodyTimeout)) == nil
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if timed {
		_ = rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		var mbe *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &mbe):
			httpError(w, http.StatusRequestEntityTooLarge, nil, CodeInvalidRequest, "request too large: the body exceeds "+strconv.FormatInt(h.opts.MaxBodyBytes, 10)+" bytes")
		case errors.As(err, &ne) && ne.Timeout():
			w.Header().Set("Connection", "close")
			httpError(w, http.StatusRequestTimeout, nil, CodeInvalidRequest, "request timeout: the body did not arrive within "+h.opts.BodyTimeout.String())
		default:
			httpError(w, http.StatusBadRequest, nil, CodeParseError, "bad request: reading the body: "+err.Error())
		}
		return
	}
	body := bytes.TrimSpace(buf.Bytes())
	if len(body) == 0 {
		httpError(w, http.StatusBadRequest, nil, CodeParseError, "parse error: empty body")
		return
	}
	if body[0] == '[' {
		h.postBatch(w, r, principal, scopes, body)
		return
	}
	m := inMsgPool.Get().(*inMsg)
	m.reset()
	defer inMsgPool.Put(m)
	if id, e := parseMsg(body, m); e != nil {
		httpErrorData(w, http.StatusBadRequest, id, e)
		return
	}

	hv := r.Header.Get("Mcp-Protocol-Version")
	isRequest := m.Method != nil && len(m.ID) > 0

	// The stateless revision: the version in _meta (and in the header).
	if m.Method != nil {
		var sp stateless2026
		var metaVersion *string
		if bytes.Contains(m.Params, []byte(metaProtocolVersion)) || hv == Version20260728 {
			if len(m.Params) > 0 && m.Params[0] == '{' {
				_ = json.Unmarshal(m.Params, &sp)
			}
			if sp.Meta != nil {
				metaVersion = sp.Meta.ProtocolVersion
			}
		}
		if metaVersion != nil || hv == Version20260728 {
			h.postStateless(w, r, m, &sp, metaVersion, hv, principal, scopes, jsonOK, sseOK)
			return
		}
	}

	if hv != "" && !slices.Contains(handshakeVersions, hv) {
		httpErrorData(w, http.StatusBadRequest, m.ID, &Error{Code: CodeInvalidRequest, Message: "bad request: unsupported MCP-Protocol-Version " + strconv.Quote(hv), Data: map[string]any{"supported": supportedVersions, "requested": hv}})
		return
	}

	if h.opts.Stateless {
		sess := newSession(r.Context(), h.srv, "", principal, scopes, "http")
		defer sess.close()
		sess.noReplies = true
		sess.initialized = true
		sess.version = hv
		if sess.version == "" {
			sess.version = handshakeVersions[0]
		}
		if m.Method != nil && *m.Method == "initialize" {
			sess.initialized = false
		}
		if !isRequest {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		h.runRequest(w, r, sess, m, jsonOK, sseOK, "")
		return
	}

	if isRequest && *m.Method == "initialize" {
		if r.Header.Get("Mcp-Session-Id") != "" {
			httpError(w, http.StatusBadRequest, m.ID, CodeInvalidRequest, "bad request: initialize must not carry an Mcp-Session-Id")
			return
		}
		sid := newSessionID()
		hs := &httpSession{Session: newSession(context.Background(), h.srv, sid, principal, scopes, "http")}
		hs.lastUsed.Store(time.Now().UnixNano())
		hs.busy.Add(1)
		h.mu.Lock()
		if h.admit(w, principal, m.ID) {
			h.mu.Unlock()
			hs.close()
			return
		}
		h.sessions[sid] = hs
		h.perPrin[principal]++
		h.mu.Unlock()
		h.srv.addSession(hs.Session)
		var before func() *Error
		if h.opts.Sessions != nil {
			before = func() *Error { return h.storeCreate(r.Context(), hs) }
		}
		h.runRequestHook(w, r, hs.Session, m, jsonOK, sseOK, sid, before)
		hs.busy.Add(-1)
		hs.mu.Lock()
		ok := hs.initialized
		hs.mu.Unlock()
		if !ok {
			h.endSession(sid)
		}
		return
	}

	hs := h.lookup(w, r, principal, scopes, m.ID)
	if hs == nil {
		return
	}
	hs.busy.Add(1)
	defer hs.busy.Add(-1)
	switch {
	case m.Method == nil:
		hs.deliver(m)
		w.WriteHeader(http.StatusAccepted)
	case len(m.ID) == 0:
		h.srv.serveNotification(hs.Session, *m.Method, m.Params)
		w.WriteHeader(http.StatusAccepted)
	default:
		var before func() *Error
		if h.opts.Sessions != nil {
			before = func() *Error { return h.storeChanges(r.Context(), hs) }
		}
		h.runRequestHook(w, r, hs.Session, m, jsonOK, sseOK, hs.id, before)
	}
}

// postStateless serves a 2026-07-28 request: headers checked against the body,
// no session.
func (h *HTTPHandler) postStateless(w http.ResponseWriter, r *http.Request, m *inMsg, sp *stateless2026, metaVersion *string, hv, principal string, scopes []string, jsonOK, sseOK bool) {
	id := m.ID
	if len(id) == 0 {
		id = nullID
	}
	method := *m.Method
	if hv == "" {
		httpError(w, http.StatusBadRequest, id, CodeHeaderMismatch, "header mismatch: the MCP-Protocol-Version header is required")
		return
	}
	if metaVersion != nil && *metaVersion != hv {
		if !slices.Contains(supportedVersions, *metaVersion) && !slices.Contains(supportedVersions, hv) {
			httpErrorData(w, http.StatusBadRequest, id, unsupportedVersion(*metaVersion))
			return
		}
		httpError(w, http.StatusBadRequest, id, CodeHeaderMismatch, "header mismatch: MCP-Protocol-Version "+strconv.Quote(hv)+" does not match _meta "+metaProtocolVersion+" "+strconv.Quote(*metaVersion))
		return
	}
	if hv != Version20260728 {
		httpErrorData(w, http.StatusBadRequest, id, unsupportedVersion(hv))
		return
	}
	if metaVersion == nil {
		httpError(w, http.StatusBadRequest, id, CodeInvalidParams, "invalid params: _meta must carry "+metaProtocolVersion+" and "+metaClientCaps+" on every "+Version20260728+" request")
		return
	}
	if mm := r.Header.Get("Mcp-Method"); mm != method {
		if mm == "" {
			httpError(w, http.StatusBadRequest, id, CodeHeaderMismatch, "header mismatch: the Mcp-Method header is required")
		} else {
			httpError(w, http.StatusBadRequest, id, CodeHeaderMismatch, "header mismatch: Mcp-Method "+strconv.Quote(mm)+" does not match the body's method "+strconv.Quote(method))
		}
		return
	}
	var want string
	switch method {
	case "tools/call", "prompts/get":
		want = sp.Name
	case "resources/read":
		want = sp.URI
	}
	if want != "" || method == "tools/call" || method == "prompts/get" || method == "resources/read" {
		if mn := r.Header.Get("Mcp-Name"); mn != want {
			if mn == "" {
				httpError(w, http.StatusBadRequest, id, CodeHeaderMismatch, "header mismatch: the Mcp-Name header is required for "+method)
			} else {
				httpError(w, http.StatusBadRequest, id, CodeHeaderMismatch, "header mismatch: Mcp-Name "+strconv.Quote(mn)+" does not match the body's "+strconv.Quote(want))
			}
			return
		}
	}
	if len(m.ID) == 0 || m.Method == nil {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if method == "subscriptions/listen" { // held open until the client leaves
		if !h.openStream(w, principal, id) {
			return
		}
		defer h.closeStream(principal)
	}
	sess := newSession(r.Context(), h.srv, "", principal, scopes, "http")
	defer sess.close()
	sess.initialized, sess.stateless, sess.version = true, true, Version20260728
	h.runRequest(w, r, sess, m, jsonOK, sseOK, "")
}

// runRequest runs one request and answers it on w as JSON or SSE.
func (h *HTTPHandler) runRequest(w http.ResponseWriter, r *http.Request, sess *Session, m *inMsg, jsonOK, sseOK bool, sid string) {
	h.runRequestHook(w, r, sess, m, jsonOK, sseOK, sid, nil)
}

// runRequestHook is runRequest with before (when not nil) run just before a
// result is sent: an *Error it returns is sent instead.
func (h *HTTPHandler) runRequestHook(w http.ResponseWriter, r *http.Request, sess *Session, m *inMsg, jsonOK, sseOK bool, sid string, before func() *Error) {
	ps := &postStream{w: w, sseOK: sseOK, jsonOK: jsonOK, sid: sid, preferJSON: h.opts.JSONResponse || !sseOK, id: m.ID, before: before}
	ps.stateless = sess.stateless
	if every := h.opts.SSEKeepAlive; every > 0 && sseOK {
		ps.mu.Lock()
		ps.kaEvery = every
		ps.kaTimer = time.AfterFunc(every, ps.keepAlive)
		ps.mu.Unlock()
	}
	var link context.Context
	if sid != "" {
		link = sess.ctx // ending the session cancels the request
	}
	h.srv.handleRequest(r.Context(), link, sess, m.ID, *m.Method, m.Params, ps, ps)
	ps.finish()
}

// postStream answers one POST. It starts as JSON (if the client takes it and
// JSONResponse is set) and turns into an SSE stream as soon as anything but
// the response has to be sent.
type postStream struct {
	w          http.ResponseWriter
	jsonOK     bool
	sseOK      bool
	preferJSON bool
	stateless  bool
	sid        string
	id         json.RawMessage // the request's id
	before     func() *Error   // run before a result is sent (nil: none)

	mu      sync.Mutex
	mode    int // 0 undecided, 1 JSON written, 2 SSE
	done    bool
	kaEvery time.Duration // HTTPOptions.SSEKeepAlive; 0: none
	kaTimer *time.Timer   // the next keepalive, while not done
}

// keepAlive runs every kaEvery while the POST is not answered: it sends an
// SSE comment, first turning an undecided answer into an SSE stream when the
// client takes one and did not ask for JSON (a JSON answer cannot carry one).
func (p *postStream) keepAlive() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	if p.mode == 0 {
		if !p.sseOK || p.preferJSON {
			p.kaTimer.Reset(p.kaEvery) // it may turn into SSE later
			return
		}
		p.startSSE()
	}
	if p.mode != 2 {
		return
	}
	if _, err := io.WriteString(p.w, sseKeepAlive); err != nil {
		p.done = true
		return
	}
	if f, ok := p.w.(http.Flusher); ok {
		f.Flush()
	}
	p.kaTimer.Reset(p.kaEvery)
}

// Header values shared by all responses; net/http only reads them.
var (
	hdrJSON     = []string{"application/json"}
	hdrSSE      = []string{"text/event-stream"}
	hdrNoCache  = []string{"no-cache"}
	hdrAccelOff = []string{"no"}
)

func (p *postStream) header() http.Header {
	hd := p.w.Header()
	if p.sid != "" {
		hd["Mcp-Session-Id"] = []string{p.sid}
	}
	return hd
}

func (p *postStream) startSSE() {
	hd := p.header()
	hd["Content-Type"] = hdrSSE
	hd["Cache-Control"] = hdrNoCache
	hd["X-Accel-Buffering"] = hdrAccelOff
	p.w.WriteHeader(http.StatusOK)
	p.mode = 2
}

func writeSSE(w io.Writer, msg []byte) error {
	if _, err := io.WriteString(w, "event: message\ndata: "); err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n\n")
	return err
}

// write sends a notification on the POST's stream.
func (p *postStream) write(msg []byte) error {
	return p.writeTyped(msg, kindNotification, nil)
}

// writeTyped sends msg, a message of the given kind (e is the JSON-RPC error of
// a response, nil for a result). The answer is JSON when the first message is
// the response and the client takes JSON (preferred, or an error); anything
// sent before it turns the answer into an SSE stream. The decision reads only
// kind and e, never msg: a result's text is data.
func (p *postStream) writeTyped(msg []byte, kind msgKind, e *Error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return ErrNoClientStream
	}
	resp := kind == kindResponse
	if resp && p.before != nil {
		before := p.before
		p.before = nil
		if e == nil {
			if be := before(); be != nil {
				msg, e = errorBytes(p.id, be), be
			}
		}
	}
	if p.mode == 0 {
		if resp && p.jsonOK && (p.preferJSON || e != nil) {
			hd := p.header()
			hd["Content-Type"] = hdrJSON // net/http adds Content-Length itself
			status := http.StatusOK
			if p.stateless {
				status = statelessStatus(e)
			}
			p.w.WriteHeader(status)
			_, err := p.w.Write(msg)
			p.mode, p.done = 1, true
			return err
		}
		if !p.sseOK {
			if resp {
				return errors.New("mcp: unreachable")
			}
			if kind != kindRequest {
				return nil // a JSON-only client opted out of notifications: drop them
			}
			return ErrNoClientStream // it cannot receive a server request either
		}
		p.startSSE()
	}
	if err := writeSSE(p.w, msg); err != nil {
		p.done = true
		return err
	}
	if f, ok := p.w.(http.Flusher); ok {
		f.Flush()
	}
	if resp {
		p.done = true
	}
	return nil
}

// finish ends the POST when the request produced no response (cancelled).
func (p *postStream) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == 0 && !p.done {
		p.w.WriteHeader(http.StatusAccepted)
	}
	p.done = true
	if p.kaTimer != nil {
		p.kaTimer.Stop()
	}
}

// statelessStatus maps a 2026-07-28 response to its HTTP status: 200 for a
// result (e nil) and for errors of a method's own work, 4xx for faults of the
// request itself.
func statelessStatus(e *Error) int {
	if e == nil {
		return http.StatusOK
	}
	switch e.Code {
	case CodeMethodNotFound:
		return http.StatusNotFound
	case CodeHeaderMismatch, CodeMissingClientCapability, CodeUnsupportedProtocolVersion, CodeInvalidRequest:
		return http.StatusBadRequest
	case CodeInvalidParams:
		if e.badMeta {
			return http.StatusBadRequest
		}
	}
	return http.StatusOK
}

func (h *HTTPHandler) get(w http.ResponseWriter, r *http.Request, principal string, scopes []string) {
	if h.opts.Stateless || r.Header.Get("Mcp-Protocol-Version") == Version20260728 {
		w.Header().Set("Allow", "POST")
		httpError(w, http.StatusMethodNotAllowed, nil, CodeInvalidRequest, "method not allowed: this server has no GET stream")
		return
	}
	_, sseOK := accepts(r)
	if !sseOK {
		httpError(w, http.StatusNotAcceptable, nil, CodeInvalidRequest, "not acceptable: the GET stream needs Accept: text/event-stream")
		return
	}
	hs := h.lookup(w, r, principal, scopes, nil)
	if hs == nil {
		return
	}
	if !hs.getOpen.CompareAndSwap(false, true) {
		httpError(w, http.StatusConflict, nil, CodeInvalidRequest, "conflict: a GET stream is already open for this session")
		return
	}
	defer hs.getOpen.Store(false)
	if !h.openStream(w, principal, nil) {
		return
	}
	defer h.closeStream(principal)
	hs.busy.Add(1)
	defer hs.busy.Add(-1)

	gs := &getStream{w: w}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Mcp-Session-Id", hs.id)
	// Register before the client sees the 200, so nothing sent after it is lost.
	gs.mu.Lock()
	hs.setOut(gs)
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	gs.mu.Unlock()
	defer func() {
		hs.outMu.Lock()
		if hs.out == gs {
			hs.out = nil
		}
		hs.outMu.Unlock()
		gs.close()
	}()
	var keepAlive <-chan time.Time
	if h.opts.SSEKeepAlive > 0 {
		t := time.NewTicker(h.opts.SSEKeepAlive)
		defer t.Stop()
		keepAlive = t.C
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-hs.ctx.Done():
			return
		case <-keepAlive:
			if gs.keepAlive() != nil {
				return // the client is gone
			}
		}
	}
}

type getStream struct {
	mu     sync.Mutex
	w      http.ResponseWriter
	closed bool
}

func (g *getStream) write(msg []byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrNoClientStream
	}
	if err := writeSSE(g.w, msg); err != nil {
		return err
	}
	if f, ok := g.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// keepAlive writes an SSE comment, so the stream is not silent.
func (g *getStream) keepAlive() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrNoClientStream
	}
	if _, err := io.WriteString(g.w, sseKeepAlive); err != nil {
		return err
	}
	if f, ok := g.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// sseKeepAlive is the comment line an idle SSE stream gets; SSE clients
// ignore lines that start with a colon.
const sseKeepAlive = ": keepalive\n\n"

func (g *getStream) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

func (h *HTTPHandler) delete(w http.ResponseWriter, r *http.Request, principal string, scopes []string) {
	if h.opts.Stateless {
		w.Header().Set("Allow", "POST")
		httpError(w, http.StatusMethodNotAllowed, nil, CodeInvalidRequest, "method not allowed: this server has no sessions")
		return
	}
	hs := h.lookup(w, r, principal, scopes, nil)
	if hs == nil {
		return
	}
	if h.opts.Sessions != nil {
		ctx, cancel := h.storeCtx(r.Context())
		found, err := h.endStored(ctx, hs.id, principal)
		cancel()
		switch {
		case err != nil:
			w.Header().Set("Retry-After", "1")
			httpError(w, http.StatusServiceUnavailable, nil, CodeInternalError, msgSessionStore)
		case !found: // ended at the same moment by another instance (or expiry)
			httpError(w, http.StatusNotFound, nil, CodeInvalidRequest, "session not found: it has ended or never existed; initialize a new one")
		default:
			w.WriteHeader(http.StatusNoContent)
		}
		return
	}
	h.endSession(hs.id)
	w.WriteHeader(http.StatusNoContent)
}

func (h *HTTPHandler) endSession(sid string) {
	h.mu.Lock()
	hs := h.sessions[sid]
	if hs != nil {
		h.forget(sid, hs)
	}
	h.mu.Unlock()
	if hs != nil {
		h.srv.removeSession(hs.Session)
	}
}

// dropStream discards what it is given: notifications of batched requests,
// which have no stream to travel on. A server-to-client request fails at
// once (it could never be answered) instead of waiting for the session's end.
type dropStream struct{}

func (dropStream) write([]byte) error { return nil }

func (dropStream) writeTyped(_ []byte, kind msgKind, _ *Error) error {
	if kind == kindRequest {
		return ErrNoClientStream
	}
	return nil
}

// postBatch serves a JSON-RPC batch, which only 2025-03-26 sessions may send.
// A batch has at most MaxBatch entries, each admitted by AdmitBatch; they run
// at most batchParallel at a time, and their answers are streamed into one
// JSON array as they come, so the memory a batch holds is bounded by a few
// answers, not by the whole array.
func (h *HTTPHandler) postBatch(w http.ResponseWriter, r *http.Request, principal string, scopes []string, body []byte) {
	if h.opts.Stateless {
		httpError(w, http.StatusBadRequest, nil, CodeInvalidRequest, "invalid request: JSON-RPC batches need a 2025-03-26 session")
		return
	}
	elems, e := decodeBatch(body)
	if e != nil {
		httpErrorData(w, http.StatusBadRequest, nil, e)
		return
	}
	hs := h.lookup(w, r, principal, scopes, nil)
	if hs == nil {
		return
	}
	if e := checkBatch(elems, hs.ProtocolVersion(), h.opts.MaxBatch); e != nil {
		httpErrorData(w, http.StatusBadRequest, nil, e)
		return
	}
	if h.opts.AdmitBatch != nil {
		if err := h.opts.AdmitBatch(r, principal, len(elems)); err != nil {
			w.Header().Set("Retry-After", "1")
			httpError(w, http.StatusTooManyRequests, nil, CodeInvalidRequest, err.Error())
			return
		}
	}
	hs.busy.Add(1)
	defer hs.busy.Add(-1)
	bs := &batchWriter{w: w}
	sem := make(chan struct{}, batchParallel)
	var wg sync.WaitGroup
	for _, msg := range elems {
		sem <- struct{}{}
		var ewg sync.WaitGroup
		h.srv.handleMessage(hs.Session, msg, dropStream{}, bs, &ewg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ewg.Wait()
			<-sem
		}()
	}
	wg.Wait()
	if h.opts.Sessions != nil {
		_ = h.storeChanges(r.Context(), hs) // logged; the answers are out already
	}
	bs.finish()
}

// batchParallel is how many entries of one batch run at a time.
const batchParallel = 8

// batchWriter streams a batch's answers as one JSON array: the status and
// the opening bracket go out with the first answer, each answer as it comes.
type batchWriter struct {
	mu  sync.Mutex
	w   http.ResponseWriter
	n   int
	err error
}

func (b *batchWriter) write(msg []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	sep := byte(',')
	if b.n == 0 {
		b.w.Header().Set("Content-Type", "application/json")
		b.w.WriteHeader(http.StatusOK)
		sep = '['
	}
	b.n++
	if _, b.err = b.w.Write([]byte{sep}); b.err == nil {
		_, b.err = b.w.Write(msg)
	}
	return b.err
}

// finish closes the array, or answers 202 when the batch held no request.
func (b *batchWriter) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == 0 {
		b.w.WriteHeader(http.StatusAccepted)
		return
	}
	if b.err == nil {
		_, _ = b.w.Write([]byte{']'})
	}
}
