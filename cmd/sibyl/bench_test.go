package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/mcp"
	bolt "go.etcd.io/bbolt"
)

// rpcClient is a minimal Streamable HTTP JSON-RPC client for benchmarks: one
// session, requests answered as JSON or as an SSE stream.
type rpcClient struct {
	url, session string
	hc           *http.Client
	id           atomic.Int64
}

func (c *rpcClient) post(method string, params any, notification bool) (json.RawMessage, error) {
	msg := map[string]any{"jsonrpc": "2.0", "method": method}
	if params != nil {
		msg["params"] = params
	}
	if !notification {
		msg["id"] = c.id.Add(1)
	}
	body, _ := json.Marshal(msg)
	req, _ := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.session != "" {
		req.Header.Set("Mcp-Session-Id", c.session)
		req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if s := resp.Header.Get("Mcp-Session-Id"); s != "" {
		c.session = s
	}
	if notification {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil, nil
	}
	var raw []byte
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok && strings.Contains(d, `"id"`) {
				raw = []byte(d)
				break
			}
		}
	} else {
		raw, _ = io.ReadAll(resp.Body)
	}
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, raw)
	}
	if r.Error != nil {
		return nil, fmt.Errorf("%s", r.Error.Message)
	}
	return r.Result, nil
}

func newRPCClient(tb testing.TB, url string, hc *http.Client) *rpcClient {
	c := &rpcClient{url: url, hc: hc}
	if _, err := c.post("initialize", map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "bench", "version": "1"}}, false); err != nil {
		tb.Fatal(err)
	}
	if _, err := c.post("notifications/initialized", nil, true); err != nil {
		tb.Fatal(err)
	}
	return c
}

// BenchmarkPlaceOrderHTTP measures durable place_order calls through the real
// server (in-process, on a loopback socket) with a real bbolt file: every order is
// fsync'd before the venue is called. Beside it, BenchmarkBolt measures the raw
// file's limits in the same run.
//
//	go test ./cmd/sibyl -run '^$' -bench 'PlaceOrderHTTP|Bolt' -benchtime 3s
func BenchmarkPlaceOrderHTTP(b *testing.B) {
	for _, clients := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			m := &Main{DataDir: b.TempDir(), Seed: 1}
			srv, err := m.Open()
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			ts := httptest.NewServer(mcp.NewHTTPHandler(srv, &mcp.HTTPOptions{}))
			defer ts.Close()
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients + 4}}
			cs := make([]*rpcClient, clients)
			for i := range cs {
				cs[i] = newRPCClient(b, ts.URL, hc)
			}
			market := openMarketID(b, cs[0])
			var next atomic.Int64
			lat := make([][]time.Duration, clients)
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
						// IOC far under the market: a complete order that never rests.
						// The quantity varies so no two orders look like duplicates.
						args := map[string]any{"market": market, "outcome": "Yes", "side": "buy", "quantity": 1 + i%50000,
							"limit_price": 0.01, "time_in_force": "ioc", "idempotency_key": fmt.Sprintf("bench-%d-%d", clients, i)}
						t0 := time.Now()
						res, err := cs[w].post("tools/call", map[string]any{"name": "place_order", "arguments": args}, false)
						lat[w] = append(lat[w], time.Since(t0))
						if err != nil || bytes.Contains(res, []byte(`"isError":true`)) {
							if failed.Add(1) == 1 {
								b.Errorf("place_order: %v %s", err, res)
							}
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
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "orders/s")
			if len(all) > 0 {
				b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}

func openMarketID(tb testing.TB, c *rpcClient) string {
	res, err := c.post("tools/call", map[string]any{"name": "search_markets", "arguments": map[string]any{"query": "BTC above", "status": "open", "limit": 100}}, false)
	if err != nil {
		tb.Fatal(err)
	}
	var r struct {
		StructuredContent struct {
			Markets []struct {
				ID       string `json:"id"`
				Outcomes []struct {
					ImpliedProbability float64 `json:"implied_probability"`
				} `json:"outcomes"`
			} `json:"markets"`
		} `json:"structuredContent"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		tb.Fatal(err)
	}
	for _, m := range r.StructuredContent.Markets {
		if p := m.Outcomes[0].ImpliedProbability; p > 0.2 && p < 0.8 {
			return m.ID
		}
	}
	tb.Fatal("no open market near 50%")
	return ""
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
