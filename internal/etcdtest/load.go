package etcdtest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// WriteKind is the operation a WriteLoad repeats.
type WriteKind int

const (
	// PutWrite is one Put of a fresh key with a ValueSize-byte value.
	PutWrite WriteKind = iota
	// ClaimWrite is one Txn shaped like an idempotency claim: if the claim key does
	// not exist (CreateRevision == 0), put it, a ValueSize-byte record and a
	// ValueSize-byte audit entry (3 puts, 1 compare).
	ClaimWrite
)

// String returns "put" or "claim-txn".
func (k WriteKind) String() string {
	if k == ClaimWrite {
		return "claim-txn"
	}
	return "put"
}

// LoadConfig says what a WriteLoad does.
type LoadConfig struct {
	Kind      WriteKind
	Clients   int    // concurrent workers (64 if 0)
	Conns     int    // *clientv3.Clients the workers share round-robin (one per worker if 0)
	ValueSize int    // bytes per record/audit value (300 if 0)
	Prefix    string // key prefix ("etcdtest/load/" if empty)
}

// LoadResult is what one WriteLoad.Run measured.
type LoadResult struct {
	Ops      int
	Elapsed  time.Duration
	P50, P99 time.Duration
}

// OpsPerSec returns the completed operations per second.
func (r LoadResult) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// Report records the result on b as ops/s, p50-ms and p99-ms.
func (r LoadResult) Report(b *testing.B) {
	b.ReportMetric(r.OpsPerSec(), "ops/s")
	b.ReportMetric(float64(r.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(r.P99.Microseconds())/1000, "p99-ms")
}

// String formats the result for a log line.
func (r LoadResult) String() string {
	return fmt.Sprintf("%d ops in %v: %.0f ops/s, p50 %.2f ms, p99 %.2f ms", r.Ops, r.Elapsed.Round(time.Millisecond),
		r.OpsPerSec(), float64(r.P50.Microseconds())/1000, float64(r.P99.Microseconds())/1000)
}

// WriteLoad drives durable writes into etcd from concurrent clients, to measure the
// raw write rate a store on etcd is bounded by. Every write goes to a fresh key
// (under Prefix, a per-load id and the run number).
type WriteLoad struct {
	cfg     LoadConfig
	clients []*clientv3.Client
	value   string
	id      string // distinguishes this load's keys from any other's
	runs    atomic.Int64
}

// NewWriteLoad connects cfg.Conns clients to endpoints (each answers one Get before
// it returns, so connecting is not measured). The caller must Close it.
func NewWriteLoad(ctx context.Context, endpoints []string, cfg LoadConfig) (*WriteLoad, error) {
	if cfg.Clients <= 0 {
		cfg.Clients = 64
	}
	if cfg.Conns <= 0 || cfg.Conns > cfg.Clients {
		cfg.Conns = cfg.Clients
	}
	if cfg.ValueSize <= 0 {
		cfg.ValueSize = 300
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "etcdtest/load/"
	}
	w := &WriteLoad{cfg: cfg, id: strconv.FormatInt(time.Now().UnixNano(), 36)}
	// A value that looks like a record: printable, not one repeated byte.
	var v strings.Builder
	for i := 0; v.Len() < cfg.ValueSize; i++ {
		v.WriteString(strconv.FormatInt(int64(i)*7919, 36))
	}
	w.value = v.String()[:cfg.ValueSize]
	for i := 0; i < cfg.Conns; i++ {
		cli, err := NewClient(endpoints...)
		if err != nil {
			w.Close()
			return nil, err
		}
		w.clients = append(w.clients, cli)
		if _, err := cli.Get(ctx, cfg.Prefix+"warmup"); err != nil {
			w.Close()
			return nil, fmt.Errorf("etcdtest: warming client %d: %w", i, err)
		}
	}
	return w, nil
}

// Run performs ops writes spread over the clients and returns throughput and latency
// percentiles. It stops at the first failed write and returns its error.
func (w *WriteLoad) Run(ctx context.Context, ops int) (LoadResult, error) {
	run := w.runs.Add(1)
	prefix := fmt.Sprintf("%s%s/r%d/", w.cfg.Prefix, w.id, run)
	lat := make([]time.Duration, ops)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for n := 0; n < w.cfg.Clients; n++ {
		cli := w.clients[n%len(w.clients)]
		wg.Add(1)
		go func(cli *clientv3.Client) {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= ops || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				err := w.write(ctx, cli, prefix, i)
				lat[i] = time.Since(t0)
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}(cli)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return LoadResult{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return LoadResult{}, fmt.Errorf("etcdtest: load stopped: %w", err)
	}
	slices.Sort(lat)
	r := LoadResult{Ops: ops, Elapsed: elapsed}
	if ops > 0 {
		r.P50 = lat[(ops-1)*50/100]
		r.P99 = lat[(ops-1)*99/100]
	}
	return r, nil
}

func (w *WriteLoad) write(ctx context.Context, cli *clientv3.Client, prefix string, i int) error {
	k := strconv.Itoa(i)
	switch w.cfg.Kind {
	case ClaimWrite:
		claim := prefix + "claim/" + k
		r, err := cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(claim), "=", 0)).
			Then(
				clientv3.OpPut(claim, "owner=instance-1 state=pending"),
				clientv3.OpPut(prefix+"rec/"+k, w.value),
				clientv3.OpPut(prefix+"audit/"+k, w.value),
			).Commit()
		if err != nil {
			return fmt.Errorf("claim txn %d: %w", i, err)
		}
		if !r.Succeeded {
			return fmt.Errorf("claim txn %d: the fresh claim key already existed", i)
		}
		return nil
	default:
		if _, err := cli.Put(ctx, prefix+"put/"+k, w.value); err != nil {
			return fmt.Errorf("put %d: %w", i, err)
		}
		return nil
	}
}

// Close closes the clients.
func (w *WriteLoad) Close() {
	for _, c := range w.clients {
		c.Close()
	}
	w.clients = nil
}
