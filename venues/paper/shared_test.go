package paper

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

// openShared returns n stores over one empty shared state, each as one
// sibyl instance would hold it.
type openShared func(t *testing.T, n int) []store.Store

// ownedBolt is a bbolt store that calls itself an instance of a shared
// store: several of them over one file give venues that each keep their own
// memory of one stored state, as instances on etcd do. Lock is the file's
// in-process lock, shared by all of them.
type ownedBolt struct {
	store.Store
	owner string
}

func (s ownedBolt) Owner() string { return s.owner }

// boltShared opens one bbolt file as n instances.
func boltShared(t *testing.T, n int) []store.Store {
	s := MustOpenStore(t, filepath.Join(t.TempDir(), "sibyl.db"))
	out := make([]store.Store, n)
	for i := range out {
		out[i] = ownedBolt{s, fmt.Sprintf("instance-%d", i)}
	}
	return out
}

func TestSharedBolt(t *testing.T) { testShared(t, boltShared) }

// lockless is a shared store whose lock never waits: every holder believes
// it holds it, as an instance whose lease lapsed while it worked does.
type lockless struct{ store.Store }

func (lockless) Lock(ctx context.Context, name string) (func(), error) { return func() {}, nil }

// testSharedLockLost: with a lock that excludes nobody, only the fenced
// commit keeps concurrent changes from overwriting each other; the books
// still balance, and the losers were made again.
func testSharedLockLost(t *testing.T, open openShared) {
	testSharedConcurrent(t, func(t *testing.T, n int) []store.Store {
		stores := open(t, n)
		for i, s := range stores {
			stores[i] = lockless{s}
		}
		return stores
	}, func(vs []*Venue) {
		var fenced uint64
		for _, v := range vs {
			fenced += v.fenced.Load()
		}
		t.Logf("%d commits fenced", fenced)
	})
}

// stuckLock is a shared store whose lock never comes, as one whose key was
// left behind by a live instance's failed acquisition.
type stuckLock struct{ store.Store }

