package mcp

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// SessionMeta is the part of a Streamable HTTP session that can move between
// server instances: what the session negotiated and who it belongs to, small
// and serializable. It holds no secret: the principal is a name, never a
// token. What cannot move (an open GET stream, server-to-client requests
// waiting for their answers, requests in flight) stays with the instance that
// holds it.
type SessionMeta struct {
	// Principal owns the session; only requests authenticated as it may use it.
	Principal string `json:"principal"`
	// ProtocolVersion is the version negotiated by initialize.
	ProtocolVersion string `json:"protocol_version"`
	// ClientInfo and ClientCapabilities are what the client sent in initialize.
	ClientInfo         Implementation  `json:"client_info"`
	ClientCapabilities json.RawMessage `json:"client_capabilities,omitempty"`
	// Initialized is true once initialize was answered (always, for a stored session).
	Initialized bool `json:"initialized"`
	// LogLevel is the level set by logging/setLevel ("" before any).
	LogLevel string `json:"log_level,omitempty"`
	// Subscriptions are the resource URIs the session subscribed to, sorted.
	Subscriptions []string `json:"subscriptions,omitempty"`
	// Created is when initialize was answered; LastUsed is the last request
	// (or open GET stream) any instance saw, kept to within a quarter of
	// HTTPOptions.SessionIdleTimeout.
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used"`
}

// SessionStore keeps SessionMeta where every instance serving one endpoint
// reads it, so that a session initialized on one instance is served by any
// (HTTPOptions.Sessions). Ids are 128-bit random values made by the handler.
// Methods are safe for concurrent use; an error means the store could not be
// reached or written (the handler answers 503 and the client retries), never
// that the session does not exist.
type SessionStore interface {
	// Create stores a new session's meta under id.
	Create(ctx context.Context, id string, meta SessionMeta) error
	// Update changes the stored meta of id with fn, atomically (fn may run
	// more than once, on fresh meta each time), and reports whether id was
	// stored: it never brings back a session that was deleted.
	Update(ctx context.Context, id string, fn func(m *SessionMeta)) (found bool, err error)
	// Load returns the stored meta of id; ok is false when there is none.
	Load(ctx context.Context, id string) (meta SessionMeta, ok bool, err error)
	// Delete removes id and reports whether it was stored: of several
	// instances ending one session at once, exactly one sees true.
	Delete(ctx context.Context, id string) (found bool, err error)
}

// sessionMeta returns what of s can be stored.
func (s *Session) sessionMeta(created, lastUsed time.Time) SessionMeta {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := SessionMeta{
		Principal: s.principal, ProtocolVersion: s.version, ClientInfo: s.clientInfo,
		ClientCapabilities: s.clientCaps, Initialized: s.initialized,
		Created: created.UTC(), LastUsed: lastUsed.UTC(),
	}
	if s.logLevel > 0 { // 0 (debug) is also the level before any logging/setLevel
		m.LogLevel = logLevels[s.logLevel]
	}
	for uri, ok := range s.subscribed {
		if ok {
			m.Subscriptions = append(m.Subscriptions, uri)
		}
	}
	slices.Sort(m.Subscriptions)
	return m
}

// mutable is the part of a session's meta that requests change after
// initialize: the log level and the subscriptions.
type mutable struct {
	level string
	subs  []string
}

func (m SessionMeta) mutable() mutable { return mutable{m.LogLevel, m.Subscriptions} }

func (a mutable) equal(b mutable) bool { return a.level == b.level && slices.Equal(a.subs, b.subs) }

// applyMeta sets s's negotiated state from m (a session rebuilt from the
// store, or refreshed because another instance changed it).
func (s *Session) applyMeta(m SessionMeta) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initialized = m.Initialized
	s.version = m.ProtocolVersion
	s.clientInfo = m.ClientInfo
	s.clientCaps = m.ClientCapabilities
	s.logLevel = max(levelIndex(m.LogLevel), 0)
	s.subscribed = nil
	for _, uri := range m.Subscriptions {
		if s.subscribed == nil {
			s.subscribed = map[string]bool{}
		}
		s.subscribed[uri] = true
	}
}

