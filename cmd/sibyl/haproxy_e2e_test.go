package main

// TestHAProxy runs the README's HAProxy config ("Several instances on etcd"),
// as written there but for the addresses, in a real haproxy (Debian's haproxy
// package; .ci/run installs it through scripts/install-tools.sh) in front of
// three `sibyl serve --http --store etcd` instances over a real 3-member etcd
// cluster, all trading on one httptest Kalshi exchange (the clusterRig of
// cluster_test.go). The clients are the official MCP Go SDK's, through
// HAProxy only. Without a haproxy binary the test skips; under CI=true it
// fails.

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// haproxyBin finds haproxy or skips the test (fails it under CI=true).
func haproxyBin(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("HAPROXY"), "haproxy", "/usr/sbin/haproxy"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("haproxy is not installed (apt-get install haproxy; scripts/install-tools.sh does it): CI=true needs it")
	}
	t.Skip("haproxy is not installed (apt-get install haproxy): skipping TestHAProxy")
	return ""
}

// readmeHAProxyConfig returns the README's HAProxy config (the fenced block
// holding "backend sibyl") with its bind address and its three servers'
// addresses replaced by bind and servers; everything else is as written.
func readmeHAProxyConfig(t *testing.T, bind string, servers []string) string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var block string
	for _, part := range strings.Split(string(raw), "```")[1:] {
		if strings.Contains(part, "backend sibyl") {
			block = strings.TrimPrefix(part, "\n")
			break
		}
	}
	if block == "" {
		t.Fatal("README.md has no fenced block with \"backend sibyl\"")
	}
	for _, want := range []string{"balance roundrobin", "option httpchk GET /readyz", "option redispatch", "timeout server 60s"} {
		if !strings.Contains(block, want) {
			t.Fatalf("the README's HAProxy config lacks %q:\n%s", want, block)
		}
	}
	serverRE := regexp.MustCompile(`^(\s*server\s+\S+\s+)\S+(.*)$`)
	bindRE := regexp.MustCompile(`^(\s*bind\s+)\S+(.*)$`)
	var out []string
	n, binds := 0, 0
	for _, line := range strings.Split(block, "\n") {
		if m := serverRE.FindStringSubmatch(line); m != nil {
			if n >= len(servers) {
				t.Fatalf("the README's HAProxy config has more than %d servers", len(servers))
			}
			if !strings.Contains(m[2], " check") {
				t.Fatalf("README HAProxy server line without check: %q", line)
			}
			line = m[1] + servers[n] + m[2]
			n++
		} else if m := bindRE.FindStringSubmatch(line); m != nil {
			line = m[1] + bind + m[2]
			binds++
		}
		out = append(out, line)
	}
	if n != len(servers) || binds != 1 {
		t.Fatalf("the README's HAProxy config has %d servers and %d binds, want %d and 1:\n%s", n, binds, len(servers), block)
	}
	return strings.Join(out, "\n")
}

// haproxyProc is one `haproxy -db -f cfg` process, with a stats frontend the
// test adds to the README's config (not part of it) to read HAProxy's view
// of its servers.
type haproxyProc struct {
	cmd      *exec.Cmd
	stderr   *tailBuffer
	exited   chan struct{}
	endpoint string // http://127.0.0.1:port/mcp, the frontend
	statsURL string // the CSV stats
	hc       *http.Client
}

