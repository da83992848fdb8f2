package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/sibylmcp/sibyl/internal/etcdtest"
)

// roundRobin is a load balancer without stickiness: each request goes to the
// next backend in turn. It counts, per backend, the requests that named a
// session.
type roundRobin struct {
	backends []*url.URL
	next     atomic.Uint64
	mu       sync.Mutex
	session  map[int]int // backend -> requests carrying Mcp-Session-Id
	posts    map[int]int // backend -> POST requests
}

func newRoundRobin(t *testing.T, endpoints ...string) (*roundRobin, string) {
	t.Helper()
	rr := &roundRobin{session: map[int]int{}, posts: map[int]int{}}
	for _, e := range endpoints {
		u, err := url.Parse(e)
		if err != nil {
			t.Fatal(err)
		}
		rr.backends = append(rr.backends, u)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := int(rr.next.Add(1)-1) % len(rr.backends)
			rr.mu.Lock()
			if pr.In.Header.Get("Mcp-Session-Id") != "" {
				rr.session[i]++
			}
			if pr.In.Method == http.MethodPost {
				rr.posts[i]++
			}
			rr.mu.Unlock()
			pr.SetURL(rr.backends[i])
			pr.Out.URL.Path = rr.backends[i].Path
			pr.Out.Host = rr.backends[i].Host // sibyl checks Host (DNS rebinding)
		},
		FlushInterval: -1, // SSE passes through as written
	}
	ts := httptest.NewServer(proxy)
	t.Cleanup(func() {
		ts.CloseClientConnections() // a GET stream left open would hold Close
		ts.Close()
	})
	return rr, ts.URL + "/mcp"
}

