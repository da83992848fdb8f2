package etcdstore

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/internal/etcdtest"
	"github.com/sibylmcp/sibyl/store"
)

// claimFn is a claim as package orders makes it (after reading the record
// outside the transaction, its fast path): read the record, write it
// as pending with an audit entry "intent", in one Commit.
func claimFn(key string) func(t store.Txn) error {
	rec := testRecord(key)
	p, err := store.PrepareRecord(rec)
	if err != nil {
		panic(err)
	}
	audit, err := store.PrepareAudit(store.AuditEntry{Principal: "p", Tool: "place_order", Key: key, Outcome: store.OutcomeIntent,
		Args: []byte(`{"market_id":"paper:BTC","side":"buy","price":"0.5","quantity":"10"}`)})
	if err != nil {
		panic(err)
	}
	return func(t store.Txn) error {
		if _, ok, err := t.Record(rec.ID); err != nil || ok {
			return err
		}
		if _, err := t.PutPrepared(p); err != nil {
			return err
		}
		_, err := t.AppendAudit(audit)
		return err
	}
}

var benchSeq atomic.Int64

// benchClaims runs b.N claims from 64 goroutines spread over insts.
func benchClaims(b *testing.B, insts []store.Store) {
	b.SetParallelism(64 / max(1, testingProcs()))
	var next atomic.Int64
	run := benchSeq.Add(1)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			s := insts[int(i)%len(insts)]
			key := fmt.Sprintf("bench-%d-%d", run, i)
			// As package orders does: a read outside the transaction first
			// (its fast path), then the claim.
			if _, _, err := s.Record(store.RecordID{Principal: "p", Tool: "place_order", Key: key}); err != nil {
				b.Error(err)
				return
			}
			if err := s.Commit(claimFn(key)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "claims/s")
	var st store.CommitStats
	for _, s := range insts {
		c := s.CommitStats()
		st.Transactions += c.Transactions
		st.Functions += c.Functions
		st.Retries += c.Retries
	}
	if st.Transactions > 0 {
		b.ReportMetric(float64(st.Functions)/float64(st.Transactions), "fns/txn")
		b.ReportMetric(float64(st.Retries)/float64(st.Transactions), "retries/txn")
	}
}

func testingProcs() int { return runtimeGOMAXPROCS() }

// BenchmarkCommit: a claim (read, write record, append audit) per Commit
// from 64 goroutines, on bbolt and on etcd with 1 and 3 members and 1 and 3
// instances, in one run so that the numbers compare.
func BenchmarkCommit(b *testing.B) {
	b.Run("bolt", func(b *testing.B) {
		s, err := store.Open(filepath.Join(b.TempDir(), "sibyl.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchClaims(b, []store.Store{s})
	})
	one := etcdtest.StartCluster(b, 1)
	for _, raw := range []struct {
		name      string
		endpoints []string
	}{{"raw-claim-txn-1member", one.Endpoints()}, {"raw-claim-txn-3members", shared.Endpoints()}} {
		// The etcd write rate with no sibyl in the way, for the ratio: 64
		// clients each sending a claim-shaped Txn (internal/etcdtest).
		b.Run(raw.name, func(b *testing.B) {
			ctx := context.Background()
			w, err := etcdtest.NewWriteLoad(ctx, raw.endpoints, etcdtest.LoadConfig{Kind: etcdtest.ClaimWrite, Prefix: newPrefix(b)})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			b.ResetTimer()
			r, err := w.Run(ctx, b.N)
			if err != nil {
				b.Fatal(err)
			}
			r.Report(b)
		})
	}
	for _, tc := range []struct {
		name      string
		endpoints []string
		instances int
	}{
		{"etcd-1member-1inst", one.Endpoints(), 1},
		{"etcd-3members-1inst", shared.Endpoints(), 1},
		{"etcd-3members-3inst", shared.Endpoints(), 3},
	} {
		b.Run(tc.name, func(b *testing.B) {
			prefix := newPrefix(b)
			var insts []store.Store
			for range tc.instances {
				insts = append(insts, mustOpen(b, tc.endpoints, prefix))
			}
			benchClaims(b, insts)
		})
	}
}

func runtimeGOMAXPROCS() int { return runtime.GOMAXPROCS(0) }
