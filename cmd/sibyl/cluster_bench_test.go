package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/internal/etcdtest"
	"github.com/sibylmcp/sibyl/store"
)

// BenchmarkPlaceOrderCluster measures durable place_order calls, 64 clients
// each, on the store backends side by side in one run, beside the raw etcd
// write rate of the same cluster:
//
//	go test ./cmd/sibyl -run '^$' -bench PlaceOrderCluster -benchtime 3000x -count 3
//
// The variants:
//   - store=bbolt: one in-process server (sibyl serve --http's handler on a
//     loopback httptest server) on a real bbolt file, as BenchmarkPlaceOrderHTTP.
//   - store=etcd/instances=1 and =3: one or three in-process servers, each on its
//     own loopback httptest server and its own etcdstore (one etcd client, one
//     instance lease, one group committer), all on one real 3-member etcd cluster
//     of Debian's etcd binary (internal/etcdtest, fsync on), under a fresh key
//     prefix per run; the clients are spread evenly over the instances.
//   - store=etcd/instances=N/max-txn-ops=1024: the same with etcdstore's
//     MaxTxnOps at 1024 instead of 128 (etcd's default --max-txn-ops, at which
//     it splits a batch into several Txns); the cluster runs with
//     --max-txn-ops 1024 for every variant, which changes nothing for the
//     others.
//   - raw/etcd-put and raw/etcd-claim-txn: 64 goroutines, each with its own etcd
//     client, writing to the same cluster with no sibyl in the way: a 300-byte Put
//     to a new key, or a Txn shaped like a claim (compare CreateRevision == 0 on a
//     new key, then 3 puts: that key with a short value, a 300-byte record and a
//     300-byte audit entry; etcdtest.ClaimWrite); raw/etcd-claim-txn/1conn: the
//     64 goroutines share one client, as one sibyl instance's do.
//
// Every variant serves the paper venue in memory (Main.paperInMemory: each
// instance its own paper world), so the venue's shared state and its
// cluster-wide lock are not what is measured; the idempotency records and
// their indexes, the audit chain, the risk ledger (generous counted limits are
// set, as every non-paper venue has by default, so every order reserves and
// settles in the store) and the HTTP session lookups go through the store
// under test. Orders are IOC buys at $0.01 (never rest, never fill), each under
// a new idempotency key with its own quantity (no replay, no duplicate);
// every answer must carry an order id and replayed:false, and the order ids
// are checked to be distinct per instance.
//
// Reported per variant: ops/s (orders or etcd writes), p50/p99 latency, the
// group committer's functions per commit and the share of the run it was
// busy (per instance), conflict retries per order (etcd:
// batches run again because another instance wrote what they read), this
// process's CPU per op (servers, clients and load generator together), the etcd
// members' CPU per op, and per op the Range and Txn RPCs the members served and
// the WAL fsyncs of the member that did the most (the leader), read from the
// members' /metrics. load-1m is /proc/loadavg when the variant started (the
// machine is shared).
func BenchmarkPlaceOrderCluster(b *testing.B) {
	const clients = 64
	// --max-txn-ops 1024 lets the max-txn-ops=1024 variants send larger
	// Txns; the others split theirs at etcd's default of 128, as a default
	// deployment does.
	c := etcdtest.StartCluster(b, 3, etcdtest.WithMaxTxnOps(1024))
	b.Run("store=bbolt", func(b *testing.B) {
		benchOrdersOn(b, c, []*Main{clusterBenchMain()}, clients)
	})
	b.Run("store=etcd", func(b *testing.B) {
		for _, v := range []struct{ n, maxTxnOps int }{{1, 0}, {3, 0}, {1, 1024}, {3, 1024}} {
			n := v.n
			name := fmt.Sprintf("instances=%d", n)
			if v.maxTxnOps > 0 {
				name += fmt.Sprintf("/max-txn-ops=%d", v.maxTxnOps)
			}
			b.Run(name, func(b *testing.B) {
				prefix := fmt.Sprintf("/bench/%s/", strconv.FormatInt(time.Now().UnixNano(), 36))
				ms := make([]*Main, n)
				for i := range ms {
					ms[i] = clusterBenchMain()
					ms[i].storeFlags = storeFlags{backend: backendEtcd, endpoints: strings.Join(c.Endpoints(), ","), prefix: prefix,
						dialTimeout: 5 * time.Second, opTimeout: 5 * time.Second, sessionTTL: 10 * time.Second, maxTxnOps: v.maxTxnOps}
				}
				benchOrdersOn(b, c, ms, clients)
			})
		}
	})
	b.Run("raw", func(b *testing.B) {
		for _, v := range []struct {
			kind  etcdtest.WriteKind
			conns int
		}{{etcdtest.PutWrite, 0}, {etcdtest.ClaimWrite, 0}, {etcdtest.ClaimWrite, 1}} {
			kind := v.kind
			name := "etcd-" + kind.String()
			if v.conns == 1 {
				name += "/1conn"
			}
			b.Run(name, func(b *testing.B) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer cancel()
				w, err := etcdtest.NewWriteLoad(ctx, c.Endpoints(), etcdtest.LoadConfig{Kind: kind, Clients: clients, Conns: v.conns, ValueSize: 300, Prefix: "/bench-raw/"})
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				load := loadAvg()
				before := readEtcdMeter(b, c)
				cpu0 := processCPU()
				b.ResetTimer()
				r, err := w.Run(ctx, b.N)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				cpu := processCPU() - cpu0
				b.ReportMetric(r.OpsPerSec(), "ops/s")
				b.ReportMetric(float64(r.P50.Microseconds()), "p50-µs")
				b.ReportMetric(float64(r.P99.Microseconds()), "p99-µs")
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
				readEtcdMeter(b, c).sub(before).report(b, b.N)
				b.ReportMetric(load, "load-1m")
			})
		}
	})
}

