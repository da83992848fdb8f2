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
	srv.SetFaultFunc(func(route string) kalshitest.Fault {
		frng.Lock()
		defer frng.Unlock()
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
	})

	env := []string{
		"SIBYL_VENUES=kalshi", "SIBYL_KALSHI_URL=" + srv.URL(),
		"KALSHI_API_KEY_ID=crash-key", "KALSHI_PRIVATE_KEY_PATH=" + keyPath,
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
	venue := map[string][]kalshitest.OrderInfo{}
	for _, o := range srv.Orders() {
		venue[o.ClientOrderID] = append(venue[o.ClientOrderID], o)
	}
	coids := map[string]string{} // coid -> key
	var problems []string
	acked, refused, pending := 0, 0, 0
	h.mu.Lock()
	for _, k := range h.keys {
		coids[k.coid] = k.key
		got := venue[k.coid]
		switch {
		case !k.done:
			pending++
			problems = append(problems, fmt.Sprintf("key %s never got a final answer", k.key))
		case k.refused != "":
			refused++
			if len(got) != 0 {
				problems = append(problems, fmt.Sprintf("key %s refused (%s) but %d orders at the venue", k.key, k.refused, len(got)))
			}
		default:
			acked++
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
	keys := len(h.keys)
	deaths := h.deaths
	h.mu.Unlock()
	for coid, os := range venue {
		if _, ok := coids[coid]; !ok {
			problems = append(problems, fmt.Sprintf("%d orders at the venue under unknown client_order_id %q", len(os), coid))
		}
	}
	attempts := srv.CreateAttempts()
	perKey := map[string]int{}
	for _, c := range attempts {
		if _, ok := coids[c]; !ok {
			problems = append(problems, fmt.Sprintf("a create request carried client_order_id %q of no key", c))
			continue
		}
		perKey[c]++
	}
	retried := 0
	for _, n := range perKey {
		if n > 1 {
			retried++
		}
	}
	sort.Strings(problems)
	if len(problems) > 20 {
		problems = problems[:20]
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d keys (%d orders acknowledged, %d refused, %d pending); %d server deaths; %d create requests at the exchange, %d keys sent more than once (always with the same client_order_id); %d orders at the exchange; %d bad signatures",
		keys, acked, refused, pending, deaths, len(attempts), retried, len(srv.Orders()), srv.BadSignatures())
	if keys < 50 || deaths < 5 {
		t.Errorf("too little exercised: %d keys, %d deaths", keys, deaths)
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
