package mcp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type httpClient struct {
	tb  testing.TB
	url string
	sid string
	hv  string
}

func startHTTP(tb testing.TB, s *Server, opts *HTTPOptions) (*httptest.Server, *HTTPHandler) {
	tb.Helper()
	h := NewHTTPHandler(s, opts)
	ts := httptest.NewServer(h)
	tb.Cleanup(func() {
		h.Shutdown(context.Background())
		ts.Close()
	})
	return ts, h
}

// do posts body and returns the response; the caller closes it.
func (c *httpClient) do(method, body string, hdr map[string]string) *http.Response {
	c.tb.Helper()
	req, err := http.NewRequest(method, c.url, strings.NewReader(body))
	if err != nil {
		c.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.sid != "" {
		req.Header.Set("Mcp-Session-Id", c.sid)
	}
	if c.hv != "" {
		req.Header.Set("Mcp-Protocol-Version", c.hv)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	return resp
}

// readAll returns the JSON-RPC messages of a response, JSON or SSE.
func readMsgs(tb testing.TB, resp *http.Response) []msg {
	tb.Helper()
	defer resp.Body.Close()
	var out []msg
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var m msg
				if err := json.Unmarshal([]byte(d), &m); err != nil {
					tb.Fatalf("SSE data is not JSON: %q", d)
				}
				m.raw = d
				out = append(out, m)
			}
		}
		return out
	}
	b, _ := io.ReadAll(resp.Body)
	if len(b) == 0 {
		return nil
	}
	var m msg
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("body is not JSON: %q", b)
	}
	m.raw = string(b)
	return append(out, m)
}

