package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/orders"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/venues/kalshi"
	"github.com/sibylmcp/sibyl/venues/kalshi/kalshitest"
)

// BenchmarkKalshiOrderOverhead measures the time sibyl adds to one live Kalshi
// order on top of the venue's own latency: orders.Service.Place (the claim
// written and fsync'd to a real bbolt file, the RSA-PSS signature, the
// adapter's planning and translation, the completion) against the httptest
// Kalshi answering at once, and, in the same run and on the same server, the
// raw round trip of the same create request pre-signed (what the venue costs
// by itself). The difference of the medians is sibyl's share.
//
//	go test ./cmd/sibyl -run '^$' -bench KalshiOrderOverhead -benchtime 2000x
func BenchmarkKalshiOrderOverhead(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			srv := kalshitest.New(kalshitest.Options{KeyID: "bench", PublicKey: &key.PublicKey, Balance: "100000000"})
			defer srv.Close()
			signer, _ := kalshi.NewSigner("bench", key, nil)
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			lim := kalshi.NewLimiter(nil) // the benchmark must not measure the basic tier's pacing
			lim.SetLimits(kalshi.AccountLimits{Read: kalshi.BucketLimit{RefillRate: 1e9, BucketCapacity: 1e9}, Write: kalshi.BucketLimit{RefillRate: 1e9, BucketCapacity: 1e9}})
			client, err := kalshi.NewClient(kalshi.Config{BaseURL: srv.URL(), Signer: signer, HTTPClient: hc, Limiter: lim})
			if err != nil {
				b.Fatal(err)
			}
			v, err := kalshi.New(kalshi.Options{Client: client, Env: kalshi.EnvDemo})
			if err != nil {
				b.Fatal(err)
			}
			st, err := store.Open(filepath.Join(b.TempDir(), "sibyl.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			svc := orders.New(orders.Options{Store: st, Venues: map[string]sibyl.Venue{"kalshi": v}, SoleOwner: true})
			const ticker = "KXFINE-27JAN01-T1"
			ctx := context.Background()

			// Raw: the same create body, pre-signed once (the body is not signed).
			h := http.Header{}
			if err := signer.SignRequest(h, "POST", "/trade-api/v2/portfolio/events/orders"); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			raw := func() error {
				i := n.Add(1)
				body := fmt.Appendf(nil, `{"ticker":%q,"side":"bid","count":"1.00","price":"0.0100","client_order_id":"raw-%d","time_in_force":"immediate_or_cancel","self_trade_prevention_type":"taker_at_cross"}`, ticker, i)
				req, _ := http.NewRequest("POST", srv.URL()+"/portfolio/events/orders", bytes.NewReader(body))
				req.Header = h.Clone()
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				var buf [4096]byte
				for {
					if _, err := resp.Body.Read(buf[:]); err != nil {
						break
					}
				}
				if resp.StatusCode != http.StatusCreated {
					return fmt.Errorf("raw create: HTTP %d", resp.StatusCode)
				}
				return nil
			}
			viaSibyl := func() error {
				i := n.Add(1)
				_, err := svc.Place(ctx, orders.PlaceRequest{
					Principal: "bench", Transport: "bench", Key: fmt.Sprintf("bench-key-%08d", i), AllowDuplicate: true,
					MarketID: "kalshi:" + ticker,
					Order: sibyl.OrderRequest{Outcome: "Yes", Side: sibyl.Buy, Type: sibyl.LimitOrder,
						Quantity: decimal.NewFromInt(1 + i%1000), LimitPrice: decimal.RequireFromString("0.01"), TimeInForce: sibyl.IOC},
				})
				return err
			}
			// Warm up both paths (connections, the market cache).
			for i := 0; i < 50; i++ {
				if err := raw(); err != nil {
					b.Fatal(err)
				}
				if err := viaSibyl(); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			// Alternate the two in rounds, so both see the same machine.
			var rawLat, sibLat []time.Duration
			per := max(b.N/4, 1)
			for round := 0; round < 4; round++ {
				rawLat = append(rawLat, runClients(b, clients, per, raw)...)
				sibLat = append(sibLat, runClients(b, clients, per, viaSibyl)...)
			}
			b.StopTimer()
			rp50, rp99 := pct(rawLat, 50), pct(rawLat, 99)
			sp50, sp99 := pct(sibLat, 50), pct(sibLat, 99)
			b.ReportMetric(float64(rp50.Microseconds())/1000, "raw-p50-ms")
			b.ReportMetric(float64(rp99.Microseconds())/1000, "raw-p99-ms")
			b.ReportMetric(float64(sp50.Microseconds())/1000, "sibyl-p50-ms")
			b.ReportMetric(float64(sp99.Microseconds())/1000, "sibyl-p99-ms")
			b.ReportMetric(float64((sp50-rp50).Microseconds())/1000, "added-p50-ms")
			b.ReportMetric(float64((sp99-rp99).Microseconds())/1000, "added-p99-ms")
			if got, bad := srv.TotalRequests(), srv.BadSignatures(); bad != 0 || got == 0 {
				b.Fatalf("requests %d, bad signatures %d", got, bad)
			}
		})
	}
}

// runClients runs total calls of fn over clients goroutines and returns each
// call's latency.
func runClients(b *testing.B, clients, total int, fn func() error) []time.Duration {
	var mu sync.Mutex
	var lat []time.Duration
	var left atomic.Int64
	left.Store(int64(total))
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, total/clients+1)
			for left.Add(-1) >= 0 {
				t0 := time.Now()
				if err := fn(); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return lat
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, len(s)*p/100)]
}