// msgSessionStore is what a client sees when the session store fails: the
// cause is logged, not shown.
const msgSessionStore = "the session store is unavailable just now; retry"

// storeTimeout bounds one call to the SessionStore made for a request; the
// request's own context bounds it too.
const storeTimeout = 10 * time.Second

func (h *HTTPHandler) storeCtx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, storeTimeout)
}

// expired reports whether stored meta is past the idle timeout at now.
func (h *HTTPHandler) expired(m SessionMeta, now time.Time) bool {
	return h.opts.SessionIdleTimeout > 0 && now.Sub(m.LastUsed) > h.opts.SessionIdleTimeout
}

// touchEvery is how stale a stored LastUsed may get while the session is used:
// a quarter of the idle timeout, so a session in use never looks idle to
// another instance, at one store write per session per quarter at most.
func (h *HTTPHandler) touchEvery() time.Duration { return h.opts.SessionIdleTimeout / 4 }

// lookupStored is lookup with a SessionStore: the stored meta decides whether
// the session exists and whom it belongs to; a session this instance does not
// hold is rebuilt from it. It writes the error response and returns nil when
// the request may not go on.
func (h *HTTPHandler) lookupStored(w http.ResponseWriter, r *http.Request, sid, principal string, scopes []string, id json.RawMessage) *httpSession {
	ctx, cancel := h.storeCtx(r.Context())
	defer cancel()
	meta, ok, err := h.opts.Sessions.Load(ctx, sid)
	if err != nil {
		h.srv.log.Error("mcp: loading a session from the session store", "err", err)
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, id, CodeInternalError, msgSessionStore)
		return nil
	}
	now := time.Now()
	if ok && h.expired(meta, now) {
		// Idle too long: whoever deletes it ends it.
		if _, err := h.endStored(ctx, sid, meta.Principal); err != nil {
			w.Header().Set("Retry-After", "1")
			httpError(w, http.StatusServiceUnavailable, id, CodeInternalError, msgSessionStore)
			return nil
		}
		ok = false
	}
	h.mu.Lock()
	hs := h.sessions[sid]
	h.mu.Unlock()
	if !ok {
		if hs != nil {
			h.drop(sid, hs) // ended by another instance, which reported the end
		}
		httpError(w, http.StatusNotFound, id, CodeInvalidRequest, "session not found: it has ended or never existed; initialize a new one")
		return nil
	}
	if meta.Principal != principal {
		httpError(w, http.StatusForbidden, id, CodeInvalidRequest, "forbidden: the session belongs to another principal")
		return nil
	}
	if hs == nil {
		if hs = h.rebuild(w, sid, meta, scopes, id); hs == nil {
			return nil
		}
	} else if hs.principal != principal {
		httpError(w, http.StatusForbidden, id, CodeInvalidRequest, "forbidden: the session belongs to another principal")
		return nil
	} else if !hs.stored().equal(meta.mutable()) {
		hs.applyMeta(meta) // changed through another instance
	}
	hs.setStored(meta)
	hs.lastUsed.Store(now.UnixNano())
	if h.opts.SessionIdleTimeout > 0 && now.Sub(meta.LastUsed) > h.touchEvery() {
		found, err := h.opts.Sessions.Update(ctx, sid, func(m *SessionMeta) {
			if now.After(m.LastUsed) {
				m.LastUsed = now.UTC()
			}
		})
		switch {
		case err != nil: // the session goes on; the next request tries again
			h.srv.log.Warn("mcp: refreshing a session's last use in the session store", "err", err)
		case !found: // deleted between the two calls
			h.drop(sid, hs)
			httpError(w, http.StatusNotFound, id, CodeInvalidRequest, "session not found: it has ended or never existed; initialize a new one")
			return nil
		default:
			hs.storedUsed.Store(now.UnixNano())
		}
	}
	return hs
}