func (c *httpClient) initialize(version string) {
	c.tb.Helper()
	resp := c.do("POST", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"`+version+`","capabilities":{"sampling":{},"elicitation":{}},"clientInfo":{"name":"t","version":"1"}}}`, nil)
	if resp.StatusCode != 200 {
		c.tb.Fatalf("initialize: status %d", resp.StatusCode)
	}
	c.sid = resp.Header.Get("Mcp-Session-Id")
	if len(c.sid) < 32 {
		c.tb.Fatalf("session id %q, want a long random id", c.sid)
	}
	ms := readMsgs(c.tb, resp)
	if len(ms) != 1 || ms[0].Error != nil {
		c.tb.Fatalf("initialize: got %v", ms)
	}
	c.hv = mustJSON(c.tb, ms[0].Result)["protocolVersion"].(string)
	resp = c.do("POST", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil)
	if resp.StatusCode != http.StatusAccepted {
		c.tb.Fatalf("initialized: status %d, want 202", resp.StatusCode)
	}
	resp.Body.Close()
}

func TestHTTPLifecycle(t *testing.T) {
	ts, _ := startHTTP(t, testServer(t), &HTTPOptions{JSONResponse: true})
	c := &httpClient{tb: t, url: ts.URL}
	c.initialize("2025-06-18")
	if c.hv != "2025-06-18" {
		t.Fatalf("negotiated %s", c.hv)
	}
	resp := c.do("POST", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`, nil)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q, want application/json", ct)
	}
	ms := readMsgs(t, resp)
	if len(ms) != 1 || string(ms[0].Result) != `{"content":[{"type":"text","text":"hi"}]}` {
		t.Fatalf("got %v", ms)
	}

	for _, tc := range []struct {
		name   string
		method string
		body   string
		hdr    map[string]string
		status int
		code   int64
	}{
		{"no session", "POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{"Mcp-Session-Id": ""}, 400, CodeInvalidRequest},
		{"unknown session", "POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{"Mcp-Session-Id": "nope"}, 404, CodeInvalidRequest},
		{"bad version header", "POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{"Mcp-Protocol-Version": "1999-01-01"}, 400, CodeInvalidRequest},
		{"foreign origin", "POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{"Origin": "https://evil.example.com"}, 403, CodeInvalidRequest},
		{"foreign host", "POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{"Host": "evil.example.com"}, 403, CodeInvalidRequest},
		{"oversize", "POST", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("a", 5<<20) + `"}}`, nil, 413, CodeInvalidRequest},
		{"malformed", "POST", `{"jsonrpc":`, nil, 400, CodeParseError},
		{"batch on 2025-06-18", "POST", `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, nil, 400, CodeInvalidRequest},
		{"bad accept", "POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{"Accept": "text/html"}, 406, CodeInvalidRequest},
		{"bad content type", "POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{"Content-Type": "text/plain"}, 415, CodeInvalidRequest},
		{"put", "PUT", `{}`, nil, 405, CodeInvalidRequest},
		{"unknown method", "POST", `{"jsonrpc":"2.0","id":1,"method":"nope"}`, nil, 200, CodeMethodNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, ts.URL, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Mcp-Session-Id", c.sid)
			for k, v := range tc.hdr {
				if k == "Host" {
					req.Host = v
				} else if v == "" {
					req.Header.Del(k)
				} else {
					req.Header.Set(k, v)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tc.status)
			}
			ms := readMsgs(t, resp)
			if len(ms) != 1 || ms[0].Error == nil || ms[0].Error.Code != tc.code || ms[0].Error.Message == "" {
				t.Fatalf("got %v, want a JSON-RPC error %d", ms, tc.code)
			}
		})
	}

	// The session still works, then DELETE ends it.
	resp = c.do("POST", `{"jsonrpc":"2.0","id":2,"method":"ping"}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("ping: %d", resp.StatusCode)
	}
	resp.Body.Close()
	resp = c.do("DELETE", "", nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	resp.Body.Close()
	resp = c.do("POST", `{"jsonrpc":"2.0","id":3,"method":"ping"}`, nil)
	if resp.StatusCode != 404 {
		t.Fatalf("after DELETE: %d, want 404", resp.StatusCode)
	}
	resp.Body.Close()
}

func TestHTTPProgressSSE(t *testing.T) {
	ts, _ := startHTTP(t, testServer(t), &HTTPOptions{JSONResponse: true})
	c := &httpClient{tb: t, url: ts.URL}
	c.initialize("2025-11-25")
	resp := c.do("POST", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"progress","_meta":{"progressToken":5}}}`, nil)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q, want SSE", ct)
	}
	ms := readMsgs(t, resp)
	if len(ms) != 4 {
		t.Fatalf("got %d messages, want 3 progress + response", len(ms))
	}
	for _, m := range ms[:3] {
		if m.Method != "notifications/progress" || mustJSON(t, m.Params)["progressToken"] != 5.0 {
			t.Errorf("got %s, want progress with token 5", m.raw)
		}
	}
	if string(ms[3].ID) != "1" || ms[3].Error != nil {
		t.Errorf("last: got %s, want the response", ms[3].raw)
	}
}

func TestHTTPAlwaysSSE(t *testing.T) {
	ts, _ := startHTTP(t, testServer(t), nil)
	c := &httpClient{tb: t, url: ts.URL}
	c.initialize("2025-11-25")
	resp := c.do("POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q, want SSE", ct)
	}
	if ms := readMsgs(t, resp); len(ms) != 1 || string(ms[0].Result) != "{}" {
		t.Fatalf("got %v", ms)
	}
	// A client that accepts only JSON gets JSON.
	resp = c.do("POST", `{"jsonrpc":"2.0","id":2,"method":"ping"}`, map[string]string{"Accept": "application/json"})
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q, want JSON", ct)
	}
	resp.Body.Close()
}

func TestHTTPSampling(t *testing.T) {
	ts, _ := startHTTP(t, testServer(t), &HTTPOptions{JSONResponse: true})
	c := &httpClient{tb: t, url: ts.URL}
	c.initialize("2025-11-25")
	resp := c.do("POST", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"sample"}}`, nil)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	nextData := func() msg {
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var m msg
				json.Unmarshal([]byte(d), &m)
				m.raw = d
				return m
			}
		}
		t.Fatal("stream ended")
		return msg{}
	}
	answer := func(id json.RawMessage, result string) {
		r := c.do("POST", `{"jsonrpc":"2.0","id":`+string(id)+`,"result":`+result+`}`, nil)
		if r.StatusCode != http.StatusAccepted {
			t.Fatalf("posting a response: %d, want 202", r.StatusCode)
		}
		r.Body.Close()
	}
	m := nextData()
	if m.Method != "sampling/createMessage" {
		t.Fatalf("got %s", m.raw)
	}
	answer(m.ID, `{"role":"assistant","content":{"type":"text","text":"hello"},"model":"m"}`)
	m = nextData()
	if m.Method != "elicitation/create" {
		t.Fatalf("got %s", m.raw)
	}
	answer(m.ID, `{"action":"decline"}`)
	m = nextData()
	if !strings.Contains(string(m.Result), "hello") || !strings.Contains(string(m.Result), "decline") {
		t.Fatalf("got %s", m.raw)
	}
}

func TestHTTPGetStream(t *testing.T) {
	s := testServer(t)
	ts, h := startHTTP(t, s, &HTTPOptions{JSONResponse: true})
	c := &httpClient{tb: t, url: ts.URL}
	c.initialize("2025-11-25")
	resp := c.do("GET", "", map[string]string{"Accept": "text/event-stream", "Content-Type": ""})
	if resp.StatusCode != 200 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	// A second GET stream conflicts.
	r2 := c.do("GET", "", map[string]string{"Accept": "text/event-stream"})
	if r2.StatusCode != http.StatusConflict {
		t.Errorf("second GET: %d, want 409", r2.StatusCode)
	}
	r2.Body.Close()
	// Server-initiated messages arrive on it (retry until the stream is registered).
	sc := bufio.NewScanner(resp.Body)
	got := make(chan string, 10)
	go func() {
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				got <- d
			}
		}
		close(got)
	}()
	s.AddTool(Tool{Name: "late", InputSchema: json.RawMessage(`{"type":"object"}`)}, func(ctx context.Context, req *CallToolRequest) (*CallToolResult, error) { return nil, nil })
	select {
	case d := <-got:
		if !strings.Contains(d, "notifications/tools/list_changed") {
			t.Errorf("got %s", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no list_changed on the GET stream")
	}
	// Shutdown ends the stream.
	if err := h.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range got {
	}
	resp.Body.Close()
}

func TestHTTPAuth(t *testing.T) {
	ts, _ := startHTTP(t, testServer(t), &HTTPOptions{JSONResponse: true, Authenticate: func(r *http.Request) (string, []string, error) {
		if r.Header.Get("Authorization") != "Bearer good" {
			return "", nil, errors.New("bad key")
		}
		return "alice", []string{"read"}, nil
	}})
	c := &httpClient{tb: t, url: ts.URL}
	resp := c.do("POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("got %d %q, want 401 with a challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	resp.Body.Close()
}

func TestHTTPStatelessOption(t *testing.T) {
	ts, _ := startHTTP(t, testServer(t), &HTTPOptions{Stateless: true, JSONResponse: true})
	c := &httpClient{tb: t, url: ts.URL}
	resp := c.do("POST", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}`, nil)
	ms := readMsgs(t, resp)
	if len(ms) != 1 || ms[0].Error != nil || resp.Header.Get("Mcp-Session-Id") != "" {
		t.Fatalf("got %v", ms)
	}
	resp = c.do("GET", "", map[string]string{"Accept": "text/event-stream"})
	if resp.StatusCode != 405 {
		t.Fatalf("GET: %d, want 405", resp.StatusCode)
	}
	resp.Body.Close()
}

func Test2026HTTP(t *testing.T) {
	ts, _ := startHTTP(t, testServer(t), &HTTPOptions{JSONResponse: true})
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
	c := &httpClient{tb: t, url: ts.URL, hv: "2026-07-28"}
	for _, tc := range []struct {
		name   string
		body   string
		hdr    map[string]string
		status int
		code   int64
	}{
		{"discover", `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{` + meta + `}}`, map[string]string{"Mcp-Method": "server/discover"}, 200, 0},
		{"call", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"},` + meta + `}}`, map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "echo"}, 200, 0},
		{"method mismatch", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + meta + `}}`, map[string]string{"Mcp-Method": "tools/call"}, 400, CodeHeaderMismatch},
		{"method missing", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + meta + `}}`, nil, 400, CodeHeaderMismatch},
		{"name mismatch", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo",` + meta + `}}`, map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "slow"}, 400, CodeHeaderMismatch},
		{"version mismatch", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + meta + `}}`, map[string]string{"Mcp-Method": "tools/list", "Mcp-Protocol-Version": "2025-11-25"}, 400, CodeHeaderMismatch},
		{"unsupported", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"v9","io.modelcontextprotocol/clientCapabilities":{}}}}`, map[string]string{"Mcp-Method": "tools/list", "Mcp-Protocol-Version": "v9"}, 400, CodeUnsupportedProtocolVersion},
		{"no meta", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`, map[string]string{"Mcp-Method": "tools/list"}, 400, CodeInvalidParams},
		{"ping removed", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{` + meta + `}}`, map[string]string{"Mcp-Method": "ping"}, 404, CodeMethodNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.do("POST", tc.body, tc.hdr)
			if resp.StatusCode != tc.status {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tc.status)
			}
			ms := readMsgs(t, resp)
			if len(ms) != 1 || string(ms[0].ID) != "1" {
				t.Fatalf("got %v", ms)
			}
			if tc.code == 0 {
				if ms[0].Error != nil || !strings.Contains(string(ms[0].Result), `"resultType":"complete"`) {
					t.Errorf("got %s", ms[0].raw)
				}
				return
			}
			if ms[0].Error == nil || ms[0].Error.Code != tc.code {
				t.Errorf("got %s, want code %d", ms[0].raw, tc.code)
			}
		})
	}
}

func TestHTTPJSONOnlyClient(t *testing.T) {
	ts, _ := startHTTP(t, testServer(t), &HTTPOptions{JSONResponse: true})
	c := &httpClient{tb: t, url: ts.URL}
	c.initialize("2025-11-25")
	jsonOnly := map[string]string{"Accept": "application/json"}
	// Progress notifications are dropped; the call still succeeds.
	resp := c.do("POST", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"progress","_meta":{"progressToken":1}}}`, jsonOnly)
	ms := readMsgs(t, resp)
	if resp.Header.Get("Content-Type") != "application/json" || len(ms) != 1 || !strings.Contains(string(ms[0].Result), "done") {
		t.Fatalf("got %v", ms)
	}
	// A server request cannot reach it: the tool fails, the server goes on.
	resp = c.do("POST", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"sample"}}`, jsonOnly)
	ms = readMsgs(t, resp)
	if len(ms) != 1 || !strings.Contains(string(ms[0].Result), `"isError":true`) {
		t.Fatalf("got %v", ms)
	}
}

func TestHTTPBatch20250326(t *testing.T) {
	ts, _ := startHTTP(t, testServer(t), &HTTPOptions{JSONResponse: true})
	c := &httpClient{tb: t, url: ts.URL}
	c.initialize("2025-03-26")
	resp := c.do("POST", `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"b"}}}]`, nil)
	defer resp.Body.Close()
	var got []msg
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got) != 2 {
		t.Fatalf("got %v (%v), want 2 responses", got, err)
	}
	resp2 := c.do("POST", `[{"jsonrpc":"2.0","method":"notifications/initialized"}]`, nil)
	if resp2.StatusCode != http.StatusAccepted {
		t.Errorf("notifications-only batch: %d, want 202", resp2.StatusCode)
	}
	resp2.Body.Close()
}

func TestHTTPIdleTimeout(t *testing.T) {
	ts, _ := startHTTP(t, testServer(t), &HTTPOptions{JSONResponse: true, SessionIdleTimeout: 20 * time.Millisecond})
	c := &httpClient{tb: t, url: ts.URL}
	c.initialize("2025-11-25")
	deadline := time.Now().Add(10 * time.Second) // a hang guard, not a timing assertion
	for {
		resp := c.do("POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil)
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the idle session never ended")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestHTTPPrincipalBinding(t *testing.T) {
	ts, _ := startHTTP(t, testServer(t), &HTTPOptions{JSONResponse: true, Authenticate: func(r *http.Request) (string, []string, error) {
		return r.Header.Get("X-User"), nil, nil
	}})
	c := &httpClient{tb: t, url: ts.URL}
	req := map[string]string{"X-User": "alice"}
	resp := c.do("POST", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}`, req)
	c.sid = resp.Header.Get("Mcp-Session-Id")
	resp.Body.Close()
	resp = c.do("POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{"X-User": "mallory"})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("another principal: got %d, want 403", resp.StatusCode)
	}
	resp.Body.Close()
}
