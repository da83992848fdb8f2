package orders

// Benchmarks of the durable order path against the raw limits of bbolt on the
// same disk. Run:
//
//	go test -run '^$' -bench . -benchtime 3s ./orders
//
// BenchmarkPlace reports orders/s and per-order p50/p99 latency for 1, 16 and 64
// concurrent callers (each Place = one claim commit + one venue call + one
// complete commit, both fsync'd, with their audit entries). BenchmarkBolt* are
// the baselines: one fsync'd Update per write, and DB.Batch from 64 goroutines.
// The raw baselines open their own bbolt file; bbolt stays out of non-test code.

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
	bolt "go.etcd.io/bbolt"
)

func BenchmarkPlace(b *testing.B) {
	for _, callers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			st, err := store.Open(filepath.Join(b.TempDir(), "sibyl.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			x := newExchange() // zero latency
			svc := New(Options{Store: st, Venues: map[string]sibyl.Venue{"paper": x.venue()}})
			lat := make([]time.Duration, b.N)
			var next atomic.Int64
			var wg sync.WaitGroup
			ctx := context.Background()
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
						req := placeReq(fmt.Sprintf("bench-%010d", i), float64(i+1))
						t0 := time.Now()
						if _, err := svc.Place(ctx, req); err != nil {
							b.Error(err)
							return
						}
						lat[i] = time.Since(t0)
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "orders/s")
			b.ReportMetric(float64(lat[b.N/2].Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(lat[min(b.N-1, b.N*99/100)].Microseconds())/1000, "p99_ms")
			cs := st.CommitStats()
			b.ReportMetric(float64(cs.Functions)/float64(max(cs.Transactions, 1)), "commits/fsync")
		})
	}
}

func openBolt(b *testing.B) *bolt.DB {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func rawPut(tx *bolt.Tx, i uint64) error {
	bk, err := tx.CreateBucketIfNotExists([]byte("raw"))
	if err != nil {
		return err
	}
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], i)
	return bk.Put(k[:], make([]byte, 512)) // about one record plus one audit entry
}

// BenchmarkBoltUpdate is one fsync'd transaction per write: the rate an order
// path without group commit could not exceed (and it needs two per order).
func BenchmarkBoltUpdate(b *testing.B) {
	db := openBolt(b)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := db.Update(func(tx *bolt.Tx) error { return rawPut(tx, uint64(i)) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
}

// BenchmarkBoltBatch64 is DB.Batch from 64 goroutines with bbolt's defaults
// (MaxBatchSize 1000, MaxBatchDelay 10ms).
func BenchmarkBoltBatch64(b *testing.B) {
	db := openBolt(b)
	var next atomic.Uint64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= uint64(b.N) {
					return
				}
				if err := db.Batch(func(tx *bolt.Tx) error { return rawPut(tx, i) }); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
}
