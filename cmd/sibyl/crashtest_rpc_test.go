package main

// A minimal raw JSON-RPC client of sibyl for the exactly-once and crash tests:
// Streamable HTTP (JSON or SSE answers) and stdio (one process, many requests in
// flight, answers matched by id). No background reconnects, no retries of its
// own: the tests decide what to retry, with which key, and when.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const ctProtocolVersion = "2025-06-18"

// rpcError is a JSON-RPC error object.
type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("JSON-RPC error %d: %s", e.Code, e.Message) }

// rpcMessage is any JSON-RPC message the server sends.
type rpcMessage struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *rpcError       `json:"error,omitempty"`
}

// toolAnswer is a tools/call result: structuredContent, and for isError results
// the error object under "error".
type toolAnswer struct {
	IsError    bool
	Structured json.RawMessage
	Code       string
	Message    string
	Field      string
	Retryable  bool
}

func (a toolAnswer) String() string {
	if a.IsError {
		return fmt.Sprintf("isError %s (retryable %v): %s", a.Code, a.Retryable, a.Message)
	}
	return fmt.Sprintf("%.300s", a.Structured)
}

// decode unmarshals the structured content into v.
func (a toolAnswer) decode(v any) error { return json.Unmarshal(a.Structured, v) }

// parseToolResult turns a tools/call response into a toolAnswer. A JSON-RPC
// error is returned as *rpcError.
func parseToolResult(m *rpcMessage) (toolAnswer, error) {
	if m.Error != nil {
		return toolAnswer{}, m.Error
	}
	var r struct {
		IsError           bool            `json:"isError"`
		StructuredContent json.RawMessage `json:"structuredContent"`
	}
	if err := json.Unmarshal(m.Result, &r); err != nil {
		return toolAnswer{}, fmt.Errorf("decoding tools/call result %.200s: %w", m.Result, err)
	}
	return toolAnswerOf(r.IsError, r.StructuredContent)
}

// toolAnswerOf is a tools/call result's answer: its structured content and,
// for an isError result, the error object sibyl puts in it.
func toolAnswerOf(isError bool, structured json.RawMessage) (toolAnswer, error) {
	a := toolAnswer{IsError: isError, Structured: structured}
	if isError {
		var e struct {
			Error struct {
				Code      string `json:"code"`
				Message   string `json:"message"`
				Field     string `json:"field"`
				Retryable bool   `json:"retryable"`
			} `json:"error"`
		}
		if err := json.Unmarshal(structured, &e); err != nil || e.Error.Code == "" {
			return toolAnswer{}, fmt.Errorf("isError result without an error object: %.300s", structured)
		}
		a.Code, a.Message, a.Field, a.Retryable = e.Error.Code, e.Error.Message, e.Error.Field, e.Error.Retryable
	}
	return a, nil
}

// toolCaller calls one tool. A non-nil error means no answer arrived (or a
// protocol fault, *rpcError): the outcome of the call is unknown.
type toolCaller interface {
	callTool(ctx context.Context, name string, args any) (toolAnswer, error)
}

func rpcRequest(id int64, method string, params any) ([]byte, error) {
	msg := map[string]any{"jsonrpc": "2.0", "method": method}
	if id != 0 {
		msg["id"] = id
	}
	if params != nil {
		msg["params"] = params
	}
	return json.Marshal(msg)
}

func initializeParams() map[string]any {
	return map[string]any{
		"protocolVersion": ctProtocolVersion,
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "sibyl-crash-harness", "version": "1"},
	}
}

// newCTHTTPClient returns an HTTP client for many concurrent loopback requests.
func newCTHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        2000,
		MaxIdleConnsPerHost: 2000,
		IdleConnTimeout:     30 * time.Second,
	}}
}

// httpStatusError is a non-2xx answer to a POST.
type httpStatusError struct {
	Status int
	Body   string
}

func (e *httpStatusError) Error() string { return fmt.Sprintf("HTTP %d: %.300s", e.Status, e.Body) }

// rawHTTPSession is one MCP session over Streamable HTTP.
type rawHTTPSession struct {
	endpoint string
	hc       *http.Client
	sid      string
	ids      atomic.Int64
}

