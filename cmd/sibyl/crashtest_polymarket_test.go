package main

import (
	"bytes"
	"context"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/venues/polymarket/clob"
	"github.com/sibylmcp/sibyl/venues/polymarket/pmtest"
)

// TestPolymarketCrashHarness runs `sibyl serve --http --venues polymarket
// --live` against the httptest Polymarket of this test process while workers
// place orders under distinct idempotency keys, retrying every unanswered or
// retryable call with the same key and arguments. The venue loses answers
// after accepting orders (dropped connections, 500s, answers after the client
// gave up), refuses with 429 and 503, fails lookups now and then, and the
// server is killed (SIGKILL, and the SIBYL_TEST_CRASH exits after
// claim/send/complete) and restarted on the same data dir. Then, calm, every
// key is retried until answered. At the end: every acknowledged key's order is
// at the venue and no key has two (no order at the venue is unacknowledged),
// every resend of an order carried exactly the bytes of its first send, and no
// request failed authentication.
func TestPolymarketCrashHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("polymarket crash harness: skipped with -short")
	}
	chaos := 12 * time.Second
	srv, keyPath := pmWorld(t)
	var frng sync.Mutex
	rng := mrand.New(mrand.NewPCG(21, 22))
	srv.SetFaultFunc(func(route string) pmtest.FaultKind {
		frng.Lock()
		x := rng.Float64()
		frng.Unlock()
		switch route {
		case "POST /order":
			switch {
			case x < 0.12:
				return pmtest.DropAfter
			case x < 0.20:
				return pmtest.Fail5xxAfter
			case x < 0.23:
				return pmtest.TimeoutAfter
			case x < 0.29:
				return pmtest.TooMany
			case x < 0.33:
				return pmtest.Fail5xxBefore
			}
		case "GET /data/order/", "GET /markets", "GET /book":
			if x < 0.05 {
				return pmtest.Fail5xxBefore
			}
		}
		return 0
	})
	env := pmEnv(srv, keyPath, true)
	env[0] = "SIBYL_VENUES=polymarket"
	// Risk limits out of the way ("off"): this test is about exactly-once.
	for _, k := range []string{"MAX_DAILY", "MAX_MARKET", "MAX_OPEN", "TOTAL_MAX_DAILY", "TOTAL_MAX_MARKET", "TOTAL_MAX_OPEN"} {
		env = append(env, "SIBYL_RISK_"+k+"=off")
	}
	dir := t.TempDir()
	h := &pmCrash{changed: make(chan struct{})}
	markets := []string{pmCondA, pmCondB}
	h.argsFor = func(i int) map[string]any {
		m := markets[i%2]
		args := map[string]any{"market": "polymarket:" + m, "outcome": "Yes", "side": "buy", "quantity": 5 + i%9,
			"idempotency_key": fmt.Sprintf("pm-crash-%05d", i), "allow_duplicate": true}
		if i%3 == 0 { // marketable: fills at once
			args["limit_price"], args["time_in_force"] = 0.47, "ioc"
		} else { // below the ask: rests
			args["limit_price"] = []float64{0.36, 0.37, 0.38, 0.39}[i%4]
		}
		return args
	}

	stop := make(chan struct{})
	supDone := make(chan error, 1)
	go func() {
		srng := mrand.New(mrand.NewPCG(5, 6))
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
			timer := time.NewTimer(time.Duration(300+srng.IntN(1200)) * time.Millisecond)
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
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() { defer wg.Done(); h.worker(t, ctx, true) }()
	}
	wg.Wait()
	cancel()
	close(stop)
	if err := <-supDone; err != nil {
		t.Fatal(err)
	}

	srv.SetFaultFunc(nil)
	p := mustLaunchHTTP(t, dir, env)
	h.publish(p)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel2()
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() { defer wg.Done(); h.worker(t, ctx2, false) }()
	}
	wg.Wait()

	venue := map[string]bool{}
	for _, o := range srv.Orders() {
		venue[o.Hash] = true
	}
	ackedBy := map[string]string{}
	acked, refused, pending := 0, 0, 0
	h.mu.Lock()
	for _, k := range h.keys {
		switch {
		case !k.done:
			pending++
			t.Errorf("key %s never got a final answer", k.key)
		case k.refused != "":
			refused++
			if refused <= 3 {
				t.Logf("key %s refused: %s", k.key, k.refused)
			}
		default:
			acked++
			if len(k.orderIDs) != 1 {
				t.Errorf("key %s was answered with %d different orders: %v", k.key, len(k.orderIDs), k.orderIDs)
			}
			for _, id := range k.orderIDs {
				if !venue[id] {
					t.Errorf("key %s: acknowledged order %s is not at the venue", k.key, id)
				}
				if other, dup := ackedBy[id]; dup {
					t.Errorf("keys %s and %s acknowledged the same order %s", k.key, other, id)
				}
				ackedBy[id] = k.key
			}
		}
	}
	keys, deaths := len(h.keys), h.deaths
	h.mu.Unlock()
	for id := range venue {
		if _, ok := ackedBy[id]; !ok {
			t.Errorf("order %s is at the venue but no key acknowledged it (a second order for some key)", id)
		}
	}
	bySig := map[string][]byte{}
	resends := 0
	for _, b := range srv.Posts() {
		pb, err := clob.ParseBody(b)
		if err != nil {
			t.Fatal(err)
		}
		if first, ok := bySig[string(pb.Signature)]; ok {
			resends++
			if !bytes.Equal(first, b) {
				t.Errorf("a resend differs from its first send:\n%s\n%s", first, b)
			}
			continue
		}
		bySig[string(pb.Signature)] = b
	}
	if len(bySig) > keys {
		t.Errorf("%d distinct orders were posted for %d keys", len(bySig), keys)
	}
	if srv.BadAuth() != 0 {
		t.Errorf("%d requests failed authentication", srv.BadAuth())
	}
	t.Logf("%d keys (%d acknowledged, %d refused, %d pending); %d server deaths; %d POST /order (%d resends of a stored order); %d orders at the venue",
		keys, acked, refused, pending, deaths, len(srv.Posts()), resends, len(venue))
	if keys < 30 || deaths < 4 || resends == 0 {
		t.Errorf("too little exercised: %d keys, %d deaths, %d resends", keys, deaths, resends)
	}
}

