package main

// The cluster tests (issue 14): several `sibyl serve --http` processes, each
// with its own --data-dir, over one real 3-member etcd cluster
// (internal/etcdtest: Debian's etcd binary on loopback ports) with
// --store etcd --etcd-endpoints, all trading on ONE httptest Kalshi exchange
// (venues/kalshi/kalshitest), which is "the exchange": it counts the orders and
// the create requests per client_order_id. The exchange here never refuses a
// repeated client_order_id (DedupeNone), so a second send of a key would be a
// second order: exactly-once must come from sibyl. One API key, made once with
// `sibyl keys create --store etcd`, works on every instance.
//
// Without an etcd binary these tests skip (under CI=true they fail:
// .ci/run installs etcd-server).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sibylmcp/sibyl/internal/etcdtest"
	"github.com/sibylmcp/sibyl/orders"
	"github.com/sibylmcp/sibyl/venues/kalshi/kalshitest"
)

// clusterMarkets are kalshitest's default markets, as sibyl names them.
var clusterMarkets = []string{"kalshi:KXBTCD-26DEC3117-T119999.99", "kalshi:KXNFLGAME-26DEC27DALPHI-DAL", "kalshi:KXFINE-27JAN01-T1"}

// clusterOptions configures a clusterRig.
type clusterOptions struct {
	instances  int
	sessionTTL time.Duration // --etcd-session-ttl (0: 2s, so a dead instance's claims are taken over quickly)
	opTimeout  time.Duration // --etcd-op-timeout (0: sibyl's default)
}

// clusterRig is one etcd cluster, one exchange, one API key and the slots of
// the sibyl instances over them (each slot its own data dir; a slot's
// process may be down and started again).
type clusterRig struct {
	t         *testing.T
	etcd      *etcdtest.Cluster
	venue     *kalshitest.Server
	endpoints string // --etcd-endpoints
	env       []string
	flags     []string
	token     string // the API key's bearer token
	principal string // "key:<id>", the principal of every order
	hc        *http.Client
	dirs      []string

	mu    sync.Mutex
	procs []*serverProc // the slot's running process; nil while down
	gens  []int         // bumped at every start of the slot
	all   []*serverProc // every process started, killed at cleanup
}

var keyIDRE = regexp.MustCompile(`created key (\S+) `)

// newClusterRig starts the etcd cluster and the exchange and makes the API
// key through etcd. It starts no instance (startAll, start).
func newClusterRig(t *testing.T, opts clusterOptions) *clusterRig {
	t.Helper()
	ec := etcdtest.StartCluster(t, 3) // skips without etcd (fails under CI=true)
	key, keyPath := kalshiKeyFile(t)
	// A high-tier account: the adapter sizes its client-side rate limiter
	// from GET /account/limits, and at the basic tier's 200 read tokens a
	// second (a replay's order lookup costs 10) the 1,000 answers below would
	// be paced at 20 a second per instance.
	venue := kalshitest.New(kalshitest.Options{KeyID: "cluster-key", PublicKey: &key.PublicKey, Balance: "100000000",
		Dedupe: kalshitest.DedupeNone, ReadRate: 100000, WriteRate: 50000})
	t.Cleanup(venue.Close)
	if opts.sessionTTL == 0 {
		opts.sessionTTL = 2 * time.Second
	}
	r := &clusterRig{t: t, etcd: ec, venue: venue, endpoints: strings.Join(ec.Endpoints(), ","),
		procs: make([]*serverProc, opts.instances), gens: make([]int, opts.instances)}
	r.env = []string{
		"SIBYL_STORE=etcd", "SIBYL_ETCD_ENDPOINTS=" + r.endpoints,
		"SIBYL_VENUES=kalshi", "SIBYL_KALSHI_URL=" + venue.URL(),
		"KALSHI_API_KEY_ID=cluster-key", "KALSHI_PRIVATE_KEY_PATH=" + keyPath,
		// The order path is under test, not the risk limits (whose demo
		// defaults would refuse many of these orders), nor the per-key rate.
		"SIBYL_RISK_MAX_ORDER=0", "SIBYL_RISK_MAX_DAILY=0", "SIBYL_RISK_MAX_MARKET=0", "SIBYL_RISK_MAX_OPEN=0",
		"SIBYL_RISK_TOTAL_MAX_DAILY=0", "SIBYL_RISK_TOTAL_MAX_MARKET=0", "SIBYL_RISK_TOTAL_MAX_OPEN=0",
		"SIBYL_RISK_PRICE_COLLAR=0", "SIBYL_CONFIRM_ABOVE=0", "SIBYL_RATE_LIMIT=0",
	}
	r.flags = []string{"--etcd-session-ttl", opts.sessionTTL.String()}
	if opts.opTimeout > 0 {
		r.flags = append(r.flags, "--etcd-op-timeout", opts.opTimeout.String())
	}
	for range opts.instances {
		r.dirs = append(r.dirs, t.TempDir())
	}
	// Registered after etcdtest's cleanup, so it runs first: the instances die
	// before the cluster they use.
	t.Cleanup(func() {
		r.mu.Lock()
		all := append([]*serverProc(nil), r.all...)
		r.mu.Unlock()
		for _, p := range all {
			p.kill()
		}
	})

	// The API key: made once, with the flags (not the environment), in etcd.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sibylBin, "keys", "create", "--name", "cluster-test", "--scopes", "read,trade",
		"--store", "etcd", "--etcd-endpoints", r.endpoints)
	cmd.Env = ctEnv(nil)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sibyl keys create --store etcd: %v: %s", err, stderr.String())
	}
	r.token = strings.TrimSpace(string(out))
	m := keyIDRE.FindStringSubmatch(stderr.String())
	if m == nil || !strings.HasPrefix(r.token, "sibyl_") {
		t.Fatalf("sibyl keys create --store etcd: no key id or token in %q / %q", stderr.String(), r.token)
	}
	r.principal = "key:" + m[1]
	r.hc = &http.Client{Transport: bearer{r.token, newCTHTTPClient().Transport}}
	return r
}

