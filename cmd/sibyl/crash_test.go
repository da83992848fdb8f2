package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sibylmcp/sibyl/orders"
)

// The crash harness: `sibyl serve --http` as a subprocess on one data dir, with
// SIBYL_TEST_CRASH armed (the process exits with status 137 right after the
// claim, the send or the completion of an order, with a small probability) and
// a killer that also SIGKILLs it at random moments. It is restarted on the same
// data dir after every death. Concurrent workers place orders under distinct
// keys and retry every call that was not acknowledged, with the SAME key and
// arguments, against whichever server is up. At the end (a server without
// crash hooks) every key's order must exist exactly once at the venue, every
// acknowledged order id must be found, and the audit chain must verify.

const (
	// crashSpec arms the hooks lightly enough that the killer's SIGKILLs (at
	// any point, not only at a hook) make a good share of the deaths.
	crashSpec    = "after-claim:0.01,after-send:0.01,after-complete:0.01"
	crashWorkers = 8
	// crashOutstanding bounds the keys without a final answer: a key stranded
	// by a death stays pending until a later server recovers it (at once when
	// serve runs its order service as the file's sole owner; else when its 30s
	// lease ends).
	crashOutstanding = 256
	crashPrincipal   = "anonymous" // HTTP without authentication
)

var (
	crashKillsFlag = flag.Int("crash.kills", 0, "crash harness: server deaths to reach (default 200, 30 with -short)")
	crashCapFlag   = flag.Duration("crash.cap", 0, "crash harness: longest chaos phase (default 480s, 60s with -short; 200 deaths take about 45s on an idle 2-core machine); fewer deaths by then fail the test")
)

// crashKey is one intended order and what its callers heard.
type crashKey struct {
	idx  int
	key  string
	kind string
	args map[string]any
	coid string

	// guarded by crashHarness.mu
	attempts int
	orderIDs []string
	fresh    int // answers with replayed=false
	rejected string
	done     bool
	busy     bool
	nextTry  time.Time
	deferred bool // got at least one not-acknowledged attempt
	failures int  // attempts without a final answer
	history  []string
}

// note adds an event to k's history (for failure reports). Call with h.mu held.
func (k *crashKey) note(format string, args ...any) {
	if len(k.history) < 40 {
		k.history = append(k.history, fmt.Sprintf(format, args...))
	}
}

type crashHarness struct {
	t       *testing.T
	dir     string
	hc      *http.Client
	markets []ctMarket

	mu       sync.Mutex
	keys     []*crashKey
	open     int // keys without a final answer
	newKeys  bool
	retries  map[string]int
	finals   map[string]int // final answers by code ("ok" for an order)
	problems []string       // unexpected answers

	srvMu   sync.Mutex
	srv     *serverProc
	gen     int
	changed chan struct{}

	killsInjected map[string]int // by crash point
	killsSignal   int
	launches      int
	launchTime    time.Duration // total time from exec to banner
	injectedTotal atomic.Int64
	signalTotal   atomic.Int64
}

func (h *crashHarness) problem(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.problems) < 50 {
		h.problems = append(h.problems, fmt.Sprintf(format, args...))
	}
}

// publish makes p the current server (nil: none is up).
func (h *crashHarness) publish(p *serverProc) {
	h.srvMu.Lock()
	h.srv = p
	if p != nil {
		h.gen++ // the number of servers started so far
	}
	close(h.changed)
	h.changed = make(chan struct{})
	h.srvMu.Unlock()
}

