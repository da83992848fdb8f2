package paper

import (
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

type snapshot struct {
	Orders     map[string][]sibyl.Order
	Portfolios map[string]sibyl.Portfolio
	Books      []sibyl.OrderBook
}

func takeSnapshot(t *testing.T, v *Venue, ids []string, principals ...string) snapshot {
	t.Helper()
	s := snapshot{Orders: map[string][]sibyl.Order{}, Portfolios: map[string]sibyl.Portfolio{}}
	for _, p := range principals {
		page, err := v.ListOrders(ctx, p, sibyl.OrderQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		s.Orders[p] = page.Orders
		s.Portfolios[p] = mustPortfolio(t, v, p)
	}
	for _, id := range ids {
		s.Books = append(s.Books, mustBook(t, v, id, "Yes"))
	}
	return s
}

func TestPersistenceAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sibyl.db")
	s1, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: t0.Add(17 * time.Second)}
	v1, err := New(Options{Seed: 5, Store: s1, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	id := openMarket(t, v1, 0.5).id
	id2 := openMarket(t, v1, 0.2).id
	book := mustBook(t, v1, id, "Yes")
	filled := mustPlace(t, v1, sibyl.OrderRequest{Principal: "alice", ClientOrderID: "a1", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.MarketOrder, Quantity: decimal.NewFromFloat(book.Asks[0].Size + 3)})
	mustPlace(t, v1, sibyl.OrderRequest{Principal: "alice", ClientOrderID: "a2", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(7), LimitPrice: decimal.NewFromFloat(0.02)})
	mustPlace(t, v1, sibyl.OrderRequest{Principal: "alice", ClientOrderID: "a3", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Sell, Quantity: decimal.NewFromFloat(2), LimitPrice: decimal.NewFromFloat(0.98)})
	mustPlace(t, v1, sibyl.OrderRequest{Principal: "alice", ClientOrderID: "a4", NativeMarketID: id2, Outcome: "No", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(5), Type: sibyl.MarketOrder})
	b1 := mustPlace(t, v1, sibyl.OrderRequest{Principal: "bob", ClientOrderID: "b1", NativeMarketID: id2, Outcome: "No", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(9), LimitPrice: decimal.NewFromFloat(0.03)})
	if _, err := v1.CancelOrder(ctx, "bob", b1.NativeID); err != nil {
		t.Fatal(err)
	}
	want := takeSnapshot(t, v1, []string{id, id2}, "alice", "bob")
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := MustOpenStore(t, path)
	if _, err := New(Options{Seed: 6, Store: s2, Now: clk.Now}); err == nil {
		t.Fatal("New with another seed accepted the state")
	}
	v2, err := New(Options{Seed: 5, Store: s2, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	got := takeSnapshot(t, v2, []string{id, id2}, "alice", "bob")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("state after reopen differs (-before +after):\n%s", diff)
	}
	again := mustPlace(t, v2, sibyl.OrderRequest{Principal: "alice", ClientOrderID: "a1", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.MarketOrder, Quantity: decimal.NewFromFloat(1)})
	if again.NativeID != filled.NativeID {
		t.Errorf("resend after reopen made %s, want %s", again.NativeID, filled.NativeID)
	}
	next := mustPlace(t, v2, sibyl.OrderRequest{Principal: "carol", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(1), LimitPrice: decimal.NewFromFloat(0.01)})
	for _, os := range want.Orders {
		for _, o := range os {
			if o.NativeID >= next.NativeID {
				t.Errorf("new order id %s does not follow %s", next.NativeID, o.NativeID)
			}
		}
	}
	// Settlement still happens after a restart.
	def, _ := v2.listed(id, clk.Now())
	clk.Set(def.settle.Add(time.Second))
	pf := mustPortfolio(t, v2, "alice")
	if pf.Reserved != 0 {
		t.Errorf("reserved %v after the market settled", pf.Reserved)
	}
	for _, p := range pf.Positions {
		if p.MarketID == "paper:"+id && p.Quantity != 0 {
			t.Errorf("unsettled position %+v", p)
		}
	}
}

// TestConcurrentTrading hammers one venue (with a bbolt file) from several
// goroutines while the clock moves, then checks that the books balance.
func TestConcurrentTrading(t *testing.T) {
	s := MustOpenStore(t, filepath.Join(t.TempDir(), "sibyl.db"))
	clk := &clock{t: t0}
	v, err := New(Options{Seed: 31, Store: s, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range []float64{0.2, 0.4, 0.5, 0.7} {
		ids = append(ids, openMarket(t, v, p).id)
	}
	const workers, steps = 6, 60
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				clk.Add(7 * time.Second)
				time.Sleep(time.Millisecond)
			}
		}
	}()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(w)))
			me := fmt.Sprintf("p%d", w)
			var open []string
			for i := 0; i < steps; i++ {
				id := ids[r.Intn(len(ids))]
				out := []string{"Yes", "No"}[r.Intn(2)]
				switch r.Intn(6) {
				case 0:
					v.PlaceOrder(ctx, sibyl.OrderRequest{Principal: me, ClientOrderID: fmt.Sprintf("%s-%d", me, i), NativeMarketID: id, Outcome: out, Side: sibyl.Buy, Type: sibyl.MarketOrder, Quantity: decimal.NewFromFloat(float64(1 + r.Intn(20)))})
				case 1, 2:
					o, err := v.PlaceOrder(ctx, sibyl.OrderRequest{Principal: me, ClientOrderID: fmt.Sprintf("%s-%d", me, i), NativeMarketID: id, Outcome: out, Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(float64(1 + r.Intn(20))), LimitPrice: decimal.NewFromFloat(float64(1+r.Intn(98)) / 100)})
					if err == nil && !o.Status.Final() {
						open = append(open, o.NativeID)
					}
				case 3:
					if len(open) > 0 {
						v.CancelOrder(ctx, me, open[0])
						open = open[1:]
					}
				case 4:
					pf, _ := v.Portfolio(ctx, me)
					for _, p := range pf.Positions {
						if p.Quantity > 1 {
							_, native, _ := sibyl.SplitMarketID(p.MarketID)
							v.PlaceOrder(ctx, sibyl.OrderRequest{Principal: me, NativeMarketID: native, Outcome: p.Outcome, Side: sibyl.Sell, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(math.Floor(p.Quantity / 2)), LimitPrice: decimal.NewFromFloat(float64(1+r.Intn(98)) / 100)})
							break
						}
					}
				case 5:
					v.OrderBook(ctx, id, out, 5)
					v.Market(ctx, id)
					v.SearchMarkets(ctx, sibyl.MarketQuery{Text: "btc", Limit: 5})
					v.ListOrders(ctx, me, sibyl.OrderQuery{Limit: 5})
				}
			}
		}(w)
	}
	wg.Wait()
	close(stop)

	for w := 0; w < workers; w++ {
		me := fmt.Sprintf("p%d", w)
		var all []sibyl.Order
		q := sibyl.OrderQuery{Limit: 100}
		for {
			p, err := v.ListOrders(ctx, me, q)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, p.Orders...)
			if p.NextCursor == "" {
				break
			}
			q.Cursor = p.NextCursor
		}
		held := map[string]float64{}
		cash := 10000.0
		reserved := 0.0
		for _, o := range all {
			k := o.MarketID + "|" + o.Outcome
			for _, f := range o.Fills {
				if o.Side == sibyl.Buy {
					held[k] += fl(f.Quantity)
					cash -= fl(f.Price.Mul(f.Quantity).Add(f.Fee))
				} else {
					held[k] -= fl(f.Quantity)
					cash += fl(f.Price.Mul(f.Quantity).Sub(f.Fee))
				}
			}
			if !o.Status.Final() && o.Side == sibyl.Buy {
				reserved += fl(o.Quantity.Sub(o.FilledQuantity).Mul(o.LimitPrice))
			}
		}
		pf := mustPortfolio(t, v, me)
		if math.Abs(pf.Cash+pf.Reserved-cash) > 0.005 || math.Abs(pf.Reserved-reserved) > 0.005 || pf.Cash < 0 {
			t.Errorf("%s: cash %v reserved %v, fills say %v and %v", me, pf.Cash, pf.Reserved, cash-reserved, reserved)
		}
		for _, p := range pf.Positions {
			if k := p.MarketID + "|" + p.Outcome; held[k] != p.Quantity {
				t.Errorf("%s %s: position %v, fills say %v", me, k, p.Quantity, held[k])
			}
		}
	}
}