// start launches slot i with the extra environment and makes it the slot's
// current process.
func (r *clusterRig) start(i int, env ...string) (*serverProc, error) {
	p, err := launchHTTPServer(r.dirs[i], append(append([]string(nil), r.env...), env...), r.flags...)
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

// startAll launches every slot at once and fails the test if one does not come up.
func (r *clusterRig) startAll(env ...string) {
	r.t.Helper()
	errs := make([]error, len(r.procs))
	var wg sync.WaitGroup
	for i := range r.procs {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = r.start(i, env...) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		r.t.Fatal(err)
	}
}

// down marks slot i down (its process is dead or about to be).
func (r *clusterRig) down(i int) {
	r.mu.Lock()
	r.procs[i] = nil
	r.mu.Unlock()
}

// live returns the slots whose process is up, with their processes and generations.
func (r *clusterRig) live() (slots []int, procs []*serverProc, gens []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, p := range r.procs {
		if p != nil {
			slots, procs, gens = append(slots, i), append(procs, p), append(gens, r.gens[i])
		}
	}
	return slots, procs, gens
}

// stopAll stops every running instance with SIGINT (a clean shutdown).
func (r *clusterRig) stopAll() {
	r.t.Helper()
	_, procs, _ := r.live()
	for i, p := range procs {
		if err := p.stop(20 * time.Second); err != nil {
			r.t.Errorf("instance %d: %v", i, err)
		}
	}
	for i := range r.procs {
		r.down(i)
	}
}

// dial opens a session on p with the rig's API key.
func (r *clusterRig) dial(ctx context.Context, p *serverProc) (*rawHTTPSession, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return dialRawHTTP(dctx, r.hc, p.endpoint)
}

// mustDial is dial for the test goroutine.
func (r *clusterRig) mustDial(ctx context.Context, p *serverProc) *rawHTTPSession {
	r.t.Helper()
	s, err := r.dial(ctx, p)
	if err != nil {
		r.t.Fatalf("%v; stderr:\n%.3000s", err, p.stderr)
	}
	return s
}

// sdkSession connects the official MCP Go SDK client to p with the API key.
func (r *clusterRig) sdkSession(ctx context.Context, p *serverProc) (*sdk.ClientSession, error) {
	client := sdk.NewClient(&sdk.Implementation{Name: "cluster-test", Version: "1"}, nil)
	return client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: p.endpoint, MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{r.token, http.DefaultTransport}}}, nil)
}

// coid is the client_order_id sibyl sends for key.
func (r *clusterRig) coid(key string) string {
	return orders.ClientOrderID(r.principal, "place_order", key)
}

// createRequests counts the create requests the exchange saw per client_order_id.
func (r *clusterRig) createRequests() map[string]int {
	n := map[string]int{}
	for _, c := range r.venue.CreateAttempts() {
		n[c]++
	}
	return n
}

// verifyAudit runs `sibyl audit verify --store etcd` and returns its output.
func (r *clusterRig) verifyAudit(ctx context.Context) string {
	r.t.Helper()
	code, out, err := runSibyl(ctx, "audit", "verify", "--store", "etcd", "--etcd-endpoints", r.endpoints)
	if err != nil || code != 0 || !strings.Contains(out, "audit chain intact") {
		r.t.Fatalf("sibyl audit verify --store etcd: exit %d, %v: %s", code, err, out)
	}
	return strings.TrimSpace(out)
}

// exportAudit reads the whole chain with `sibyl audit export --jsonl --store etcd`.
func (r *clusterRig) exportAudit(ctx context.Context) []ctAuditEntry {
	r.t.Helper()
	code, out, err := runSibylStdout(ctx, "audit", "export", "--jsonl", "--store", "etcd", "--etcd-endpoints", r.endpoints)
	if err != nil || code != 0 {
		r.t.Fatalf("sibyl audit export --store etcd: exit %d, %v: %.500s", code, err, out)
	}
	var es []ctAuditEntry
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var e ctAuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			r.t.Fatalf("audit export line %.200q: %v", line, err)
		}
		es = append(es, e)
	}
	return es
}

