package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkPlaceOrderHTTP measures durable place_order calls through the real
// server (in-process, on a loopback socket) with a real bbolt file: every order is
// fsync'd before the venue is called. Beside it, BenchmarkBolt measures the raw
// file's limits in the same run, and BenchmarkReadToolHTTP the same server's
// ceiling for a call that writes nothing durable.
//
//	go test ./cmd/sibyl -run '^$' -bench 'PlaceOrderHTTP|ReadToolHTTP|Bolt' -benchtime 3s
//
// clients=64,group-commit=off is the same server with group commit turned off
// (store MaxBatch 1: every transaction, of the three an order makes, is fsync'd
// on its own), to show what group commit buys.
func BenchmarkPlaceOrderHTTP(b *testing.B) {
	for _, c := range []struct {
		clients, maxBatch int
		name              string
	}{{1, 0, ""}, {16, 0, ""}, {64, 0, ""}, {64, 1, ",group-commit=off"}} {
		clients := c.clients
		b.Run(fmt.Sprintf("clients=%d%s", clients, c.name), func(b *testing.B) {
			benchHTTPLoad(b, &Main{DataDir: b.TempDir(), Seed: 1, storeMaxBatch: c.maxBatch}, clients, "place_order", "orders/s", func(market string, i int64) []byte {
				// IOC far under the market: a complete order that never rests.
				// The quantity varies so no two orders look like duplicates.
				return fmt.Appendf(nil, `{"market":%q,"outcome":"Yes","side":"buy","quantity":%d,"limit_price":0.01,"time_in_force":"ioc","idempotency_key":"bench-%d-%d"}`,
					market, 1+i%50000, clients, i)
			}, func(res json.RawMessage) error {
				// A non-empty order id, found without decoding the whole result
				// (like the load generator, the check stays cheap).
				i := bytes.Index(res, []byte(`"order_id":"`))
				if i < 0 || len(res) <= i+12 || res[i+12] == '"' {
					return fmt.Errorf("no order id in %.200s", res)
				}
				return nil
			})
		})
	}
}

// BenchmarkReadToolHTTP is BenchmarkPlaceOrderHTTP's harness with
// list_venues, the cheapest tool: a read-only call (audited asynchronously,
// nothing awaited on disk), so its rate is the server's ceiling for any
// tools/call over HTTP on this machine.
func BenchmarkReadToolHTTP(b *testing.B) {
	for _, clients := range []int{64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			benchHTTPLoad(b, &Main{DataDir: b.TempDir(), Seed: 1}, clients, "list_venues", "calls/s", func(market string, i int64) []byte {
				return []byte(`{}`)
			}, func(res json.RawMessage) error {
				if !bytes.Contains(res, []byte(`"venues"`)) {
					return fmt.Errorf("no bids in %.200s", res)
				}
				return nil
			})
		})
	}
}