// current returns the server that is up, waiting for one.
func (h *crashHarness) current(ctx context.Context) (*serverProc, int, error) {
	for {
		h.srvMu.Lock()
		p, gen, ch := h.srv, h.gen, h.changed
		h.srvMu.Unlock()
		if p != nil {
			return p, gen, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}

// argsFor returns key i's order. Keys differ in their arguments (so that no
// order looks like a made-up-key retry of another, possible_duplicate) except
// where allow_duplicate says the duplicate is meant.
func (h *crashHarness) argsFor(i int) (kind string, args map[string]any) {
	m := h.markets
	s := i / 10
	switch r := i % 10; {
	case r < 6: // a bid far under the market: it rests
		j := s*6 + r
		args = map[string]any{
			"market": m[(j/400)%len(m)].ID, "outcome": []string{"Yes", "No"}[(j/200)%2], "side": "buy",
			"quantity": 1 + j%40, "limit_price": 0.01 * float64(1+(j/40)%5),
		}
		if j >= 400*len(m) {
			args["allow_duplicate"] = true
		}
		kind = "resting"
	case r < 9: // marketable: it trades at once
		args = map[string]any{"market": m[s%len(m)].ID, "outcome": "Yes", "side": "buy", "quantity": 1 + s%2, "allow_duplicate": true}
		switch s % 3 {
		case 0: // market order (ioc)
		case 1:
			args["limit_price"], args["time_in_force"] = 0.99, "ioc"
		case 2:
			args["limit_price"], args["time_in_force"] = 0.99, "fok"
		}
		kind = "marketable"
	default: // refused by the venue, deterministically
		if s%2 == 0 {
			args = map[string]any{"market": m[s%len(m)].ID, "outcome": "No", "side": "sell", "quantity": 100000 + s, "limit_price": 0.5}
			kind = "reject-sell"
		} else {
			args = map[string]any{"market": m[s%len(m)].ID, "outcome": "Yes", "side": "buy", "quantity": 500000 + s, "limit_price": 0.5}
			kind = "reject-funds"
		}
	}
	args["idempotency_key"] = fmt.Sprintf("crash-key-%06d", i)
	return kind, args
}

// nextJob returns a key to call: a due retry first, else a new key.
func (h *crashHarness) nextJob() (*crashKey, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	var best *crashKey
	for _, k := range h.keys {
		if k.done || k.busy || now.Before(k.nextTry) {
			continue
		}
		if best == nil || k.nextTry.Before(best.nextTry) {
			best = k
		}
	}
	if best != nil {
		best.busy = true
		return best, true
	}
	if h.newKeys && h.open < crashOutstanding {
		i := len(h.keys)
		kind, args := h.argsFor(i)
		k := &crashKey{idx: i, key: args["idempotency_key"].(string), kind: kind, args: args,
			coid: orders.ClientOrderID(crashPrincipal, "place_order", args["idempotency_key"].(string)), busy: true}
		h.keys = append(h.keys, k)
		h.open++
		return k, true
	}
	return nil, h.open > 0 || h.newKeys
}

// settle records the result of one attempt at k, made on server generation gen.
func (h *crashHarness) settle(k *crashKey, gen int, a toolAnswer, callErr error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k.busy = false
	k.attempts++
	if callErr != nil {
		k.note("server %d: no answer: %.80v", gen, callErr)
	} else if a.IsError {
		k.note("server %d: %s", gen, a.Code)
	}
	retry := func(reason string, after time.Duration) {
		// Back off per key: a key stranded by a death (its claim pending with
		// a live lease) may hang every attempt until it is recovered, and must
		// not keep the workers from new keys.
		h.retries[reason]++
		k.deferred = true
		k.failures++
		after = max(after, min(25*time.Millisecond<<min(k.failures, 10), 5*time.Second))
		k.nextTry = time.Now().Add(after)
	}
	switch {
	case callErr != nil:
		var re *rpcError
		if errors.As(callErr, &re) {
			retry(fmt.Sprintf("jsonrpc-%d", re.Code), 50*time.Millisecond)
			if len(h.problems) < 50 {
				h.problems = append(h.problems, fmt.Sprintf("key %s: JSON-RPC error %v", k.key, re))
			}
			return
		}
		retry("transport", 20*time.Millisecond)
	case a.IsError && a.Retryable:
		d := 10 * time.Millisecond
		if a.Code == "in_progress" {
			d = 500 * time.Millisecond // a stranded claim: its lease runs 30s
		}
		retry(a.Code, d)
	case a.IsError && a.Code == "internal":
		// Not a deterministic answer: the outcome is unknown. Retry, and report.
		retry("internal", 100*time.Millisecond)
		if len(h.problems) < 50 {
			h.problems = append(h.problems, fmt.Sprintf("key %s: internal error: %s", k.key, a.Message))
		}
	case a.IsError:
		switch a.Code {
		case "idempotency_key_reused", "possible_duplicate":
			// Every key is sent with the same arguments every time, and no
			// two keys share arguments without allow_duplicate.
			if len(h.problems) < 50 {
				h.problems = append(h.problems, fmt.Sprintf("key %s (%s): unexpected %s: %s", k.key, k.kind, a.Code, a.Message))
			}
		}
		if k.done && k.rejected != a.Code {
			h.problems = append(h.problems, fmt.Sprintf("key %s: refused with %s after %q", k.key, a.Code, k.rejected))
		}
		if len(k.orderIDs) > 0 {
			h.problems = append(h.problems, fmt.Sprintf("key %s: refused with %s after order %s", k.key, a.Code, k.orderIDs[0]))
		}
		if !k.done {
			h.open--
			h.finals[a.Code]++
		}
		k.rejected, k.done = a.Code, true
	default:
		var o ctOrder
		if err := a.decode(&o); err != nil || o.OrderID == "" {
			retry("undecodable", 10*time.Millisecond)
			h.problems = append(h.problems, fmt.Sprintf("key %s: undecodable answer %v: %v", k.key, a, err))
			return
		}
		if o.ClientOrderID != k.coid {
			h.problems = append(h.problems, fmt.Sprintf("key %s: client_order_id %s, want %s", k.key, o.ClientOrderID, k.coid))
		}
		found := false
		for _, id := range k.orderIDs {
			found = found || id == o.OrderID
		}
		if !found {
			k.orderIDs = append(k.orderIDs, o.OrderID)
		}
		if !o.Replayed {
			k.fresh++
		}
		k.note("server %d: order %s replayed=%v", gen, o.OrderID, o.Replayed)
		if !k.done {
			h.open--
			h.finals["ok"]++
		}
		k.done = true
	}
}

// worker calls keys until the harness runs out of work or ctx ends.
func (h *crashHarness) worker(ctx context.Context) {
	var sess *rawHTTPSession
	sessGen := -1
	for ctx.Err() == nil {
		k, more := h.nextJob()
		if k == nil {
			if !more {
				return
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		p, gen, err := h.current(ctx)
		if err != nil {
			h.release(k)
			return
		}
		if sess == nil || sessGen != gen {
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			sess, err = dialRawHTTP(dctx, h.hc, p.endpoint)
			cancel()
			if err != nil {
				sess = nil
				h.mu.Lock()
				h.retries["dial"]++
				h.mu.Unlock()
				h.release(k)
				time.Sleep(5 * time.Millisecond)
				continue
			}
			sessGen = gen
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		a, err := sess.callTool(cctx, "place_order", k.args)
		cancel()
		if err != nil {
			sess = nil // the server may be gone; a new one needs a new session
		}
		h.settle(k, gen, a, err)
	}
}

func (h *crashHarness) release(k *crashKey) {
	h.mu.Lock()
	k.busy = false
	h.mu.Unlock()
}

var crashPointRE = regexp.MustCompile(`SIBYL_TEST_CRASH: exiting at (after-[a-z]+)`)

// supervise runs servers on the data dir until stop is closed: each one with
// the crash hooks armed, killed with SIGKILL after a random 20-200ms unless it
// exits at a hook first. It returns the first unexpected exit.
func (h *crashHarness) supervise(stop <-chan struct{}, rng *rand.Rand) error {
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		t0 := time.Now()
		// Every fourth server runs without the crash hooks, so it dies only by
		// the killer's SIGKILL: on a loaded machine, where a server answers
		// slowly and a hook fires before the random delay runs out, the
		// SIGKILL deaths would otherwise be too few for the check below.
		env := []string{"SIBYL_TEST_CRASH=" + crashSpec}
		if h.launches%4 == 3 {
			env = nil
		}
		p, err := launchHTTPServer(h.dir, env)
		if err != nil {
			return err
		}
		h.launches++
		h.launchTime += time.Since(t0)
		h.publish(p)
		delay := time.Duration(20+rng.IntN(181)) * time.Millisecond
		timer := time.NewTimer(delay)
		select {
		case <-p.exited:
		case <-timer.C:
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
		}
		timer.Stop()
		h.publish(nil)
		ws, _ := p.state.Sys().(syscall.WaitStatus)
		switch {
		case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
			h.killsSignal++
			h.signalTotal.Add(1)
		case ws.Exited() && ws.ExitStatus() == 137:
			m := crashPointRE.FindStringSubmatch(p.stderr.String())
			if m == nil {
				return fmt.Errorf("sibyl serve exited with 137 without naming a crash point; stderr:\n%s", p.stderr)
			}
			h.killsInjected[m[1]]++
			h.injectedTotal.Add(1)
		default:
			return fmt.Errorf("sibyl serve exited unexpectedly (%v); stderr:\n%s", p.state, p.stderr)
		}
	}
}

func (h *crashHarness) kills() int { return int(h.injectedTotal.Load() + h.signalTotal.Load()) }

// TestCrashHarness is the crash harness described at the top of this file,
// followed by the audit tamper check on the data it leaves.
func TestCrashHarness(t *testing.T) {
	wantKills, chaosCap := 200, 480*time.Second
	if testing.Short() {
		wantKills, chaosCap = 30, 60*time.Second
	}
	if *crashKillsFlag > 0 {
		wantKills = *crashKillsFlag
	}
	if *crashCapFlag > 0 {
		chaosCap = *crashCapFlag
	}
	ctx, cancel := context.WithTimeout(context.Background(), chaosCap+150*time.Second)
	defer cancel()
	began := time.Now()
	h := &crashHarness{t: t, dir: t.TempDir(), hc: newCTHTTPClient(), retries: map[string]int{}, finals: map[string]int{},
		changed: make(chan struct{}), killsInjected: map[string]int{}}
	defer h.hc.CloseIdleConnections()

	// Markets, from a server without crash hooks.
	{
		p := mustLaunchHTTP(t, h.dir, nil)
		s, err := dialRawHTTP(ctx, h.hc, p.endpoint)
		if err != nil {
			t.Fatal(err)
		}
		if h.markets, err = findOpenMarkets(ctx, s, 4); err != nil {
			t.Fatal(err)
		}
		if err := p.stop(15 * time.Second); err != nil {
			t.Fatal(err)
		}
	}

	// Chaos: workers place orders while servers die.
	h.newKeys = true
	stop := make(chan struct{})
	var stopOnce sync.Once
	stopChaos := func() { stopOnce.Do(func() { close(stop) }) }
	supErr := make(chan error, 1)
	supDone := make(chan struct{})
	t.Cleanup(func() {
		// On an early exit: no more servers, and none left running.
		stopChaos()
		<-supDone
		h.srvMu.Lock()
		if h.srv != nil {
			h.srv.kill()
		}
		h.srvMu.Unlock()
	})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	go func() { defer close(supDone); supErr <- h.supervise(stop, rng) }()
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	var wg sync.WaitGroup
	for range crashWorkers {
		wg.Add(1)
		go func() { defer wg.Done(); h.worker(wctx) }()
	}
	chaosStart := time.Now()
	deadline := time.NewTimer(chaosCap)
	tick := time.NewTicker(20 * time.Millisecond)
	var chaosErr error
chaos:
	for {
		select {
		case chaosErr = <-supErr:
			break chaos
		case <-deadline.C:
			break chaos
		case <-tick.C:
			if h.kills() >= wantKills {
				break chaos
			}
		}
	}
	tick.Stop()
	deadline.Stop()
	h.mu.Lock()
	h.newKeys = false
	h.mu.Unlock()
	stopChaos()
	if chaosErr == nil {
		chaosErr = <-supErr
	}
	chaosDur := time.Since(chaosStart)
	if chaosErr != nil {
		wcancel()
		wg.Wait()
		t.Fatal(chaosErr)
	}
	if inj, sig := int(h.injectedTotal.Load()), int(h.signalTotal.Load()); inj < wantKills/20 || sig < wantKills/20 {
		t.Errorf("deaths: %d at injected points, %d by SIGKILL; want at least %d of each", inj, sig, wantKills/20)
	}
	if k := h.kills(); k < wantKills {
		t.Errorf("got %d kills in %v, want at least %d (a slow or loaded machine starts servers slowly: see the average below; -crash.cap raises the limit)", k, chaosCap, wantKills)
	}

	// Drain: a server without crash hooks; the workers (and more, in case keys
	// stranded by a death answer in_progress until their lease ends) finish
	// every key.
	drainStart := time.Now()
	final := mustLaunchHTTP(t, h.dir, nil)
	h.publish(final)
	for range 56 {
		wg.Add(1)
		go func() { defer wg.Done(); h.worker(wctx) }()
	}
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(120 * time.Second):
		wcancel()
		<-drained
		t.Errorf("keys still without a final answer 120s after the last death")
	}
	drainDur := time.Since(drainStart)

	// Every key again, on the calm server: the same answer, now a replay.
	verifyStart := time.Now()
	h.srvMu.Lock()
	finalGen := h.gen
	h.srvMu.Unlock()
	replayed := h.replayAll(ctx, final.endpoint, finalGen)

	// What the venue holds against what callers were told.
	s, err := dialRawHTTP(ctx, h.hc, final.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	listed, err := listAllOrders(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	outcomes, rows := h.outcomes(), ordersToRows(listed)
	withOrder, problems := checkExactlyOnce(outcomes, rows)
	for _, p := range problems {
		t.Errorf("exactly-once: %s", p)
	}
	h.mu.Lock()
	for _, p := range h.problems {
		t.Errorf("unexpected answer: %s", p)
	}
	h.mu.Unlock()

	// The checker sees real orders: one placed under a key the harness does
	// not know must be reported.
	h.checkSanity(ctx, t, s, outcomes)

	// Audit: the chain through the tool, then the CLI on the stopped server.
	auditOutcomes := map[string]int{}
	{
		_, ok, problem, err := readAuditLog(ctx, s, "place_order")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Errorf("get_audit_log verify: chain_ok false: %s", problem)
		}
	}
	if err := final.stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if code, out, err := runSibyl(ctx, "audit", "verify", "--data-dir", h.dir); err != nil || code != 0 {
		t.Fatalf("sibyl audit verify after the crash run: exit %d, %v: %s", code, err, out)
	}
	stories := h.checkAuditExport(ctx, t, auditOutcomes)
	checkBoltFile(t, filepath.Join(h.dir, "sibyl.db"))
	verifyDur := time.Since(verifyStart)

	h.mu.Lock()
	kinds := map[string]int{}
	deferredKeys := 0
	for _, k := range h.keys {
		kinds[k.kind]++
		if k.deferred {
			deferredKeys++
		}
	}
	t.Logf("kills: %d (injected %d %v, SIGKILL %d) in %v of chaos; want >= %d; %d servers started, %v on average from exec to banner",
		h.kills(), h.injectedTotal.Load(), h.killsInjected, h.killsSignal, chaosDur.Round(time.Millisecond), wantKills, h.launches, (h.launchTime / time.Duration(max(h.launches, 1))).Round(time.Millisecond))
	t.Logf("keys: %d %v; final answers %v; orders at the venue %d (= keys with an order %d); keys retried after a lost or retryable answer %d", len(h.keys), kinds, h.finals, len(listed), withOrder, deferredKeys)
	freshTwice := 0
	for _, k := range h.keys {
		if k.fresh > 1 {
			freshTwice++
		}
	}
	t.Logf("retries by reason: %v; replays checked %d; keys answered replayed=false more than once %d", h.retries, replayed, freshTwice)
	t.Logf("audit outcomes (place_order): %v", auditOutcomes)
	t.Logf("durations: chaos %v, drain %v, verification %v, total %v", chaosDur.Round(time.Millisecond), drainDur.Round(time.Millisecond), verifyDur.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	h.mu.Unlock()

	// The tool promises replayed=true whenever no new order was placed: at
	// most one answer per key may say replayed=false.
	t.Run("ReplayedFalseAtMostOncePerKey", func(t *testing.T) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, k := range h.keys {
			if k.fresh > 1 {
				t.Errorf("key %s: %d answers say replayed=false (a new order placed by that call), all for order %v; answers: %s; audit: %s",
					k.key, k.fresh, k.orderIDs, strings.Join(k.history, "; "), strings.Join(stories[k.key], " "))
			}
		}
	})
	t.Run("AuditTamper", func(t *testing.T) { checkAuditTamper(ctx, t, h.dir) })
}

func ordersToRows(os []ctOrder) []venueOrderRow {
	rows := make([]venueOrderRow, len(os))
	for i, o := range os {
		rows[i] = venueOrderRow{OrderID: o.OrderID, ClientOrderID: o.ClientOrderID}
	}
	return rows
}

func (h *crashHarness) outcomes() []keyOutcome {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]keyOutcome, len(h.keys))
	for i, k := range h.keys {
		out[i] = keyOutcome{Key: k.key, ClientOrderID: k.coid, OrderIDs: append([]string(nil), k.orderIDs...), Rejected: k.rejected, Done: k.done}
	}
	return out
}

// replayAll calls every key once more on the calm server (generation gen) and
// checks the answer is the one its callers got: the same order, or the same
// refusal. The answers join the keys' records, so the replayed flags they carry
// are checked with the rest.
func (h *crashHarness) replayAll(ctx context.Context, endpoint string, gen int) int {
	t := h.t
	h.mu.Lock()
	keys := append([]*crashKey(nil), h.keys...)
	h.mu.Unlock()
	jobs := make(chan *crashKey)
	var n atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := dialRawHTTP(ctx, h.hc, endpoint)
			if err != nil {
				t.Error(err)
				for range jobs {
				}
				return
			}
			for k := range jobs {
				h.mu.Lock()
				orderIDs, rejected, done := append([]string(nil), k.orderIDs...), k.rejected, k.done
				h.mu.Unlock()
				// A key acknowledged by a server that died before its completion
				// reached the disk stays pending until it is recovered; with
				// leases, in_progress until then.
				var a toolAnswer
				var err error
				for {
					a, err = s.callTool(ctx, "place_order", k.args)
					if err != nil || !a.IsError || !a.Retryable {
						break
					}
					h.mu.Lock()
					h.retries["verify-"+a.Code]++
					k.note("server %d: %s", gen, a.Code)
					h.mu.Unlock()
					time.Sleep(200 * time.Millisecond)
				}
				if err != nil || !done {
					t.Errorf("replay of key %s: %v %v (done before: %v)", k.key, err, a, done)
					continue
				}
				n.Add(1)
				h.settle(k, gen, a, nil)
				if a.IsError {
					if a.Code != rejected {
						t.Errorf("replay of key %s: got %v, want the refusal %q or order %v its callers got", k.key, a, rejected, orderIDs)
					}
					continue
				}
				var o ctOrder
				if err := a.decode(&o); err != nil {
					t.Errorf("replay of key %s: %v", k.key, err)
					continue
				}
				if len(orderIDs) != 1 || o.OrderID != orderIDs[0] || o.ClientOrderID != k.coid {
					t.Errorf("replay of key %s: got order %s client id %s, want order %v client id %s (refusal before: %q)",
						k.key, o.OrderID, o.ClientOrderID, orderIDs, k.coid, rejected)
				}
			}
		}()
	}
	for _, k := range keys {
		jobs <- k
	}
	close(jobs)
	wg.Wait()
	return int(n.Load())
}

