package mcp

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func pings(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"ping"}`, i)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestHTTPBatchBounds(t *testing.T) {
	var admitted []int
	ts, _ := startHTTP(t, testServer(t), &HTTPOptions{JSONResponse: true, MaxBatch: 5,
		AdmitBatch: func(r *http.Request, principal string, n int) error {
			admitted = append(admitted, n)
			if n > 4 {
				return errors.New("rate limit: too many")
			}
			return nil
		}})
	c := &httpClient{tb: t, url: ts.URL}
	c.initialize("2025-03-26")
	for _, tc := range []struct {
		name   string
		n      int
		status int
		inBody string
	}{
		{"within", 3, http.StatusOK, `"id":2,"result"`},
		{"refused by AdmitBatch", 5, http.StatusTooManyRequests, "rate limit"},
		{"over MaxBatch", 6, http.StatusBadRequest, `"code":-32600`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.do("POST", pings(tc.n), nil)
			ms := readMsgsRaw(t, resp)
			if resp.StatusCode != tc.status || !strings.Contains(ms, tc.inBody) {
				t.Errorf("got %d %s, want %d with %s", resp.StatusCode, ms, tc.status, tc.inBody)
			}
		})
	}
	if fmt.Sprint(admitted) != "[3 5]" {
		t.Errorf("AdmitBatch saw %v, want [3 5] (the batch over MaxBatch refused first)", admitted)
	}
}

func TestStdioBatchBound(t *testing.T) {
	c := startStdio(t, testServer(t))
	c.initialize("2025-03-26")
	c.send(pings(DefaultMaxBatch + 1))
	m := c.next()
	if m.Error == nil || m.Error.Code != CodeInvalidRequest || !strings.Contains(m.Error.Message, "at most 100") {
		t.Errorf("got %s, want -32600 naming the bound", m.raw)
	}
}

func TestHTTPSessionCaps(t *testing.T) {
	ts, _ := startHTTP(t, testServer(t), &HTTPOptions{JSONResponse: true, MaxSessionsPerPrincipal: 2, MaxSessions: 3,
		Authenticate: func(r *http.Request) (string, []string, error) { return r.Header.Get("X-Who"), nil, nil }})
	init := func(who string) (int, string) {
		c := &httpClient{tb: t, url: ts.URL}
		resp := c.do("POST", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`, map[string]string{"X-Who": who})
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Mcp-Session-Id")
	}
	var got []int
	var firstA string
	for _, who := range []string{"a", "a", "a", "b", "c"} {
		st, sid := init(who)
		if who == "a" && firstA == "" {
			firstA = sid
		}
		got = append(got, st)
	}
	if want := "[200 200 429 200 503]"; fmt.Sprint(got) != want {
		t.Errorf("got %v, want %s (2 per principal, 3 in all)", got, want)
	}
	c := &httpClient{tb: t, url: ts.URL, sid: firstA}
	resp := c.do("DELETE", "", map[string]string{"X-Who": "a"})
	resp.Body.Close()
	if st, _ := init("c"); st != http.StatusOK {
		t.Errorf("after a DELETE: got %d, want 200", st)
	}
}

func TestHTTPBodyTimeout(t *testing.T) {
	ts, _ := startHTTP(t, testServer(t), &HTTPOptions{JSONResponse: true, BodyTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // a hang guard
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("got %d, want 408", resp.StatusCode)
	}
}

func readMsgsRaw(tb testing.TB, resp *http.Response) string {
	tb.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		b.WriteString(sc.Text())
	}
	return b.String()
}

// TestHTTPListenCountsAsStream: stateless subscriptions/listen requests are
// held open like GET streams, and count against MaxStreamsPerPrincipal.
func TestHTTPListenCountsAsStream(t *testing.T) {
	ts, _ := startHTTP(t, testServer(t), &HTTPOptions{JSONResponse: true, MaxStreamsPerPrincipal: 1})
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
	body := `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},` + meta + `}}`
	hdr := map[string]string{"Mcp-Method": "subscriptions/listen"}
	c := &httpClient{tb: t, url: ts.URL, hv: "2026-07-28"}
	first := c.do("POST", body, hdr)
	defer first.Body.Close()
	if first.StatusCode != http.StatusOK {
		t.Fatalf("first listen: got %d", first.StatusCode)
	}
	// Read the acknowledgement: the stream is open and counted.
	if _, err := bufio.NewReader(first.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	second := c.do("POST", body, hdr)
	second.Body.Close()
	if second.StatusCode != http.StatusTooManyRequests {
		t.Errorf("second listen: got %d, want 429", second.StatusCode)
	}
}

// TestHTTPBatchServerRequestFails: a batched tool call that asks the client
// something (sampling) fails at once: a batch has no stream for the question.
func TestHTTPBatchServerRequestFails(t *testing.T) {
	ts, _ := startHTTP(t, testServer(t), &HTTPOptions{JSONResponse: true})
	c := &httpClient{tb: t, url: ts.URL}
	resp := c.do("POST", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{"sampling":{}},"clientInfo":{"name":"x","version":"1"}}}`, nil)
	resp.Body.Close()
	c.sid = resp.Header.Get("Mcp-Session-Id")
	done := make(chan string, 1)
	go func() {
		resp := c.do("POST", `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"sample","arguments":{}}}]`, nil)
		done <- readMsgsRaw(t, resp)
	}()
	select {
	case body := <-done:
		if !strings.Contains(body, `"isError":true`) {
			t.Errorf("got %s, want an isError result", body)
		}
	case <-time.After(30 * time.Second): // a hang guard
		t.Fatal("the batched sampling call hangs")
	}
}