// rebuild makes a local session from stored meta, within this instance's
// session limits. A concurrent rebuild of the same id wins once.
func (h *HTTPHandler) rebuild(w http.ResponseWriter, sid string, meta SessionMeta, scopes []string, id json.RawMessage) *httpSession {
	hs := &httpSession{Session: newSession(context.Background(), h.srv, sid, meta.Principal, scopes, "http")}
	hs.applyMeta(meta)
	hs.lastUsed.Store(time.Now().UnixNano())
	h.mu.Lock()
	if prev := h.sessions[sid]; prev != nil {
		h.mu.Unlock()
		hs.close()
		return prev
	}
	if h.closing {
		h.mu.Unlock()
		hs.close()
		httpError(w, http.StatusServiceUnavailable, id, CodeInternalError, "the server is shutting down")
		return nil
	}
	if e := h.admit(w, meta.Principal, id); e {
		h.mu.Unlock()
		hs.close()
		return nil
	}
	h.sessions[sid] = hs
	h.perPrin[meta.Principal]++
	h.mu.Unlock()
	h.srv.addSession(hs.Session)
	return hs
}

// admit checks this instance's session limits for one more session of
// principal; when they are reached it answers (429 or 503) and reports true.
// Caller holds h.mu.
func (h *HTTPHandler) admit(w http.ResponseWriter, principal string, id json.RawMessage) (refused bool) {
	switch {
	case h.opts.MaxSessionsPerPrincipal > 0 && h.perPrin[principal] >= h.opts.MaxSessionsPerPrincipal:
		w.Header().Set("Retry-After", "60")
		httpError(w, http.StatusTooManyRequests, id, CodeInvalidRequest, "too many sessions: this principal has "+strconv.Itoa(h.opts.MaxSessionsPerPrincipal)+
			" open sessions, the most allowed; end unused ones with DELETE (idle ones expire) and retry")
		return true
	case h.opts.MaxSessions > 0 && len(h.sessions) >= h.opts.MaxSessions:
		w.Header().Set("Retry-After", "60")
		httpError(w, http.StatusServiceUnavailable, id, CodeInvalidRequest, "too many sessions: the server holds "+strconv.Itoa(h.opts.MaxSessions)+" open sessions, the most allowed; retry later")
		return true
	}
	return false
}

// drop forgets this instance's copy of a session that lives on (or was ended)
// elsewhere: its handlers are cancelled, its GET stream closed, and the
// session end is not reported (another instance reports it, or it goes on).
func (h *HTTPHandler) drop(sid string, hs *httpSession) {
	h.mu.Lock()
	if h.sessions[sid] == hs {
		h.forget(sid, hs)
	}
	h.mu.Unlock()
	h.srv.dropSession(hs.Session)
}

// endStored deletes a stored session and, when this call removed it, reports
// the end (OnSessionEnd) here: of all instances ending one session, one
// reports it. It reports whether this call removed it; on a store failure
// (logged) nothing changed, and the next attempt (a request or the reaper)
// tries again.
func (h *HTTPHandler) endStored(ctx context.Context, sid, principal string) (bool, error) {
	found, err := h.opts.Sessions.Delete(ctx, sid)
	if err != nil {
		h.srv.log.Error("mcp: deleting a session from the session store", "err", err)
		return false, err
	}
	h.mu.Lock()
	hs := h.sessions[sid]
	if hs != nil {
		h.forget(sid, hs)
	}
	h.mu.Unlock()
	switch {
	case hs != nil && found:
		h.srv.removeSession(hs.Session)
	case hs != nil:
		h.srv.dropSession(hs.Session)
	case found:
		// Not held here: a stand-in carries the id to OnSessionEnd.
		s := newSession(context.Background(), h.srv, sid, principal, nil, "http")
		h.srv.addSession(s)
		h.srv.removeSession(s)
	}
	return found, nil
}