// checkSanity places one order under a key the harness never registered and
// makes sure the checker reports it as an order that belongs to no key.
func (h *crashHarness) checkSanity(ctx context.Context, t *testing.T, s *rawHTTPSession, outcomes []keyOutcome) {
	t.Helper()
	args := map[string]any{"market": h.markets[0].ID, "outcome": "Yes", "side": "buy", "quantity": 1, "limit_price": 0.01,
		"idempotency_key": "crash-sanity-unregistered", "allow_duplicate": true}
	a, err := s.callTool(ctx, "place_order", args)
	if err != nil || a.IsError {
		t.Fatalf("sanity order: %v %v", err, a)
	}
	listed, err := listAllOrders(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	_, problems := checkExactlyOnce(outcomes, ordersToRows(listed))
	if len(problems) != 2 || !strings.Contains(strings.Join(problems, "\n"), "belongs to no key") {
		t.Errorf("checker on the run plus one unregistered order: got %q, want the orphan order and the count reported", problems)
	}
}

// checkAuditExport reads the whole chain with `sibyl audit export --jsonl` and
// checks each key's story: one intent, exactly one completion (placed,
// reconciled or rejected), and no entry naming another order than the one its
// callers were told.
func (h *crashHarness) checkAuditExport(ctx context.Context, t *testing.T, counts map[string]int) map[string][]string {
	t.Helper()
	code, out, err := runSibylStdout(ctx, "audit", "export", "--jsonl", "--data-dir", h.dir)
	if err != nil || code != 0 {
		t.Fatalf("sibyl audit export: exit %d, %v: %.500s", code, err, out)
	}
	type story struct {
		intent, completions int
		orders              map[string]bool
		seq                 []string
	}
	stories := map[string]*story{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e ctAuditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit export line %.200q: %v", sc.Text(), err)
		}
		if e.Tool != "place_order" || !strings.HasPrefix(e.Key, "crash-key-") {
			continue
		}
		counts[e.Outcome]++
		st := stories[e.Key]
		if st == nil {
			st = &story{orders: map[string]bool{}}
			stories[e.Key] = st
		}
		st.seq = append(st.seq, fmt.Sprintf("%d:%s%s", e.Seq, e.Outcome, strings.Join(e.OrderIDs, ",")))
		switch e.Outcome {
		case "intent":
			st.intent++
		case "placed", "reconciled", "rejected":
			st.completions++
		}
		for _, id := range e.OrderIDs {
			st.orders[id] = true
		}
	}
	seqs := map[string][]string{}
	for k, st := range stories {
		seqs[k] = st.seq
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range h.keys {
		st := stories[k.key]
		if st == nil {
			t.Errorf("audit: no entry for key %s", k.key)
			continue
		}
		if st.intent != 1 || st.completions != 1 {
			t.Errorf("audit: key %s has %d intent and %d completion entries, want 1 and 1", k.key, st.intent, st.completions)
		}
		for id := range st.orders {
			if len(k.orderIDs) != 1 || id != k.orderIDs[0] {
				t.Errorf("audit: key %s names order %s, its callers were told %v", k.key, id, k.orderIDs)
			}
		}
	}
	return seqs
}

// checkBoltFile runs bbolt's consistency check over the data file.
func checkBoltFile(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() { // drain: Check's goroutine sends every problem
			if first == nil {
				first = err
			}
		}
		return first
	})
	if err != nil {
		t.Errorf("bbolt check of %s: %v", path, err)
	}
}