// clusterBenchMain is the server every variant of BenchmarkPlaceOrderCluster
// runs: the paper venue in memory, and counted risk limits too high to refuse
// anything, so that every order reserves and settles in the risk ledger.
func clusterBenchMain() *Main {
	const big = "1000000000"
	return &Main{Seed: 1, paperInMemory: true, venueFlags: venueFlags{list: "paper"},
		risk: riskFlags{maxDaily: big, maxMarket: big, maxOpen: big, totalDaily: big, totalMarket: big, totalOpen: big}}
}

// benchOrdersOn serves each Main on its own loopback httptest server and has
// clients sessions, spread evenly over them (client w on instance w mod n),
// place b.N orders in all, one at a time each, checking every answer.
func benchOrdersOn(b *testing.B, c *etcdtest.Cluster, ms []*Main, clients int) {
	ctx := context.Background()
	hc := newCTHTTPClient()
	urls := make([]string, len(ms))
	for i, m := range ms {
		m.DataDir = b.TempDir() // bbolt: a real file, new per run
		srv, err := m.Open()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if err := m.Close(); err != nil {
				b.Errorf("closing instance %d: %v", i, err)
			}
		})
		handler, _, _, err := m.httpHandler(srv)
		if err != nil {
			b.Fatal(err)
		}
		ts := httptest.NewServer(handler)
		b.Cleanup(ts.Close) // before the Main's Close (cleanups run last first)
		urls[i] = ts.URL + "/mcp"
	}
	first, err := dialRawHTTP(ctx, hc, urls[0])
	if err != nil {
		b.Fatal(err)
	}
	mk, err := findOpenMarkets(ctx, first, 1)
	if err != nil {
		b.Fatal(err)
	}
	market := mk[0].ID
	cs := make([]*leanClient, clients)
	inst := make([]int, clients)
	for w := range cs {
		inst[w] = w % len(ms)
		s, err := dialRawHTTP(ctx, hc, urls[inst[w]])
		if err != nil {
			b.Fatal(err)
		}
		if cs[w], err = dialLean(urls[inst[w]], s.sid); err != nil {
			b.Fatal(err)
		}
		defer cs[w].Close()
	}
	// Keys no earlier run used (the stores are new per run as well).
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	ids := make([][]string, clients)
	var failed atomic.Int64
	sum := func() (st store.CommitStats) {
		for _, m := range ms {
			s := m.store.CommitStats()
			st.Transactions += s.Transactions
			st.Functions += s.Functions
			st.Retries += s.Retries
			st.Busy += s.Busy
		}
		return st
	}
	load := loadAvg()
	before := readEtcdMeter(b, c)
	stats0, cpu0 := sum(), processCPU()
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
				a := fmt.Appendf(nil, `{"market":%q,"outcome":"Yes","side":"buy","quantity":%d,"limit_price":0.01,"time_in_force":"ioc","idempotency_key":"cluster-%s-%d"}`,
					market, 1+i%50000, run, i)
				t0 := time.Now()
				res, err := cs[w].callTool("place_order", a)
				lat[w] = append(lat[w], time.Since(t0))
				var id string
				if err == nil {
					id, err = checkPlaced(res)
				}
				if err != nil {
					if failed.Add(1) == 1 {
						b.Errorf("place_order on instance %d: %v", inst[w], err)
					}
					continue
				}
				ids[w] = append(ids[w], id)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := processCPU() - cpu0
	for _, m := range ms {
		m.orders.Flush() // the completions still queued, so that they are counted
	}
	stats := sum()
	after := readEtcdMeter(b, c)
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d orders failed", n, b.N)
	}
	// Each instance's paper world numbers its own orders: distinct per instance.
	seen := make([]map[string]bool, len(ms))
	for w := range ids {
		if seen[inst[w]] == nil {
			seen[inst[w]] = map[string]bool{}
		}
		for _, id := range ids[w] {
			if seen[inst[w]][id] {
				b.Fatalf("instance %d answered order id %s twice", inst[w], id)
			}
			seen[inst[w]][id] = true
		}
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	if txs := stats.Transactions - stats0.Transactions; txs > 0 {
		b.ReportMetric(float64(stats.Functions-stats0.Functions)/float64(txs), "fns/commit")
	}
	// How much of the run each instance's committer was running a batch
	// (its functions, their reads and the commit): near 100, it is what the
	// orders wait for.
	b.ReportMetric(100*float64(stats.Busy-stats0.Busy)/float64(elapsed)/float64(len(ms)), "committer-busy-%")
	if ms[0].storeFlags.backend == backendEtcd {
		b.ReportMetric(float64(stats.Retries-stats0.Retries)/float64(b.N), "retries/op")
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	after.sub(before).report(b, b.N)
	b.ReportMetric(load, "load-1m")
}

// checkPlaced returns the order id of a place_order answer that placed a new
// order, or an error naming what came back instead.
func checkPlaced(res json.RawMessage) (string, error) {
	var out struct {
		OrderID       string `json:"order_id"`
		ClientOrderID string `json:"client_order_id"`
		Replayed      *bool  `json:"replayed"`
	}
	if err := json.Unmarshal(res, &out); err != nil {
		return "", fmt.Errorf("decoding %.200s: %w", res, err)
	}
	switch {
	case out.OrderID == "" || out.ClientOrderID == "":
		return "", fmt.Errorf("no order id in %.200s", res)
	case out.Replayed == nil || *out.Replayed:
		return "", fmt.Errorf("not a new order (replayed missing or true) in %.200s", res)
	}
	return out.OrderID, nil
}

// etcdMeter is what the etcd members report about themselves, summed over
// the members that run: RPCs started by method, WAL fsyncs (the most of any
// member), and CPU time.
type etcdMeter struct {
	rpcs      map[string]float64
	walFsyncs float64
	cpu       time.Duration
}

// readEtcdMeter reads every member's /metrics and its CPU time (the etcd
// processes are this test binary's children).
func readEtcdMeter(b *testing.B, c *etcdtest.Cluster) etcdMeter {
	b.Helper()
	m := etcdMeter{rpcs: map[string]float64{}, cpu: childCPU("etcd")}
	for _, mem := range c.Members() {
		resp, err := http.Get(mem.ClientURL() + "/metrics")
		if err != nil {
			b.Fatalf("etcd metrics of %s: %v", mem.Name(), err)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "grpc_server_started_total{"):
				_, rest, _ := strings.Cut(line, `grpc_method="`)
				method, _, _ := strings.Cut(rest, `"`)
				m.rpcs[method] += metricValue(line)
			case strings.HasPrefix(line, "etcd_disk_wal_fsync_duration_seconds_count "):
				m.walFsyncs = max(m.walFsyncs, metricValue(line))
			}
		}
		resp.Body.Close()
		if err := sc.Err(); err != nil {
			b.Fatalf("etcd metrics of %s: %v", mem.Name(), err)
		}
	}
	return m
}

