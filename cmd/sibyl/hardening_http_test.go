package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// rawMCP drives `sibyl serve --http` with hand-made requests, to reach what an
// SDK client never sends (batches, bad tokens, odd Host headers).
type rawMCP struct {
	t     *testing.T
	url   string
	token string
	sid   string
}

func (c *rawMCP) do(method, body string, hdr map[string]string) (int, http.Header, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.sid != "" {
		req.Header.Set("Mcp-Session-Id", c.sid)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// initialize opens a session on version and returns its id (the client keeps it).
func (c *rawMCP) initialize(version string) string {
	c.t.Helper()
	c.sid = ""
	st, hd, body := c.do("POST", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"`+version+`","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`, nil)
	if st != http.StatusOK || hd.Get("Mcp-Session-Id") == "" {
		c.t.Fatalf("initialize: got %d %s", st, body)
	}
	c.sid = hd.Get("Mcp-Session-Id")
	if st, _, body := c.do("POST", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil); st != http.StatusAccepted {
		c.t.Fatalf("initialized: got %d %s", st, body)
	}
	return c.sid
}

func makeKey(t *testing.T, data, scopes string) (token, id string) {
	t.Helper()
	cmd := exec.Command(sibylBin, "keys", "create", "--name", "probe", "--scopes", scopes, "--data-dir", data)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("keys create: %v %s", err, stderr.String())
	}
	token = strings.TrimSpace(string(out))
	_, rest, _ := strings.Cut(stderr.String(), "created key ")
	id, _, _ = strings.Cut(rest, " ")
	return token, id
}

func batchOf(n int, entry func(i int) string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = entry(i)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// TestHTTPBatchLimits: a batch's entries count against the key's rate limit,
// and a batch of more than 100 entries is refused whole (issue 11, item 1).
func TestHTTPBatchLimits(t *testing.T) {
	data := t.TempDir()
	token, _ := makeKey(t, data, "read,trade")
	url := startHTTPDir(t, data, "--rate-limit", "5") // bursts of 10
	c := &rawMCP{t: t, url: url, token: token}
	c.initialize("2025-03-26")

	st, _, body := c.do("POST", batchOf(101, func(i int) string { return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"ping"}`, i) }), nil)
	if st != http.StatusBadRequest || !strings.Contains(body, `"code":-32600`) || strings.Contains(body, `"result"`) {
		t.Errorf("batch of 101: got %d %.300s, want 400 with -32600 and nothing run", st, body)
	}

	// 20 orders in one POST are 20 requests: more than the burst of 10.
	place := func(i int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"place_order","arguments":{"market":"paper:BTC-ABOVE-1","outcome":"Yes","side":"buy","quantity":1,"limit_price":0.01,"idempotency_key":"batch-order-%03d"}}}`, i, i)
	}
	st, _, body = c.do("POST", batchOf(20, place), nil)
	if st != http.StatusTooManyRequests || !strings.Contains(body, "rate limit") {
		t.Errorf("batch of 20 place_order at 5/s: got %d %.300s, want 429", st, body)
	}
	// Nothing of the refused batch ran: no audit entry of a place_order.
	st, _, body = c.do("POST", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_audit_log","arguments":{"limit":100}}}`, nil)
	if st != http.StatusOK {
		t.Fatalf("get_audit_log: got %d %s", st, body)
	}
	if strings.Contains(body, "batch-order-") {
		t.Errorf("the refused batch left audit entries: %.500s", body)
	}
}

// TestHTTPBatchStreamed: a maximal batch of large answers comes back whole,
// as one JSON array of 100 responses.
func TestHTTPBatchStreamed(t *testing.T) {
	c := &rawMCP{t: t, url: startHTTP(t)}
	c.initialize("2025-03-26")
	st, hd, body := c.do("POST", batchOf(100, func(i int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"search_markets","arguments":{"limit":100}}}`, i)
	}), nil)
	var answers []struct {
		ID     int             `json:"id"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal([]byte(body), &answers); err != nil || st != http.StatusOK || hd.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %s (%v), want a JSON array", st, hd.Get("Content-Type"), err)
	}
	seen := map[int]bool{}
	for _, a := range answers {
		if len(a.Result) == 0 {
			t.Errorf("answer %d has no result", a.ID)
		}
		seen[a.ID] = true
	}
	if len(answers) != 100 || len(seen) != 100 {
		t.Errorf("got %d answers (%d ids), want 100", len(answers), len(seen))
	}
}

// TestHTTPSlowClients: a body that never finishes is cut (408), and an idle
// keep-alive connection is closed, with the flags' short values (issue 11,
// item 2).
func TestHTTPSlowClients(t *testing.T) {
	u := startHTTP(t, "--read-timeout", "1s", "--idle-timeout", "1s")
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", pu.Host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		// A hang guard, not a timing assertion: the server's limits are 1s.
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		return conn
	}

	t.Run("slow body", func(t *testing.T) {
		conn := dial()
		fmt.Fprintf(conn, "POST /mcp HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: 200\r\n\r\n{\"jsonrpc\"", pu.Host)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer to a body that never ends: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("got %d, want 408", resp.StatusCode)
		}
	})

	t.Run("idle connection", func(t *testing.T) {
		conn := dial()
		body := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
		fmt.Fprintf(conn, "POST /mcp HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: %d\r\n\r\n%s", pu.Host, len(body), body)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		// Send nothing more: the server must close the connection.
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("idle connection: got %v, want EOF (closed by the server)", err)
		}
	})
}

// TestHTTPSessionLimits: sessions per principal are capped at the default
// (100), GET streams per principal at --max-streams, and idle sessions end
// after --session-idle (issue 11, item 2).
func TestHTTPSessionLimits(t *testing.T) {
	u := startHTTP(t, "--max-streams", "1")
	c := &rawMCP{t: t, url: u}
	var sids []string
	for range 100 {
		sids = append(sids, c.initialize("2025-11-25"))
	}
	c.sid = ""
	st, _, body := c.do("POST", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`, nil)
	if st != http.StatusTooManyRequests || !strings.Contains(body, "too many sessions") {
		t.Errorf("session 101: got %d %s, want 429", st, body)
	}
	c.sid = sids[0]
	if st, _, _ := c.do("DELETE", "", nil); st != http.StatusNoContent {
		t.Fatalf("DELETE: got %d", st)
	}
	c.initialize("2025-11-25") // room again

	// One GET stream may be open; a second (on another session) is refused.
	get := func(sid string) *http.Response {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Mcp-Session-Id", sid)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	first := get(sids[1])
	defer first.Body.Close()
	if first.StatusCode != http.StatusOK {
		t.Fatalf("first GET: got %d", first.StatusCode)
	}
	second := get(sids[2])
	second.Body.Close()
	if second.StatusCode != http.StatusTooManyRequests {
		t.Errorf("second GET stream: got %d, want 429", second.StatusCode)
	}
}

func TestHTTPSessionIdle(t *testing.T) {
	c := &rawMCP{t: t, url: startHTTP(t, "--session-idle", "1s")}
	c.initialize("2025-11-25")
	deadline := time.Now().Add(30 * time.Second) // a hang guard
	for {
		st, _, _ := c.do("POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil)
		if st == http.StatusNotFound {
			return // the session expired
		}
		if st != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("got %d; want the idle session to end (404)", st)
		}
		time.Sleep(2 * time.Second) // idle for longer than --session-idle
	}
}

// TestHTTPAuthFailureLimit: after a burst of failed authentications a client
// address gets 429, even with a good token (issue 11, item 2).
func TestHTTPAuthFailureLimit(t *testing.T) {
	data := t.TempDir()
	token, _ := makeKey(t, data, "read")
	u := startHTTPDir(t, data)
	bad := &rawMCP{t: t, url: u, token: "sibyl_000000000000_guess"}
	var codes []int
	for range 30 {
		st, _, _ := bad.do("POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil)
		codes = append(codes, st)
	}
	if codes[0] != http.StatusUnauthorized || codes[len(codes)-1] != http.StatusTooManyRequests {
		t.Errorf("30 bad tokens: got %v, want 401s then 429s", codes)
	}
	good := &rawMCP{t: t, url: u, token: token}
	if st, hd, body := good.do("POST", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil); st != http.StatusTooManyRequests || hd.Get("Retry-After") == "" {
		t.Errorf("good token from a blocked address: got %d %s, want 429 with Retry-After", st, body)
	}
}

// TestHTTPRevokedKeysStayLocked: revoking the last key does not turn
// authentication off; --insecure-no-auth does (issue 11, item 3).
func TestHTTPRevokedKeysStayLocked(t *testing.T) {
	data := t.TempDir()
	_, id := makeKey(t, data, "read,trade")
	if out, err := exec.Command(sibylBin, "keys", "revoke", id, "--data-dir", data).CombinedOutput(); err != nil {
		t.Fatalf("keys revoke %q: %v %s", id, err, out)
	}
	ping := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	u, cmd := startServer(t, data, nil)
	c := &rawMCP{t: t, url: u}
	if st, _, body := c.do("POST", ping, nil); st != http.StatusUnauthorized {
		t.Errorf("no token, every key revoked: got %d %s, want 401", st, body)
	}
	_ = cmd.Process.Signal(os.Interrupt) // the data file has one server at a time
	_ = cmd.Wait()
	open := &rawMCP{t: t, url: startHTTPDir(t, data, "--insecure-no-auth")}
	if st, _, body := open.do("POST", ping, nil); st != http.StatusOK {
		t.Errorf("no token with --insecure-no-auth: got %d %s, want 200", st, body)
	}
}

// TestHTTPAllowHostKeepsLoopback: --allow-host adds names; it does not drop
// the loopback ones (issue 11, item 3).
func TestHTTPAllowHostKeepsLoopback(t *testing.T) {
	u := startHTTP(t, "--allow-host", "mcp.example.com")
	pu, _ := url.Parse(u)
	_, port, _ := net.SplitHostPort(pu.Host)
	c := &rawMCP{t: t, url: u}
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"127.0.0.1", map[string]string{"Host": "127.0.0.1:" + port}, 200},
		{"localhost", map[string]string{"Host": "localhost:" + port}, 200},
		{"::1", map[string]string{"Host": "[::1]:" + port}, 200},
		{"allowed name", map[string]string{"Host": "mcp.example.com"}, 200},
		{"other name", map[string]string{"Host": "evil.example.net"}, 403},
		{"loopback origin", map[string]string{"Origin": "http://localhost:5173"}, 200},
		{"allowed origin", map[string]string{"Origin": "https://mcp.example.com"}, 200},
		{"other origin", map[string]string{"Origin": "https://evil.example.net"}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _, body := c.do("POST", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`, tc.hdr)
			if st != tc.want {
				t.Errorf("got %d %.200s, want %d", st, body, tc.want)
			}
		})
	}
}