// checkAuditTamper flips one byte inside a few audit entries, one at a time,
// and expects `sibyl audit verify` to fail naming that entry; restored, it
// passes again.
func checkAuditTamper(ctx context.Context, t *testing.T, dir string) {
	path := filepath.Join(dir, "sibyl.db")
	var n uint64
	withAudit(t, path, func(b *bolt.Bucket) error {
		k, _ := b.Cursor().Last()
		if len(k) == 8 {
			n = binary.BigEndian.Uint64(k)
		}
		return nil
	}, false)
	if n < 10 {
		t.Fatalf("audit chain has %d entries, want a long one", n)
	}
	seqs := []uint64{1, n / 3, n / 2, n - 1, n}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for i, seq := range seqs {
		key := make([]byte, 8)
		binary.BigEndian.PutUint64(key, seq)
		var orig []byte
		// Byte positions across the entry: its start, inside, its end.
		withAudit(t, path, func(b *bolt.Bucket) error {
			v := b.Get(key)
			if v == nil {
				return fmt.Errorf("no audit entry %d", seq)
			}
			orig = append([]byte(nil), v...)
			bad := append([]byte(nil), v...)
			pos := []int{0, len(v) / 3, len(v) / 2, 2 * len(v) / 3, len(v) - 1}[i%5]
			bad[pos] ^= 0x01
			return b.Put(key, bad)
		}, true)
		code, out, err := runSibyl(ctx, "audit", "verify", "--data-dir", dir)
		if err != nil {
			t.Fatal(err)
		}
		if code == 0 || !strings.Contains(out, fmt.Sprintf("entry %d:", seq)) {
			t.Errorf("verify with entry %d tampered: exit %d, output %q; want non-zero naming entry %d", seq, code, out, seq)
		}
		withAudit(t, path, func(b *bolt.Bucket) error { return b.Put(key, orig) }, true)
	}
	if code, out, err := runSibyl(ctx, "audit", "verify", "--data-dir", dir); err != nil || code != 0 {
		t.Fatalf("verify with every entry restored: exit %d, %v: %s", code, err, out)
	}
	t.Logf("tampered with audit entries %v of %d, one at a time: each named by sibyl audit verify; restored: intact", seqs, n)
}

// withAudit runs fn on the audit bucket of the (stopped) server's data file.
func withAudit(t *testing.T, path string, fn func(b *bolt.Bucket) error, write bool) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, ReadOnly: !write})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run := db.View
	if write {
		run = db.Update
	}
	if err := run(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		if b == nil {
			return errors.New("no audit bucket")
		}
		return fn(b)
	}); err != nil {
		t.Fatal(err)
	}
}