// checkAuditStories checks each key's place_order entries in the chain:
// at least one intent, exactly one completion (placed, reconciled or
// rejected), and no entry naming another order than the acknowledged one.
// It returns the count of entries by outcome for those keys.
func checkAuditStories(t *testing.T, entries []ctAuditEntry, acked map[string]string) map[string]int {
	t.Helper()
	type story struct {
		intent, completions int
		orders              map[string]bool
		seq                 []string
	}
	stories := map[string]*story{}
	counts := map[string]int{}
	for _, e := range entries {
		if e.Tool != "place_order" {
			continue
		}
		if _, ok := acked[e.Key]; !ok {
			continue
		}
		counts[e.Outcome]++
		st := stories[e.Key]
		if st == nil {
			st = &story{orders: map[string]bool{}}
			stories[e.Key] = st
		}
		st.seq = append(st.seq, fmt.Sprintf("%d:%s%v", e.Seq, e.Outcome, e.OrderIDs))
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
	bad := 0
	for key, id := range acked {
		st := stories[key]
		switch {
		case st == nil:
			t.Errorf("audit: no entry for key %s", key)
			bad++
		case st.intent < 1 || st.completions != 1:
			t.Errorf("audit: key %s has %d intent and %d completion entries, want at least 1 and exactly 1: %v", key, st.intent, st.completions, st.seq)
			bad++
		default:
			for o := range st.orders {
				if o != id {
					t.Errorf("audit: key %s names order %s, its callers were told %s: %v", key, o, id, st.seq)
					bad++
				}
			}
		}
		if bad > 20 {
			t.Fatal("audit: too many problems")
		}
	}
	return counts
}

// clusterArgs are place_order's arguments for the i-th key of a run: even i
// marketable (fills at once against the exchange's makers), odd i far from
// the market (rests).
func clusterArgs(prefix string, i int) map[string]any {
	m := clusterMarkets[i%len(clusterMarkets)]
	args := map[string]any{"market": m, "outcome": []string{"Yes", "No"}[(i/3)%2], "side": "buy",
		"quantity": 1 + i%9, "idempotency_key": fmt.Sprintf("%s-%05d", prefix, i), "allow_duplicate": true}
	if i%2 == 0 {
		args["limit_price"], args["time_in_force"] = 0.99, "ioc"
		if m == clusterMarkets[2] {
			args["limit_price"] = 0.9999
		}
	} else {
		args["limit_price"], args["time_in_force"] = 0.02, "gtc"
	}
	return args
}

// retryableRefusal reports whether an answer is one allowed before the
// order: in_progress (another instance holds the claim) or unavailable (the
// store or the venue could not be reached), both retryable.
func retryableRefusal(a toolAnswer) bool {
	return a.IsError && a.Retryable && (a.Code == "in_progress" || a.Code == "unavailable")
}

// retryUntilOrder calls place_order on c until it answers with an order (or
// a refusal other than a retryable in_progress/unavailable, returned as is).
func retryUntilOrder(ctx context.Context, c toolCaller, args map[string]any, retries map[string]int) (toolAnswer, ctOrder, error) {
	for {
		if err := ctx.Err(); err != nil {
			return toolAnswer{}, ctOrder{}, fmt.Errorf("no order before the deadline (retries %v): %w", retries, err)
		}
		a, err := c.callTool(ctx, "place_order", args)
		switch {
		case err != nil:
			retries["transport"]++
			time.Sleep(50 * time.Millisecond)
			continue
		case retryableRefusal(a):
			retries[a.Code]++
			time.Sleep(20 * time.Millisecond)
			continue
		case a.IsError:
			return a, ctOrder{}, nil
		}
		var o ctOrder
		err = a.decode(&o)
		return a, o, err
	}
}

// TestClusterOneOrderPerKey: three instances over one etcd cluster; 1,000
// concurrent place_order calls with ONE key, spread round robin over the three,
// give one order at the exchange; every first answer is that order (placed
// once, else replayed) or a retryable in_progress/unavailable, and a retry of
// each of those gives the same order. Then many keys at once, each sent to
// every instance: one order per key.
func TestClusterOneOrderPerKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	r := newClusterRig(t, clusterOptions{instances: 3})
	r.startAll()
	_, procs, _ := r.live()
	// Sessions interleaved over the instances: caller i reaches instance i%3.
	const perInstance = 8
	var sessions []*rawHTTPSession
	for j := range 3 * perInstance {
		sessions = append(sessions, r.mustDial(ctx, procs[j%3]))
	}
	started := time.Since(began)

	t.Run("one key", func(t *testing.T) {
		const key = "cluster-one-key-0001"
		args := eoArgs(clusterMarkets[0], key)
		args["time_in_force"] = "gtc"
		coid := r.coid(key)
		n := eoCallers()
		type first struct {
			a   toolAnswer
			err error
		}
		firsts := make([]first, n)
		t0 := time.Now()
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				firsts[i].a, firsts[i].err = sessions[i%len(sessions)].callTool(ctx, "place_order", args)
			}()
		}
		close(start)
		wg.Wait()
		firstRound := time.Since(t0)

		// Every first answer: the order, or a retryable in_progress/unavailable.
		outs := make([]eoOutcome, n)
		byInstance := make([]map[string]int, 3)
		for i := range byInstance {
			byInstance[i] = map[string]int{}
		}
		var again []int
		refusalMsgs := map[string]int{}
		for i, f := range firsts {
			outs[i].retries = map[string]int{}
			inst := byInstance[i%3]
			switch {
			case f.err != nil:
				t.Errorf("caller %d (instance %d): no answer: %v", i, i%3, f.err)
				outs[i].retries["transport"]++
				inst["transport"]++
				again = append(again, i)
			case !f.a.IsError:
				outs[i].answer = f.a
				if err := f.a.decode(&outs[i].order); err != nil {
					t.Fatalf("caller %d: %v", i, err)
				}
				if outs[i].order.Replayed {
					inst["replayed"]++
				} else {
					inst["placed"]++
				}
			case retryableRefusal(f.a):
				outs[i].retries[f.a.Code]++
				inst[f.a.Code]++
				again = append(again, i)
				refusalMsgs[f.a.Code+": "+f.a.Message]++
			default:
				t.Errorf("caller %d (instance %d): got %v, want the order or a retryable in_progress/unavailable", i, i%3, f.a)
				again = append(again, i)
			}
		}
		// A retry of each non-order answer (on the same instance) gives the order.
		t1 := time.Now()
		for _, i := range again {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, o, err := retryUntilOrder(ctx, sessions[i%len(sessions)], args, outs[i].retries)
				switch {
				case err != nil:
					outs[i].err = err
				case a.IsError:
					outs[i].err = fmt.Errorf("retry: got %v, want the order", a)
				default:
					outs[i].answer, outs[i].order = a, o
					if !o.Replayed {
						// The first round already had an answer in progress:
						// the retry may still be the one whose send reached
						// the exchange; checkOneKey counts these.
						t.Logf("caller %d: the retry placed the order (replayed=false)", i)
					}
				}
			}()
		}
		wg.Wait()
		retried := time.Since(t1)
		order := checkOneKey(ctx, t, sessions[1], outs, coid)

		// At the exchange: one order, one create request.
		if got := r.venue.OrdersByClientID()[coid]; got != 1 {
			t.Errorf("exchange: %d orders with the key's client_order_id, want 1", got)
		}
		if got := r.createRequests()[coid]; got != 1 {
			t.Errorf("exchange: %d create requests with the key's client_order_id, want 1 (sent once)", got)
		}
		if all := r.venue.Orders(); len(all) != 1 || all[0].ID != order.OrderID {
			t.Errorf("exchange: orders %+v, want only %s", all, order.OrderID)
		}
		checkKeyReused(ctx, t, sessions[2], args, order)
		checkOneKeyAudit(ctx, t, sessions[3], key, r.principal, outs, order)

		// The official SDK client sees the same order on every instance.
		for i, p := range procs {
			cs, err := r.sdkSession(ctx, p)
			if err != nil {
				t.Fatalf("instance %d: SDK connect: %v", i, err)
			}
			res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_order", Arguments: map[string]any{"idempotency_key": key}})
			cs.Close()
			if err != nil {
				t.Fatalf("instance %d: SDK get_order: %v", i, err)
			}
			if res.IsError {
				t.Fatalf("instance %d: SDK get_order: isError %v", i, res.StructuredContent)
			}
			b, _ := json.Marshal(res.StructuredContent)
			var got ctOrder
			if err := json.Unmarshal(b, &got); err != nil || got.OrderID != order.OrderID || got.ClientOrderID != coid {
				t.Errorf("instance %d: SDK get_order by key: got %s (%v), want order %s with client id %s", i, b, err, order.OrderID, coid)
			}
		}
		t.Logf("%d concurrent calls, one key, round robin over 3 instances: first answers per instance %v (first round %v); %d retried to the order in %v; exchange: %d order, %d create request",
			n, byInstance, firstRound.Round(time.Millisecond), len(again), retried.Round(time.Millisecond),
			r.venue.OrdersByClientID()[coid], r.createRequests()[coid])
		if len(refusalMsgs) > 0 {
			t.Logf("the retryable refusals: %v", refusalMsgs)
		}
	})

	t.Run("many keys", func(t *testing.T) {
		nkeys := 200
		if testing.Short() {
			nkeys = 60
		}
		const perKey = 3 // one call of every key on every instance, all at once
		type call struct {
			key int
			a   toolAnswer
			o   ctOrder
			err error
		}
		calls := make([]call, nkeys*perKey)
		before := len(r.venue.Orders())
		t0 := time.Now()
		start := make(chan struct{})
		var wg sync.WaitGroup
		firstCodes := map[string]int{}
		var fmu sync.Mutex
		for c := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, inst := c/perKey, c%perKey
				s := sessions[3*(k%perInstance)+inst]
				args := clusterArgs("cluster-many", k)
				calls[c].key = k
				<-start
				a, err := s.callTool(ctx, "place_order", args)
				fmu.Lock()
				switch {
				case err != nil:
					firstCodes["transport"]++
				case !a.IsError:
					firstCodes["order"]++
				default:
					firstCodes[a.Code]++
				}
				fmu.Unlock()
				if err == nil && a.IsError && !retryableRefusal(a) {
					calls[c].err = fmt.Errorf("got %v, want an order or a retryable in_progress/unavailable", a)
					return
				}
				retries := map[string]int{}
				if err != nil || a.IsError {
					a, _, err = retryUntilOrder(ctx, s, args, retries)
				}
				calls[c].a, calls[c].err = a, err
				if err == nil && a.IsError {
					calls[c].err = fmt.Errorf("retry: got %v, want an order", a)
				}
				if calls[c].err == nil {
					calls[c].err = a.decode(&calls[c].o)
				}
			}()
		}
		close(start)
		wg.Wait()
		took := time.Since(t0)

		keys := make([]kalshiKey, nkeys)
		fresh := make([]int, nkeys)
		for k := range keys {
			key := clusterArgs("cluster-many", k)["idempotency_key"].(string)
			keys[k] = kalshiKey{key: key, coid: r.coid(key), done: true}
		}
		for _, c := range calls {
			k := &keys[c.key]
			if c.err != nil {
				t.Errorf("key %s: %v", k.key, c.err)
				k.done = false
				continue
			}
			if c.o.ClientOrderID != k.coid {
				t.Errorf("key %s: client_order_id %s, want %s", k.key, c.o.ClientOrderID, k.coid)
			}
			if !c.o.Replayed {
				fresh[c.key]++
			}
			if !contains(k.orderIDs, c.o.OrderID) {
				k.orderIDs = append(k.orderIDs, c.o.OrderID)
			}
		}
		for k, n := range fresh {
			if n > 1 {
				t.Errorf("key %s: replayed=false in %d answers, want at most 1", keys[k].key, n)
			}
			if len(keys[k].orderIDs) > 1 {
				t.Errorf("key %s: its callers were told different orders %v", keys[k].key, keys[k].orderIDs)
			}
		}
		// checkKalshiOnce: exactly one order at the exchange per key, the one
		// acknowledged; every create request carried a known key's id.
		venueOrders := r.venue.Orders()[before:]
		var attempts []string
		mine := map[string]bool{}
		for _, k := range keys {
			mine[k.coid] = true
		}
		perCOID := map[string]int{}
		for _, c := range r.venue.CreateAttempts() {
			if mine[c] {
				attempts = append(attempts, c)
				perCOID[c]++
			}
		}
		problems, st := checkKalshiOnce(keys, venueOrders, attempts)
		sort.Strings(problems)
		for i, p := range problems {
			if i == 20 {
				break
			}
			t.Error(p)
		}
		for _, k := range keys {
			if perCOID[k.coid] != 1 {
				t.Errorf("key %s: %d create requests at the exchange, want 1 (sent once)", k.key, perCOID[k.coid])
			}
		}
		t.Logf("%d keys x %d instances = %d concurrent calls in %v: first answers %v; %d orders acknowledged, %d orders at the exchange, %d create requests",
			nkeys, perKey, len(calls), took.Round(time.Millisecond), firstCodes, st.acked, len(venueOrders), len(attempts))
	})

	r.stopAll()
	t.Logf("%s; instances up in %v, total %v", r.verifyAudit(ctx), started.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// clusterCrash is the state of TestClusterCrashHarness.
type clusterCrash struct {
	r *clusterRig

	mu       sync.Mutex
	keys     []*kalshiKey
	retries  map[string]int // not-an-order answers by code ("transport" for no answer)
	problems []string

	launches      atomic.Int64
	killsSignal   atomic.Int64
	killsInjected sync.Map // crash point -> *atomic.Int64
	injectedTotal atomic.Int64
}

func (h *clusterCrash) problem(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.problems) < 50 {
		h.problems = append(h.problems, fmt.Sprintf(format, args...))
	}
}