// freeLoopbackPorts returns n distinct loopback ports that were free a moment ago.
func freeLoopbackPorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// startHAProxy checks cfg with `haproxy -c` (any warning fails the test),
// starts haproxy in the foreground on it and waits until the frontend
// accepts connections. Cleanup kills it, also when the test fails.
func startHAProxy(t *testing.T, bin, cfg string, frontPort, statsPort int) *haproxyProc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "[WARNING]") || strings.Contains(string(out), "[ALERT]") {
		t.Fatalf("haproxy -c: %v:\n%s\nconfig:\n%s", err, out, cfg)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	h := &haproxyProc{cmd: cmd, stderr: &tailBuffer{max: 64 << 10}, exited: make(chan struct{}),
		endpoint: fmt.Sprintf("http://127.0.0.1:%d/mcp", frontPort),
		statsURL: fmt.Sprintf("http://127.0.0.1:%d/stats;csv", statsPort),
		hc:       &http.Client{Timeout: 5 * time.Second}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_, _ = io.Copy(h.stderr, stderr)
		_ = cmd.Wait()
		close(h.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-h.exited
		if t.Failed() {
			t.Logf("haproxy stderr:\n%s", h.stderr)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", frontPort), time.Second)
		if err == nil {
			c.Close()
			return h
		}
		select {
		case <-h.exited:
			t.Fatalf("haproxy exited at start: %s", h.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy does not listen on %d: %v; stderr:\n%s", frontPort, err, h.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// haServer is HAProxy's view of one server of backend sibyl.
type haServer struct {
	status      string // UP, DOWN, "UP 1/2" (going down or up), ...
	checkStatus string // L7OK, L4CON, ...
	lbtot       int    // times the balancer chose it
	retries     int    // wretr: connection retries
	redispatch  int    // wredis: requests redispatched from it to another server
	conErrors   int    // econ
	respErrors  int    // eresp
}

// servers reads backend sibyl's servers from HAProxy's CSV stats.
func (h *haproxyProc) servers(ctx context.Context) (map[string]haServer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.statsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	rd := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(body), "# ")))
	rd.FieldsPerRecord = -1
	rows, err := rd.ReadAll()
	if err != nil || len(rows) < 2 {
		return nil, fmt.Errorf("haproxy stats: %v: %.300s", err, body)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	get := func(row []string, name string) string {
		if i, ok := col[name]; ok && i < len(row) {
			return row[i]
		}
		return ""
	}
	num := func(row []string, name string) int {
		var n int
		fmt.Sscan(get(row, name), &n)
		return n
	}
	out := map[string]haServer{}
	for _, row := range rows[1:] {
		if get(row, "pxname") != "sibyl" || get(row, "svname") == "BACKEND" {
			continue
		}
		out[get(row, "svname")] = haServer{status: get(row, "status"), checkStatus: get(row, "check_status"),
			lbtot: num(row, "lbtot"), retries: num(row, "wretr"), redispatch: num(row, "wredis"),
			conErrors: num(row, "econ"), respErrors: num(row, "eresp")}
	}
	return out, nil
}

// waitServer waits until HAProxy reports server name in status want (and,
// for UP, a passing /readyz check) and returns how long that took.
func (h *haproxyProc) waitServer(ctx context.Context, name, want string, within time.Duration) (time.Duration, error) {
	t0 := time.Now()
	var last haServer
	for time.Since(t0) < within {
		ss, err := h.servers(ctx)
		if err == nil {
			last = ss[name]
			if last.status == want && (want != "UP" || last.checkStatus == "L7OK") {
				return time.Since(t0), nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("haproxy: server %s not %s within %v (last %+v)", name, want, within, last)
}

// haClient is one agent: an MCP Go SDK session through HAProxy, which it
// replaces when the SDK reports the session's connection broken.
type haClient struct {
	endpoint string
	token    string
	version  string // the protocol version asked for ("": the SDK's default, 2026-07-28, without a session)
	cs       *sdk.ClientSession
	reopened int
}

func (c *haClient) connect(ctx context.Context) error {
	client := sdk.NewClient(&sdk.Implementation{Name: "haproxy-test", Version: "1"}, nil)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cs, err := client.Connect(cctx, &sdk.StreamableClientTransport{Endpoint: c.endpoint,
		HTTPClient: &http.Client{Transport: bearer{c.token, &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 8}}}},
		&sdk.ClientSessionOptions{ProtocolVersion: c.version})
	if err != nil {
		return err
	}
	if got := cs.InitializeResult().ProtocolVersion; c.version != "" && (got != c.version || cs.ID() == "") {
		_ = cs.Close()
		return fmt.Errorf("negotiated %s (session %q), want %s with a session", got, cs.ID(), c.version)
	}
	if c.cs != nil {
		_ = c.cs.Close()
	}
	c.cs = cs
	return nil
}

// callTool implements toolCaller over the SDK session.
func (c *haClient) callTool(ctx context.Context, name string, args any) (toolAnswer, error) {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res, err := c.cs.CallTool(cctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return toolAnswer{}, err
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return toolAnswer{}, err
	}
	return toolAnswerOf(res.IsError, raw)
}

// haAttempt is one call as the agent saw it.
type haAttempt struct {
	start, end time.Time
	outcome    string // "order", a refusal code, or "error: ..." (no answer)
}

// haLog records every attempt of every client.
type haLog struct {
	mu       sync.Mutex
	attempts []haAttempt
}

func (l *haLog) add(a haAttempt) {
	l.mu.Lock()
	l.attempts = append(l.attempts, a)
	l.mu.Unlock()
}

// errorClass shortens an SDK error for counting: the HTTP status HAProxy or
// sibyl answered, or the kind of failure.
func errorClass(err error) string {
	s := err.Error()
	for _, k := range []string{"Bad Gateway", "Service Unavailable", "Gateway Timeout", "connection closed", "EOF", "connection reset", "terminated without response"} {
		if strings.Contains(s, k) {
			return "error: " + k
		}
	}
	return "error: " + s
}

// placeUntilOrder calls place_order as an agent would: on no answer or a
// retryable refusal it retries the same key (on a new session when the SDK
// reports the old one broken) until it has the order.
func (c *haClient) placeUntilOrder(ctx context.Context, args map[string]any, log *haLog) (ctOrder, error) {
	for {
		if err := ctx.Err(); err != nil {
			return ctOrder{}, fmt.Errorf("no order for %v before the deadline: %w", args["idempotency_key"], err)
		}
		t0 := time.Now()
		a, err := c.callTool(ctx, "place_order", args)
		at := haAttempt{start: t0, end: time.Now()}
		switch {
		case err != nil:
			at.outcome = errorClass(err)
			log.add(at)
			if errors.Is(err, sdk.ErrConnectionClosed) {
				if cerr := c.connect(ctx); cerr != nil {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				c.reopened++
			}
			time.Sleep(50 * time.Millisecond)
			continue
		case retryableRefusal(a):
			at.outcome = a.Code
			log.add(at)
			time.Sleep(50 * time.Millisecond)
			continue
		case a.IsError:
			at.outcome = a.Code
			log.add(at)
			return ctOrder{}, fmt.Errorf("key %v: %v", args["idempotency_key"], a)
		}
		at.outcome = "order"
		log.add(at)
		var o ctOrder
		return o, a.decode(&o)
	}
}

// haKey is one idempotency key of the test and what its callers were told.
type haKey struct {
	args   map[string]any
	coid   string
	orders map[string]bool // order ids answered
	fresh  int             // answers with replayed=false
}

// TestHAProxy: the README's HAProxy config in front of three instances. Through
// HAProxy only, SDK clients initialize, list the tools, place orders and replay
// them: one order per key at the exchange. One instance is SIGKILLed while the
// clients go on placing and replaying (retrying the same key on no answer or a
// retryable refusal): HAProxy's /readyz check takes it out, after which every
// call is answered, and still one order per key exists. Restarted on its port,
// the check puts it back and it serves again. With `option redispatch` or
// `mode http` taken out of the README's config it fails: refused connections
// are answered 503, or the calls are not balanced per request.
func TestHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	r := newClusterRig(t, clusterOptions{instances: 3})
	r.startAll()
	_, procs, _ := r.live()
	addrs := make([]string, len(procs))
	for i, p := range procs {
		u, err := url.Parse(p.endpoint)
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = u.Host
	}
	ports := freeLoopbackPorts(t, 2)
	cfg := readmeHAProxyConfig(t, fmt.Sprintf("127.0.0.1:%d", ports[0]), addrs) +
		fmt.Sprintf("\n# added by the test, to read HAProxy's view of its servers\nfrontend stats\n    mode http\n    bind 127.0.0.1:%d\n    stats enable\n    stats uri /stats\n", ports[1])
	hp := startHAProxy(t, bin, cfg, ports[0], ports[1])
	names := []string{"s1", "s2", "s3"}
	for _, n := range names {
		if _, err := hp.waitServer(ctx, n, "UP", 15*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	ready := time.Since(began)

	// Agents: SDK clients through HAProxy, on the SDK's default 2026-07-28
	// (stateless) and on 2025-11-25 (an Mcp-Session-Id that every instance
	// serves from etcd, and a GET stream on one of them).
	const nClients = 5
	clients := make([]*haClient, nClients)
	versions := map[string]int{}
	for i := range clients {
		clients[i] = &haClient{endpoint: hp.endpoint, token: r.token, version: []string{"", "2025-11-25"}[i%2]}
		if err := clients[i].connect(ctx); err != nil {
			t.Fatalf("client %d: SDK connect through haproxy: %v", i, err)
		}
		versions[clients[i].cs.InitializeResult().ProtocolVersion]++
	}
	t.Cleanup(func() {
		for _, c := range clients {
			if c.cs != nil {
				_ = c.cs.Close()
			}
		}
	})
	tools, err := clients[0].cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list through haproxy: %v", err)
	}
	var toolNames []string
	for _, tl := range tools.Tools {
		toolNames = append(toolNames, tl.Name)
	}
	for _, want := range []string{"place_order", "get_order", "list_orders"} {
		if !contains(toolNames, want) {
			t.Fatalf("tools/list through haproxy: no %s in %v", want, toolNames)
		}
	}

	var kmu sync.Mutex
	keys := map[string]*haKey{}
	record := func(args map[string]any, o ctOrder) {
		key := args["idempotency_key"].(string)
		kmu.Lock()
		defer kmu.Unlock()
		k := keys[key]
		if k == nil {
			k = &haKey{args: args, coid: r.coid(key), orders: map[string]bool{}}
			keys[key] = k
		}
		k.orders[o.OrderID] = true
		if !o.Replayed {
			k.fresh++
		}
		if o.ClientOrderID != k.coid {
			t.Errorf("key %s: client_order_id %s, want %s", key, o.ClientOrderID, k.coid)
		}
	}
	doneKeys := func() []map[string]any {
		kmu.Lock()
		defer kmu.Unlock()
		var out []map[string]any
		for _, k := range keys {
			out = append(out, k.args)
		}
		return out
	}
	lbBefore, err := hp.servers(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// 1. All three up: 50 keys over 5 concurrent clients, then each replayed
	// by another client.
	const nFirst = 50
	var log1 haLog
	t1 := time.Now()
	var wg sync.WaitGroup
	for ci, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := ci; i < nFirst; i += nClients {
				args := clusterArgs("haproxy-a", i)
				o, err := c.placeUntilOrder(ctx, args, &log1)
				if err != nil {
					t.Error(err)
					return
				}
				record(args, o)
			}
		}()
	}
	wg.Wait()
	for ci, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := (ci + 1) % nClients; i < nFirst; i += nClients {
				args := clusterArgs("haproxy-a", i)
				o, err := c.placeUntilOrder(ctx, args, &log1)
				if err != nil {
					t.Error(err)
					return
				}
				if !o.Replayed {
					t.Errorf("key %s: the replay by another client answered replayed=false", args["idempotency_key"])
				}
				record(args, o)
			}
		}()
	}
	wg.Wait()
	phase1 := time.Since(t1)
	if t.Failed() {
		t.FailNow()
	}
	lbAfter, err := hp.servers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	spread := map[string]int{}
	for _, n := range names {
		spread[n] = lbAfter[n].lbtot - lbBefore[n].lbtot
		if spread[n] < nFirst/3 {
			t.Errorf("haproxy sent %d of the %d calls to %s: not round robin (%v)", spread[n], 2*nFirst, n, spread)
		}
	}
	outcomes1 := map[string]int{}
	for _, a := range log1.attempts {
		outcomes1[a.outcome]++
	}
	t.Logf("all up: %d keys placed and replayed by %d SDK clients (protocol versions %v) through haproxy in %v: attempts %v; haproxy chose %v",
		nFirst, nClients, versions, phase1.Round(time.Millisecond), outcomes1, spread)

	// 2. SIGKILL s1 while the clients go on: each places new keys and replays
	// old ones, until HAProxy has taken s1 out and 2 s more.
	var log2 haLog
	var next atomic.Int64
	stop := make(chan struct{})
	for ci, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(ci), 14))
			for {
				select {
				case <-stop:
					return
				default:
				}
				args := clusterArgs("haproxy-b", int(next.Add(1)-1))
				o, err := c.placeUntilOrder(ctx, args, &log2)
				if err != nil {
					t.Error(err)
					return
				}
				record(args, o)
				old := doneKeys()
				args = old[rng.IntN(len(old))]
				if o, err = c.placeUntilOrder(ctx, args, &log2); err != nil {
					t.Error(err)
					return
				}
				record(args, o)
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	killed := time.Now()
	procs[0].kill()
	r.down(0)
	downAfter, err := hp.waitServer(ctx, "s1", "DOWN", 20*time.Second)
	if err != nil {
		close(stop)
		wg.Wait()
		t.Fatal(err)
	}
	downAt := time.Now()
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	ss, err := hp.servers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before, after := map[string]int{}, map[string]int{}
	var slowest time.Duration
	var lastFailure time.Time
	for _, a := range log2.attempts {
		if a.start.Before(downAt) {
			before[a.outcome]++
		} else {
			after[a.outcome]++
		}
		if a.outcome != "order" && a.end.After(lastFailure) {
			lastFailure = a.end
		}
		if a.outcome == "order" && a.start.After(killed) && a.start.Before(downAt) && a.end.Sub(a.start) > slowest {
			slowest = a.end.Sub(a.start)
		}
	}
	for o, n := range after {
		if strings.HasPrefix(o, "error: ") {
			t.Errorf("after haproxy took s1 out: %d calls got no answer (%s), want none", n, o)
		}
	}
	// Before the check took it out, round robin still chose s1; its refused
	// connections were redispatched (option redispatch), so only the calls in
	// flight on s1 at the kill went unanswered, not those sent later.
	window := map[string]int{}
	for _, a := range log2.attempts {
		if a.start.After(killed.Add(250*time.Millisecond)) && a.start.Before(downAt) {
			window[a.outcome]++
			if strings.HasPrefix(a.outcome, "error: ") {
				t.Errorf("a call sent %v after the kill, before haproxy took s1 out, got no answer (%s): a refused connection was not moved to another server", a.start.Sub(killed).Round(time.Millisecond), a.outcome)
			}
		}
	}
	if after["order"] < 20 {
		t.Errorf("only %d orders answered in the 2 s after haproxy took s1 out", after["order"])
	}
	reopened := 0
	for _, c := range clients {
		reopened += c.reopened
	}
	failedFor := "no failed attempt"
	if !lastFailure.IsZero() {
		failedFor = fmt.Sprintf("the last failed attempt ended %v after the kill", lastFailure.Sub(killed).Round(10*time.Millisecond))
	}
	t.Logf("s1 SIGKILLed: haproxy marked it DOWN %v later (check %s); attempts before that %v (from 0.25 s after the kill: %v), after %v; %s; slowest order answered meanwhile %v; sessions reopened %d; s1 retries %d, redispatched %d, connection errors %d, response errors %d",
		downAfter.Round(10*time.Millisecond), ss["s1"].checkStatus, before, window, after, failedFor, slowest.Round(time.Millisecond),
		reopened, ss["s1"].retries, ss["s1"].redispatch, ss["s1"].conErrors, ss["s1"].respErrors)

	// One order per key at the exchange, the one every caller was told, sent once.
	kmu.Lock()
	var kk []kalshiKey
	for key, k := range keys {
		var ids []string
		for id := range k.orders {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		if len(ids) != 1 {
			t.Errorf("key %s: its callers were told orders %v, want one", key, ids)
		}
		if k.fresh > 1 {
			t.Errorf("key %s: %d answers with replayed=false, want at most 1", key, k.fresh)
		}
		kk = append(kk, kalshiKey{key: key, coid: k.coid, orderIDs: ids, done: true})
	}
	kmu.Unlock()
	problems, st := checkKalshiOnce(kk, r.venue.Orders(), r.venue.CreateAttempts())
	for i, p := range problems {
		if i == 20 {
			break
		}
		t.Error(p)
	}
	creates := r.createRequests()
	for _, k := range kk {
		if creates[k.coid] != 1 {
			t.Errorf("key %s: %d create requests at the exchange, want 1 (sent once)", k.key, creates[k.coid])
		}
	}
	t.Logf("%d keys in all: %d acknowledged, %d orders at the exchange, %d create requests",
		len(kk), st.acked, len(r.venue.Orders()), len(r.venue.CreateAttempts()))

	// 3. s1 back on its port: the check puts it back, and it serves.
	restarted := time.Now()
	if _, err := r.restartAt(0, addrs[0]); err != nil {
		t.Fatal(err)
	}
	upAfter, err := hp.waitServer(ctx, "s1", "UP", 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ss, err = hp.servers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var log3 haLog
	old := doneKeys()
	for i := range 30 {
		args := old[i%len(old)]
		o, err := clients[i%nClients].placeUntilOrder(ctx, args, &log3)
		if err != nil {
			t.Fatal(err)
		}
		if !o.Replayed {
			t.Errorf("key %s: replay after the restart answered replayed=false", args["idempotency_key"])
		}
		record(args, o)
	}
	ss2, err := hp.servers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	outcomes3 := map[string]int{}
	for _, a := range log3.attempts {
		outcomes3[a.outcome]++
	}
	if got := ss2["s1"].lbtot - ss["s1"].lbtot; got < 5 {
		t.Errorf("after s1 came back UP haproxy sent it %d of 30 calls, want about a third", got)
	} else {
		t.Logf("s1 restarted on its port: haproxy marked it UP %v after the restart; it got %d of the next 30 calls (replays: %v)",
			upAfter.Round(10*time.Millisecond), got, outcomes3)
	}
	if outcomes3["order"] != 30 {
		t.Errorf("after s1 came back: attempts %v, want 30 orders at the first try", outcomes3)
	}
	_ = restarted

	for _, c := range clients {
		_ = c.cs.Close()
		c.cs = nil
	}
	r.stopAll()
	acked := map[string]string{}
	kmu.Lock()
	for key, k := range keys {
		for id := range k.orders {
			acked[key] = id
		}
	}
	kmu.Unlock()
	counts := checkAuditStories(t, r.exportAudit(ctx), acked)
	t.Logf("audit of the keys %v; %s; instances and haproxy ready in %v, total %v", counts, r.verifyAudit(ctx),
		ready.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	if lines := hp.stateLines(); len(lines) > 0 {
		t.Logf("haproxy said:\n%s", strings.Join(lines, "\n"))
	}
}

// restartAt starts slot i again, listening on addr (the address HAProxy knows it by).
func (r *clusterRig) restartAt(i int, addr string) (*serverProc, error) {
	p, err := launchHTTPServerAt(addr, r.dirs[i], r.env, r.flags...)
	if err != nil {
		return nil, fmt.Errorf("instance %d: %w", i, err)
	}
	r.mu.Lock()
	r.all = append(r.all, p)
	r.procs[i] = p
	r.gens[i]++
	r.mu.Unlock()
	return p, nil
}

// stateLines returns HAProxy's stderr lines about server state changes.
func (h *haproxyProc) stateLines() []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(h.stderr.String()))
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, "Server sibyl/") {
			out = append(out, l)
		}
	}
	return out
}