func (stuckLock) Lock(ctx context.Context, name string) (func(), error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// testSharedLockStuck: when the store answers but its lock does not come,
// changes are made without it (fenced), on every instance, and stay right.
func testSharedLockStuck(t *testing.T, open openShared) {
	stores := open(t, 2)
	clk := &clock{t: t0}
	// The first instance claims the world with a working lock.
	vs := mustShared(t, stores[:1], Options{Seed: 45}, clk)
	b := mustShared(t, []store.Store{stuckLock{stores[1]}}, Options{Seed: 45}, clk)[0]
	a := vs[0]
	id := openMarket(t, a, 0.5).id
	req := func(coid string) sibyl.OrderRequest {
		return sibyl.OrderRequest{Principal: "s", ClientOrderID: coid, NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromInt(1), LimitPrice: decimal.New(4, -2)}
	}
	o1 := mustPlace(t, b, req("s1"))
	o2 := mustPlace(t, a, req("s2"))
	o3 := mustPlace(t, b, req("s3"))
	if got := b.unlocked.Load(); got != 2 {
		t.Errorf("turns without the lock: got %d, want 2 (one waited, one skipped)", got)
	}
	if o1.NativeID == o2.NativeID || o2.NativeID == o3.NativeID || o1.NativeID == o3.NativeID {
		t.Errorf("ids %s %s %s are not unique", o1.NativeID, o2.NativeID, o3.NativeID)
	}
	for _, v := range []*Venue{a, b} {
		if n := len(allOrders(t, v, "s")); n != 3 {
			t.Errorf("%d orders, want 3", n)
		}
	}
}

// racing is a shared store whose next Commit first lets another instance
// write (before, once), as if that instance had taken the lock in between.
type racing struct {
	store.Store
	before func()
}

func (r *racing) Lock(ctx context.Context, name string) (func(), error) { return func() {}, nil }

func (r *racing) Commit(fn func(t store.Txn) error) error {
	if f := r.before; f != nil {
		r.before = nil
		f()
	}
	return r.Store.Commit(fn)
}

// testSharedCommitFenced: a change computed on a generation that another
// instance moved before the commit is not written; it is made again on the
// new state, so neither instance's order is lost and the ids stay unique.
func testSharedCommitFenced(t *testing.T, open openShared) {
	stores := open(t, 2)
	r := &racing{Store: stores[0]}
	clk := &clock{t: t0}
	vs := mustShared(t, []store.Store{r, stores[1]}, Options{Seed: 43}, clk)
	a, b := vs[0], vs[1]
	id := openMarket(t, a, 0.5).id
	req := func(coid string) sibyl.OrderRequest {
		return sibyl.OrderRequest{Principal: "p", ClientOrderID: coid, NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromInt(3), LimitPrice: decimal.New(2, -2)}
	}
	mustPlace(t, a, req("first"))
	var fromB sibyl.Order
	r.before = func() { fromB = mustPlace(t, b, req("from-b")) }
	fromA := mustPlace(t, a, req("from-a"))
	if got := a.fenced.Load(); got != 1 {
		t.Errorf("fenced commits: got %d, want 1", got)
	}
	if fromA.NativeID == fromB.NativeID {
		t.Fatalf("both orders got id %s", fromA.NativeID)
	}
	for _, v := range vs {
		orders := allOrders(t, v, "p")
		if len(orders) != 3 {
			t.Errorf("%d orders listed, want 3: %+v", len(orders), orders)
		}
		if pf := mustPortfolio(t, v, "p"); pf.Reserved != 0.18 {
			t.Errorf("reserved %v, want 0.18 for three resting orders", pf.Reserved)
		}
	}

	// A read whose change (a resting order filled by the market makers) is
	// overtaken the same way makes it again, under the lock.
	def, _ := a.listed(id, clk.Now())
	limit := mustBook(t, a, id, "Yes").Asks[0].Price - 0.02
	rest := mustPlace(t, b, sibyl.OrderRequest{Principal: "m", ClientOrderID: "m1", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromInt(5), LimitPrice: dec(limit)})
	when := firstCross(t, a, def, roundTick(limit), clk.Now())
	clk.Set(when)
	r.before = func() { mustPlace(t, b, req("from-b-2")) }
	fenced := a.fenced.Load()
	got, err := a.GetOrder(ctx, "m", rest.NativeID)
	if err != nil {
		t.Fatal(err)
	}
	if a.fenced.Load() != fenced+1 {
		t.Errorf("fenced commits: got %d, want %d", a.fenced.Load(), fenced+1)
	}
	if got.FilledQuantity.IsZero() {
		t.Errorf("after the market crossed: %+v, want fills", got)
	}
	if other, _ := b.GetOrder(ctx, "m", rest.NativeID); !cmp.Equal(got, other) {
		t.Errorf("the instances differ on the filled order:\n%s", cmp.Diff(got, other))
	}
}

// firstCross returns the first minute after from at which the market makers
// of def ask at or below tick.
func firstCross(t *testing.T, v *Venue, def *marketDef, tick int, from time.Time) time.Time {
	t.Helper()
	for m := 1; m < 3*24*60; m++ {
		at := from.Add(time.Duration(m) * time.Minute)
		bk, start := v.bucketOf(at)
		q := v.quotes(def, bk, start)
		for x := 1; x <= tick; x++ {
			if q.ask[x] > 0 {
				return at
			}
		}
	}
	t.Fatal("the market never came down to the limit in 3 days")
	return time.Time{}
}

// testShared runs the shared-state checks on the stores open gives.
func testShared(t *testing.T, open openShared) {
	t.Run("ConcurrentOrdersOneAccount", func(t *testing.T) { testSharedConcurrent(t, open, nil) })
	t.Run("OneInstanceSeesAnother", func(t *testing.T) { testSharedVisibility(t, open) })
	t.Run("RestingFillSeenEverywhere", func(t *testing.T) { testSharedRestingFill(t, open) })
	t.Run("ReplayedFillOnce", func(t *testing.T) { testSharedReplayedFill(t, open) })
	t.Run("OtherSettingsRefused", func(t *testing.T) { testSharedSettings(t, open) })
	t.Run("CommitFenced", func(t *testing.T) { testSharedCommitFenced(t, open) })
	t.Run("LockLost", func(t *testing.T) { testSharedLockLost(t, open) })
	t.Run("LockStuck", func(t *testing.T) { testSharedLockStuck(t, open) })
}

// mustShared returns one venue per store, all with opts and one clock.
func mustShared(t *testing.T, stores []store.Store, opts Options, clk *clock) []*Venue {
	t.Helper()
	vs := make([]*Venue, len(stores))
	for i, s := range stores {
		o := opts
		o.Store, o.Now = s, clk.Now
		v, err := New(o)
		if err != nil {
			t.Fatalf("New on instance %d: %v", i, err)
		}
		if !v.shared {
			t.Fatalf("instance %d: the venue does not treat %s as shared", i, s.Describe())
		}
		v.checkApply = func() { checkApplied(t, v) }
		vs[i] = v
	}
	return vs
}

// allOrders returns every order of principal through v, newest first.
func allOrders(t *testing.T, v *Venue, principal string) []sibyl.Order {
	t.Helper()
	var all []sibyl.Order
	q := sibyl.OrderQuery{Limit: 100}
	for {
		p, err := v.ListOrders(ctx, principal, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Orders...)
		if p.NextCursor == "" {
			return all
		}
		q.Cursor = p.NextCursor
	}
}

// testSharedConcurrent: callers on two instances trade one account at once
// (market buys, resting buys, cancels through either instance, sells) while
// the clock moves. No order may spend cash the account does not have, ids
// are unique, and both instances show the same orders, cash and positions,
// equal to what the fills add up to.
// done, if not nil, is called with the venues at the end.
func testSharedConcurrent(t *testing.T, open openShared, done func([]*Venue)) {
	clk := &clock{t: t0}
	vs := mustShared(t, open(t, 2), Options{Seed: 41, StartingCash: 150}, clk)
	var ids []string
	for _, p := range []float64{0.3, 0.5, 0.7} {
		ids = append(ids, openMarket(t, vs[0], p).id)
	}
	const me = "alice"
	const perVenue, steps = 3, 15
	var (
		mu       sync.Mutex
		acked    = map[string]sibyl.Order{} // client order id -> order as placed
		openIDs  []string
		refused  int
		failures []error
	)
	fail := func(err error) { mu.Lock(); failures = append(failures, err); mu.Unlock() }
	stop := make(chan struct{})
	ticker := make(chan struct{})
	go func() {
		defer close(ticker)
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				clk.Add(5 * time.Second)
			}
		}
	}()
	var wg sync.WaitGroup
	for vi, v := range vs {
		for w := 0; w < perVenue; w++ {
			wg.Add(1)
			go func(vi, w int, v *Venue) {
				defer wg.Done()
				r := rand.New(rand.NewSource(int64(vi*100 + w)))
				for i := 0; i < steps; i++ {
					coid := fmt.Sprintf("v%d-w%d-%d", vi, w, i)
					id := ids[r.Intn(len(ids))]
					out := []string{"Yes", "No"}[r.Intn(2)]
					req := sibyl.OrderRequest{Principal: me, ClientOrderID: coid, NativeMarketID: id, Outcome: out, Side: sibyl.Buy}
					switch r.Intn(5) {
					case 0, 1: // take liquidity
						req.Type, req.Quantity = sibyl.MarketOrder, decimal.NewFromInt(int64(5+r.Intn(40)))
					case 2: // rest far below the market
						req.Type, req.Quantity, req.LimitPrice = sibyl.LimitOrder, decimal.NewFromInt(int64(5+r.Intn(40))), decimal.New(int64(1+r.Intn(15)), -2)
					case 3: // cancel an order, maybe placed on the other instance
						mu.Lock()
						var oid string
						if len(openIDs) > 0 {
							k := r.Intn(len(openIDs))
							oid = openIDs[k]
							openIDs = append(openIDs[:k], openIDs[k+1:]...)
						}
						mu.Unlock()
						if oid != "" {
							_, err := v.CancelOrder(ctx, me, oid)
							for retry := 0; retry < 20 && sibyl.ErrorCode(err) == sibyl.Unavailable; retry++ {
								_, err = v.CancelOrder(ctx, me, oid)
							}
							if err != nil && sibyl.ErrorCode(err) != sibyl.Conflict {
								fail(fmt.Errorf("cancel %s: %w", oid, err))
							}
						}
						continue
					case 4: // sell part of a position
						pf, err := v.Portfolio(ctx, me)
						if err != nil {
							fail(err)
							continue
						}
						var pos *sibyl.Position
						for i := range pf.Positions {
							if pf.Positions[i].Quantity >= 2 {
								pos = &pf.Positions[i]
							}
						}
						if pos == nil {
							continue
						}
						_, native, _ := sibyl.SplitMarketID(pos.MarketID)
						req.NativeMarketID, req.Outcome, req.Side = native, pos.Outcome, sibyl.Sell
						req.Type, req.Quantity = sibyl.MarketOrder, decimal.NewFromFloat(math.Floor(pos.Quantity/2))
					}
					o, err := v.PlaceOrder(ctx, req)
					for retry := 0; retry < 20 && sibyl.ErrorCode(err) == sibyl.Unavailable; retry++ {
						o, err = v.PlaceOrder(ctx, req) // as an agent retries, with the same client order id
					}
					switch code := sibyl.ErrorCode(err); {
					case err == nil:
						mu.Lock()
						acked[coid] = o
						if !o.Status.Final() {
							openIDs = append(openIDs, o.NativeID)
						}
						mu.Unlock()
					case code == sibyl.InsufficientFunds:
						mu.Lock()
						refused++
						mu.Unlock()
					case code == sibyl.Invalid && req.Side == sibyl.Sell:
						// the position was sold meanwhile, by another caller
					default:
						fail(fmt.Errorf("place %s: %w", coid, err))
					}
				}
			}(vi, w, v)
		}
	}
	wg.Wait()
	close(stop)
	<-ticker
	for _, err := range failures {
		t.Error(err)
	}
	if refused == 0 {
		t.Error("no order was refused for insufficient funds: the test did not press the account's cash")
	}
	if len(acked) < 10 {
		t.Fatalf("only %d orders were placed", len(acked))
	}

	orders := allOrders(t, vs[0], me)
	if diff := cmp.Diff(orders, allOrders(t, vs[1], me)); diff != "" {
		t.Errorf("the instances list different orders (-0 +1):\n%s", diff)
	}
	byID := map[string]sibyl.Order{}
	fills := map[string]bool{}
	for _, o := range orders {
		if _, dup := byID[o.NativeID]; dup {
			t.Errorf("order id %s used twice", o.NativeID)
		}
		byID[o.NativeID] = o
		for _, f := range o.Fills {
			if fills[f.ID] {
				t.Errorf("fill id %s used twice", f.ID)
			}
			fills[f.ID] = true
		}
	}
	if len(orders) != len(acked) {
		t.Errorf("%d orders stored, %d acknowledged", len(orders), len(acked))
	}
	for coid, a := range acked {
		if o, ok := byID[a.NativeID]; !ok || o.ClientOrderID != coid {
			t.Errorf("acknowledged order %s (%s) is not stored as such: %+v", a.NativeID, coid, o)
		}
	}

	// What the fills and the resting buys add up to, in cents.
	cash := int64(15000)
	var reserved int64
	held := map[string]int64{}
	cents := func(d decimal.Decimal) int64 { return d.Shift(2).IntPart() }
	for _, o := range orders {
		k := o.MarketID + "|" + o.Outcome
		for _, f := range o.Fills {
			n := f.Quantity.IntPart()
			if o.Side == sibyl.Buy {
				held[k] += n
				cash -= n*cents(f.Price) + cents(f.Fee)
			} else {
				held[k] -= n
				cash += n*cents(f.Price) - cents(f.Fee)
			}
		}
		if !o.Status.Final() && o.Side == sibyl.Buy {
			rest := o.Quantity.Sub(o.FilledQuantity).IntPart()
			reserved += rest * cents(o.LimitPrice) // the maker fee is 0
		}
	}
	pf := mustPortfolio(t, vs[0], me)
	if diff := cmp.Diff(pf, mustPortfolio(t, vs[1], me)); diff != "" {
		t.Errorf("the instances show different portfolios (-0 +1):\n%s", diff)
	}
	if got, want := dollarsToCents(pf.Cash), cash-reserved; got != want {
		t.Errorf("cash: got %d cents, fills say %d", got, want)
	}
	if got := dollarsToCents(pf.Reserved); got != reserved {
		t.Errorf("reserved: got %d cents, resting buys say %d", got, reserved)
	}
	if pf.Cash < 0 {
		t.Errorf("cash went negative: %v", pf.Cash)
	}
	for _, p := range pf.Positions {
		k := p.MarketID + "|" + p.Outcome
		if int64(p.Quantity) != held[k] {
			t.Errorf("position %s: got %v, fills say %d", k, p.Quantity, held[k])
		}
		delete(held, k)
	}
	for k, n := range held {
		if n != 0 {
			t.Errorf("position %s: fills say %d, the portfolio has none", k, n)
		}
	}
	t.Logf("%d orders placed, %d refused for funds, %d fills; changes applied: %d and %d, reloads: %d and %d",
		len(acked), refused, len(fills), vs[0].applied.Load(), vs[1].applied.Load(), vs[0].reloads.Load(), vs[1].reloads.Load())
	if vs[0].applied.Load()+vs[1].applied.Load() == 0 {
		t.Error("no instance applied another's change")
	}
	if done != nil {
		done(vs)
	}
}