// dialRawHTTP initializes a session: initialize, then notifications/initialized.
func dialRawHTTP(ctx context.Context, hc *http.Client, endpoint string) (*rawHTTPSession, error) {
	s := &rawHTTPSession{endpoint: endpoint, hc: hc}
	m, hdr, err := s.roundTrip(ctx, "initialize", initializeParams(), true)
	if err != nil {
		return nil, fmt.Errorf("initialize: %w", err)
	}
	if m.Error != nil {
		return nil, fmt.Errorf("initialize: %w", m.Error)
	}
	s.sid = hdr.Get("Mcp-Session-Id")
	if s.sid == "" {
		return nil, errors.New("initialize: no Mcp-Session-Id header")
	}
	if _, _, err := s.roundTrip(ctx, "notifications/initialized", nil, false); err != nil {
		return nil, fmt.Errorf("notifications/initialized: %w", err)
	}
	return s, nil
}

func (s *rawHTTPSession) callTool(ctx context.Context, name string, args any) (toolAnswer, error) {
	m, _, err := s.roundTrip(ctx, "tools/call", map[string]any{"name": name, "arguments": args}, true)
	if err != nil {
		return toolAnswer{}, err
	}
	return parseToolResult(m)
}

// roundTrip POSTs one message. For a request it returns the response with the
// request's id, from a JSON body or from an SSE stream.
func (s *rawHTTPSession) roundTrip(ctx context.Context, method string, params any, isRequest bool) (*rpcMessage, http.Header, error) {
	var id int64
	if isRequest {
		id = s.ids.Add(1)
	}
	body, err := rpcRequest(id, method, params)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if s.sid != "" {
		req.Header.Set("Mcp-Session-Id", s.sid)
		req.Header.Set("MCP-Protocol-Version", ctProtocolVersion)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if !isRequest {
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
			return nil, resp.Header, &httpStatusError{Status: resp.StatusCode}
		}
		return nil, resp.Header, nil
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, resp.Header, &httpStatusError{Status: resp.StatusCode, Body: string(b)}
	}
	want := strconv.FormatInt(id, 10)
	ct := resp.Header.Get("Content-Type")
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "text/event-stream") {
		m, err := readSSEResponse(resp.Body, want)
		return m, resp.Header, err
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, resp.Header, err
	}
	var m rpcMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, resp.Header, fmt.Errorf("decoding response %.200q: %w", b, err)
	}
	if string(bytes.TrimSpace(m.ID)) != want {
		return nil, resp.Header, fmt.Errorf("response id %s, want %s", m.ID, want)
	}
	return &m, resp.Header, nil
}

