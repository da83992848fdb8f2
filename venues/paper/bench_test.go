package paper

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
)

// benchPlace places a mix of orders: resting limit buys below the market,
// immediate-or-cancel buys at the best ask and market sells of what was
// bought, over 100 principals and 8 markets, with the clock moving 100ms per
// order (so the market makers requote every 600 orders).
func benchPlace(b *testing.B, opts Options) {
	clk := &clock{t: t0}
	opts.Now = clk.Now
	opts.Seed = 77
	v, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	for _, p := range []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8} {
		ids = append(ids, openMarket(b, v, p).id)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clk.Add(100 * time.Millisecond)
		req := sibyl.OrderRequest{
			Principal: fmt.Sprintf("p%d", i%100), ClientOrderID: fmt.Sprintf("c%d", i),
			NativeMarketID: ids[i%len(ids)], Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(1),
		}
		switch i % 3 {
		case 0:
			req.LimitPrice = dec(0.01)
		case 1:
			req.Type, req.TimeInForce = sibyl.MarketOrder, sibyl.IOC
		case 2:
			req.Type, req.Side = sibyl.MarketOrder, sibyl.Sell
			req.Principal = fmt.Sprintf("p%d", (i-1)%100)
			req.NativeMarketID = ids[(i-1)%len(ids)]
		}
		if _, err := v.PlaceOrder(ctx, req); err != nil && sibyl.ErrorCode(err) != sibyl.Invalid {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlaceOrder(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchPlace(b, Options{}) })
	b.Run("bbolt", func(b *testing.B) {
		s := MustOpenStore(b, filepath.Join(b.TempDir(), "sibyl.db"))
		benchPlace(b, Options{Store: s})
	})
	// Concurrent callers share fsyncs through the venue's group commit.
	b.Run("bbolt-parallel", func(b *testing.B) {
		s := MustOpenStore(b, filepath.Join(b.TempDir(), "sibyl.db"))
		v, clk := MustNew(b, Options{Seed: 77, Store: s}, t0)
		var ids []string
		for _, p := range []float64{0.2, 0.4, 0.5, 0.6} {
			ids = append(ids, openMarket(b, v, p).id)
		}
		var n atomic.Int64
		b.SetParallelism(32)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				clk.Add(10 * time.Millisecond)
				req := sibyl.OrderRequest{
					Principal: fmt.Sprintf("p%d", i%100), ClientOrderID: fmt.Sprintf("c%d", i),
					NativeMarketID: ids[i%int64(len(ids))], Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(1), LimitPrice: decimal.NewFromFloat(0.01),
				}
				if i%2 == 0 {
					req.Type, req.LimitPrice, req.TimeInForce = sibyl.MarketOrder, decimal.Zero, sibyl.IOC
				}
				if _, err := v.PlaceOrder(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkSearchMarkets(b *testing.B) {
	v, clk := MustNew(b, Options{Seed: 1}, t0)
	queries := []sibyl.MarketQuery{
		{},
		{Text: "btc above", Status: sibyl.StatusOpen},
		{Category: "macro", Limit: 50},
		{Text: "will close", Limit: 100},
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clk.Add(time.Second)
		if _, err := v.SearchMarkets(ctx, queries[i%len(queries)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarket(b *testing.B) {
	v, clk := MustNew(b, Options{Seed: 1}, t0)
	id := openMarket(b, v, 0.5).id
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clk.Add(time.Second)
		if _, err := v.Market(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOrderBook(b *testing.B) {
	v, clk := MustNew(b, Options{Seed: 1}, t0)
	id := openMarket(b, v, 0.5).id
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clk.Add(time.Second)
		if _, err := v.OrderBook(ctx, id, "No", 10); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSpot(b *testing.B) {
	v, clk := MustNew(b, Options{Seed: 1}, t0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		clk.Add(time.Second)
		if _, _, err := v.Spot("BTC"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDailyCandles(b *testing.B) {
	v, _ := MustNew(b, Options{Seed: 1}, t0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := v.DailyCandles("ETH", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), t0); err != nil {
			b.Fatal(err)
		}
	}
}
