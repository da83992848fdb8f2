package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// memSessions is a SessionStore in memory, shared by the handlers of one
// test as etcd is by instances. Meta goes through JSON, as it would to a
// real store. fail, when set, is returned by every method.
type memSessions struct {
	mu   sync.Mutex
	m    map[string][]byte
	fail error
}

func newMemSessions() *memSessions { return &memSessions{m: map[string][]byte{}} }

func (s *memSessions) Create(_ context.Context, id string, meta SessionMeta) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	s.m[id] = b
	return nil
}

func (s *memSessions) Update(_ context.Context, id string, fn func(*SessionMeta)) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return false, s.fail
	}
	b, ok := s.m[id]
	if !ok {
		return false, nil
	}
	var m SessionMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return false, err
	}
	fn(&m)
	if b, err := json.Marshal(m); err != nil {
		return false, err
	} else {
		s.m[id] = b
	}
	return true, nil
}

func (s *memSessions) Load(_ context.Context, id string) (SessionMeta, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return SessionMeta{}, false, s.fail
	}
	b, ok := s.m[id]
	if !ok {
		return SessionMeta{}, false, nil
	}
	var m SessionMeta
	err := json.Unmarshal(b, &m)
	return m, err == nil, err
}

func (s *memSessions) Delete(_ context.Context, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return false, s.fail
	}
	_, ok := s.m[id]
	delete(s.m, id)
	return ok, nil
}

func (s *memSessions) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

// instance is one server behind the shared store, as one sibyl process.
type instance struct {
	url  string
	h    *HTTPHandler
	ends *endRecorder
}

// twoInstances starts two Servers with their own HTTPHandlers over one
// SessionStore (nil: none). The principal is the X-Who header.
func twoInstances(t *testing.T, sessions SessionStore, idle time.Duration) (a, b *instance) {
	t.Helper()
	start := func() *instance {
		s := testServer(t)
		ends := recordEnds(s)
		ts, h := startHTTP(t, s, &HTTPOptions{JSONResponse: true, Sessions: sessions, SessionIdleTimeout: idle,
			Authenticate: func(r *http.Request) (string, []string, error) {
				if w := r.Header.Get("X-Who"); w != "" {
					return w, nil, nil
				}
				return "", nil, errors.New("who are you")
			}})
		return &instance{url: ts.URL, h: h, ends: ends}
	}
	return start(), start()
}

// call sends one request of c's session to inst as who and returns the
// status and the messages of the answer.
func (c *httpClient) call(inst *instance, who, body string) (int, []msg) {
	c.tb.Helper()
	c.url = inst.url
	resp := c.do("POST", body, map[string]string{"X-Who": who})
	return resp.StatusCode, readMsgs(c.tb, resp)
}

const echoCall = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"across"}}}`

// held reports whether the handler holds a local copy of session sid.
func (h *HTTPHandler) held(sid string) *httpSession {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[sid]
}

func (r *endRecorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ends[id]
}

func initializeAs(t *testing.T, inst *instance, who string) *httpClient {
	t.Helper()
	c := &httpClient{tb: t, url: inst.url}
	resp := c.do("POST", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{}},"clientInfo":{"name":"t","version":"1"}}}`, map[string]string{"X-Who": who})
	ms := readMsgs(t, resp)
	if resp.StatusCode != 200 || len(ms) != 1 || ms[0].Error != nil {
		t.Fatalf("initialize: got %d %v", resp.StatusCode, ms)
	}
	c.sid = resp.Header.Get("Mcp-Session-Id")
	c.hv = "2025-11-25"
	return c
}