// readSSEResponse reads events until the response with id want arrives.
func readSSEResponse(r io.Reader, want string) (*rpcMessage, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4<<10), 16<<20)
	var data bytes.Buffer
	flush := func() (*rpcMessage, error) {
		defer data.Reset()
		if data.Len() == 0 {
			return nil, nil
		}
		var m rpcMessage
		if err := json.Unmarshal(data.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("decoding SSE event %.200q: %w", data.Bytes(), err)
		}
		if m.Method == "" && string(bytes.TrimSpace(m.ID)) == want {
			return &m, nil
		}
		return nil, nil // a notification or another message
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if m, err := flush(); m != nil || err != nil {
				return m, err
			}
		case strings.HasPrefix(line, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	if m, err := flush(); m != nil || err != nil {
		return m, err
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, io.ErrUnexpectedEOF
}

// rawStdioConn is one `sibyl serve` process over pipes, with many requests in
// flight at once; answers are matched by id.
type rawStdioConn struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	wmu    sync.Mutex
	ids    atomic.Int64
	mu     sync.Mutex
	waits  map[string]chan *rpcMessage
	done   chan struct{} // closed when stdout ends
	rerr   error
	stderr *tailBuffer
}

// startStdio starts `sibyl serve --data-dir dir` over pipes and initializes the
// session. The process is killed in t.Cleanup.
func startStdio(ctx context.Context, t *testing.T, dir string) *rawStdioConn {
	t.Helper()
	return startStdioWith(ctx, t, dir, nil)
}

// startStdioWith is startStdio with extra environment variables and flags.
func startStdioWith(ctx context.Context, t *testing.T, dir string, env []string, flags ...string) *rawStdioConn {
	t.Helper()
	cmd := exec.Command(sibylBin, append([]string{"serve", "--data-dir", dir}, flags...)...)
	cmd.Env = ctEnv(env)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &rawStdioConn{cmd: cmd, stdin: stdin, waits: map[string]chan *rpcMessage{}, done: make(chan struct{}), stderr: &tailBuffer{max: 64 << 10}}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	go c.readLoop(stdout)
	m, err := c.request(ctx, "initialize", initializeParams())
	if err != nil || m.Error != nil {
		t.Fatalf("stdio initialize: %v %v\nstderr:\n%s", err, m, c.stderr)
	}
	if err := c.send(0, "notifications/initialized", nil); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *rawStdioConn) readLoop(r io.Reader) {
	defer close(c.done)
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var m rpcMessage
			if jerr := json.Unmarshal(line, &m); jerr == nil && m.Method == "" && len(m.ID) > 0 {
				k := string(bytes.TrimSpace(m.ID))
				c.mu.Lock()
				ch := c.waits[k]
				delete(c.waits, k)
				c.mu.Unlock()
				if ch != nil {
					ch <- &m
				}
			}
		}
		if err != nil {
			c.mu.Lock()
			c.rerr = err
			c.mu.Unlock()
			return
		}
	}
}

func (c *rawStdioConn) send(id int64, method string, params any) error {
	b, err := rpcRequest(id, method, params)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err = c.stdin.Write(append(b, '\n'))
	return err
}

func (c *rawStdioConn) request(ctx context.Context, method string, params any) (*rpcMessage, error) {
	id := c.ids.Add(1)
	k := strconv.FormatInt(id, 10)
	ch := make(chan *rpcMessage, 1)
	c.mu.Lock()
	c.waits[k] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waits, k)
		c.mu.Unlock()
	}()
	if err := c.send(id, method, params); err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		return m, nil
	case <-c.done:
		select {
		case m := <-ch:
			return m, nil
		default:
		}
		return nil, fmt.Errorf("stdio: the server's stdout ended: %v", c.rerr)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *rawStdioConn) callTool(ctx context.Context, name string, args any) (toolAnswer, error) {
	m, err := c.request(ctx, "tools/call", map[string]any{"name": name, "arguments": args})
	if err != nil {
		return toolAnswer{}, err
	}
	return parseToolResult(m)
}

