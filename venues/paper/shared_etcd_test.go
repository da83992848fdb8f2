package paper

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/internal/etcdtest"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/store/etcdstore"
)

// etcdShared returns an opener of n etcdstore instances over one cluster,
// each call under a key prefix of its own (an empty state).
func etcdShared(c *etcdtest.Cluster) openShared {
	var seq atomic.Int64
	return func(t *testing.T, n int) []store.Store {
		t.Helper()
		prefix := fmt.Sprintf("/paper-%d/", seq.Add(1))
		out := make([]store.Store, n)
		for i := range out {
			out[i] = mustOpenEtcd(t, c, prefix)
		}
		return out
	}
}

// mustOpenEtcd opens an etcdstore instance under prefix, closed at cleanup.
func mustOpenEtcd(tb testing.TB, c *etcdtest.Cluster, prefix string) store.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := etcdstore.Open(ctx, etcdstore.Options{Endpoints: c.Endpoints(), Prefix: prefix})
	if err != nil {
		tb.Fatalf("etcdstore.Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestSharedEtcd runs the shared-state checks with every venue on its own
// etcdstore instance, over one real 3-member etcd cluster (skipped when the
// etcd binary is missing, except under CI=true).
func TestSharedEtcd(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	testShared(t, etcdShared(c))
}

// BenchmarkPlaceOrderShared measures a durable paper order on bbolt and on
// etcd (one instance, and three instances taking turns, so that an order
// usually first applies the others' changes) in the same run, with 1, 16
// and 64 concurrent callers.
func BenchmarkPlaceOrderShared(b *testing.B) {
	c := etcdtest.StartCluster(b, 3)
	var seq atomic.Int64
	etcd := func(b *testing.B, n int) []store.Store {
		prefix := fmt.Sprintf("/bench-%d/", seq.Add(1))
		out := make([]store.Store, n)
		for i := range out {
			out[i] = mustOpenEtcd(b, c, prefix)
		}
		return out
	}
	for _, callers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("bbolt/callers=%d", callers), func(b *testing.B) {
			benchPlaceOn(b, []store.Store{MustOpenStore(b, filepath.Join(b.TempDir(), "sibyl.db"))}, callers)
		})
		b.Run(fmt.Sprintf("etcd-1/callers=%d", callers), func(b *testing.B) { benchPlaceOn(b, etcd(b, 1), callers) })
		b.Run(fmt.Sprintf("etcd-3/callers=%d", callers), func(b *testing.B) { benchPlaceOn(b, etcd(b, 3), callers) })
	}
}

// benchPlaceOn places orders through venues on stores, round robin, from
// callers goroutines: resting limit buys at $0.01 and immediate-or-cancel
// market buys, over 100 principals and 4 markets, the clock moving 10ms per
// order.
func benchPlaceOn(b *testing.B, stores []store.Store, callers int) {
	clk := &clock{t: t0}
	var vs []*Venue
	for _, s := range stores {
		v, err := New(Options{Seed: 77, Store: s, Now: clk.Now})
		if err != nil {
			b.Fatal(err)
		}
		vs = append(vs, v)
	}
	var ids []string
	for _, p := range []float64{0.2, 0.4, 0.5, 0.6} {
		ids = append(ids, openMarket(b, vs[0], p).id)
	}
	var n atomic.Int64
	lat := make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < callers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := n.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				clk.Add(10 * time.Millisecond)
				req := sibyl.OrderRequest{
					Principal: fmt.Sprintf("p%d", i%100), ClientOrderID: fmt.Sprintf("c%d", i),
					NativeMarketID: ids[i%int64(len(ids))], Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromInt(1), LimitPrice: decimal.New(1, -2),
				}
				if i%2 == 0 {
					req.Type, req.LimitPrice, req.TimeInForce = sibyl.MarketOrder, decimal.Zero, sibyl.IOC
				}
				t := time.Now()
				if _, err := vs[i%int64(len(vs))].PlaceOrder(ctx, req); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[b.N/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[min(b.N-1, b.N*99/100)].Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "orders/s")
	var applied, reloads uint64
	for _, v := range vs {
		applied += v.applied.Load()
		reloads += v.reloads.Load()
	}
	b.ReportMetric(float64(applied)/float64(b.N), "applied/op")
	b.ReportMetric(float64(reloads), "reloads")
}

// TestSharedEtcdQuorumLost: with the etcd quorum lost, paper calls on any
// instance fail as unavailable (nothing is guessed from memory); once the
// quorum is back, the retry of the refused order (same client order id)
// places it once, and the instances agree.
func TestSharedEtcdQuorumLost(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	open := func() store.Store {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		s, err := etcdstore.Open(ctx, etcdstore.Options{Endpoints: c.Endpoints(), Prefix: "/quorum/", OpTimeout: 2 * time.Second})
		if err != nil {
			t.Fatalf("etcdstore.Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	clk := &clock{t: t0}
	vs := mustShared(t, []store.Store{open(), open()}, Options{Seed: 44}, clk)
	a, b := vs[0], vs[1]
	id := openMarket(t, a, 0.5).id
	req := func(coid string) sibyl.OrderRequest {
		return sibyl.OrderRequest{Principal: "q", ClientOrderID: coid, NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromInt(2), LimitPrice: decimal.New(3, -2)}
	}
	first := mustPlace(t, a, req("before"))

	if _, err := c.KillQuorum(); err != nil {
		t.Fatal(err)
	}
	_, err := b.PlaceOrder(ctx, req("during"))
	wantCode(t, err, sibyl.Unavailable, "")
	_, err = a.GetOrder(ctx, "q", first.NativeID)
	wantCode(t, err, sibyl.Unavailable, "")
	_, err = b.Portfolio(ctx, "q")
	wantCode(t, err, sibyl.Unavailable, "")

	rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.RestartStopped(rctx); err != nil {
		t.Fatal(err)
	}
	var during sibyl.Order
	for i := 0; ; i++ { // the first calls after the restart may still meet an election
		during, err = a.PlaceOrder(ctx, req("during"))
		if sibyl.ErrorCode(err) != sibyl.Unavailable || i == 20 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the retry after the quorum came back: %v", err)
	}
	if during.NativeID == first.NativeID {
		t.Fatalf("the new order got the id of %s", first.NativeID)
	}
	for _, v := range vs {
		orders := allOrders(t, v, "q")
		if len(orders) != 2 {
			t.Errorf("%d orders, want 2 (one before, one retried after): %+v", len(orders), orders)
		}
		if pf := mustPortfolio(t, v, "q"); pf.Reserved != 0.12 {
			t.Errorf("reserved %v, want 0.12 for two resting orders", pf.Reserved)
		}
	}
}