func TestStoreFailureIsUnavailable(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "sibyl.db"))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := MustNew(t, Options{Seed: 3, Store: s}, t0)
	id := openMarket(t, v, 0.5).id
	mustPlace(t, v, sibyl.OrderRequest{Principal: "a", ClientOrderID: "x1", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromFloat(1), LimitPrice: decimal.NewFromFloat(0.01)})
	s.Close()
	_, err = v.PlaceOrder(ctx, sibyl.OrderRequest{Principal: "a", ClientOrderID: "x2", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(1), LimitPrice: decimal.NewFromFloat(0.01)})
	wantCode(t, err, sibyl.Unavailable, "")
	if _, err := v.OrderByClientID(ctx, "a", "x2", sibyl.LookupHint{}); sibyl.ErrorCode(err) != sibyl.NotFound {
		t.Errorf("the failed order is visible: %v", err)
	}
}

// TestRestingFillsAcrossRestart: resting orders that the market moved through
// while the venue was down fill as they would have without the restart.
func TestRestingFillsAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sibyl.db")
	s1, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: t0.Add(5 * time.Second)}
	v1, err := New(Options{Seed: 23, Store: s1, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ref, refClk := MustNew(t, Options{Seed: 23}, clk.Now())
	id := openMarket(t, v1, 0.5).id
	book := mustBook(t, v1, id, "Yes")
	var ids []string
	for i, d := range []float64{-0.02, -0.03, 0.02, 0.03} {
		req := sibyl.OrderRequest{Principal: "p", ClientOrderID: fmt.Sprint(i), NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(50), LimitPrice: decimal.NewFromFloat(math.Round((book.Bids[0].Price+d)*100) / 100)}
		if d > 0 {
			req.Outcome, req.LimitPrice = "No", dec(math.Round((1-book.Asks[0].Price+d)*100)/100)
		}
		ids = append(ids, mustPlace(t, v1, req).NativeID)
		mustPlace(t, ref, req)
	}
	clk.Add(3 * time.Hour)
	refClk.Set(clk.Now())
	v1.Market(ctx, id) // some fills before the restart
	ref.Market(ctx, id)
	s1.Close()
	clk.Add(7 * time.Hour)
	refClk.Set(clk.Now())
	v2, err := New(Options{Seed: 23, Store: MustOpenStore(t, path), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	filled := 0
	for _, oid := range ids {
		a, _ := v2.GetOrder(ctx, "p", oid)
		b, _ := ref.GetOrder(ctx, "p", oid)
		if diff := cmp.Diff(b, a); diff != "" {
			t.Errorf("order %s differs (-no restart +restart):\n%s", oid, diff)
		}
		filled += len(a.Fills)
	}
	if filled == 0 {
		t.Error("no resting order filled in 10 hours; pick wider test prices")
	}
}

// TestFailedWriteAmongConcurrentOrders: a write that fails (a key too long for
// bbolt) among concurrent ones loses only calls that were told Unavailable:
// after reopening, every order that was acknowledged is there and no refused
// one is, and the balances match the in-memory venue's.
func TestFailedWriteAmongConcurrentOrders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sibyl.db")
	s := MustOpenStore(t, path)
	v, _ := MustNew(t, Options{Seed: 5, Store: s}, t0)
	id := openMarket(t, v, 0.5).id
	huge := strings.Repeat("p", 40000) // "a/"+huge exceeds bbolt's key limit
	type result struct {
		principal, coid string
		err             error
	}
	var mu sync.Mutex
	var results []result
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				p := fmt.Sprintf("p%d", w)
				if w == 0 && i%5 == 2 {
					p = huge
				}
				coid := fmt.Sprintf("w%d-%d", w, i)
				_, err := v.PlaceOrder(ctx, sibyl.OrderRequest{Principal: p, ClientOrderID: coid, NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(1), LimitPrice: decimal.NewFromFloat(0.01)})
				mu.Lock()
				results = append(results, result{p, coid, err})
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	v2, _ := MustNew(t, Options{Seed: 5, Store: s}, t0)
	failed := 0
	for _, r := range results {
		_, err1 := v.OrderByClientID(ctx, r.principal, r.coid, sibyl.LookupHint{})
		_, err2 := v2.OrderByClientID(ctx, r.principal, r.coid, sibyl.LookupHint{})
		switch {
		case r.err == nil && (err1 != nil || err2 != nil):
			t.Errorf("acknowledged order %s missing: memory %v, disk %v", r.coid, err1, err2)
		case r.err != nil:
			failed++
			wantCode(t, r.err, sibyl.Unavailable, "")
			if err1 == nil || err2 == nil {
				t.Errorf("refused order %s exists: memory %v, disk %v", r.coid, err1, err2)
			}
		}
	}
	t.Logf("%d of %d calls failed", failed, len(results))
	if failed < 5 {
		t.Errorf("%d calls failed, want at least the 5 with the oversized principal", failed)
	}
	for w := 1; w < 8; w++ {
		p := fmt.Sprintf("p%d", w)
		if a, b := mustPortfolio(t, v, p), mustPortfolio(t, v2, p); a.Cash != b.Cash || a.Reserved != b.Reserved {
			t.Errorf("%s: memory cash %v reserved %v, disk %v %v", p, a.Cash, a.Reserved, b.Cash, b.Reserved)
		}
	}
}

// TestFailedReloadRefusesWrites: when a write fails and reloading the state
// fails too (the file cannot be read), the venue must not write from the
// empty state it is left with once the storage works again: that would reuse
// order ids over acknowledged orders and forget client order ids. It reloads
// first.
func TestFailedReloadRefusesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sibyl.db")
	s1, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := MustNew(t, Options{Seed: 3, Store: s1}, t0)
	id := openMarket(t, v, 0.5).id
	req := func(coid string) sibyl.OrderRequest {
		return sibyl.OrderRequest{Principal: "a", ClientOrderID: coid, NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(1), LimitPrice: decimal.NewFromFloat(0.01)}
	}
	x1 := mustPlace(t, v, req("x1"))
	s1.Close()
	_, err = v.PlaceOrder(ctx, req("x2")) // the write and the reload fail
	wantCode(t, err, sibyl.Unavailable, "")

	// The storage comes back (the test swaps in the reopened file).
	s2 := MustOpenStore(t, path)
	v.mu.Lock()
	v.opts.Store = s2
	v.mu.Unlock()
	x3, err := v.PlaceOrder(ctx, req("x3"))
	if err != nil {
		t.Fatalf("PlaceOrder x3 after recovery: %v", err)
	}
	if x3.NativeID == x1.NativeID {
		t.Errorf("x3 got id %s, the id of the acknowledged x1", x3.NativeID)
	}
	if got := mustPlace(t, v, req("x1")); got.NativeID != x1.NativeID {
		t.Errorf("retry of x1: got order %s, want %s", got.NativeID, x1.NativeID)
	}
	v2, _ := MustNew(t, Options{Seed: 3, Store: s2}, t0)
	for _, want := range []sibyl.Order{x1, x3} {
		got, err := v2.OrderByClientID(ctx, "a", want.ClientOrderID, sibyl.LookupHint{})
		if err != nil || got.NativeID != want.NativeID {
			t.Errorf("on disk, %s: got %q, %v; want %s", want.ClientOrderID, got.NativeID, err, want.NativeID)
		}
	}
	if _, err := v2.OrderByClientID(ctx, "a", "x2", sibyl.LookupHint{}); sibyl.ErrorCode(err) != sibyl.NotFound {
		t.Errorf("the failed order x2 is on disk: %v", err)
	}
}

// TestReplayedFillsNotRepeatedAfterReopen: a resting order partly filled by
// the replay of a past market-maker bucket (not the current one) keeps just
// that fill after a reopen: the replay's progress is stored with the fill, so
// the reopened venue does not replay the bucket and fill the order again.
func TestReplayedFillsNotRepeatedAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sibyl.db")
	s1, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: t0.Add(5 * time.Second)}
	v1, err := New(Options{Seed: 21, Store: s1, Now: clk.Now, StartingCash: 1e7})
	if err != nil {
		t.Fatal(err)
	}
	id := openMarket(t, v1, 0.5).id
	def, _ := v1.listed(id, clk.Now())
	book := mustBook(t, v1, id, "Yes")
	limit := book.Asks[0].Price - 0.02
	o := mustPlace(t, v1, sibyl.OrderRequest{Principal: "p", ClientOrderID: "big", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Quantity: decimal.NewFromInt(100000), LimitPrice: dec(limit)})
	tick := roundTick(limit)
	var when time.Time
	for m := 1; m < 3*24*60 && when.IsZero(); m++ {
		at := t0.Add(time.Duration(m) * time.Minute)
		b, start := v1.bucketOf(at)
		q := v1.quotes(def, b, start)
		for x := 1; x <= tick; x++ {
			if q.ask[x] > 0 {
				when = at
			}
		}
	}
	if when.IsZero() {
		t.Fatal("the market never came down to the limit in 3 days")
	}
	// Look first in a later bucket whose quotes do not reach the limit: the
	// fills come from the replay of past buckets only.
	crosses := func(at time.Time) bool {
		b, start := v1.bucketOf(at)
		q := v1.quotes(def, b, start)
		for x := 1; x <= tick; x++ {
			if q.ask[x] > 0 {
				return true
			}
		}
		return false
	}
	look := when.Add(time.Minute)
	for crosses(look) {
		look = look.Add(time.Minute)
	}
	clk.Set(look)
	before, err := v1.GetOrder(ctx, "p", o.NativeID)
	if err != nil {
		t.Fatal(err)
	}
	if before.FilledQuantity.IsZero() || before.Status != sibyl.OrderPartiallyFilled {
		t.Fatalf("after the market crossed: %+v, want a partial fill", before)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := MustOpenStore(t, path)
	v2, err := New(Options{Seed: 21, Store: s2, Now: clk.Now, StartingCash: 1e7})
	if err != nil {
		t.Fatal(err)
	}
	after, err := v2.GetOrder(ctx, "p", o.NativeID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("the order changed across the reopen (-before +after):\n%s", diff)
	}
}