// storeCreate is the initialize hook with a SessionStore: the session is
// stored before the client learns its id, so its next request may go to any
// instance. A failure turns the answer into an error and the session ends.
func (h *HTTPHandler) storeCreate(ctx context.Context, hs *httpSession) *Error {
	now := time.Now()
	meta := hs.sessionMeta(now, now)
	if !meta.Initialized {
		return nil
	}
	sctx, cancel := h.storeCtx(ctx)
	defer cancel()
	if err := h.opts.Sessions.Create(sctx, hs.id, meta); err != nil {
		h.srv.log.Error("mcp: storing a new session in the session store", "err", err)
		hs.mu.Lock()
		hs.initialized = false // so the handler ends it
		hs.mu.Unlock()
		return &Error{Code: CodeInternalError, Message: msgSessionStore}
	}
	hs.setStored(meta)
	hs.storedUsed.Store(now.UnixNano())
	return nil
}

// storeChanges is the hook run before a stored session's response is sent:
// a change the request made to the log level or the subscriptions is stored
// first, so the client's next request sees it on any instance.
func (h *HTTPHandler) storeChanges(ctx context.Context, hs *httpSession) *Error {
	cur := hs.sessionMeta(time.Time{}, time.Time{}).mutable()
	if cur.equal(hs.stored()) {
		return nil
	}
	sctx, cancel := h.storeCtx(ctx)
	defer cancel()
	found, err := h.opts.Sessions.Update(sctx, hs.id, func(m *SessionMeta) {
		m.LogLevel, m.Subscriptions = cur.level, cur.subs
	})
	if err != nil {
		h.srv.log.Error("mcp: storing a session change in the session store", "err", err)
		return &Error{Code: CodeInternalError, Message: msgSessionStore}
	}
	if !found {
		return &Error{Code: CodeInvalidRequest, Message: "session not found: it ended while this request ran; initialize a new one"}
	}
	hs.storedMu.Lock()
	hs.storedMut = cur
	hs.storedMu.Unlock()
	return nil
}

func (hs *httpSession) stored() mutable {
	hs.storedMu.Lock()
	defer hs.storedMu.Unlock()
	return hs.storedMut
}

func (hs *httpSession) setStored(m SessionMeta) {
	hs.storedMu.Lock()
	hs.storedMut = m.mutable()
	hs.storedMu.Unlock()
	hs.storedUsed.Store(m.LastUsed.UnixNano())
}

// reapStored is one pass of the idle reaper with a SessionStore. A session
// busy here (a request in flight, a GET stream) keeps its stored LastUsed
// fresh; one idle here is checked against the store: used elsewhere, it stays
// (cheap to hold, and its end must be reported by someone); ended elsewhere,
// it is dropped; idle everywhere, it is deleted and its end reported.
func (h *HTTPHandler) reapStored(now time.Time) {
	limit := now.Add(-h.opts.SessionIdleTimeout).UnixNano()
	h.mu.Lock()
	var busy, idle []*httpSession
	for _, hs := range h.sessions {
		switch {
		case hs.busy.Load() > 0:
			if now.UnixNano()-hs.storedUsed.Load() > int64(h.touchEvery()) {
				busy = append(busy, hs)
			}
		case hs.lastUsed.Load() < limit:
			idle = append(idle, hs)
		}
	}
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	for _, hs := range busy {
		found, err := h.opts.Sessions.Update(ctx, hs.id, func(m *SessionMeta) {
			if now.After(m.LastUsed) {
				m.LastUsed = now.UTC()
			}
		})
		switch {
		case err != nil:
			h.srv.log.Warn("mcp: refreshing a session's last use in the session store", "err", err)
		case !found:
			h.drop(hs.id, hs)
		default:
			hs.storedUsed.Store(now.UnixNano())
		}
	}
	for _, hs := range idle {
		meta, ok, err := h.opts.Sessions.Load(ctx, hs.id)
		switch {
		case err != nil:
			h.srv.log.Warn("mcp: checking an idle session in the session store", "err", err)
		case !ok:
			h.drop(hs.id, hs)
		case h.expired(meta, now):
			_, _ = h.endStored(ctx, hs.id, meta.Principal) // a failure waits for the next pass
		default:
			hs.storedUsed.Store(meta.LastUsed.UnixNano())
		}
	}
}
