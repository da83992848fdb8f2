// Command cluster runs a whole several-instance sibyl deployment on this
// machine, on loopback ports: a 3-member etcd cluster (the etcd binary, as
// Debian's etcd-server package installs it), three `sibyl serve --http`
// instances over it (--store etcd, each with its own --data-dir), and a small
// round-robin reverse proxy in front of them: the one address the agents use.
// The proxy stands for any load balancer (HAProxy, nginx, a cloud one): it
// needs no stickiness, and it moves a request to the next instance only when
// the connection to one is refused (the request never reached it).
//
//	go run ./examples/cluster            # runs until Ctrl-C, printing the URL and an API key
//	go run ./examples/cluster -demo      # runs the failure walkthrough below, then stops
//
// The walkthrough (-demo), through the proxy with the official MCP Go SDK
// client: 30 concurrent place_order calls with one idempotency key give one
// order; with one sibyl instance killed (SIGKILL) the same key replays it and
// new orders go on; with one etcd member killed orders go on; with a second
// member killed (quorum lost) orders are refused as unavailable, never
// guessed; once the members are back the refused key places its one order;
// `sibyl audit verify --store etcd` checks the one audit chain.
//
// Flags: -etcd PATH (default: etcd on PATH), -sibyl PATH (default: built from
// ./cmd/sibyl with `go build`), -listen ADDR (default 127.0.0.1:7777),
// -dir DIR (default: a new temporary directory, removed at the end).
// Everything it starts is stopped when it ends.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	etcdBin := flag.String("etcd", "", "`PATH` of the etcd binary (default: etcd on PATH; Debian: apt-get install etcd-server)")
	sibylBin := flag.String("sibyl", "", "`PATH` of the sibyl binary (default: go build ./cmd/sibyl into the work dir)")
	listen := flag.String("listen", "127.0.0.1:7777", "the proxy's `ADDR`: the one address of the deployment")
	dir := flag.String("dir", "", "work `DIR` for etcd's and sibyl's data (default: a temporary one, removed at the end)")
	demo := flag.Bool("demo", false, "run the failure walkthrough, then stop everything")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, config{etcd: *etcdBin, sibyl: *sibylBin, listen: *listen, dir: *dir, demo: *demo}, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

type config struct {
	etcd, sibyl, listen, dir string
	demo                     bool
}

// deployment is what run starts; close stops all of it.
type deployment struct {
	out       io.Writer
	dir       string
	sibyl     string
	members   []*member
	endpoints string // --etcd-endpoints
	token     string
	instances []*instance
	proxy     *http.Server
	proxyURL  string
}

func run(ctx context.Context, cfg config, out io.Writer) (err error) {
	d := &deployment{out: out}
	defer d.close()
	if cfg.dir == "" {
		if d.dir, err = os.MkdirTemp("", "sibyl-cluster-"); err != nil {
			return err
		}
		defer os.RemoveAll(d.dir)
	} else if d.dir, err = filepath.Abs(cfg.dir); err != nil {
		return err
	}
	if cfg.etcd == "" {
		if cfg.etcd, err = exec.LookPath("etcd"); err != nil {
			return errors.New("no etcd binary on PATH: install it (Debian/Ubuntu: sudo apt-get install etcd-server) or pass -etcd PATH")
		}
	}
	if d.sibyl = cfg.sibyl; d.sibyl == "" {
		d.sibyl = filepath.Join(d.dir, "sibyl")
		fmt.Fprintln(out, "building sibyl: go build -o", d.sibyl, "./cmd/sibyl")
		if b, err := exec.Command("go", "build", "-o", d.sibyl, "github.com/sibylmcp/sibyl/cmd/sibyl").CombinedOutput(); err != nil {
			return fmt.Errorf("building sibyl: %v\n%s", err, b)
		}
	}
	if err := d.startEtcd(ctx, cfg.etcd); err != nil {
		return err
	}
	if err := d.makeKey(ctx); err != nil {
		return err
	}
	for i := range 3 {
		in, err := d.startInstance(ctx, i)
		if err != nil {
			return err
		}
		d.instances = append(d.instances, in)
	}
	if err := d.startProxy(cfg.listen); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nthe deployment's one address: %s (API key: %s)\n", d.proxyURL, d.token)
	fmt.Fprintf(out, "try: curl -s %s -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"curl\",\"version\":\"1\"}}}'\n", d.proxyURL, d.token)
	if !cfg.demo {
		fmt.Fprintln(out, "running; Ctrl-C stops everything")
		<-ctx.Done()
		return nil
	}
	return d.walkthrough(ctx)
}