// close ends the session (EOF on stdin) and waits for the process to exit.
func (c *rawStdioConn) close(timeout time.Duration) error {
	_ = c.stdin.Close()
	errc := make(chan error, 1)
	go func() { errc <- c.cmd.Wait() }()
	select {
	case err := <-errc:
		return err
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill()
		return fmt.Errorf("sibyl serve (stdio) did not exit within %v of stdin closing", timeout)
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	if len(b.b) > b.max {
		b.b = append([]byte(nil), b.b[len(b.b)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}

// ctEnv returns the environment for a sibyl child: the test's, without any
// SIBYL_ variable that would change its behaviour, plus extra.
func ctEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SIBYL_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// serverProc is one `sibyl serve --http 127.0.0.1:0` process.
type serverProc struct {
	cmd      *exec.Cmd
	endpoint string
	stderr   *tailBuffer   // the last 4 MB of its stderr (its log)
	stdout   *tailBuffer   // the last 4 MB of its stdout
	exited   chan struct{} // closed after Wait returned
	state    *os.ProcessState
}

var ctEndpointRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/mcp`)

// launchHTTPServer starts `sibyl serve --http 127.0.0.1:0 --data-dir dir` with
// the extra environment (and extra flags) and waits (at most 30s) for its
// banner. The caller owns the process: kill it, or register cleanup.
func launchHTTPServer(dir string, env []string, flags ...string) (*serverProc, error) {
	return launchHTTPServerAt("127.0.0.1:0", dir, env, flags...)
}

// launchHTTPServerAt is launchHTTPServer listening on addr (a loopback
// address), for restarting an instance on the port a proxy knows it by.
func launchHTTPServerAt(addr, dir string, env []string, flags ...string) (*serverProc, error) {
	cmd := exec.Command(sibylBin, append([]string{"serve", "--http", addr, "--data-dir", dir}, flags...)...)
	cmd.Env = ctEnv(env)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p := &serverProc{cmd: cmd, stderr: &tailBuffer{max: 4 << 20}, stdout: &tailBuffer{max: 4 << 20}, exited: make(chan struct{})}
	cmd.Stdout = p.stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	found := make(chan string, 1)
	go func() {
		br := bufio.NewReader(stderr)
		sent := false
		for {
			line, err := br.ReadString('\n')
			_, _ = p.stderr.Write([]byte(line))
			if !sent {
				if u := ctEndpointRE.FindString(line); u != "" {
					found <- u
					sent = true
				}
			}
			if err != nil {
				break
			}
		}
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		close(p.exited)
	}()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case p.endpoint = <-found:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("sibyl serve exited before its banner (%v); stderr:\n%s", p.state, p.stderr)
	case <-timer.C:
		p.kill()
		return nil, fmt.Errorf("sibyl serve printed no endpoint within 30s; stderr:\n%s", p.stderr)
	}
}

// kill sends SIGKILL and waits for the process to be reaped.
func (p *serverProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop sends SIGINT and waits (at most timeout) for a clean exit.
func (p *serverProc) stop(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("sibyl serve did not stop within %v of SIGINT; stderr:\n%s", timeout, p.stderr)
	}
	if !p.state.Success() {
		return fmt.Errorf("sibyl serve exited with %v after SIGINT; stderr:\n%s", p.state, p.stderr)
	}
	return nil
}

// mustLaunchHTTP is launchHTTPServer for tests: it fails the test on error and
// kills the process in cleanup.
func mustLaunchHTTP(t testing.TB, dir string, env []string) *serverProc {
	t.Helper()
	p, err := launchHTTPServer(dir, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	return p
}

// runSibyl runs a sibyl subcommand (such as audit verify) and returns its exit
// code and combined output.
func runSibyl(ctx context.Context, args ...string) (int, string, error) {
	cmd := exec.CommandContext(ctx, sibylBin, args...)
	cmd.Env = ctEnv(nil)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out), nil
	}
	if err != nil {
		return -1, string(out), err
	}
	return 0, string(out), nil
}

// runSibylStdout runs a sibyl subcommand and returns its exit code and stdout.
func runSibylStdout(ctx context.Context, args ...string) (int, string, error) {
	cmd := exec.CommandContext(ctx, sibylBin, args...)
	cmd.Env = ctEnv(nil)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out), nil
	}
	if err != nil {
		return -1, string(out), err
	}
	return 0, string(out), nil
}

// ctMarket is an open paper market for the tests' orders.
type ctMarket struct {
	ID   string
	Prob float64
}

// findOpenMarkets returns up to n open BTC ladder markets priced in (0.2,
// 0.8) that close more than a day from now, far from any resting order at a
// few cents.
func findOpenMarkets(ctx context.Context, c toolCaller, n int) ([]ctMarket, error) {
	a, err := c.callTool(ctx, "search_markets", map[string]any{"query": "BTC above", "status": "open", "limit": 100})
	if err != nil {
		return nil, err
	}
	if a.IsError {
		return nil, fmt.Errorf("search_markets: %v", a)
	}
	var out struct {
		Markets []struct {
			ID        string    `json:"id"`
			CloseTime time.Time `json:"close_time"`
			Outcomes  []struct {
				Name               string  `json:"name"`
				ImpliedProbability float64 `json:"implied_probability"`
			} `json:"outcomes"`
		} `json:"markets"`
	}
	if err := a.decode(&out); err != nil {
		return nil, err
	}
	var ms []ctMarket
	for _, m := range out.Markets {
		if len(m.Outcomes) != 2 || m.Outcomes[0].Name != "Yes" || time.Until(m.CloseTime) < 24*time.Hour {
			continue
		}
		if p := m.Outcomes[0].ImpliedProbability; p > 0.2 && p < 0.8 {
			ms = append(ms, ctMarket{ID: m.ID, Prob: p})
			if len(ms) == n {
				break
			}
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no open BTC market priced in (0.2, 0.8) closing after a day among %d", len(out.Markets))
	}
	return ms, nil
}

// ctOrder is an order as list_orders and place_order answer it.
type ctOrder struct {
	OrderID       string  `json:"order_id"`
	ClientOrderID string  `json:"client_order_id"`
	Market        string  `json:"market"`
	Outcome       string  `json:"outcome"`
	Side          string  `json:"side"`
	Quantity      float64 `json:"quantity"`
	LimitPrice    float64 `json:"limit_price"`
	Status        string  `json:"status"`
	Replayed      bool    `json:"replayed"`
}

// listAllOrders pages through list_orders (any status) and returns every order.
func listAllOrders(ctx context.Context, c toolCaller) ([]ctOrder, error) {
	var all []ctOrder
	cursor := ""
	for page := 0; page < 10000; page++ {
		args := map[string]any{"limit": 200}
		if cursor != "" {
			args["cursor"] = cursor
		}
		a, err := c.callTool(ctx, "list_orders", args)
		if err != nil {
			return nil, err
		}
		if a.IsError {
			return nil, fmt.Errorf("list_orders: %v", a)
		}
		var out struct {
			Orders     []ctOrder `json:"orders"`
			NextCursor string    `json:"next_cursor"`
		}
		if err := a.decode(&out); err != nil {
			return nil, err
		}
		all = append(all, out.Orders...)
		if out.NextCursor == "" {
			return all, nil
		}
		cursor = out.NextCursor
	}
	return nil, errors.New("list_orders: too many pages")
}

// ctAuditEntry is an audit entry as get_audit_log and `sibyl audit export` give it.
type ctAuditEntry struct {
	Seq       int      `json:"seq"`
	Tool      string   `json:"tool"`
	Outcome   string   `json:"outcome"`
	Principal string   `json:"principal"`
	Key       string   `json:"idempotency_key"`
	OrderIDs  []string `json:"order_ids"`
	Error     string   `json:"error"`
}

// readAuditLog pages through get_audit_log for one tool and returns every
// entry, with the chain's verification status.
func readAuditLog(ctx context.Context, c toolCaller, tool string) ([]ctAuditEntry, bool, string, error) {
	var all []ctAuditEntry
	after := 0
	chainOK, problem := false, ""
	// Verification is incremental (a bounded batch of entries per call):
	// call until the whole chain is verified or a problem is found.
	for i := 0; i < 1000 && !chainOK && problem == ""; i++ {
		a, err := c.callTool(ctx, "get_audit_log", map[string]any{"verify": true, "limit": 1})
		if err != nil {
			return nil, false, "", err
		}
		var v struct {
			Verified bool   `json:"verified"`
			ChainOK  bool   `json:"chain_ok"`
			Problem  string `json:"problem"`
		}
		if err := a.decode(&v); err != nil {
			return nil, false, "", err
		}
		if !v.Verified {
			return nil, false, "", errors.New("get_audit_log with verify: got verified=false")
		}
		chainOK, problem = v.ChainOK, v.Problem
	}
	for {
		args := map[string]any{"after_seq": after, "limit": 500, "tool": tool}
		a, err := c.callTool(ctx, "get_audit_log", args)
		if err != nil {
			return nil, false, "", err
		}
		if a.IsError {
			return nil, false, "", fmt.Errorf("get_audit_log: %v", a)
		}
		var out struct {
			Entries  []ctAuditEntry `json:"entries"`
			Verified bool           `json:"verified"`
			ChainOK  bool           `json:"chain_ok"`
			Problem  string         `json:"problem"`
		}
		if err := a.decode(&out); err != nil {
			return nil, false, "", err
		}
		if len(out.Entries) == 0 {
			return all, chainOK, problem, nil
		}
		all = append(all, out.Entries...)
		after = out.Entries[len(out.Entries)-1].Seq
	}
}