// supervise keeps slot i running until stop is closed: each process with the
// crash hooks armed (every third without, so that it dies only by SIGKILL),
// SIGKILLed after a random 0.5-3 s unless a hook ends it first.
func (h *clusterCrash) supervise(i int, stop <-chan struct{}, spec string, rng *mrand.Rand) error {
	for n := 0; ; n++ {
		select {
		case <-stop:
			return nil
		default:
		}
		var env []string
		if n%3 != 2 {
			env = []string{"SIBYL_TEST_CRASH=" + spec}
		}
		p, err := h.r.start(i, env...)
		if err != nil {
			return err
		}
		h.launches.Add(1)
		timer := time.NewTimer(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
		stopped := false
		select {
		case <-p.exited:
		case <-timer.C:
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
		case <-stop:
			stopped = true
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
		}
		timer.Stop()
		h.r.down(i)
		ws, _ := p.state.Sys().(syscall.WaitStatus)
		switch {
		case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
			if !stopped {
				h.killsSignal.Add(1)
			}
		case ws.Exited() && ws.ExitStatus() == 137:
			m := crashPointRE.FindStringSubmatch(p.stderr.String())
			if m == nil {
				return fmt.Errorf("instance %d exited with 137 without naming a crash point; stderr:\n%.3000s", i, p.stderr)
			}
			c, _ := h.killsInjected.LoadOrStore(m[1], new(atomic.Int64))
			c.(*atomic.Int64).Add(1)
			h.injectedTotal.Add(1)
		default:
			return fmt.Errorf("instance %d exited unexpectedly (%v); stderr:\n%.3000s", i, p.state, p.stderr)
		}
		if stopped {
			return nil
		}
	}
}

// caller is one client's view of the instances: a session per instance
// process, dialled on first use.
type caller struct {
	r        *clusterRig
	rng      *mrand.Rand
	sessions map[[2]int]*rawHTTPSession // (slot, generation) -> session
}

// pick returns a session on a random live instance, waiting for one to be up.
func (c *caller) pick(ctx context.Context) (*rawHTTPSession, [2]int, error) {
	for {
		slots, procs, gens := c.r.live()
		if len(slots) == 0 {
			select {
			case <-ctx.Done():
				return nil, [2]int{}, ctx.Err()
			case <-time.After(20 * time.Millisecond):
				continue
			}
		}
		j := c.rng.IntN(len(slots))
		id := [2]int{slots[j], gens[j]}
		if s := c.sessions[id]; s != nil {
			return s, id, nil
		}
		s, err := c.r.dial(ctx, procs[j])
		if err != nil {
			if ctx.Err() != nil {
				return nil, id, ctx.Err()
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		c.sessions[id] = s
		return s, id, nil
	}
}

// drive retries k on random live instances until it has a final answer or
// ctx ends.
func (h *clusterCrash) drive(ctx context.Context, c *caller, k *kalshiKey) {
	for ctx.Err() == nil {
		s, id, err := c.pick(ctx)
		if err != nil {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		a, err := s.callTool(cctx, "place_order", k.args)
		cancel()
		h.mu.Lock()
		k.tries++
		switch {
		case err != nil:
			h.retries["transport"]++
			delete(c.sessions, id)
		case a.IsError && a.Retryable:
			h.retries[a.Code]++
		case a.IsError:
			k.refused, k.done = a.Code+": "+a.Message, true
		default:
			var o ctOrder
			if err := a.decode(&o); err != nil || o.OrderID == "" {
				h.mu.Unlock()
				h.problem("key %s: undecodable answer %v", k.key, a)
				return
			}
			if o.ClientOrderID != k.coid {
				h.mu.Unlock()
				h.problem("key %s: client_order_id %s, want %s", k.key, o.ClientOrderID, k.coid)
				return
			}
			if !contains(k.orderIDs, o.OrderID) {
				k.orderIDs = append(k.orderIDs, o.OrderID)
			}
			k.done = true
		}
		done := k.done
		h.mu.Unlock()
		if done {
			return
		}
		time.Sleep(time.Duration(20+c.rng.IntN(60)) * time.Millisecond)
	}
}

// TestClusterCrashHarness: clients (each with its own sequence of keys) retry
// each key on a random live instance until they get an order, while the
// instances are SIGKILLed (and exit at the crash hooks after claim, send and
// complete) and restarted, and the etcd leader is killed once and restarted.
// At the end, with clean instances: exactly one order at the exchange per
// key, every acknowledged order there, every key's attempts with its own
// client_order_id, and `sibyl audit verify --store etcd` passes with one
// completion per key in the chain.
func TestClusterCrashHarness(t *testing.T) {
	chaos := 12 * time.Second
	if testing.Short() {
		chaos = 8 * time.Second
	}
	const workers = 8
	const spec = "after-claim:0.005,after-send:0.005,after-complete:0.005"
	began := time.Now()
	r := newClusterRig(t, clusterOptions{instances: 3, sessionTTL: 2 * time.Second})
	h := &clusterCrash{r: r, retries: map[string]int{}}

	stop := make(chan struct{})
	supErr := make(chan error, len(r.procs))
	for i := range r.procs {
		rng := mrand.New(mrand.NewPCG(uint64(i)+1, 99))
		go func() { supErr <- h.supervise(i, stop, spec, rng) }()
	}

	// One etcd member (the leader) killed a third into the chaos, restarted
	// at two thirds.
	var etcdKilled, etcdRestarted time.Duration
	var etcdVictim string
	etcdDone := make(chan error, 1)
	go func() {
		time.Sleep(chaos / 3)
		lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		leader, err := r.etcd.Leader(lctx)
		cancel()
		if err != nil {
			etcdDone <- err
			return
		}
		etcdVictim = leader.Name()
		if err := leader.Kill(); err != nil {
			etcdDone <- err
			return
		}
		etcdKilled = time.Since(began)
		time.Sleep(chaos / 3)
		rctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		err = leader.Restart(rctx)
		etcdRestarted = time.Since(began)
		etcdDone <- err
	}()

	ctx, cancel := context.WithTimeout(context.Background(), chaos)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &caller{r: r, rng: mrand.New(mrand.NewPCG(uint64(w), 7)), sessions: map[[2]int]*rawHTTPSession{}}
			for n := 0; ctx.Err() == nil; n++ {
				args := clusterArgs(fmt.Sprintf("cluster-crash-w%d", w), n)
				key := args["idempotency_key"].(string)
				k := &kalshiKey{key: key, coid: r.coid(key), args: args}
				h.mu.Lock()
				h.keys = append(h.keys, k)
				h.mu.Unlock()
				h.drive(ctx, c, k)
			}
		}()
	}
	wg.Wait()
	cancel()
	close(stop)
	for range r.procs {
		if err := <-supErr; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-etcdDone; err != nil {
		t.Fatalf("killing and restarting etcd member %s: %v", etcdVictim, err)
	}
	chaosEnd := time.Since(began)

	// Calm: clean instances; every key without a final answer is retried.
	r.startAll()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel2()
	h.mu.Lock()
	var open []*kalshiKey
	for _, k := range h.keys {
		if !k.done {
			open = append(open, k)
		}
	}
	h.mu.Unlock()
	queue := make(chan *kalshiKey, len(open))
	for _, k := range open {
		queue <- k
	}
	close(queue)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &caller{r: r, rng: mrand.New(mrand.NewPCG(uint64(w), 8)), sessions: map[[2]int]*rawHTTPSession{}}
			for k := range queue {
				h.drive(ctx2, c, k)
			}
		}()
	}
	wg.Wait()
	calm := time.Since(began) - chaosEnd

	// Every acknowledged order is still known to sibyl: a replay on a random
	// instance answers with the same order. (This is also the clients'
	// retry that completes a record whose completion died with its instance:
	// an acknowledged order's completion is written after the answer, so a
	// key whose instance was killed just after it answered stays pending,
	// with only its intent in the chain, until it is retried or the
	// background reconciliation finds it.)
	h.mu.Lock()
	keys := make([]kalshiKey, len(h.keys))
	for i, k := range h.keys {
		keys[i] = *k
	}
	retries := h.retries
	h.mu.Unlock()
	var replayed atomic.Int64
	replayQ := make(chan kalshiKey, len(keys))
	for _, k := range keys {
		if k.done && k.refused == "" && len(k.orderIDs) == 1 {
			replayQ <- k
		}
	}
	close(replayQ)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &caller{r: r, rng: mrand.New(mrand.NewPCG(uint64(w), 9)), sessions: map[[2]int]*rawHTTPSession{}}
			for k := range replayQ {
				s, _, err := c.pick(ctx2)
				if err != nil {
					t.Error(err)
					return
				}
				a, err := s.callTool(ctx2, "place_order", k.args)
				var o ctOrder
				if err == nil && !a.IsError {
					err = a.decode(&o)
				}
				if err != nil || a.IsError || o.OrderID != k.orderIDs[0] || !o.Replayed {
					t.Errorf("key %s: replay got %v %v (order %s replayed %v), want order %s replayed", k.key, a, err, o.OrderID, o.Replayed, k.orderIDs[0])
					continue
				}
				replayed.Add(1)
			}
		}()
	}
	wg.Wait()
	replayTook := time.Since(began) - chaosEnd - calm

	// Checks at the exchange.
	for _, p := range h.problems {
		t.Error(p)
	}
	attempts := r.venue.CreateAttempts()
	problems, st := checkKalshiOnce(keys, r.venue.Orders(), attempts)
	sort.Strings(problems)
	for i, p := range problems {
		if i == 20 {
			break
		}
		t.Error(p)
	}

	// The chain, after a clean stop of every instance.
	r.stopAll()
	verified := r.verifyAudit(context.Background())
	acked := map[string]string{}
	for _, k := range keys {
		if k.done && k.refused == "" && len(k.orderIDs) == 1 {
			acked[k.key] = k.orderIDs[0]
		}
	}
	auditCounts := checkAuditStories(t, r.exportAudit(context.Background()), acked)

	injected := map[string]int64{}
	h.killsInjected.Range(func(k, v any) bool { injected[k.(string)] = v.(*atomic.Int64).Load(); return true })
	deaths := int(h.killsSignal.Load() + h.injectedTotal.Load())
	t.Logf("%d keys from %d clients (%d orders acknowledged, %d refused, %d without an answer); %d instance deaths (%d SIGKILL, crash hooks %v) over %d launches in %v of chaos; etcd member %s (the leader) killed at %v, restarted at %v; %d keys open after the chaos, answered in %v by clean instances; replays %v",
		len(keys), workers, st.acked, st.refused, st.pending, deaths, h.killsSignal.Load(), injected, h.launches.Load(), chaosEnd.Round(time.Millisecond),
		etcdVictim, etcdKilled.Round(time.Millisecond), etcdRestarted.Round(time.Millisecond), len(open), calm.Round(time.Millisecond), replayTook.Round(time.Millisecond))
	t.Logf("exchange: %d create requests, %d keys sent more than once (always with the key's client_order_id), %d orders; answers before the order: %v; %d acknowledged orders replayed at the end; audit: %s, outcomes %v; total %v",
		len(attempts), st.retried, len(r.venue.Orders()), retries, replayed.Load(), verified, auditCounts, time.Since(began).Round(time.Millisecond))
	if len(st.refusals) > 0 {
		t.Errorf("refusals (every order here is valid): %v", st.refusals)
	}
	if len(keys) < 50 || deaths < 6 || st.acked < len(keys) {
		t.Errorf("too little exercised, or keys left without an order: %d keys, %d acknowledged, %d deaths", len(keys), st.acked, deaths)
	}
	if r.venue.BadSignatures() != 0 {
		t.Errorf("%d requests with bad signatures", r.venue.BadSignatures())
	}
}