// testSharedVisibility: an order placed through one instance is found,
// listed, cancelled and retried through another, and money moved on one
// shows on the other.
func testSharedVisibility(t *testing.T, open openShared) {
	clk := &clock{t: t0}
	vs := mustShared(t, open(t, 3), Options{Seed: 42}, clk)
	a, b, c := vs[0], vs[1], vs[2]
	id := openMarket(t, a, 0.5).id
	req := sibyl.OrderRequest{Principal: "bob", ClientOrderID: "bob-1", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromInt(10), LimitPrice: decimal.New(2, -2)}
	placed := mustPlace(t, a, req)
	if placed.Status != sibyl.OrderOpen {
		t.Fatalf("placed %+v, want it resting", placed)
	}
	got, err := b.GetOrder(ctx, "bob", placed.NativeID)
	if err != nil {
		t.Fatalf("GetOrder on another instance: %v", err)
	}
	if diff := cmp.Diff(placed, got); diff != "" {
		t.Errorf("GetOrder on another instance (-placed +got):\n%s", diff)
	}
	if got, err := c.OrderByClientID(ctx, "bob", "bob-1", sibyl.LookupHint{}); err != nil || got.NativeID != placed.NativeID {
		t.Errorf("OrderByClientID on another instance: %+v, %v", got, err)
	}
	if page, err := c.ListOrders(ctx, "bob", sibyl.OrderQuery{}); err != nil || len(page.Orders) != 1 || page.Orders[0].NativeID != placed.NativeID {
		t.Errorf("ListOrders on another instance: %+v, %v", page, err)
	}
	// The retry of the same order through another instance is the same order.
	again := mustPlace(t, c, req)
	if again.NativeID != placed.NativeID {
		t.Errorf("the retry on another instance placed %s, want %s", again.NativeID, placed.NativeID)
	}
	if pf := mustPortfolio(t, b, "bob"); pf.Reserved != 0.2 || pf.Cash != 10000-0.2 {
		t.Errorf("portfolio on another instance: cash %v reserved %v, want 9999.8 and 0.2", pf.Cash, pf.Reserved)
	}
	// The next order, on another instance, gets the next id.
	req2 := req
	req2.ClientOrderID = "bob-2"
	second := mustPlace(t, b, req2)
	if second.NativeID <= placed.NativeID {
		t.Errorf("second order id %s does not follow %s", second.NativeID, placed.NativeID)
	}
	cancelled, err := b.CancelOrder(ctx, "bob", placed.NativeID)
	if err != nil || cancelled.Status != sibyl.OrderCancelled {
		t.Fatalf("CancelOrder on another instance: %+v, %v", cancelled, err)
	}
	if _, err := c.CancelOrder(ctx, "bob", placed.NativeID); sibyl.ErrorCode(err) != sibyl.Conflict {
		t.Errorf("cancelling again on a third instance: %v, want conflict", err)
	}
	if got, _ := a.GetOrder(ctx, "bob", placed.NativeID); got.Status != sibyl.OrderCancelled {
		t.Errorf("the placing instance shows %s after the cancel elsewhere", got.Status)
	}
	if pf := mustPortfolio(t, a, "bob"); pf.Reserved != 0.2 || pf.Cash != 10000-0.2 {
		t.Errorf("portfolio after the cancel: cash %v reserved %v, want 9999.8 and 0.2 (one resting order left)", pf.Cash, pf.Reserved)
	}
	if _, err := c.Fund(ctx, "bob", 25); err != nil {
		t.Fatal(err)
	}
	if info, err := a.Account(ctx, "bob"); err != nil || info.Cash != 10025-0.2 {
		t.Errorf("Account after Fund elsewhere: %+v, %v", info, err)
	}
	if _, err := a.Reset(ctx, "bob", 500); err != nil {
		t.Fatal(err)
	}
	accts, err := b.Accounts(ctx)
	if err != nil || len(accts) != 1 || accts[0].Cash != 500 || accts[0].OpenOrders != 0 {
		t.Errorf("Accounts after Reset elsewhere: %+v, %v", accts, err)
	}
	if got, _ := c.GetOrder(ctx, "bob", second.NativeID); got.Status != sibyl.OrderCancelled {
		t.Errorf("order %s after the reset: %s, want cancelled", second.NativeID, got.Status)
	}
}