// createKey runs `sibyl keys create` against the etcd cluster and returns the token.
func createKey(t *testing.T, endpoints, name, scopes string) string {
	t.Helper()
	out, err := exec.Command(sibylBin, "keys", "create", "--name", name, "--scopes", scopes,
		"--data-dir", t.TempDir(), "--store", "etcd", "--etcd-endpoints", endpoints).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("keys create: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestClusterHTTPSessionsRoundRobin: two `sibyl serve --http --store etcd`
// processes on one 3-member etcd cluster behind a round-robin proxy. The
// official Go SDK client initializes, lists and calls tools (an order
// among them), every request going to the other instance than the one
// before: on 2025-11-25 with a session (another key presenting the session
// id is refused on both instances; after the client's DELETE neither knows
// it), and on the SDK's default 2026-07-28 without one.
func TestClusterHTTPSessionsRoundRobin(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	eps := strings.Join(c.Endpoints(), ",")
	token := createKey(t, eps, "agent", "read,trade")
	other := createKey(t, eps, "other", "read,trade")
	a, _ := startServer(t, t.TempDir(), nil, "--store", "etcd", "--etcd-endpoints", eps)
	b, _ := startServer(t, t.TempDir(), nil, "--store", "etcd", "--etcd-endpoints", eps)
	for _, version := range []string{"2025-11-25", ""} {
		name := version
		if name == "" {
			name = "sdk-default-stateless"
		}
		t.Run(name, func(t *testing.T) { roundRobinClient(t, version, token, other, a, b) })
	}
}

func roundRobinClient(t *testing.T, version, token, other, a, b string) {
	rr, front := newRoundRobin(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	client := sdk.NewClient(&sdk.Implementation{Name: "cluster-e2e", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: front, MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{token, http.DefaultTransport}}}, &sdk.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect through the round-robin proxy: %v", err)
	}
	defer cs.Close() // once more after the test's own Close: a no-op then
	sid := cs.ID()
	if got := cs.InitializeResult().ProtocolVersion; version != "" && got != version {
		t.Fatalf("negotiated %s, want %s", got, version)
	}
	if version != "" && sid == "" {
		t.Fatal("no session id")
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	if len(tools.Tools) < 10 {
		t.Fatalf("tools/list: %d tools, want all of sibyl's", len(tools.Tools))
	}
	found, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "search_markets", Arguments: map[string]any{"query": "BTC above", "status": "open", "limit": 100}})
	if err != nil {
		t.Fatalf("search_markets: %v", err)
	}
	if found.IsError {
		t.Fatalf("search_markets: %s", text(found))
	}
	market := pickMarket(t, found)
	qty := 1 // the subtests' orders differ: the same order under another key is a possible_duplicate
	if version == "" {
		qty = 2
	}
	for i, call := range []sdk.CallToolParams{
		{Name: "list_venues", Arguments: map[string]any{}},
		{Name: "get_market", Arguments: map[string]any{"market": market, "depth": 2}},
		{Name: "place_order", Arguments: map[string]any{"market": market, "outcome": "No", "side": "buy", "quantity": qty, "limit_price": 0.02, "idempotency_key": "cluster-http-e2e-" + version}},
		{Name: "get_order", Arguments: map[string]any{"idempotency_key": "cluster-http-e2e-" + version}},
		{Name: "list_orders", Arguments: map[string]any{}},
		{Name: "get_positions", Arguments: map[string]any{}},
	} {
		res, err := cs.CallTool(ctx, &call)
		if err != nil {
			t.Fatalf("call %d %s: %v", i, call.Name, err)
		}
		if res.IsError {
			t.Fatalf("call %d %s: %s", i, call.Name, text(res))
		}
	}
	rr.mu.Lock()
	perBackend := map[int]int{0: rr.session[0], 1: rr.session[1]}
	posts := map[int]int{0: rr.posts[0], 1: rr.posts[1]}
	rr.mu.Unlock()
	t.Logf("POSTs per instance: A %d, B %d; of them naming the session: A %d, B %d", posts[0], posts[1], perBackend[0], perBackend[1])
	if posts[0] < 4 || posts[1] < 4 {
		t.Errorf("POSTs: A %d, B %d; want both instances to have served several", posts[0], posts[1])
	}
	if version == "" {
		if sid != "" {
			t.Errorf("the SDK's default (2026-07-28) got session id %q, want none", sid)
		}
		return
	}
	if perBackend[0] < 3 || perBackend[1] < 3 {
		t.Errorf("requests naming the session: A %d, B %d; want both instances to have served several", perBackend[0], perBackend[1])
	}

	// Another key holding the session id is refused by both instances.
	raw := func(target, tok, method, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const list = `{"jsonrpc":"2.0","id":99,"method":"tools/list"}`
	for name, target := range map[string]string{"A": a, "B": b} {
		if st := raw(target, other, "POST", list); st != http.StatusForbidden {
			t.Errorf("the session used with another key on %s: status %d, want 403", name, st)
		}
		if st := raw(target, token, "POST", list); st != http.StatusOK {
			t.Errorf("the session used with its key on %s: status %d, want 200", name, st)
		}
	}

	// The client's Close sends DELETE (to whichever instance is next).
	if err := cs.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	for name, target := range map[string]string{"A": a, "B": b} {
		if st := raw(target, token, "POST", list); st != http.StatusNotFound {
			t.Errorf("the session after DELETE, on %s: status %d, want 404", name, st)
		}
	}
}

// TestClusterHTTPRateLimitShared: with --rate-limit 10 on each of two
// instances sharing etcd, a burst of requests spread over both is held to
// the one budget (2 instances × a burst of 10 at 5/s each), not twice it.
func TestClusterHTTPRateLimitShared(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	eps := strings.Join(c.Endpoints(), ",")
	token := createKey(t, eps, "agent", "read")
	a, _ := startServer(t, t.TempDir(), nil, "--store", "etcd", "--etcd-endpoints", eps, "--rate-limit", "10")
	b, _ := startServer(t, t.TempDir(), nil, "--store", "etcd", "--etcd-endpoints", eps, "--rate-limit", "10")
	_, front := newRoundRobin(t, a, b)
	// A counts B at its first beat after B started (every 2 s); the budgets
	// refill meanwhile.
	time.Sleep(peerBeat + time.Second)

	const n = 100
	allowed := 0
	start := time.Now()
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest("POST", front, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusTooManyRequests:
		default:
			allowed++ // answered past the limiter (ping without a session: 400 from mcp)
		}
	}
	elapsed := time.Since(start).Seconds()
	// The deployment's budget: bursts of 2 × 10, then 10/s in all. Alone,
	// each instance would allow 20 + 10/s: 40 + 20/s together.
	limit := 20 + 10*elapsed + 1
	t.Logf("%d of %d requests allowed in %.2f s (shared budget allows at most %.0f; unshared would allow %.0f)", allowed, n, elapsed, limit, 40+20*elapsed)
	if float64(allowed) > limit {
		t.Errorf("allowed %d requests in %.2f s, want at most %.0f (the shared budget)", allowed, elapsed, limit)
	}
	if allowed < 20 {
		t.Errorf("allowed %d requests, want at least the two bursts of 10", allowed)
	}
}

// TestClusterHTTPSessionsQuorumLost: with etcd's quorum lost, a request
// naming a session is refused with 503 and Retry-After (the session store
// cannot be read: nothing is guessed), and initialize answers a JSON-RPC
// error without creating a session; with the quorum back the session works
// again. No API key, so the refusal comes from the session store, not from
// checking a key.
func TestClusterHTTPSessionsQuorumLost(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	eps := strings.Join(c.Endpoints(), ",")
	a, _ := startServer(t, t.TempDir(), nil, "--store", "etcd", "--etcd-endpoints", eps, "--etcd-op-timeout", "1s")
	post := func(sid, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", a, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
			req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		_, _ = io.Copy(&sb, resp.Body)
		return resp, sb.String()
	}
	const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"q","version":"1"}}}`
	const list = `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	resp, _ := post("", initialize)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || sid == "" {
		t.Fatalf("initialize: %d %q", resp.StatusCode, sid)
	}
	if resp, body := post(sid, list); resp.StatusCode != 200 {
		t.Fatalf("tools/list with quorum: %d %s", resp.StatusCode, body)
	}

	if _, err := c.KillQuorum(); err != nil {
		t.Fatal(err)
	}
	resp, body := post(sid, list)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "session store is unavailable") {
		t.Errorf("tools/list without quorum: %d %q %s, want 503 with Retry-After from the session store", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, body = post("", initialize)
	t.Logf("initialize without quorum: %d %s", resp.StatusCode, body)
	if !strings.Contains(body, `"code":-32603`) || strings.Contains(body, `"result"`) {
		t.Errorf("initialize without quorum: %d %s, want a JSON-RPC internal error and no session", resp.StatusCode, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.RestartStopped(ctx); err != nil {
		t.Fatal(err)
	}
	// The first requests after the quorum returns may still meet a member
	// catching up; retry as a client told "Retry-After" would.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, body = post(sid, list)
		if resp.StatusCode == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if resp.StatusCode != 200 {
		t.Errorf("tools/list once the quorum is back: %d %s, want 200 (the session outlived the outage)", resp.StatusCode, body)
	}
}