// TestClusterQuorumLost: with two of the three etcd members killed, every
// instance refuses place_order as a retryable unavailable within seconds and
// nothing reaches the exchange; once the members are back, retrying the same
// keys gives exactly one order each.
func TestClusterQuorumLost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	const opTimeout = 2 * time.Second
	r := newClusterRig(t, clusterOptions{instances: 3, opTimeout: opTimeout})
	r.startAll()
	_, procs, _ := r.live()
	sessions := make([]*rawHTTPSession, len(procs))
	for i, p := range procs {
		sessions[i] = r.mustDial(ctx, p)
		// Every instance works before the quorum goes.
		a, err := sessions[i].callTool(ctx, "place_order", clusterArgs(fmt.Sprintf("cluster-quorum-warm%d", i), i))
		if err != nil || a.IsError {
			t.Fatalf("instance %d before the quorum loss: %v %v", i, a, err)
		}
	}
	// A stdio instance too (principal "local", no API key to check): its
	// place_order reaches the order path, whose claim cannot commit.
	stdio := startStdioWith(ctx, t, t.TempDir(), r.env, r.flags...)
	if a, err := stdio.callTool(ctx, "place_order", clusterArgs("cluster-quorum-warm-stdio", 3)); err != nil || a.IsError {
		t.Fatalf("stdio instance before the quorum loss: %v %v\n%s", a, err, stdio.stderr)
	}
	callers := []toolCaller{sessions[0], sessions[1], sessions[2], stdio}
	// callerFor is where key i goes in round n: the HTTP keys move to the
	// next HTTP instance every round (one principal, the API key's); the
	// stdio key stays on the stdio instance (principal "local").
	callerFor := func(i, n int) (toolCaller, int) {
		if i == 3 {
			return stdio, 3
		}
		return sessions[(i+n)%3], (i + n) % 3
	}
	principal := func(i int) string {
		if i == 3 {
			return "local"
		}
		return r.principal
	}
	const route = "POST /portfolio/events/orders"
	sentBefore := r.venue.Requests(route)
	ordersBefore := len(r.venue.Orders())

	killed, err := r.etcd.KillQuorum()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range killed {
		names = append(names, m.Name())
	}
	// Two rounds: each key first on instance i, then on instance i+1.
	args := make([]map[string]any, len(callers))
	for i := range args {
		args[i] = clusterArgs("cluster-quorum", i)
	}
	lat := make([][]time.Duration, 2)
	var mu sync.Mutex
	refusals := map[string]int{}
	for round := range 2 {
		lat[round] = make([]time.Duration, len(callers))
		var wg sync.WaitGroup
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, inst := callerFor(i, round)
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				t0 := time.Now()
				a, err := s.callTool(cctx, "place_order", args[i])
				lat[round][i] = time.Since(t0)
				how, ok := unavailableRefusal(a, err)
				if !ok {
					t.Errorf("round %d, key %d on instance %d with the quorum lost: got %v (err %v), want a retryable unavailable", round, i, inst, a, err)
				}
				mu.Lock()
				refusals[how]++
				mu.Unlock()
				if lat[round][i] > 15*time.Second {
					t.Errorf("round %d, instance %d: refused after %v, want within a few seconds (--etcd-op-timeout %v)", round, inst, lat[round][i], opTimeout)
				}
			}()
		}
		wg.Wait()
	}
	if got := r.venue.Requests(route); got != sentBefore {
		t.Errorf("the exchange saw %d create requests while the quorum was lost, want 0", got-sentBefore)
	}
	// Every instance says it is not ready, so a balancer's health check
	// sees it too.
	for i, p := range procs {
		resp, err := http.Get(strings.TrimSuffix(p.endpoint, "/mcp") + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("instance %d: /readyz answered %d with the quorum lost, want 503", i, resp.StatusCode)
		}
	}

	rctx, rcancel := context.WithTimeout(ctx, 60*time.Second)
	defer rcancel()
	t0 := time.Now()
	if err := r.etcd.RestartStopped(rctx); err != nil {
		t.Fatal(err)
	}
	healthy := time.Since(t0)
	// The same keys, retried on yet another instance: one order each.
	t1 := time.Now()
	for i := range callers {
		s, _ := callerFor(i, 2)
		a, o, err := retryUntilOrder(rctx, s, args[i], map[string]int{})
		if err != nil || a.IsError {
			t.Fatalf("key %d after the quorum came back: %v %v", i, a, err)
		}
		coid := orders.ClientOrderID(principal(i), "place_order", args[i]["idempotency_key"].(string))
		if o.ClientOrderID != coid {
			t.Errorf("key %d: client_order_id %s, want %s", i, o.ClientOrderID, coid)
		}
		if n := r.venue.OrdersByClientID()[coid]; n != 1 {
			t.Errorf("key %d: %d orders at the exchange, want 1", i, n)
		}
		if n := r.createRequests()[coid]; n != 1 {
			t.Errorf("key %d: %d create requests at the exchange, want 1", i, n)
		}
	}
	recovered := time.Since(t1)
	if got := len(r.venue.Orders()) - ordersBefore; got != len(callers) {
		t.Errorf("%d new orders at the exchange, want %d", got, len(callers))
	}
	r.stopAll()
	t.Logf("etcd members %v killed: place_order refused as unavailable on every instance (%v) after %v (first try) and %v (second try, another instance), 0 create requests at the exchange; quorum back in %v, then one order per key in %v; %s; total %v",
		names, refusals, lat[0], lat[1], healthy.Round(time.Millisecond), recovered.Round(time.Millisecond), r.verifyAudit(ctx), time.Since(began).Round(time.Millisecond))
}