// benchHTTPLoad serves sibyl serve --http's handler (m.Open and httpHandler:
// paper venue, orders service, audit log, the bbolt file in m.DataDir) on a
// loopback socket, and has clients sessions, each on its own
// keep-alive connection, call tool b.N times in all, one call at a time each.
// It reports the rate (named unit), p50/p99 latency, process CPU per call and
// the group committer's counters.
func benchHTTPLoad(b *testing.B, m *Main, clients int, tool, unit string, args func(market string, i int64) []byte, check func(json.RawMessage) error) {
	if m.venueFlags.list == "" {
		m.venueFlags.list = "paper" // what ParseFlags defaults to
	}
	srv, err := m.Open()
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	handler, _, _, err := m.httpHandler(srv)
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(handler)
	defer ts.Close()
	ctx := context.Background()
	hc := newCTHTTPClient()
	first, err := dialRawHTTP(ctx, hc, ts.URL+"/mcp")
	if err != nil {
		b.Fatal(err)
	}
	ms, err := findOpenMarkets(ctx, first, 1)
	if err != nil {
		b.Fatal(err)
	}
	market := ms[0].ID
	cs := make([]*leanClient, clients)
	for i := range cs {
		s, err := dialRawHTTP(ctx, hc, ts.URL+"/mcp")
		if err != nil {
			b.Fatal(err)
		}
		if cs[i], err = dialLean(ts.URL+"/mcp", s.sid); err != nil {
			b.Fatal(err)
		}
		defer cs[i].Close()
	}
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	stats0, cpu0 := m.store.CommitStats(), processCPU()
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				a := args(market, i)
				t0 := time.Now()
				res, err := cs[w].callTool(tool, a)
				lat[w] = append(lat[w], time.Since(t0))
				if err == nil {
					err = check(res)
				}
				if err != nil && failed.Add(1) == 1 {
					b.Errorf("%s: %v", tool, err)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit)
	st := m.store.CommitStats()
	if txs := st.Transactions - stats0.Transactions; txs > 0 {
		b.ReportMetric(float64(st.Functions-stats0.Functions)/float64(txs), "fns/commit")
	}
	b.ReportMetric(float64(st.PagesWritten-stats0.PagesWritten)/float64(b.N), "pages/call")
	b.ReportMetric(100*float64(st.Busy-stats0.Busy)/float64(elapsed), "committer-busy-%")
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/call")
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkBolt measures the raw bbolt limits on this machine's disk: one
// fsync'd Update per write, and Batch with 64 concurrent writers (bbolt's own
// group commit).
func BenchmarkBolt(b *testing.B) {
	value := bytes.Repeat([]byte("x"), 300) // about an idempotency record
	open := func(b *testing.B) *bolt.DB {
		db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
			b.Fatal(err)
		}
		return db
	}
	b.Run("update-per-write", func(b *testing.B) {
		db := open(b)
		b.ResetTimer()
		for i := range b.N {
			if err := db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket([]byte("b")).Put([]byte(fmt.Sprintf("k%012d", i)), value)
			}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
	})
	b.Run("batch-64-writers", func(b *testing.B) {
		db := open(b)
		var next atomic.Int64
		var wg sync.WaitGroup
		b.ResetTimer()
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1)
					if i > int64(b.N) {
						return
					}
					if err := db.Batch(func(tx *bolt.Tx) error {
						return tx.Bucket([]byte("b")).Put([]byte(fmt.Sprintf("k%012d", i)), value)
					}); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
	})
}

// processCPU is the CPU time (user and system) this process has used: the
// server's and, in these in-process benchmarks, the load generator's.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMetricsOverheadHTTP measures what the metrics cost a tools/call:
// the same server with and without them (tool-call counters and histograms,
// the group-commit and order-outcome hooks, the refusal-counting wrapper),
// for list_venues and for a durable place_order, at 16 clients.
//
//	go test ./cmd/sibyl -run '^$' -bench MetricsOverheadHTTP -benchtime 2s -count 3
func BenchmarkMetricsOverheadHTTP(b *testing.B) {
	for _, tool := range []string{"list_venues", "place_order"} {
		for _, off := range []bool{false, true} {
			name := fmt.Sprintf("%s/metrics=on", tool)
			if off {
				name = fmt.Sprintf("%s/metrics=off", tool)
			}
			b.Run(name, func(b *testing.B) {
				m := &Main{DataDir: b.TempDir(), Seed: 1, noMetrics: off}
				if tool == "list_venues" {
					benchHTTPLoad(b, m, 16, tool, "calls/s", func(string, int64) []byte { return []byte(`{}`) },
						func(json.RawMessage) error { return nil })
					return
				}
				benchHTTPLoad(b, m, 16, tool, "orders/s", func(market string, i int64) []byte {
					return fmt.Appendf(nil, `{"market":%q,"outcome":"Yes","side":"buy","quantity":%d,"limit_price":0.01,"time_in_force":"ioc","idempotency_key":"mbench-%d"}`,
						market, 1+i%50000, i)
				}, func(res json.RawMessage) error {
					if !bytes.Contains(res, []byte(`"order_id":"`)) {
						return fmt.Errorf("no order id in %.200s", res)
					}
					return nil
				})
			})
		}
	}
}