// ---- etcd ----

// member is one etcd process; it can be killed and started again on the
// same data dir and ports.
type member struct {
	name, clientURL, peerURL, dataDir string
	args                              []string
	bin                               string
	logPath                           string
	cmd                               *exec.Cmd
	done                              chan struct{}
}

func (d *deployment) startEtcd(ctx context.Context, bin string) error {
	ports, err := freePorts(6)
	if err != nil {
		return err
	}
	var initial []string
	for i := range 3 {
		m := &member{name: fmt.Sprintf("etcd%d", i), bin: bin,
			clientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			peerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			dataDir:   filepath.Join(d.dir, fmt.Sprintf("etcd%d", i)),
			logPath:   filepath.Join(d.dir, fmt.Sprintf("etcd%d.log", i))}
		d.members = append(d.members, m)
		initial = append(initial, m.name+"="+m.peerURL)
	}
	var eps []string
	for _, m := range d.members {
		m.args = []string{"--name=" + m.name, "--data-dir=" + m.dataDir,
			"--listen-client-urls=" + m.clientURL, "--advertise-client-urls=" + m.clientURL,
			"--listen-peer-urls=" + m.peerURL, "--initial-advertise-peer-urls=" + m.peerURL,
			"--initial-cluster=" + strings.Join(initial, ","), "--initial-cluster-state=new",
			"--initial-cluster-token=sibyl-example"}
		fmt.Fprintf(d.out, "etcd member: %s %s\n", m.bin, strings.Join(m.args, " "))
		if err := m.start(); err != nil {
			return err
		}
		eps = append(eps, m.clientURL)
	}
	d.endpoints = strings.Join(eps, ",")
	return d.waitEtcdHealthy(ctx, 60*time.Second)
}

func (m *member) start() error {
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	m.cmd = exec.Command(m.bin, m.args...)
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	if err := m.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting etcd member %s: %w", m.name, err)
	}
	m.done = make(chan struct{})
	go func() { _ = m.cmd.Wait(); logf.Close(); close(m.done) }()
	return nil
}

func (m *member) kill() {
	if m.cmd != nil {
		_ = m.cmd.Process.Signal(syscall.SIGKILL)
		<-m.done
		m.cmd = nil
	}
}

