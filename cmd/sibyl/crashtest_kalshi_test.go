package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/orders"
	"github.com/sibylmcp/sibyl/venues/kalshi/kalshitest"
)

// TestKalshiCrashHarness runs `sibyl serve --http` with --venues kalshi
// (SIBYL_VENUES=kalshi) against the httptest Kalshi of this test process
// (SIBYL_KALSHI_URL points at it; demo credentials in KALSHI_API_KEY_ID and a
// PEM file in KALSHI_PRIVATE_KEY_PATH). While workers place orders under
// distinct idempotency keys (retrying every unacknowledged call with the same
// key and arguments), the exchange loses answers after creating the order
// (dropped connections, 500s, hangs), refuses with 429 and 503 and answers
// slowly, and the server is killed (SIGKILL, plus SIBYL_TEST_CRASH exits after
// claim/send/complete) and restarted on the same data dir. The exchange
// deduplicates client_order_id only among resting orders (kalshitest's
// weakest reading of Kalshi's docs), so a resend after a filled order would
// create a second one: exactly-once must come from sibyl.
//
// At the end, with the faults off and a clean server: every key has exactly
// one order at the exchange (or a deterministic refusal and none), every
// acknowledged order id is at the exchange with the key's client_order_id,
// and every create request the exchange saw carried its key's
// client_order_id (the same on every attempt).
func TestKalshiCrashHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("kalshi crash harness: skipped with -short")
	}
	chaos := 25 * time.Second
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(t.TempDir(), "kalshi.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := kalshitest.New(kalshitest.Options{KeyID: "crash-key", PublicKey: &key.PublicKey, Balance: "10000000"})
	defer srv.Close()

	var frng sync.Mutex
	rng := mrand.New(mrand.NewPCG(42, 7))
	injected := map[string]int{}
	srv.SetFaultFunc(func(route string) kalshitest.Fault {
		frng.Lock()
		defer frng.Unlock()
		f := pickFault(rng, route)
		if f.Kind != kalshitest.NoFault {
			injected[f.Kind.String()]++
		}
		return f
	})
	env := []string{
		"SIBYL_VENUES=kalshi", "SIBYL_KALSHI_URL=" + srv.URL(),
		"KALSHI_API_KEY_ID=crash-key", "KALSHI_PRIVATE_KEY_PATH=" + keyPath,
		// The demo defaults of the risk limits would refuse most of these
		// orders (price collar, open orders); this test is about the order
		// path, so they are off.
		"SIBYL_RISK_MAX_ORDER=0", "SIBYL_RISK_MAX_DAILY=0", "SIBYL_RISK_MAX_MARKET=0", "SIBYL_RISK_MAX_OPEN=0",
		"SIBYL_RISK_TOTAL_MAX_DAILY=0", "SIBYL_RISK_TOTAL_MAX_MARKET=0", "SIBYL_RISK_TOTAL_MAX_OPEN=0",
		"SIBYL_RISK_PRICE_COLLAR=0", "SIBYL_CONFIRM_ABOVE=0",
	}
	dir := t.TempDir()
	h := &kalshiCrash{t: t, changed: make(chan struct{})}
	markets := []string{"kalshi:KXBTCD-26DEC3117-T119999.99", "kalshi:KXNFLGAME-26DEC27DALPHI-DAL", "kalshi:KXFINE-27JAN01-T1"}
	h.argsFor = func(i int) map[string]any {
		m := markets[i%len(markets)]
		args := map[string]any{"market": m, "outcome": []string{"Yes", "No"}[(i/3)%2], "side": "buy",
			"quantity": 1 + i%9, "idempotency_key": fmt.Sprintf("kalshi-crash-%05d", i), "allow_duplicate": true}
		if i%2 == 0 { // marketable: fills at once against the makers
			args["limit_price"], args["time_in_force"] = 0.99, "ioc"
			if m == markets[2] {
				args["limit_price"] = 0.9999
			}
		} else { // far from the market: rests
			args["limit_price"], args["time_in_force"] = 0.02, "gtc"
		}
		return args
	}

	// Chaos: servers with the crash hooks, each killed after 0.3-2 s.
	stop := make(chan struct{})
	supDone := make(chan error, 1)
	go func() {
		srng := mrand.New(mrand.NewPCG(3, 9))
		for {
			select {
			case <-stop:
				supDone <- nil
				return
			default:
			}
			p, err := launchHTTPServer(dir, append([]string{"SIBYL_TEST_CRASH=" + crashSpec}, env...))
			if err != nil {
				supDone <- err
				return
			}
			h.publish(p)
			timer := time.NewTimer(time.Duration(300+srng.IntN(1700)) * time.Millisecond)
			select {
			case <-p.exited:
			case <-timer.C:
				_ = p.cmd.Process.Signal(syscall.SIGKILL)
				<-p.exited
			case <-stop:
				_ = p.cmd.Process.Signal(syscall.SIGKILL)
				<-p.exited
			}
			timer.Stop()
			h.publish(nil)
			h.mu.Lock()
			h.deaths++
			h.mu.Unlock()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), chaos)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() { defer wg.Done(); h.worker(ctx, true) }()
	}
	wg.Wait()
	cancel()
	close(stop)
	if err := <-supDone; err != nil {
		t.Fatal(err)
	}

	// Calm: no faults, no crash hooks; every key is retried until answered.
	srv.ClearFaults()
	p := mustLaunchHTTP(t, dir, env)
	h.publish(p)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel2()
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() { defer wg.Done(); h.worker(ctx2, false) }()
	}
	wg.Wait()

	// Checks.
	h.mu.Lock()
	keys := make([]kalshiKey, len(h.keys))
	for i, k := range h.keys {
		keys[i] = *k
	}
	deaths := h.deaths
	h.mu.Unlock()
	attempts := srv.CreateAttempts()
	problems, st := checkKalshiOnce(keys, srv.Orders(), attempts)
	frng.Lock()
	defer frng.Unlock() // injected is read by the log line below
	acked, refused, pending, refusals, retried := st.acked, st.refused, st.pending, st.refusals, st.retried
	sort.Strings(problems)
	if len(problems) > 20 {
		problems = problems[:20]
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d keys (%d orders acknowledged, %d refused, %d pending); %d server deaths; %d create requests at the exchange, %d keys sent more than once (always with the same client_order_id); %d orders at the exchange; %d bad signatures; faults injected: %v",
		len(keys), acked, refused, pending, deaths, len(attempts), retried, len(srv.Orders()), srv.BadSignatures(), injected)
	if len(refusals) > 0 {
		t.Logf("refusals: %v", refusals)
	}
	if len(keys) < 50 || deaths < 5 || acked < len(keys)*9/10 {
		t.Errorf("too little exercised: %d keys, %d acknowledged, %d deaths", len(keys), acked, deaths)
	}
	if srv.BadSignatures() != 0 {
		t.Errorf("%d requests with bad signatures", srv.BadSignatures())
	}
}