// unavailableRefusal reports whether a call was refused as a retryable
// unavailable, and how: a tool result (isError, code unavailable) or, when the
// API key itself could not be checked, HTTP 503 whose JSON-RPC error carries
// the same error object in its data.
func unavailableRefusal(a toolAnswer, err error) (string, bool) {
	var hs *httpStatusError
	switch {
	case err == nil:
		return "tool result " + a.Code, a.IsError && a.Code == "unavailable" && a.Retryable
	case errors.As(err, &hs):
		var body struct {
			Error struct {
				Data struct {
					Code      string `json:"code"`
					Retryable bool   `json:"retryable"`
				} `json:"data"`
			} `json:"error"`
		}
		if json.Unmarshal([]byte(hs.Body), &body) != nil {
			return fmt.Sprintf("HTTP %d", hs.Status), false
		}
		return fmt.Sprintf("HTTP %d %s", hs.Status, body.Error.Data.Code),
			hs.Status == http.StatusServiceUnavailable && body.Error.Data.Code == "unavailable" && body.Error.Data.Retryable
	default:
		return "no answer", false
	}
}

// TestClusterInstanceDown: an instance dies (SIBYL_TEST_CRASH exits at once)
// right after it claimed a key, before or after sending the order. While its
// etcd session lease (--etcd-session-ttl 2s) is live, another instance does
// not take the key over; once it lapses, a retry there gets the order at once
// (long before the record's own 30 s lease), and the order is at the exchange
// once: sent by the survivor when the dead one never sent it, reconciled (not
// sent again) when it had.
func TestClusterInstanceDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	const ttl = 2 * time.Second
	r := newClusterRig(t, clusterOptions{instances: 2, sessionTTL: ttl})
	survivor, err := r.start(1)
	if err != nil {
		t.Fatal(err)
	}
	ss := r.mustDial(ctx, survivor)
	cli := r.etcd.Client(t)
	for n, tc := range []struct{ point, completion string }{
		{"after-claim", "placed"},    // never sent: the survivor sends it
		{"after-send", "reconciled"}, // sent: the survivor finds it at the exchange
	} {
		t.Run(tc.point, func(t *testing.T) {
			doomed, err := r.start(0, "SIBYL_TEST_CRASH="+tc.point+":1")
			if err != nil {
				t.Fatal(err)
			}
			sd := r.mustDial(ctx, doomed)
			if _, err := waitOwners(ctx, cli, 2, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			args := clusterArgs("cluster-down-"+tc.point, 2*n+1) // a resting order
			key := args["idempotency_key"].(string)
			coid := r.coid(key)
			if a, err := sd.callTool(ctx, "place_order", args); err == nil {
				t.Fatalf("the instance with SIBYL_TEST_CRASH=%s:1 answered %v, want no answer (it exits)", tc.point, a)
			}
			select {
			case <-doomed.exited:
			case <-time.After(10 * time.Second):
				t.Fatal("the instance did not exit at its crash hook")
			}
			died := time.Now()
			r.down(0)
			if m := crashPointRE.FindStringSubmatch(doomed.stderr.String()); m == nil || m[1] != tc.point {
				t.Fatalf("the instance exited (%v) without the crash point %s; stderr:\n%.3000s", doomed.state, tc.point, doomed.stderr)
			}
			sentByDead := r.createRequests()[coid]

			// While the dead owner's etcd lease is live (its last keepalive
			// was at most a third of the TTL before it died), the survivor
			// does not take the key over: a call given half a second gets no
			// order.
			pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
			a, err := ss.callTool(pctx, "place_order", args)
			pcancel()
			early := "no answer within 0.5 s"
			if err == nil {
				early = a.String()
				if !retryableRefusal(a) {
					t.Errorf("a call right after the owner died: got %v, want no order while the owner's %v lease is live", a, ttl)
				}
			}
			if n := r.createRequests()[coid]; n != sentByDead {
				t.Errorf("the survivor sent the order while the owner's lease was live")
			}

			// Once the lease has lapsed, a retry gets the order at once: not
			// after the record's 30 s lease, nor after the 5 s a call waits
			// for a live owner. The lapse is read from etcd itself: the
			// instances' owner keys (owners/<id> under the prefix, each under
			// its instance's lease; store/etcdstore's package doc) drop to
			// the survivor's alone.
			if _, err := waitOwners(ctx, cli, 1, 20*time.Second); err != nil {
				t.Fatal(err)
			}
			lapse := time.Since(died)
			if lapse > ttl+3*time.Second {
				t.Errorf("the dead instance's lease lapsed %v after its death, want about its TTL %v", lapse, ttl)
			}
			t0 := time.Now()
			a, err = ss.callTool(ctx, "place_order", args)
			answered := time.Since(t0)
			if err != nil {
				t.Fatalf("survivor: %v; stderr:\n%.3000s", err, survivor.stderr)
			}
			var o ctOrder
			if a.IsError {
				t.Fatalf("survivor, %v after the owner died: got %v, want the order", time.Since(died).Round(100*time.Millisecond), a)
			}
			if err := a.decode(&o); err != nil {
				t.Fatal(err)
			}
			took := time.Since(died)
			if answered > 3*time.Second {
				t.Errorf("the retry after the owner's lease lapsed took %v, want the order at once (it waited as if the owner were live)", answered)
			}
			if o.ClientOrderID != coid {
				t.Errorf("client_order_id %s, want %s", o.ClientOrderID, coid)
			}
			if n := r.venue.OrdersByClientID()[coid]; n != 1 {
				t.Errorf("%d orders at the exchange, want 1", n)
			}
			wantSent := map[string]int{"after-claim": 0, "after-send": 1}[tc.point]
			if sentByDead != wantSent {
				t.Errorf("the dead instance sent %d create requests, want %d", sentByDead, wantSent)
			}
			if n := r.createRequests()[coid]; n != 1 {
				t.Errorf("%d create requests at the exchange in all, want 1 (never sent twice)", n)
			}
			entries, ok, problem, err := readAuditLog(ctx, ss, "place_order")
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				t.Errorf("audit chain: %s", problem)
			}
			var story []string
			counts := map[string]int{}
			for _, e := range entries {
				if e.Key == key {
					story = append(story, e.Outcome)
					counts[e.Outcome]++
				}
			}
			if counts["intent"] != 1 || counts["recover"] != 1 || counts[tc.completion] != 1 || counts["placed"]+counts["reconciled"] != 1 {
				t.Errorf("audit for the key: %v, want intent, recover and %s once each", story, tc.completion)
			}
			t.Logf("%s: the owner died; a call at once: %s; its etcd lease lapsed %v after the death; a retry %v after the death got the order %s (replayed=%v) in %v; %d create request(s) at the exchange; audit %v",
				tc.point, early, lapse.Round(100*time.Millisecond), took.Round(100*time.Millisecond)-answered.Round(100*time.Millisecond), o.OrderID, o.Replayed, answered.Round(time.Millisecond), r.createRequests()[coid], story)
		})
	}
	r.stopAll()
	t.Logf("%s; total %v", r.verifyAudit(ctx), time.Since(began).Round(time.Millisecond))
}

