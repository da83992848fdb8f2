// Command mcpbench measures tools/call on sibyl's MCP server and on two peers
// (the official Go SDK and mark3labs/mcp-go) serving the same trivial tool,
// and sibyl's real get_market through `sibyl serve`, over stdio and
// Streamable HTTP with 1 and 16 concurrent clients. For each configuration it
// starts the server as a subprocess, opens the client sessions with its own
// raw JSON-RPC client (the same for every server), warms up, then measures for
// a fixed time: requests/s, p50/p99 latency, the server's CPU time per call
// (utime+stime from /proc/<pid>/stat over the window, divided by the calls)
// and its peak RSS (VmHWM). Each configuration runs -runs times, interleaved,
// and the table shows the median of each number. It then checks that a slow
// tool does not block other requests. Loopback only; every run is bounded.
//
// Run it from the bench module: cd bench && go run ./cmd/mcpbench -duration 5s
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const simpleText = "This is a simple text response for testing."

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mcpbench:", err)
		os.Exit(1)
	}
}

type options struct {
	duration, warmup time.Duration
	runs             int
	clients          []int
	targets          []string
	transports       []string
	benchDir         string
	sibylRoot        string
	profileDir       string
	memProfileDir    string
	out, jsonOut     string
	slow             bool
}

func run() error {
	var o options
	var clients, targets, transports string
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured `time` per configuration and run")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "warm-up `time` before each measurement")
	flag.IntVar(&o.runs, "runs", 3, "runs per configuration (the table shows medians)")
	flag.StringVar(&clients, "clients", "1,16", "comma-separated numbers of concurrent clients")
	flag.StringVar(&targets, "targets", "sibyl,go-sdk,mcp-go,sibyl-serve", "comma-separated servers: sibyl, go-sdk, mcp-go (test_simple_text), sibyl-serve (get_market through `sibyl serve`), sibyl-market (get_market on servers/sibylmarket, for -profile)")
	flag.StringVar(&transports, "transports", "stdio,http", "comma-separated transports: stdio, http")
	flag.StringVar(&o.benchDir, "bench-dir", ".", "`DIR` of the bench module (holding servers/)")
	flag.StringVar(&o.sibylRoot, "sibyl-root", "..", "`DIR` of the sibyl module (holding cmd/sibyl)")
	flag.StringVar(&o.profileDir, "profile", "", "write CPU profiles of the sibyl and sibyl-market targets' servers to `DIR` (one per configuration and run)")
	flag.StringVar(&o.memProfileDir, "memprofile", "", "write allocation profiles of the sibyl target's server to `DIR` (one per configuration and run)")
	flag.StringVar(&o.out, "out", "", "also write the Markdown report to `FILE`")
	flag.StringVar(&o.jsonOut, "json", "", "write every run's raw numbers as JSON to `FILE`")
	flag.BoolVar(&o.slow, "slow", true, "run the slow-tool check")
	flag.Parse()
	for _, c := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 || n > maxSlots-16 {
			return fmt.Errorf("-clients: bad number %q", c)
		}
		o.clients = append(o.clients, n)
	}
	o.targets = splitList(targets)
	o.transports = splitList(transports)
	for _, tr := range o.transports {
		if tr != "stdio" && tr != "http" {
			return fmt.Errorf("-transports: unknown %q", tr)
		}
	}

	binDir, err := os.MkdirTemp("", "mcpbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)
	all, err := buildTargets(o, binDir)
	if err != nil {
		return err
	}
	var ts []*target
	for _, name := range o.targets {
		t, ok := all[name]
		if !ok {
			return fmt.Errorf("-targets: unknown %q", name)
		}
		ts = append(ts, t)
	}
	for _, d := range []string{o.profileDir, o.memProfileDir} {
		if d != "" {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
	}

	ctx := context.Background()
	rep := report{started: time.Now().UTC(), loadBefore: loadAvg(), opts: o}
	// Interleave the runs so that a burst of load from elsewhere on the machine
	// touches one run of many configurations rather than every run of one, and
	// measure the servers of one configuration back to back so that they see
	// about the same load.
	for r := 1; r <= o.runs; r++ {
		for _, tr := range o.transports {
			for _, n := range o.clients {
				for _, t := range ts {
					res, err := measure(ctx, t, tr, n, r, o, binDir)
					if err != nil {
						return fmt.Errorf("%s %s %d clients run %d: %w", t.name, tr, n, r, err)
					}
					fmt.Fprintf(os.Stderr, "run %d %-12s %-5s c=%-3d %9.0f req/s  p50 %-9v p99 %-9v cpu/call %-9v rss %5.1f MiB  err %d  load %s\n",
						r, t.name, tr, n, res.RPS, res.P50, res.P99, res.ServerCPUPerCall, float64(res.PeakRSS)/(1<<20), res.Errors, res.Load)
					rep.runs = append(rep.runs, res)
				}
			}
		}
	}
	if o.slow {
		for _, t := range ts {
			if !t.slow {
				continue
			}
			for _, tr := range o.transports {
				for r := 1; r <= o.runs; r++ {
					sr, err := slowCheck(ctx, t, tr, binDir)
					if err != nil {
						return fmt.Errorf("slow check %s %s: %w", t.name, tr, err)
					}
					sr.Run = r
					fmt.Fprintf(os.Stderr, "slow %d %-8s %-5s ping max %v  fast tool max %v  8 slow calls done after %v  load %s\n",
						r, t.name, tr, sr.PingMax, sr.FastMax, sr.SlowDone, loadAvg())
					rep.slow = append(rep.slow, sr)
				}
			}
		}
	}
	rep.loadAfter = loadAvg()
	rep.finished = time.Now().UTC()

	md := rep.markdown()
	fmt.Print(md)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(map[string]any{"runs": rep.runs, "slow": rep.slow}, "", "  ")
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// target is a server under test and the tool call measured on it.
type target struct {
	name    string
	bin     string
	args    func(dataDir string) []string
	tool    string
	profile bool // takes --cpuprofile FILE
	slow    bool // has test_slow
	dataDir bool // needs a fresh data directory
	// params returns the tools/call params, after any look-up it needs.
	params func(ctx context.Context, c caller) ([]byte, error)
	// check validates a tools/call result.
	check func(result []byte) bool
}

var simpleParams = []byte(`{"name":"test_simple_text","arguments":{}}`)

func checkSimple(result []byte) bool {
	return bytes.Contains(result, []byte(simpleText)) && !isToolError(result)
}

func buildTargets(o options, binDir string) (map[string]*target, error) {
	build := func(dir, pkg, out string) (string, error) {
		path := filepath.Join(binDir, out)
		cmd := exec.Command("go", "build", "-o", path, pkg)
		cmd.Dir = dir
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("building %s in %s: %w", pkg, dir, err)
		}
		return path, nil
	}
	need := map[string]bool{}
	for _, t := range o.targets {
		need[t] = true
	}
	all := map[string]*target{}
	simple := func(name, pkg, bin string, profile bool) error {
		if !need[name] {
			return nil
		}
		path, err := build(o.benchDir, pkg, bin)
		if err != nil {
			return err
		}
		all[name] = &target{
			name: name, bin: path, tool: "test_simple_text", profile: profile, slow: true,
			args:   func(string) []string { return nil },
			params: func(context.Context, caller) ([]byte, error) { return simpleParams, nil },
			check:  checkSimple,
		}
		return nil
	}
	if err := simple("sibyl", "./servers/sibyl", "sibyl-bench", true); err != nil {
		return nil, err
	}
	if err := simple("go-sdk", "./servers/gosdk", "gosdk-bench", false); err != nil {
		return nil, err
	}
	if err := simple("mcp-go", "./servers/mcpgo", "mcpgo-bench", false); err != nil {
		return nil, err
	}
	if need["sibyl-market"] {
		path, err := build(o.benchDir, "./servers/sibylmarket", "sibylmarket-bench")
		if err != nil {
			return nil, err
		}
		all["sibyl-market"] = &target{
			name: "sibyl-market", bin: path, tool: "get_market", dataDir: true, profile: true,
			args:   func(dataDir string) []string { return []string{"--data-dir", dataDir} },
			params: getMarketParams,
			check:  checkGetMarket,
		}
	}
	if need["sibyl-serve"] {
		path, err := build(o.sibylRoot, "./cmd/sibyl", "sibyl")
		if err != nil {
			return nil, err
		}
		all["sibyl-serve"] = &target{
			name: "sibyl serve", bin: path, tool: "get_market", dataDir: true,
			args:   func(dataDir string) []string { return []string{"serve", "--data-dir", dataDir} },
			params: getMarketParams,
			check:  checkGetMarket,
		}
	}
	return all, nil
}

func checkGetMarket(result []byte) bool {
	return !isToolError(result) && bytes.Contains(result, []byte(`"content":[`))
}

var marketIDRE = regexp.MustCompile(`"id":\s*"(paper:[^"\\]+)"`)

// getMarketParams picks the first market search_markets lists.
func getMarketParams(ctx context.Context, c caller) ([]byte, error) {
	r, err := c.call(ctx, "tools/call", []byte(`{"name":"search_markets","arguments":{}}`))
	if err != nil {
		return nil, fmt.Errorf("search_markets: %w", err)
	}
	if err := r.err(); err != nil {
		return nil, fmt.Errorf("search_markets: %w", err)
	}
	m := marketIDRE.FindSubmatch(r.Result)
	if m == nil {
		return nil, fmt.Errorf("search_markets listed no paper market: %.300s", r.Result)
	}
	args, _ := json.Marshal(map[string]any{"name": "get_market", "arguments": map[string]string{"market": string(m[1])}})
	return args, nil
}

// result is one run of one configuration.
type result struct {
	Target           string
	Transport        string
	Clients          int
	Tool             string
	Run              int
	Calls            int
	Elapsed          time.Duration
	RPS              float64
	P50, P99         time.Duration
	ServerCPUPerCall time.Duration
	ServerSysShare   float64 // system time / (user + system time) of the server
	ClientCPUPerCall time.Duration
	PeakRSS          int64
	Errors           int64
	FirstError       string `json:",omitempty"`
	Load             string
}

// session opens the callers of one configuration on a running server.
func openCallers(ctx context.Context, srv *server, transport string, n int) ([]caller, func(), error) {
	if transport == "stdio" {
		conn := newStdioConn(srv.stdin, srv.stdout)
		cs := make([]caller, n)
		for i := range cs {
			cs[i] = conn.caller(i)
		}
		if err := handshake(ctx, cs[0]); err != nil {
			return nil, nil, fmt.Errorf("%w (stderr: %.500s)", err, srv.stderr)
		}
		return cs, func() {}, nil
	}
	tr := newHTTPTransport()
	client := &http.Client{Transport: tr}
	url := "http://" + srv.addr + "/mcp"
	cs := make([]caller, n)
	sessions := make([]*httpSession, n)
	for i := range cs {
		s := &httpSession{client: client, url: url}
		if err := handshake(ctx, s); err != nil {
			return nil, nil, fmt.Errorf("session %d: %w (stderr: %.500s)", i, err, srv.stderr)
		}
		cs[i], sessions[i] = s, s
	}
	return cs, func() {
		for _, s := range sessions {
			s.closeSession()
		}
		tr.CloseIdleConnections()
	}, nil
}

func measure(ctx context.Context, t *target, transport string, clients, runNo int, o options, binDir string) (result, error) {
	res := result{Target: t.name, Transport: transport, Clients: clients, Tool: t.tool, Run: runNo}
	ctx, cancel := context.WithTimeout(ctx, o.warmup+o.duration+60*time.Second)
	defer cancel()

	var dataDir string
	if t.dataDir {
		d, err := os.MkdirTemp(binDir, "data-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(d)
		dataDir = d
	}
	args := t.args(dataDir)
	for _, p := range []struct{ dir, flag string }{{o.profileDir, "--cpuprofile"}, {o.memProfileDir, "--memprofile"}} {
		if !t.profile || p.dir == "" {
			continue
		}
		f, err := filepath.Abs(filepath.Join(p.dir, fmt.Sprintf("%s-%s-c%d-r%d.pprof", strings.ReplaceAll(t.name, " ", "-"), transport, clients, runNo)))
		if err != nil {
			return res, err
		}
		args = append(args, p.flag, f)
	}
	srv, err := startServer(ctx, t.bin, args, transport == "http", binDir)
	if err != nil {
		return res, err
	}
	defer srv.stop()
	callers, closeAll, err := openCallers(ctx, srv, transport, clients)
	if err != nil {
		return res, err
	}
	defer closeAll()
	params, err := t.params(ctx, callers[0])
	if err != nil {
		return res, err
	}
	// One checked call before the clock starts.
	r, err := callers[0].call(ctx, "tools/call", params)
	if err != nil {
		return res, fmt.Errorf("first tools/call: %w", err)
	}
	if err := r.err(); err != nil || !t.check(r.Result) {
		return res, fmt.Errorf("first tools/call: unexpected answer %v %.300s", err, r.Result)
	}

	var phase atomic.Int32 // 0 warm-up, 1 measuring, 2 stopping
	var errs atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	for i, c := range callers {
		lat[i] = make([]time.Duration, 0, 1<<14)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for phase.Load() != 2 {
				t0 := time.Now()
				r, err := c.call(ctx, "tools/call", params)
				d := time.Since(t0)
				if err == nil {
					err = r.err()
					if err == nil && !t.check(r.Result) {
						err = fmt.Errorf("unexpected result %.200s", r.Result)
					}
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					if ctx.Err() != nil {
						return
					}
					continue
				}
				if phase.Load() == 1 {
					lat[i] = append(lat[i], d)
				}
			}
		}()
	}
	pid := srv.cmd.Process.Pid
	time.Sleep(o.warmup)
	user0, sys0, err := cpuTime(pid)
	if err != nil {
		return res, err
	}
	selfUser0, selfSys0, _ := cpuTime(os.Getpid())
	start := time.Now()
	phase.Store(1)
	time.Sleep(o.duration)
	phase.Store(2)
	res.Elapsed = time.Since(start)
	user1, sys1, err := cpuTime(pid)
	if err != nil {
		return res, err
	}
	selfUser1, selfSys1, _ := cpuTime(os.Getpid())
	res.Load = loadAvg()
	wg.Wait()
	if res.PeakRSS, err = peakRSS(pid); err != nil {
		return res, err
	}

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	res.Calls = len(all)
	res.Errors = errs.Load()
	if v := firstErr.Load(); v != nil {
		res.FirstError = v.(string)
	}
	if res.Calls == 0 {
		return res, fmt.Errorf("no call completed: %s", res.FirstError)
	}
	res.RPS = float64(res.Calls) / res.Elapsed.Seconds()
	res.P50 = all[len(all)*50/100]
	res.P99 = all[min(len(all)*99/100, len(all)-1)]
	cpu := (user1 - user0) + (sys1 - sys0)
	res.ServerCPUPerCall = cpu / time.Duration(res.Calls)
	if cpu > 0 {
		res.ServerSysShare = float64(sys1-sys0) / float64(cpu)
	}
	res.ClientCPUPerCall = ((selfUser1 - selfUser0) + (selfSys1 - selfSys0)) / time.Duration(res.Calls)
	return res, nil
}

// slowResult is the slow-tool check on one server and transport.
type slowResult struct {
	Target, Transport string
	Run               int
	Slow              int           // test_slow calls in flight (2 s each)
	PingMax, PingP50  time.Duration // ping latency while they run
	FastMax, FastP50  time.Duration // test_simple_text latency while they run
	SlowDone          time.Duration // until the last test_slow answered
	SlowErrors        int
}

// slowCheck starts 8 calls of test_slow (2 s each), and while they are in
// flight measures 20 pings and 20 calls of test_simple_text on the same
// session. A server that runs requests concurrently answers those in well under
// 50 ms and all the slow calls after about 2 s.
func slowCheck(ctx context.Context, t *target, transport, binDir string) (slowResult, error) {
	const nSlow, nProbe = 8, 20
	sr := slowResult{Target: t.name, Transport: transport, Slow: nSlow}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	srv, err := startServer(ctx, t.bin, t.args(""), transport == "http", binDir)
	if err != nil {
		return sr, err
	}
	defer srv.stop()

	// Callers on one session: stdio slots of one connection, or HTTP requests
	// carrying the same Mcp-Session-Id.
	var mk func(i int) caller
	var closeAll func()
	if transport == "stdio" {
		conn := newStdioConn(srv.stdin, srv.stdout)
		mk = conn.caller
		closeAll = func() {}
	} else {
		tr := newHTTPTransport()
		base := &httpSession{client: &http.Client{Transport: tr}, url: "http://" + srv.addr + "/mcp"}
		mk = func(i int) caller {
			if i == 0 {
				return base
			}
			// Ids must differ between requests in flight on one session.
			return &httpSession{client: base.client, url: base.url, sid: base.sid, inited: base.inited, seq: int64(i) << 32}
		}
		closeAll = func() { base.closeSession(); tr.CloseIdleConnections() }
	}
	defer closeAll()
	if err := handshake(ctx, mk(0)); err != nil {
		return sr, err
	}

	var wg sync.WaitGroup
	var slowErrs atomic.Int32
	start := time.Now()
	var lastDone atomic.Int64
	for i := 1; i <= nSlow; i++ {
		c := mk(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.call(ctx, "tools/call", []byte(`{"name":"test_slow","arguments":{}}`))
			if err == nil {
				err = r.err()
			}
			if err != nil || isToolError(r.Result) {
				slowErrs.Add(1)
			}
			d := int64(time.Since(start))
			for {
				old := lastDone.Load()
				if d <= old || lastDone.CompareAndSwap(old, d) {
					break
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	ping, fast := mk(nSlow+1), mk(nSlow+2)
	var pings, fasts []time.Duration
	for range nProbe {
		t0 := time.Now()
		r, err := ping.call(ctx, "ping", nil)
		if err != nil {
			return sr, fmt.Errorf("ping: %w", err)
		}
		if err := r.err(); err != nil {
			return sr, fmt.Errorf("ping: %w", err)
		}
		pings = append(pings, time.Since(t0))
		t0 = time.Now()
		r, err = fast.call(ctx, "tools/call", simpleParams)
		if err != nil {
			return sr, fmt.Errorf("test_simple_text: %w", err)
		}
		if err := r.err(); err != nil || !checkSimple(r.Result) {
			return sr, fmt.Errorf("test_simple_text: %v %.200s", err, r.Result)
		}
		fasts = append(fasts, time.Since(t0))
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	slices.Sort(pings)
	slices.Sort(fasts)
	sr.PingMax, sr.PingP50 = pings[len(pings)-1], pings[len(pings)/2]
	sr.FastMax, sr.FastP50 = fasts[len(fasts)-1], fasts[len(fasts)/2]
	sr.SlowDone = time.Duration(lastDone.Load())
	sr.SlowErrors = int(slowErrs.Load())
	return sr, nil
}

// report renders the Markdown report.
type report struct {
	opts                  options
	started, finished     time.Time
	loadBefore, loadAfter string
	runs                  []result
	slow                  []slowResult
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func medianDur(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func medianF(fs []float64) float64 {
	slices.Sort(fs)
	return fs[len(fs)/2]
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d >= 999500*time.Nanosecond: // so that 999.7 µs prints as 1.00 ms
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	}
}

func (rep *report) markdown() string {
	var b strings.Builder
	o := rep.opts
	fmt.Fprintf(&b, "Machine: %d CPUs (nproc), %s, %s/%s, %s. Started %s, finished %s. /proc/loadavg (1, 5, 15 min) before: %s, after: %s.\n\n",
		runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.Version(),
		rep.started.Format("2006-01-02 15:04 UTC"), rep.finished.Format("15:04 UTC"), rep.loadBefore, rep.loadAfter)
	fmt.Fprintf(&b, "Each configuration: %v warm-up, %v measured, %d runs interleaved; every number is the median of the runs (min–max of req/s and CPU/call in brackets). Server CPU/call = (utime+stime of the server process over the measured window) / calls, and sys %% the stime share of it; client CPU/call is the load generator's own. Peak RSS = the server's VmHWM.\n\n",
		o.warmup, o.duration, o.runs)
	b.WriteString("| server | tool | transport | clients | req/s | p50 | p99 | server CPU/call | server sys % | client CPU/call | peak RSS | errors |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	type key struct {
		target, transport string
		clients           int
	}
	var order []key
	groups := map[key][]result{}
	for _, r := range rep.runs {
		k := key{r.Target, r.Transport, r.Clients}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	// Rows grouped by transport and clients, so the servers compare line by line.
	slices.SortStableFunc(order, func(a, b key) int {
		if a.transport != b.transport {
			return strings.Compare(b.transport, a.transport) // stdio first
		}
		return a.clients - b.clients
	})
	for _, k := range order {
		rs := groups[k]
		var rps []float64
		var p50, p99, scpu, ccpu []time.Duration
		var rss, sys []float64
		var errs int64
		for _, r := range rs {
			rps = append(rps, r.RPS)
			p50 = append(p50, r.P50)
			p99 = append(p99, r.P99)
			scpu = append(scpu, r.ServerCPUPerCall)
			ccpu = append(ccpu, r.ClientCPUPerCall)
			rss = append(rss, float64(r.PeakRSS)/(1<<20))
			sys = append(sys, 100*r.ServerSysShare)
			errs += r.Errors
		}
		rpsMin, rpsMax := slices.Min(rps), slices.Max(rps)
		cpuMin, cpuMax := slices.Min(scpu), slices.Max(scpu)
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %.0f (%.0f–%.0f) | %s | %s | %s (%s–%s) | %.0f%% | %s | %.1f MiB | %d |\n",
			k.target, rs[0].Tool, k.transport, k.clients,
			medianF(rps), rpsMin, rpsMax, fmtDur(medianDur(p50)), fmtDur(medianDur(p99)),
			fmtDur(medianDur(scpu)), fmtDur(cpuMin), fmtDur(cpuMax), medianF(sys), fmtDur(medianDur(ccpu)),
			medianF(rss), errs)
	}
	if len(rep.slow) > 0 {
		b.WriteString("\nSlow tool: 8 calls of `test_slow` (sleeps 2 s) in flight on one session, then 20 pings and 20 calls of `test_simple_text` on the same session, 50 ms apart; medians of the runs (worst run in brackets):\n\n")
		b.WriteString("| server | transport | ping p50 | ping max | test_simple_text p50 | test_simple_text max | last of the 8 slow calls answered after | slow-call errors |\n")
		b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|\n")
		type key struct{ target, transport string }
		var order []key
		groups := map[key][]slowResult{}
		for _, s := range rep.slow {
			k := key{s.Target, s.Transport}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], s)
		}
		for _, k := range order {
			var pp, pm, fp, fm, sd []time.Duration
			errs := 0
			for _, s := range groups[k] {
				pp, pm, fp, fm, sd = append(pp, s.PingP50), append(pm, s.PingMax), append(fp, s.FastP50), append(fm, s.FastMax), append(sd, s.SlowDone)
				errs += s.SlowErrors
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s (%s) | %s | %s (%s) | %.2f s (%.2f s) | %d |\n", k.target, k.transport,
				fmtDur(medianDur(pp)), fmtDur(medianDur(pm)), fmtDur(slices.Max(pm)),
				fmtDur(medianDur(fp)), fmtDur(medianDur(fm)), fmtDur(slices.Max(fm)),
				medianDur(sd).Seconds(), slices.Max(sd).Seconds(), errs)
		}
	}
	return b.String()
}
