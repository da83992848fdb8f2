package orders

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/risk"
	"github.com/sibylmcp/sibyl/store"
)

// BenchmarkPlaceRiskLimits is BenchmarkPlace with and without counted risk
// limits (every counter on, none binding), run side by side: what the check
// and the ledger's reservation and settlement cost an order.
func BenchmarkPlaceRiskLimits(b *testing.B) {
	on := risk.Limits{MaxOrder: usd("1000000"), MaxDaily: usd("1000000000"), TotalDaily: usd("1000000000"),
		MaxMarket: usd("1000000000"), TotalMarket: usd("1000000000"), MaxOpen: 1 << 30, TotalOpen: 1 << 30}
	for _, callers := range []int{1, 64} {
		for _, lim := range []struct {
			name string
			l    risk.Limits
		}{{"off", risk.Limits{}}, {"on", on}} {
			b.Run(fmt.Sprintf("callers=%d/limits=%s", callers, lim.name), func(b *testing.B) {
				st, err := store.Open(filepath.Join(b.TempDir(), "sibyl.db"))
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				x := newExchange()
				svc := New(Options{Store: st, Venues: map[string]sibyl.Venue{"paper": x.venue()}, Limits: map[string]risk.Limits{"paper": lim.l}})
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for g := 0; g < callers; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := int(next.Add(1)) - 1
							if i >= b.N {
								return
							}
							if _, err := svc.Place(context.Background(), placeReq(fmt.Sprintf("bench-%010d", i), float64(i+1))); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "orders/s")
				svc.Flush()
			})
		}
	}
}