func metricValue(line string) float64 {
	f := strings.Fields(line)
	v, _ := strconv.ParseFloat(f[len(f)-1], 64)
	return v
}

// sub returns m minus an earlier reading. The WAL fsyncs are each reading's
// maximum over the members, so their difference is the busiest member's only
// while the leader stays the same (it does, in a run without faults).
func (m etcdMeter) sub(o etcdMeter) etcdMeter {
	d := etcdMeter{rpcs: map[string]float64{}, walFsyncs: m.walFsyncs - o.walFsyncs, cpu: m.cpu - o.cpu}
	for k, v := range m.rpcs {
		d.rpcs[k] = v - o.rpcs[k]
	}
	return d
}

func (m etcdMeter) report(b *testing.B, ops int) {
	n := float64(ops)
	b.ReportMetric(float64(m.cpu.Microseconds())/n, "etcd-cpu-µs/op")
	b.ReportMetric(m.rpcs["Range"]/n, "etcd-range/op")
	b.ReportMetric(m.rpcs["Txn"]/n, "etcd-txn/op")
	b.ReportMetric(m.walFsyncs/n, "wal-fsyncs/op")
}

// childCPU is the CPU time (user and system) of this process's children
// named comm, from /proc (clock ticks of 10 ms, Linux's USER_HZ).
func childCPU(comm string) time.Duration {
	pid := strconv.Itoa(os.Getpid())
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, p := range dirs {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		i, j := bytes.IndexByte(raw, '('), bytes.LastIndexByte(raw, ')')
		if i < 0 || j < i || string(raw[i+1:j]) != comm {
			continue
		}
		f := strings.Fields(string(raw[j+1:])) // state, ppid, ... utime is the 12th
		if len(f) < 13 || f[1] != pid {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// loadAvg is the machine's one-minute load average (0 when unknown).
func loadAvg() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