type pmKey struct {
	key      string
	args     map[string]any
	orderIDs []string
	refused  string
	done     bool
	busy     bool
	nextTry  time.Time
	tries    int
}

type pmCrash struct {
	argsFor func(i int) map[string]any

	mu     sync.Mutex
	keys   []*pmKey
	deaths int

	srvMu   sync.Mutex
	srv     *serverProc
	gen     int
	changed chan struct{}
}

func (h *pmCrash) publish(p *serverProc) {
	h.srvMu.Lock()
	h.srv = p
	if p != nil {
		h.gen++
	}
	close(h.changed)
	h.changed = make(chan struct{})
	h.srvMu.Unlock()
}

func (h *pmCrash) current(ctx context.Context) (*serverProc, int, error) {
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

// next returns a due retry, else (when fresh) a new key; more is false when
// nothing is left to do.
func (h *pmCrash) next(fresh bool) (k *pmKey, more bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	open := 0
	for _, k := range h.keys {
		if k.done {
			continue
		}
		open++
		if !k.busy && !now.Before(k.nextTry) {
			k.busy = true
			return k, true
		}
	}
	if fresh && open < 16 {
		args := h.argsFor(len(h.keys))
		k := &pmKey{key: args["idempotency_key"].(string), args: args, busy: true}
		h.keys = append(h.keys, k)
		return k, true
	}
	return nil, open > 0
}

func (h *pmCrash) retryLater(k *pmKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k.busy = false
	k.tries++
	k.nextTry = time.Now().Add(min(20*time.Millisecond<<min(k.tries, 6), time.Second))
}

func (h *pmCrash) worker(t *testing.T, ctx context.Context, fresh bool) {
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
			h.retryLater(k)
			return
		}
		if sess == nil || sessGen != gen {
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			sess, err = dialRawHTTP(dctx, hc, p.endpoint)
			cancel()
			if err != nil {
				sess = nil
				h.retryLater(k)
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
			h.retryLater(k)
		case a.IsError && (a.Retryable || a.Code == "internal"):
			h.retryLater(k)
		case a.IsError:
			h.mu.Lock()
			k.refused, k.done, k.busy = a.Code+": "+a.Message, true, false
			h.mu.Unlock()
		default:
			var o ctOrder
			if err := a.decode(&o); err != nil || o.OrderID == "" {
				t.Errorf("key %s: undecodable answer %v", k.key, a)
				h.retryLater(k)
				continue
			}
			h.mu.Lock()
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