func TestSharedSessionsAcrossInstances(t *testing.T) {
	store := newMemSessions()
	a, b := twoInstances(t, store, 0)
	c := initializeAs(t, a, "alice")

	// The initialized notification and a tool call go to the other instance.
	if st, _ := c.call(b, "alice", `{"jsonrpc":"2.0","method":"notifications/initialized"}`); st != http.StatusAccepted {
		t.Fatalf("notifications/initialized on B: status %d, want 202", st)
	}
	st, ms := c.call(b, "alice", echoCall)
	if st != 200 || len(ms) != 1 || ms[0].Error != nil || !strings.Contains(string(ms[0].Result), "across") {
		t.Fatalf("tools/call on B: got %d %v, want the echo", st, ms)
	}
	if got := b.h.held(c.sid).ClientInfo().Name; got != "t" {
		t.Errorf("rebuilt session's client name: got %q, want %q", got, "t")
	}

	// Another principal holding the id is refused on both instances.
	for _, inst := range []*instance{a, b} {
		if st, _ := c.call(inst, "mallory", echoCall); st != http.StatusForbidden {
			t.Errorf("session of alice used by mallory: status %d, want 403", st)
		}
	}

	// logging/setLevel through B holds on A: only error-level messages come.
	if st, ms := c.call(b, "alice", `{"jsonrpc":"2.0","id":8,"method":"logging/setLevel","params":{"level":"error"}}`); st != 200 || ms[0].Error != nil {
		t.Fatalf("setLevel on B: %d %v", st, ms)
	}
	_, ms = c.call(a, "alice", `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"logs","arguments":{}}}`)
	var levels []string
	for _, m := range ms {
		if m.Method == "notifications/message" {
			levels = append(levels, mustJSON(t, m.Params)["level"].(string))
		}
	}
	if strings.Join(levels, ",") != "error" {
		t.Errorf("log levels sent on A after setLevel error on B: got %v, want [error]", levels)
	}

	// DELETE on B ends it everywhere, reported once, by B.
	c.url = b.url
	resp := c.do("DELETE", "", map[string]string{"X-Who": "alice"})
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE on B: status %d, want 204", resp.StatusCode)
	}
	if st, _ := c.call(a, "alice", echoCall); st != http.StatusNotFound {
		t.Errorf("tools/call on A after DELETE on B: status %d, want 404", st)
	}
	c.url = a.url
	resp = c.do("DELETE", "", map[string]string{"X-Who": "alice"})
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("second DELETE on A: status %d, want 404", resp.StatusCode)
	}
	if got := b.ends.count(c.sid); got != 1 {
		t.Errorf("ends reported by B: got %d, want 1", got)
	}
	if got := a.ends.count(c.sid); got != 0 {
		t.Errorf("ends reported by A: got %d, want 0 (B ended it)", got)
	}
	if a.h.held(c.sid) != nil {
		t.Error("A still holds the session after the DELETE on B")
	}
}

func TestSessionsWithoutStoreStayLocal(t *testing.T) {
	// The control: without a SessionStore, B does not know A's session.
	a, b := twoInstances(t, nil, 0)
	c := initializeAs(t, a, "alice")
	if st, _ := c.call(b, "alice", echoCall); st != http.StatusNotFound {
		t.Errorf("tools/call on B without a session store: status %d, want 404", st)
	}
}

