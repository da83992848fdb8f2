package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/store"
)

// BenchmarkGetMarketUnderVerifyLoops is the security probe's scenario: a
// chain of 17,000 audit entries, 16 sessions looping get_audit_log
// {verify:true} as fast as they can, and another session's get_market
// latency meanwhile (p50/p99 over b.N calls), through the real server on a
// loopback socket with a real bbolt file.
//
//	go test ./cmd/sibyl -run '^$' -bench GetMarketUnderVerifyLoops -benchtime 200x
func BenchmarkGetMarketUnderVerifyLoops(b *testing.B) {
	dir := b.TempDir()
	st, err := store.Open(filepath.Join(dir, "sibyl.db"))
	if err != nil {
		b.Fatal(err)
	}
	for done := 0; done < 17000; done += 1000 {
		err := st.Commit(func(tx store.Txn) error {
			for i := done; i < done+1000; i++ {
				if _, err := tx.AppendAudit(store.AuditEntry{Principal: "key:abc", Transport: "http", Tool: "get_market",
					Outcome: store.OutcomeOK, Args: json.RawMessage(fmt.Sprintf(`{"market":"paper:M-%d","depth":5}`, i))}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	st.Close()

	m := &Main{DataDir: dir, Seed: 1}
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
	getMarket := []byte(fmt.Sprintf(`{"market":%q,"depth":2}`, ms[0].ID))
	lean := func() *leanClient {
		s, err := dialRawHTTP(ctx, hc, ts.URL+"/mcp")
		if err != nil {
			b.Fatal(err)
		}
		c, err := dialLean(ts.URL+"/mcp", s.sid)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var verifyCalls sync.Map
	for w := 0; w < 16; w++ {
		c := lean()
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for {
				select {
				case <-stop:
					verifyCalls.Store(w, n)
					return
				default:
				}
				if _, err := c.callTool("get_audit_log", []byte(`{"verify":true,"limit":1}`)); err != nil {
					b.Error(err)
					verifyCalls.Store(w, n)
					return
				}
				n++
			}
		}()
	}
	probe := lean()
	defer probe.Close()
	time.Sleep(200 * time.Millisecond) // let the loops start
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		if _, err := probe.callTool("get_market", getMarket); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	wg.Wait()
	total := 0
	verifyCalls.Range(func(_, v any) bool { total += v.(int); return true })
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "get_market-p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "get_market-p99-µs")
	b.ReportMetric(float64(total)/elapsed.Seconds(), "verify-calls/s")
}