// waitOwners waits until etcd holds exactly n live instances (owner keys
// under the default prefix /sibyl/) and returns how long that took.
func waitOwners(ctx context.Context, cli *clientv3.Client, n int64, within time.Duration) (time.Duration, error) {
	t0 := time.Now()
	for {
		gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := cli.Get(gctx, "/sibyl/owners/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		cancel()
		if err == nil && resp.Count == n {
			return time.Since(t0), nil
		}
		if time.Since(t0) > within {
			if err == nil {
				err = fmt.Errorf("%d owner keys", resp.Count)
			}
			return 0, fmt.Errorf("etcd did not come to %d live instances within %v: %v", n, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterWaiterWakesAtLapse: a call that arrives while a dead instance's
// lease is still live waits for it, and is answered (the key taken over) as
// soon as that lease lapses, not when its bounded wait (5 s) runs out. It
// fails when store/etcdstore's WatchRecord watches only the record's key (as
// before 7bb3552): the owner's key leaving etcd then wakes no waiter, and the
// answer comes 5 s after the death.
func TestClusterWaiterWakesAtLapse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const ttl = 2 * time.Second
	r := newClusterRig(t, clusterOptions{instances: 2, sessionTTL: ttl})
	survivor, err := r.start(1)
	if err != nil {
		t.Fatal(err)
	}
	ss := r.mustDial(ctx, survivor)
	cli := r.etcd.Client(t)
	doomed, err := r.start(0, "SIBYL_TEST_CRASH=after-send:1")
	if err != nil {
		t.Fatal(err)
	}
	sd := r.mustDial(ctx, doomed)
	if _, err := waitOwners(ctx, cli, 2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	args := clusterArgs("cluster-waiter", 1)
	if a, err := sd.callTool(ctx, "place_order", args); err == nil {
		t.Fatalf("the doomed instance answered %v", a)
	}
	<-doomed.exited
	died := time.Now()
	r.down(0)
	lapsed := make(chan time.Duration, 1)
	go func() {
		if _, err := waitOwners(ctx, cli, 1, 20*time.Second); err == nil {
			lapsed <- time.Since(died)
		}
		close(lapsed)
	}()
	a, o, err := retryUntilOrder(ctx, ss, args, map[string]int{})
	took := time.Since(died)
	if err != nil || a.IsError {
		t.Fatalf("survivor: %v %v", a, err)
	}
	lapse, ok := <-lapsed
	if !ok {
		t.Fatal("the dead instance's owner key never left etcd")
	}
	t.Logf("lease lapsed %v after the death; the waiting call answered the order %s %v after it", lapse, o.OrderID, took)
	if took > lapse+time.Second {
		t.Errorf("the waiting call answered %v after the death, its owner's lease lapsed at %v: want the answer within a second of the lapse, not at the end of the 5 s wait", took, lapse)
	}
}