type kalshiKey struct {
	key, coid string
	args      map[string]any
	orderIDs  []string
	refused   string
	done      bool
	busy      bool
	nextTry   time.Time
	tries     int
}

type kalshiCrash struct {
	t       *testing.T
	argsFor func(i int) map[string]any

	mu     sync.Mutex
	keys   []*kalshiKey
	deaths int

	srvMu   sync.Mutex
	srv     *serverProc
	gen     int
	changed chan struct{}
}

func (h *kalshiCrash) publish(p *serverProc) {
	h.srvMu.Lock()
	h.srv = p
	if p != nil {
		h.gen++
	}
	close(h.changed)
	h.changed = make(chan struct{})
	h.srvMu.Unlock()
}

func (h *kalshiCrash) current(ctx context.Context) (*serverProc, int, error) {
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

// next returns a due retry, else (when fresh) a new key, else nil.
func (h *kalshiCrash) next(fresh bool) (*kalshiKey, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	open := 0
	var best *kalshiKey
	for _, k := range h.keys {
		if k.done {
			continue
		}
		open++
		if k.busy || now.Before(k.nextTry) {
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
	if fresh && open < 64 {
		i := len(h.keys)
		args := h.argsFor(i)
		k := &kalshiKey{key: args["idempotency_key"].(string), args: args, busy: true,
			coid: orders.ClientOrderID(crashPrincipal, "place_order", args["idempotency_key"].(string))}
		h.keys = append(h.keys, k)
		return k, true
	}
	return nil, open > 0
}

func (h *kalshiCrash) worker(ctx context.Context, fresh bool) {
	hc := newCTHTTPClient()
	var sess *rawHTTPSession
	sessGen := -1
	for ctx.Err() == nil {
		k, more := h.next(fresh)
		if k == nil {
			if !more {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p, gen, err := h.current(ctx)
		if err != nil {
			h.retryLater(k, 0)
			return
		}
		if sess == nil || sessGen != gen {
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			sess, err = dialRawHTTP(dctx, hc, p.endpoint)
			cancel()
			if err != nil {
				sess = nil
				h.retryLater(k, 20*time.Millisecond)
				continue
			}
			sessGen = gen
		}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		a, err := sess.callTool(cctx, "place_order", k.args)
		cancel()
		switch {
		case err != nil:
			sess = nil
			h.retryLater(k, 20*time.Millisecond)
		case a.IsError && (a.Retryable || a.Code == "internal"):
			h.retryLater(k, 50*time.Millisecond)
		case a.IsError:
			h.mu.Lock()
			k.refused, k.done, k.busy = a.Code+": "+a.Message, true, false
			h.mu.Unlock()
		default:
			var o ctOrder
			if err := a.decode(&o); err != nil || o.OrderID == "" {
				h.t.Errorf("key %s: undecodable answer %v", k.key, a)
				h.retryLater(k, 50*time.Millisecond)
				continue
			}
			h.mu.Lock()
			if o.ClientOrderID != k.coid {
				h.t.Errorf("key %s: client_order_id %s, want %s", k.key, o.ClientOrderID, k.coid)
			}
			seen := false
			for _, id := range k.orderIDs {
				seen = seen || id == o.OrderID
			}
			if !seen {
				k.orderIDs = append(k.orderIDs, o.OrderID)
			}
			k.done, k.busy = true, false
			h.mu.Unlock()
		}
	}
}

func (h *kalshiCrash) retryLater(k *kalshiKey, after time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k.busy = false
	k.tries++
	k.nextTry = time.Now().Add(max(after, min(20*time.Millisecond<<min(k.tries, 8), 2*time.Second)))
}

// pickFault draws the fault for one request to route: creates lose their
// answer after the order exists (dropped, 500, hang), are refused (429, 503)
// or are slow; order lists and market reads fail now and then.
func pickFault(rng *mrand.Rand, route string) kalshitest.Fault {
	x := rng.Float64()
	switch route {
	case "POST /portfolio/events/orders":
		switch {
		case x < 0.10:
			return kalshitest.Fault{Kind: kalshitest.DropAfter}
		case x < 0.16:
			return kalshitest.Fault{Kind: kalshitest.ServerErrorAfter}
		case x < 0.19:
			return kalshitest.Fault{Kind: kalshitest.HangAfter, Delay: 1500 * time.Millisecond}
		case x < 0.25:
			return kalshitest.Fault{Kind: kalshitest.RateLimit}
		case x < 0.28:
			return kalshitest.Fault{Kind: kalshitest.UnavailableBefore}
		case x < 0.35:
			return kalshitest.Fault{Kind: kalshitest.Slow, Delay: 40 * time.Millisecond}
		}
	case "GET /portfolio/orders", "GET /markets/{ticker}":
		switch {
		case x < 0.05:
			return kalshitest.Fault{Kind: kalshitest.UnavailableBefore}
		case x < 0.10:
			return kalshitest.Fault{Kind: kalshitest.RateLimit}
		}
	}
	return kalshitest.Fault{}
}

type kalshiStats struct {
	acked, refused, pending, retried int
	refusals                         map[string]int
}

// checkKalshiOnce checks the end state: every key with an acknowledged order
// has exactly one order at the exchange, the one acknowledged; a refused key
// has none; no order at the exchange belongs to no key; every create request
// carried the client_order_id of a key (so each key's attempts all carried
// its own, as the id is derived from the key).
func checkKalshiOnce(keys []kalshiKey, venueOrders []kalshitest.OrderInfo, attempts []string) ([]string, kalshiStats) {
	st := kalshiStats{refusals: map[string]int{}}
	venue := map[string][]kalshitest.OrderInfo{}
	for _, o := range venueOrders {
		venue[o.ClientOrderID] = append(venue[o.ClientOrderID], o)
	}
	coids := map[string]string{}
	var problems []string
	for _, k := range keys {
		coids[k.coid] = k.key
		got := venue[k.coid]
		switch {
		case !k.done:
			st.pending++
			problems = append(problems, fmt.Sprintf("key %s never got a final answer", k.key))
		case k.refused != "":
			st.refused++
			st.refusals[k.refused]++
			if len(got) != 0 {
				problems = append(problems, fmt.Sprintf("key %s refused (%s) but %d orders at the venue", k.key, k.refused, len(got)))
			}
		default:
			st.acked++
			if len(got) != 1 {
				problems = append(problems, fmt.Sprintf("key %s: %d orders at the venue, want exactly 1", k.key, len(got)))
				continue
			}
			for _, id := range k.orderIDs {
				if id != got[0].ID {
					problems = append(problems, fmt.Sprintf("key %s: acknowledged order %s, the venue has %s", k.key, id, got[0].ID))
				}
			}
		}
	}
	for coid, os := range venue {
		if _, ok := coids[coid]; !ok {
			problems = append(problems, fmt.Sprintf("%d orders at the venue under unknown client_order_id %q", len(os), coid))
		}
	}
	perKey := map[string]int{}
	for _, c := range attempts {
		if _, ok := coids[c]; !ok {
			problems = append(problems, fmt.Sprintf("a create request carried client_order_id %q of no key", c))
			continue
		}
		perKey[c]++
	}
	for _, n := range perKey {
		if n > 1 {
			st.retried++
		}
	}
	return problems, st
}

func TestKalshiCheckerCatchesProblems(t *testing.T) {
	keys := []kalshiKey{
		{key: "k1", coid: "c1", done: true, orderIDs: []string{"o1"}},
		{key: "k2", coid: "c2", done: true, orderIDs: []string{"o2"}},
		{key: "k3", coid: "c3", done: true, refused: "invalid"},
		{key: "k4", coid: "c4"},
		{key: "k5", coid: "c5", done: true, orderIDs: []string{"o5"}},
	}
	orders := []kalshitest.OrderInfo{
		{ID: "o1", ClientOrderID: "c1"},
		{ID: "o2", ClientOrderID: "c2"}, {ID: "o2b", ClientOrderID: "c2"}, // duplicate
		{ID: "o3", ClientOrderID: "c3"},  // refused yet placed
		{ID: "o9", ClientOrderID: "c9"},  // nobody's
		{ID: "o5x", ClientOrderID: "c5"}, // not the acknowledged one
	}
	problems, st := checkKalshiOnce(keys, orders, []string{"c1", "c2", "c2", "cX"})
	want := []string{"k2: 2 orders", "k3 refused", "k4 never", "unknown client_order_id \"c9\"", "acknowledged order o5", "\"cX\" of no key"}
	all := strings.Join(problems, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("checker missed %q in:\n%s", w, all)
		}
	}
	if st.acked != 3 || st.refused != 1 || st.pending != 1 || st.retried != 1 {
		t.Errorf("stats: %+v", st)
	}
	if p, _ := checkKalshiOnce(keys[:1], orders[:1], []string{"c1", "c1"}); len(p) != 0 {
		t.Errorf("clean state reported problems: %v", p)
	}
}