// waitEtcdHealthy waits until every running member says /health is true
// (it has a leader and a quorum).
func (d *deployment) waitEtcdHealthy(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		healthy := true
		for _, m := range d.members {
			if m.cmd == nil {
				continue
			}
			if !etcdHealthy(ctx, m.clientURL) {
				healthy = false
			}
		}
		if healthy {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd not healthy after %v (logs in %s)", within, d.dir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func etcdHealthy(ctx context.Context, clientURL string) bool {
	hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(hctx, http.MethodGet, clientURL+"/health", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var h struct {
		Health string `json:"health"`
	}
	return json.NewDecoder(resp.Body).Decode(&h) == nil && h.Health == "true"
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ---- sibyl ----

// storeArgs are the flags every sibyl command of the deployment takes (the
// same as SIBYL_STORE=etcd SIBYL_ETCD_ENDPOINTS=...).
func (d *deployment) storeArgs() []string {
	return []string{"--store", "etcd", "--etcd-endpoints", d.endpoints}
}

// makeKey creates the deployment's one API key, in etcd: every instance
// takes it.
func (d *deployment) makeKey(ctx context.Context) error {
	args := append([]string{"keys", "create", "--name", "example", "--scopes", "read,trade"}, d.storeArgs()...)
	fmt.Fprintf(d.out, "api key: sibyl %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, d.sibyl, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("sibyl keys create: %v: %s", err, stderr.String())
	}
	d.token = strings.TrimSpace(string(b))
	return nil
}

// instance is one `sibyl serve --http` process.
type instance struct {
	n        int
	cmd      *exec.Cmd
	endpoint string
	done     chan struct{}
}

var endpointRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/mcp`)

func (d *deployment) startInstance(ctx context.Context, n int) (*instance, error) {
	args := append([]string{"serve", "--http", "127.0.0.1:0", "--data-dir", filepath.Join(d.dir, fmt.Sprintf("sibyl%d", n))}, d.storeArgs()...)
	// A dead instance's unfinished orders are taken over once its etcd
	// lease lapses: 10 s by default, 3 s here so the walkthrough is quick.
	args = append(args, "--etcd-session-ttl", "3s", "--etcd-op-timeout", "2s")
	fmt.Fprintf(d.out, "instance %d: sibyl %s\n", n, strings.Join(args, " "))
	cmd := exec.Command(d.sibyl, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	in := &instance{n: n, cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	logf, err := os.Create(filepath.Join(d.dir, fmt.Sprintf("sibyl%d.log", n)))
	if err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if u := endpointRE.FindString(sc.Text()); u != "" && !sent {
				found <- u
				sent = true
			}
		}
		_ = cmd.Wait()
		logf.Close()
		close(in.done)
	}()
	select {
	case in.endpoint = <-found:
		return in, nil
	case <-in.done:
		return nil, fmt.Errorf("instance %d exited at start (log: %s)", n, logf.Name())
	case <-time.After(30 * time.Second):
		in.kill()
		return nil, fmt.Errorf("instance %d printed no endpoint within 30 s", n)
	case <-ctx.Done():
		in.kill()
		return nil, ctx.Err()
	}
}

func (in *instance) kill() {
	_ = in.cmd.Process.Signal(syscall.SIGKILL)
	<-in.done
}

func (in *instance) stop() {
	_ = in.cmd.Process.Signal(os.Interrupt)
	select {
	case <-in.done:
	case <-time.After(15 * time.Second):
		in.kill()
	}
}

// ---- the proxy ----

// startProxy serves a round-robin reverse proxy over the instances on addr.
func (d *deployment) startProxy(addr string) error {
	var backends []*url.URL
	for _, in := range d.instances {
		u, err := url.Parse(in.endpoint)
		if err != nil {
			return err
		}
		backends = append(backends, u)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("proxy: %w (pass another -listen)", err)
	}
	d.proxyURL = "http://" + ln.Addr().String() + "/mcp"
	rp := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.Out.Host = r.In.Host }, // the transport picks the backend
		Transport:     &roundRobin{backends: backends, next: &atomic.Uint64{}},
		FlushInterval: -1, // SSE answers pass through as they come
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "no sibyl instance answered: "+err.Error(), http.StatusBadGateway)
		},
	}
	d.proxy = &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = d.proxy.Serve(ln) }()
	fmt.Fprintf(d.out, "proxy: %s -> %v (round robin, no stickiness)\n", d.proxyURL, backends)
	return nil
}

// roundRobin sends each request to the next backend. When a backend refuses
// the connection (it is down: the request never reached it), the request
// goes to the next one. Any other failure (a connection lost mid-request)
// is the client's to retry, with the same idempotency key.
type roundRobin struct {
	backends []*url.URL
	next     *atomic.Uint64
}

func (rr *roundRobin) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	var lastErr error
	for range rr.backends {
		u := rr.backends[rr.next.Add(1)%uint64(len(rr.backends))]
		out := r.Clone(r.Context())
		out.URL.Scheme, out.URL.Host, out.URL.Path = u.Scheme, u.Host, u.Path
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		resp, err := http.DefaultTransport.RoundTrip(out)
		var op *net.OpError
		if err != nil && errors.As(err, &op) && op.Op == "dial" {
			lastErr = err
			continue
		}
		return resp, err
	}
	return nil, lastErr
}

// ---- the walkthrough ----

type bearer struct {
	token string
	rt    http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.rt.RoundTrip(r)
}

// connect opens an MCP session through the proxy with the official SDK.
func (d *deployment) connect(ctx context.Context) (*mcp.ClientSession, error) {
	c := mcp.NewClient(&mcp.Implementation{Name: "cluster-example", Version: "1"}, nil)
	return c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: d.proxyURL, MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{d.token, http.DefaultTransport}}}, nil)
}

// answer is a place_order result as the walkthrough prints it.
type answer struct {
	OrderID  string `json:"order_id"`
	Replayed bool   `json:"replayed"`
	Error    *struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Retryable bool   `json:"retryable"`
	} `json:"error"`
}

func (a answer) String() string {
	if a.Error != nil {
		return fmt.Sprintf("refused: %s (retryable %v): %s", a.Error.Code, a.Error.Retryable, a.Error.Message)
	}
	return fmt.Sprintf("order %s (replayed=%v)", a.OrderID, a.Replayed)
}

// place calls place_order through a fresh session (the SDK's session ends
// with a transport error; a new one may land on any instance).
func (d *deployment) place(ctx context.Context, args map[string]any) (answer, error) {
	cs, err := d.connect(ctx)
	if err != nil {
		return answer{}, fmt.Errorf("connecting: %w", err)
	}
	defer cs.Close()
	return callPlace(ctx, cs, args)
}

func callPlace(ctx context.Context, cs *mcp.ClientSession, args map[string]any) (answer, error) {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "place_order", Arguments: args})
	if err != nil {
		return answer{}, err
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return answer{}, err
	}
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		return answer{}, err
	}
	return a, nil
}

func (d *deployment) walkthrough(ctx context.Context) error {
	out := d.out
	step := func(format string, args ...any) { fmt.Fprintf(out, "\n== "+format+"\n", args...) }
	cs, err := d.connect(ctx)
	if err != nil {
		return err
	}
	market, err := openMarket(ctx, cs)
	cs.Close()
	if err != nil {
		return err
	}
	order := func(key string) map[string]any {
		// A bid far under the market: it rests in the paper book.
		return map[string]any{"market": market, "outcome": "Yes", "side": "buy", "quantity": 3, "limit_price": 0.02,
			"idempotency_key": key, "allow_duplicate": true}
	}
	run := fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000)
	key := func(s string) string { return "cluster-example-" + run + "-" + s }

	step("30 concurrent place_order calls with ONE idempotency key, through the proxy (round robin over 3 instances)")
	cs, err = d.connect(ctx)
	if err != nil {
		return err
	}
	ids := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				a, err := callPlace(ctx, cs, order(key("one")))
				mu.Lock()
				switch {
				case err != nil && firstErr == nil:
					firstErr = err
				case err == nil && a.Error != nil && a.Error.Retryable:
					mu.Unlock()
					time.Sleep(50 * time.Millisecond)
					continue
				case err == nil && a.Error != nil:
					firstErr = errors.New(a.String())
				case err == nil:
					ids[a.OrderID]++
				}
				mu.Unlock()
				return
			}
		}()
	}
	wg.Wait()
	cs.Close()
	if firstErr != nil {
		return firstErr
	}
	fmt.Fprintf(out, "distinct orders: %d %v\n", len(ids), ids)
	if len(ids) != 1 {
		return fmt.Errorf("want exactly one order, got %v", ids)
	}

	step("one sibyl instance killed (SIGKILL): the proxy sends its requests to the others")
	d.instances[1].kill()
	fmt.Fprintf(out, "instance 1 (%s) killed\n", d.instances[1].endpoint)
	for _, k := range []string{"one", "two"} {
		a, err := d.place(ctx, order(key(k)))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "place_order key %s: %s\n", key(k), a)
	}

	step("one etcd member killed: the other two are a quorum; orders go on")
	d.members[2].kill()
	fmt.Fprintf(out, "etcd member %s killed\n", d.members[2].name)
	a, err := d.retryPlace(ctx, order(key("three")), 20*time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "place_order key %s: %s\n", key("three"), a)

	step("a second etcd member killed: quorum lost; orders are refused, never guessed")
	d.members[1].kill()
	fmt.Fprintf(out, "etcd member %s killed\n", d.members[1].name)
	a, err = d.place(ctx, order(key("four")))
	switch {
	case err != nil:
		// The SDK says only "Service Unavailable": the answer's body says more.
		fmt.Fprintf(out, "place_order key %s: refused: %v\n", key("four"), err)
		status, body := d.rawInitialize(ctx)
		fmt.Fprintf(out, "the same refusal as raw HTTP: %d %s", status, body)
	case a.Error != nil:
		fmt.Fprintf(out, "place_order key %s: %s\n", key("four"), a)
	default:
		return fmt.Errorf("with the quorum lost, place_order answered %s", a)
	}

	step("the etcd members restarted: the refused key, retried, places its one order")
	for _, m := range d.members[1:] {
		if err := m.start(); err != nil {
			return err
		}
	}
	if err := d.waitEtcdHealthy(ctx, 60*time.Second); err != nil {
		return err
	}
	a, err = d.retryPlace(ctx, order(key("four")), 30*time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "place_order key %s: %s\n", key("four"), a)

	step("the one audit chain of the deployment")
	for _, in := range d.instances {
		in.stop()
	}
	cmd := exec.CommandContext(ctx, d.sibyl, append([]string{"audit", "verify"}, d.storeArgs()...)...)
	b, err := cmd.CombinedOutput()
	fmt.Fprintf(out, "sibyl audit verify --store etcd: %s", b)
	return err
}

// rawInitialize POSTs initialize through the proxy and returns the HTTP
// status and body, for showing a refusal as the server words it.
func (d *deployment) rawInitialize(ctx context.Context) (int, string) {
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.proxyURL, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

// retryPlace calls place_order until it answers with an order (or within
// gives up), retrying refusals marked retryable and lost connections with
// the same key, as an agent should.
func (d *deployment) retryPlace(ctx context.Context, args map[string]any, within time.Duration) (answer, error) {
	deadline := time.Now().Add(within)
	for {
		a, err := d.place(ctx, args)
		if err == nil && a.Error == nil {
			return a, nil
		}
		if err == nil && !a.Error.Retryable {
			return a, errors.New(a.String())
		}
		if time.Now().After(deadline) {
			if err != nil {
				return a, err
			}
			return a, errors.New(a.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// openMarket returns an open paper market.
func openMarket(ctx context.Context, cs *mcp.ClientSession) (string, error) {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "search_markets", Arguments: map[string]any{"query": "BTC above", "status": "open", "limit": 5}})
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(res.StructuredContent)
	var page struct {
		Markets []struct {
			ID string `json:"id"`
		} `json:"markets"`
	}
	if err := json.Unmarshal(b, &page); err != nil || len(page.Markets) == 0 {
		return "", fmt.Errorf("no open market in %s", b)
	}
	return page.Markets[0].ID, nil
}

func (d *deployment) close() {
	if d.proxy != nil {
		_ = d.proxy.Close()
	}
	for _, in := range d.instances {
		select {
		case <-in.done:
		default:
			in.stop()
		}
	}
	for _, m := range d.members {
		m.kill()
	}
}