// testSharedRestingFill: a resting order that the simulated market moves
// through is filled once, by whichever instance looks first, and every
// instance shows the same fills.
func testSharedRestingFill(t *testing.T, open openShared) {
	clk := &clock{t: t0}
	vs := mustShared(t, open(t, 2), Options{Seed: 21}, clk)
	a, b := vs[0], vs[1]
	id := openMarket(t, a, 0.5).id
	def, _ := a.listed(id, a.now())
	book := mustBook(t, a, id, "Yes")
	limit := book.Asks[0].Price - 0.02
	o := mustPlace(t, a, sibyl.OrderRequest{Principal: "p", ClientOrderID: "r1", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromInt(5), LimitPrice: dec(limit)})
	if o.Status != sibyl.OrderOpen {
		t.Fatalf("order %+v", o)
	}
	tick := roundTick(limit)
	var when time.Time
	for m := 1; m < 3*24*60 && when.IsZero(); m++ {
		at := t0.Add(time.Duration(m) * time.Minute)
		bk, start := a.bucketOf(at)
		q := a.quotes(def, bk, start)
		for x := 1; x <= tick; x++ {
			if q.ask[x] > 0 {
				when = at
			}
		}
	}
	if when.IsZero() {
		t.Fatal("the market never came down to the limit in 3 days")
	}
	clk.Set(when)
	// A read on the other instance finds the fill, and makes it durable.
	gb, err := b.GetOrder(ctx, "p", o.NativeID)
	if err != nil {
		t.Fatal(err)
	}
	if gb.FilledQuantity.IsZero() || !gb.Fills[0].Maker {
		t.Fatalf("after the market crossed: %+v", gb)
	}
	ga, err := a.GetOrder(ctx, "p", o.NativeID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(gb, ga); diff != "" {
		t.Errorf("the instances show different fills (-b +a):\n%s", diff)
	}
	pa, pb := mustPortfolio(t, a, "p"), mustPortfolio(t, b, "p")
	if diff := cmp.Diff(pa, pb); diff != "" {
		t.Errorf("portfolios differ (-a +b):\n%s", diff)
	}
	if len(pa.Positions) != 1 || !gb.FilledQuantity.Equal(decimal.NewFromFloat(pa.Positions[0].Quantity)) {
		t.Errorf("position %+v after %s filled", pa.Positions, gb.FilledQuantity)
	}
}

// testSharedReplayedFill: a big resting order partly filled by the replay of
// past market-maker buckets on one instance is not filled again by another
// instance's replay of the same buckets.
func testSharedReplayedFill(t *testing.T, open openShared) {
	clk := &clock{t: t0.Add(5 * time.Second)}
	vs := mustShared(t, open(t, 2), Options{Seed: 21, StartingCash: 1e7}, clk)
	a, b := vs[0], vs[1]
	id := openMarket(t, a, 0.5).id
	def, _ := a.listed(id, clk.Now())
	limit := mustBook(t, a, id, "Yes").Asks[0].Price - 0.02
	o := mustPlace(t, a, sibyl.OrderRequest{Principal: "p", ClientOrderID: "big", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromInt(100000), LimitPrice: dec(limit)})
	tick := roundTick(limit)
	crosses := func(at time.Time) bool {
		bk, start := a.bucketOf(at)
		q := a.quotes(def, bk, start)
		for x := 1; x <= tick; x++ {
			if q.ask[x] > 0 {
				return true
			}
		}
		return false
	}
	look := clk.Now()
	for !crosses(look) && look.Before(t0.Add(3*day)) {
		look = look.Add(time.Minute)
	}
	for crosses(look) {
		look = look.Add(time.Minute)
	}
	clk.Set(look)
	ga, err := a.GetOrder(ctx, "p", o.NativeID)
	if err != nil {
		t.Fatal(err)
	}
	if ga.Status != sibyl.OrderPartiallyFilled {
		t.Fatalf("after the market crossed: %+v, want a partial fill", ga)
	}
	gb, err := b.GetOrder(ctx, "p", o.NativeID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ga, gb); diff != "" {
		t.Errorf("the other instance shows other fills (-a +b):\n%s", diff)
	}
}

// testSharedSettings: an instance with another seed, or other settings of
// the simulated world, is refused by New with an error that names them.
func testSharedSettings(t *testing.T, open openShared) {
	clk := &clock{t: t0}
	stores := open(t, 3)
	vs := mustShared(t, stores[:1], Options{Seed: 7}, clk)
	_, err := New(Options{Seed: 8, Store: stores[1], Now: clk.Now})
	if err == nil || !strings.Contains(err.Error(), "seed 7, not 8") || !strings.Contains(err.Error(), "a store of its own") {
		t.Errorf("New with another seed: %v, want a refusal naming both seeds and the way to another world", err)
	}
	var ow *otherWorldError
	if !errors.As(err, &ow) {
		t.Errorf("New with another seed: %T, want *otherWorldError", err)
	}
	_, err = New(Options{Seed: 7, StartingCash: 500, Store: stores[2], Now: clk.Now})
	if err == nil || !strings.Contains(err.Error(), "starting cash $10000.00") || !strings.Contains(err.Error(), "starting cash $500.00") {
		t.Errorf("New with other starting cash: %v, want a refusal naming both", err)
	}
	// The refused instances changed nothing: the first still trades.
	id := openMarket(t, vs[0], 0.5).id
	o := mustPlace(t, vs[0], sibyl.OrderRequest{Principal: "x", ClientOrderID: "x1", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.MarketOrder, Quantity: decimal.NewFromInt(1)})
	if o.NativeID != "PO-00000001" {
		t.Errorf("first order id %s", o.NativeID)
	}
	// And an instance with the same settings joins.
	if _, err := New(Options{Seed: 7, Store: stores[1], Now: clk.Now}); err != nil {
		t.Errorf("New with the same settings: %v", err)
	}
}

// TestBoltNeverReloads: on a single-process store the venue never rereads
// the store after it opened (its memory is the truth).
func TestBoltNeverReloads(t *testing.T) {
	s := MustOpenStore(t, filepath.Join(t.TempDir(), "sibyl.db"))
	v, clk := MustNew(t, Options{Seed: 5, Store: s}, t0)
	if v.shared {
		t.Fatal("a bbolt store is treated as shared")
	}
	id := openMarket(t, v, 0.5).id
	for i := 0; i < 20; i++ {
		clk.Add(time.Minute)
		mustPlace(t, v, sibyl.OrderRequest{Principal: "p", ClientOrderID: fmt.Sprint(i), NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.MarketOrder, Quantity: decimal.NewFromInt(1)})
		mustPortfolio(t, v, "p")
	}
	if n := v.reloads.Load(); n != 0 {
		t.Errorf("got %d reloads, want 0", n)
	}
}

// checkApplied fails t unless v's memory, after it applied other instances'
// changes, is what loading the store gives (v.mu held). It compares only when
// the store is still at v's generation.
func checkApplied(t *testing.T, v *Venue) {
	w := &Venue{opts: v.opts, prices: v.prices, defCache: map[string]*marketDef{}, fee: v.fee, shared: true, world: v.world, st: newState()}
	if err := w.load(); err != nil {
		t.Errorf("loading to check an applied change: %v", err)
		return
	}
	if w.gen != v.gen {
		return // changed again meanwhile
	}
	if diff := cmp.Diff(dumpState(w), dumpState(v)); diff != "" {
		t.Errorf("generation %d: memory after applying changes differs from the store (-loaded +applied):\n%s", v.gen, diff)
	}
}

// stateDump is the trading state that decides every answer and every future
// fill, in comparable form.
type stateDump struct {
	OrderSeq, FillSeq uint64
	Orders            map[string]order
	ByClient          map[string]string
	Accounts          map[string]accountDump
	Books             map[string]bookDump
}

type accountDump struct {
	Cash, Reserved int64
	Positions      map[string]position
	Open, Orders   []string
}

type bookDump struct {
	Bids, Asks [ticks][]string
	Resting    int
	Used       [2][ticks]int64 // in the current bucket
}

func dumpState(v *Venue) stateDump {
	st := v.st
	d := stateDump{OrderSeq: st.orderSeq, FillSeq: st.fillSeq, Orders: map[string]order{}, ByClient: map[string]string{}, Accounts: map[string]accountDump{}, Books: map[string]bookDump{}}
	for id, o := range st.orders {
		d.Orders[id] = *o
	}
	for k, o := range st.byClient {
		d.ByClient[k] = o.NativeID
	}
	for p, a := range st.accounts {
		ad := accountDump{Cash: a.Cash, Reserved: a.Reserved, Positions: map[string]position{}}
		for k, pos := range a.Positions {
			ad.Positions[k] = *pos
		}
		for id := range a.open {
			ad.Open = append(ad.Open, id)
		}
		sort.Strings(ad.Open)
		for _, o := range a.orders {
			ad.Orders = append(ad.Orders, o.NativeID)
		}
		d.Accounts[p] = ad
	}
	cur, _ := v.bucketOf(v.now())
	for id, ms := range st.markets {
		var bd bookDump
		for tk := 1; tk < ticks; tk++ {
			for _, o := range ms.bids[tk] {
				bd.Bids[tk] = append(bd.Bids[tk], o.NativeID)
			}
			for _, o := range ms.asks[tk] {
				bd.Asks[tk] = append(bd.Asks[tk], o.NativeID)
			}
		}
		bd.Resting = ms.resting
		if ms.bucket == cur {
			bd.Used = ms.used
		}
		if bd.Resting == 0 && bd.Used == ([2][ticks]int64{}) {
			continue // a market that only memory remembers holds nothing
		}
		d.Books[id] = bd
	}
	return d
}