func TestSharedSessionsStoreFailure(t *testing.T) {
	store := newMemSessions()
	a, b := twoInstances(t, store, 0)

	store.setFail(errors.New("etcd: no leader"))
	c := &httpClient{tb: t, url: a.url}
	resp := c.do("POST", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`, map[string]string{"X-Who": "alice"})
	ms := readMsgs(t, resp)
	if len(ms) != 1 || ms[0].Error == nil || ms[0].Error.Code != CodeInternalError || strings.Contains(ms[0].Error.Message, "etcd") {
		t.Fatalf("initialize with the store down: got %v, want an internal error that does not show the cause", ms)
	}
	a.h.mu.Lock()
	n := len(a.h.sessions)
	a.h.mu.Unlock()
	if n != 0 {
		t.Errorf("A holds %d sessions after a failed initialize, want 0", n)
	}

	store.setFail(nil)
	c = initializeAs(t, a, "alice")
	store.setFail(errors.New("etcd: no leader"))
	for _, inst := range []*instance{a, b} {
		c.url = inst.url
		resp := c.do("POST", echoCall, map[string]string{"X-Who": "alice"})
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("tools/call with the store down: status %d, want 503 with Retry-After", resp.StatusCode)
		}
	}
	store.setFail(nil)
	if st, _ := c.call(b, "alice", echoCall); st != 200 {
		t.Errorf("tools/call on B once the store is back: status %d, want 200", st)
	}
}

func TestSharedSessionsIdleExpiry(t *testing.T) {
	const idle = time.Hour // the reaper's own ticks never come in this test
	store := newMemSessions()
	a, b := twoInstances(t, store, idle)
	c := initializeAs(t, a, "alice")
	if st, _ := c.call(b, "alice", echoCall); st != 200 {
		t.Fatalf("tools/call on B: status %d", st)
	}
	later := time.Now().Add(2 * idle)

	// Used on B meanwhile (as B's request would have stored it): A's idle
	// copy stays, and nothing is reported.
	store.Update(context.Background(), c.sid, func(m *SessionMeta) { m.LastUsed = later })
	a.h.reapStored(later)
	if a.h.held(c.sid) == nil || a.ends.count(c.sid) != 0 {
		t.Fatalf("A's copy of a session used on B: held %v, ends %d; want held, 0", a.h.held(c.sid) != nil, a.ends.count(c.sid))
	}

	// Idle everywhere: A's reaper deletes it and reports its end, once.
	a.h.reapStored(later.Add(2 * idle))
	if _, ok, _ := store.Load(context.Background(), c.sid); ok {
		t.Fatal("an expired session is still stored")
	}
	if a.ends.count(c.sid) != 1 || b.ends.count(c.sid) != 0 {
		t.Errorf("ends reported: A %d, B %d; want 1, 0", a.ends.count(c.sid), b.ends.count(c.sid))
	}
	if st, _ := c.call(b, "alice", echoCall); st != http.StatusNotFound {
		t.Errorf("tools/call on B after expiry: status %d, want 404", st)
	}
	b.h.reapStored(later.Add(2 * idle))
	if b.ends.count(c.sid) != 0 {
		t.Errorf("B reported the end of a session A ended")
	}
}

func TestSharedSessionsExpireOnLookup(t *testing.T) {
	const idle = time.Hour
	store := newMemSessions()
	a, b := twoInstances(t, store, idle)
	c := initializeAs(t, a, "alice")
	// The stored last use is long past (as if nobody had touched it): the
	// next request on an instance that never held it finds it expired.
	store.Update(context.Background(), c.sid, func(m *SessionMeta) { m.LastUsed = m.LastUsed.Add(-2 * idle) })
	if st, _ := c.call(b, "alice", echoCall); st != http.StatusNotFound {
		t.Errorf("tools/call on B of an expired session: status %d, want 404", st)
	}
	if b.ends.count(c.sid) != 1 {
		t.Errorf("ends reported by B: got %d, want 1", b.ends.count(c.sid))
	}
	if st, _ := c.call(a, "alice", echoCall); st != http.StatusNotFound {
		t.Errorf("tools/call on A of an expired session: status %d, want 404", st)
	}
	if a.ends.count(c.sid) != 0 {
		t.Errorf("ends reported by A: got %d, want 0", a.ends.count(c.sid))
	}
}

func TestSharedSessionsSurviveShutdown(t *testing.T) {
	store := newMemSessions()
	a, b := twoInstances(t, store, 0)
	c := initializeAs(t, a, "alice")
	if err := a.h.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.ends.count(c.sid) != 0 {
		t.Errorf("A's shutdown reported the end of a shared session")
	}
	if st, _ := c.call(b, "alice", echoCall); st != 200 {
		t.Errorf("tools/call on B after A shut down: status %d, want 200", st)
	}
}

// TestStatelessAcrossInstances: a 2026-07-28 multi-round-trip request whose
// rounds land on two Servers that share StateKey completes; with keys of
// their own the second round is refused. This is the no-stickiness mode.
func TestStatelessAcrossInstances(t *testing.T) {
	elicit := func(key []byte) *httptest.Server {
		s := NewServer(Implementation{Name: "t", Version: "1"}, &ServerOptions{StateKey: key})
		s.AddTool(Tool{Name: "confirm", InputSchema: json.RawMessage(`{"type":"object"}`)},
			func(ctx context.Context, req *CallToolRequest) (*CallToolResult, error) {
				res, err := req.Session.Elicit(ctx, json.RawMessage(`{"message":"sure?","requestedSchema":{"type":"object"}}`))
				if err != nil {
					return nil, err
				}
				return &CallToolResult{Content: []Content{TextContent("confirmed " + string(res))}}, nil
			})
		ts, _ := startHTTP(t, s, &HTTPOptions{JSONResponse: true})
		return ts
	}
	post := func(url, body string) msg {
		t.Helper()
		c := &httpClient{tb: t, url: url, hv: Version20260728}
		resp := c.do("POST", body, map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "confirm"})
		ms := readMsgs(t, resp)
		if len(ms) != 1 {
			t.Fatalf("got %v", ms)
		}
		return ms[0]
	}
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}}`
	round1 := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"confirm","arguments":{},` + meta + `}}`
	round2 := func(state string) string {
		return `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"confirm","arguments":{},"requestState":` + state +
			`,"inputResponses":{"elicitation_create_1":{"action":"accept","content":{}}},` + meta + `}}`
	}
	for _, tc := range []struct {
		name   string
		keyB   []byte
		wantOK bool
	}{
		{"shared key", []byte("0123456789abcdef0123456789abcdef"), true},
		{"own keys", []byte("fedcba9876543210fedcba9876543210"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := elicit([]byte("0123456789abcdef0123456789abcdef"))
			b := elicit(tc.keyB)
			m := post(a.URL, round1)
			res := mustJSON(t, m.Result)
			if res["resultType"] != "input_required" {
				t.Fatalf("round 1 on A: got %s, want input_required", m.raw)
			}
			state, _ := json.Marshal(res["requestState"])
			m = post(b.URL, round2(string(state)))
			ok := m.Error == nil && strings.Contains(string(m.Result), "confirmed")
			if ok != tc.wantOK {
				t.Errorf("round 2 on B: got %s, want success %v", m.raw, tc.wantOK)
			}
		})
	}
}
