package etcdstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/internal/etcdtest"
	"github.com/sibylmcp/sibyl/store"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// shared is the 3-member cluster most tests use, each under its own prefix;
// tests that kill members start their own.
var shared *etcdtest.Cluster

func TestMain(m *testing.M) {
	c, stop, err := etcdtest.Start(3)
	if err != nil {
		if errors.Is(err, etcdtest.ErrNotInstalled) && os.Getenv("CI") != "true" {
			fmt.Fprintln(os.Stderr, "etcdstore tests skipped:", err)
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared = c
	code := m.Run()
	stop()
	os.Exit(code)
}

var prefixSeq atomic.Int64

// newPrefix returns a key prefix of its own for one test.
func newPrefix(t testing.TB) string {
	return fmt.Sprintf("/test-%d-%s/", prefixSeq.Add(1), strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
}

// mustOpen opens an instance on endpoints under prefix, closed in cleanup.
func mustOpen(t testing.TB, endpoints []string, prefix string, opts ...func(*Options)) *Store {
	t.Helper()
	o := Options{Endpoints: endpoints, Prefix: prefix, OpTimeout: 3 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Open(ctx, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testRecord(key string) store.Record {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	return store.Record{
		ID: store.RecordID{Principal: "p", Tool: "place_order", Key: key}, State: store.Pending,
		Fingerprint: "fp-" + key, ClientOrderID: "coid-" + key, Venue: "paper", Owner: "o1", Attempt: 1,
		LeaseUntil: now.Add(30 * time.Second), Created: now, Updated: now, DupIndexed: true,
	}
}

func TestRecordsAndIndexes(t *testing.T) {
	s := mustOpen(t, shared.Endpoints(), newPrefix(t))
	rec := testRecord("k1")
	var v1, v2 uint64
	err := s.Commit(func(tn store.Txn) error {
		p, err := store.PrepareRecord(rec)
		if err != nil {
			return err
		}
		v1, err = tn.PutPrepared(p)
		return err
	})
	if err != nil || v1 != 1 {
		t.Fatalf("first PutPrepared: version %d, err %v; want 1, nil", v1, err)
	}
	got, ok, err := s.Record(rec.ID)
	if err != nil || !ok || got.Fingerprint != rec.Fingerprint || !got.Created.Equal(rec.Created) {
		t.Fatalf("Record: %+v %v %v", got, ok, err)
	}
	err = s.Commit(func(tn store.Txn) error {
		u, found, err := tn.FingerprintUse("p", "place_order", "fp-k1")
		if err != nil || !found || u.Key != "k1" || !u.Time.Equal(rec.Created) {
			return fmt.Errorf("FingerprintUse: %+v %v %v", u, found, err)
		}
		r := rec
		r.State, r.Result, r.OrderID, r.OrderFinal, r.DupIndexed = store.Done, []byte(`{"id":"o-1"}`), "o-1", false, false
		p, _ := store.PrepareRecord(r)
		v2, err = tn.PutPrepared(p)
		if err != nil {
			return err
		}
		if v, _ := tn.RecordVersion(rec.ID); v != v2 {
			return fmt.Errorf("RecordVersion %d after writing %d", v, v2)
		}
		if _, found, _ := tn.FingerprintUse("p", "place_order", "fp-k1"); found {
			return errors.New("the fingerprint entry survived DupIndexed=false")
		}
		return nil
	})
	if err != nil || v2 != 2 {
		t.Fatalf("second write: version %d, err %v", v2, err)
	}
	if open := s.OpenOrders(rec.Created.Add(time.Hour), 0); len(open) != 1 || open[0].OrderID != "o-1" {
		t.Fatalf("OpenOrders = %+v, want o-1", open)
	}
	var marked bool
	if err := s.Commit(func(tn store.Txn) error {
		var err error
		marked, err = tn.MarkOrderFinal("p", "paper", "o-1", rec.Created.Add(time.Minute))
		return err
	}); err != nil || !marked {
		t.Fatalf("MarkOrderFinal: %v %v", marked, err)
	}
	if open := s.OpenOrders(rec.Created.Add(time.Hour), 0); len(open) != 0 {
		t.Fatalf("OpenOrders after MarkOrderFinal = %+v", open)
	}
	// A pending record of another key, and the sweep.
	pend := testRecord("k2")
	if err := s.Commit(func(tn store.Txn) error { return tn.PutRecord(pend) }); err != nil {
		t.Fatal(err)
	}
	if ids := s.PendingRecords("place_order", rec.Created.Add(time.Second), 0); len(ids) != 1 || ids[0] != pend.ID {
		t.Fatalf("PendingRecords = %v, want [%v]", ids, pend.ID)
	}
	if st := s.IdemStats(); st.Records != 2 {
		t.Fatalf("IdemStats = %+v, want 2 records", st)
	}
	res, err := s.Sweep(rec.Created.Add(time.Hour))
	if err != nil || res.Deleted != 1 || res.KeptPending != 1 || res.Index != 0 {
		t.Fatalf("Sweep = %+v, %v; want 1 deleted, 1 kept pending", res, err)
	}
	if _, ok, _ := s.Record(rec.ID); ok {
		t.Fatal("swept record still there")
	}
	// The order index entry went with it.
	resp, err := s.Client().Get(context.Background(), s.Prefix()+keyOrders, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != 0 {
		t.Fatalf("order index entries after sweep: %v %v", resp, err)
	}
	// The pending record's fingerprint entry stays and goes with it.
	res, err = s.Sweep(rec.Created.Add(time.Hour))
	if err != nil || res.Deleted != 0 || res.KeptPending != 1 {
		t.Fatalf("second Sweep = %+v %v", res, err)
	}
}

// TestFailingFunctionIsRolledBack queues several functions at once so they
// share a batch; the failing one's writes are gone, the others' committed.
func TestFailingFunctionIsRolledBack(t *testing.T) {
	s := mustOpen(t, shared.Endpoints(), newPrefix(t))
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = s.UpdateBucket("b", func(b store.Bucket) error {
				if err := b.Put([]byte(fmt.Sprintf("k%02d", i)), []byte("v")); err != nil {
					return err
				}
				if i%5 == 0 {
					return fmt.Errorf("fail %d", i)
				}
				return nil
			})
		}()
	}
	close(start)
	wg.Wait()
	var keys []string
	if err := s.ViewBucket("b", func(b store.Bucket) error {
		return b.ForEachPrefix(nil, func(k, _ []byte) error { keys = append(keys, string(k)); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		want := i%5 != 0
		if (errs[i] == nil) != want {
			t.Errorf("function %d: err %v", i, errs[i])
		}
		has := false
		for _, k := range keys {
			has = has || k == fmt.Sprintf("k%02d", i)
		}
		if has != want {
			t.Errorf("key k%02d present %v, want %v", i, has, want)
		}
	}
	st := s.CommitStats()
	t.Logf("%d functions in %d transactions", st.Functions, st.Transactions)
}

// TestConflictRerunsBatch writes, between a transaction's read and its
// commit, from another instance: the commit must fail its compare and the
// function run again on the new value.
func TestConflictRerunsBatch(t *testing.T) {
	prefix := newPrefix(t)
	a := mustOpen(t, shared.Endpoints(), prefix)
	b := mustOpen(t, shared.Endpoints(), prefix)
	put := func(s *Store, v string) {
		t.Helper()
		if err := s.UpdateBucket("c", func(bk store.Bucket) error { return bk.Put([]byte("x"), []byte(v)) }); err != nil {
			t.Fatal(err)
		}
	}
	put(a, "1")
	runs := 0
	var seen []string
	err := a.UpdateBucket("c", func(bk store.Bucket) error {
		runs++
		v := string(bk.Get([]byte("x")))
		seen = append(seen, v)
		if runs == 1 {
			put(b, "2") // another instance writes what this one read
		}
		return bk.Put([]byte("y"), []byte(v+"+"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if runs != 2 || seen[1] != "2" {
		t.Fatalf("runs %d, seen %v; want 2 runs, the second seeing 2", runs, seen)
	}
	var y string
	a.ViewBucket("c", func(bk store.Bucket) error { y = string(bk.Get([]byte("y"))); return nil })
	if y != "2+" {
		t.Fatalf("y = %q, want 2+", y)
	}
	if a.CommitStats().Retries == 0 {
		t.Fatal("CommitStats.Retries = 0 after a conflict")
	}
}

// TestConflictRetriesBounded: a transaction that another instance's writes
// keep invalidating runs MaxRetries+1 times, then fails with an error
// wrapping store.ErrUnavailable (orders answers it as a retryable
// `unavailable`), and none of its writes is committed.
func TestConflictRetriesBounded(t *testing.T) {
	prefix := newPrefix(t)
	const maxRetries = 3
	a := mustOpen(t, shared.Endpoints(), prefix, func(o *Options) { o.MaxRetries = maxRetries })
	b := mustOpen(t, shared.Endpoints(), prefix)
	runs := 0
	err := a.UpdateBucket("c", func(bk store.Bucket) error {
		runs++
		bk.Get([]byte("x"))
		// Another instance writes what this one just read, every time.
		if err := b.UpdateBucket("c", func(bb store.Bucket) error { return bb.Put([]byte("x"), []byte(fmt.Sprint(runs))) }); err != nil {
			t.Error(err)
		}
		return bk.Put([]byte("y"), []byte("written"))
	})
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "conflicted") {
		t.Fatalf("err = %v, want ErrUnavailable naming the conflicts", err)
	}
	if runs != maxRetries+1 {
		t.Errorf("the function ran %d times, want %d (MaxRetries %d, then give up)", runs, maxRetries+1, maxRetries)
	}
	var y []byte
	a.ViewBucket("c", func(bk store.Bucket) error { y = bk.Get([]byte("y")); return nil })
	if y != nil {
		t.Errorf("y = %q after the transaction failed, want it absent", y)
	}
	// The store goes on: the next transaction commits.
	if err := a.UpdateBucket("c", func(bk store.Bucket) error { return bk.Put([]byte("y"), []byte("later")) }); err != nil {
		t.Fatal(err)
	}
}

// TestRangeConflict: a key inserted into a range that a transaction read,
// and a key deleted from it, make it run again.
func TestRangeConflict(t *testing.T) {
	prefix := newPrefix(t)
	a := mustOpen(t, shared.Endpoints(), prefix)
	b := mustOpen(t, shared.Endpoints(), prefix)
	if err := a.UpdateBucket("r", func(bk store.Bucket) error { return bk.Put([]byte("i/1"), []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		other func(bk store.Bucket) error
		want  string
	}{
		{"insert", func(bk store.Bucket) error { return bk.Put([]byte("i/2"), []byte("1")) }, "2"},
		{"delete", func(bk store.Bucket) error { return bk.Delete([]byte("i/1")) }, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs := 0
			err := a.UpdateBucket("r", func(bk store.Bucket) error {
				runs++
				n := 0
				if err := bk.ForEachPrefix([]byte("i/"), func(_, _ []byte) error { n++; return nil }); err != nil {
					return err
				}
				if runs == 1 {
					if err := b.UpdateBucket("r", tc.other); err != nil {
						return err
					}
				}
				return bk.Put([]byte("count"), []byte(fmt.Sprint(n)))
			})
			if err != nil {
				t.Fatal(err)
			}
			var got string
			a.ViewBucket("r", func(bk store.Bucket) error { got = string(bk.Get([]byte("count"))); return nil })
			if runs != 2 || got != tc.want {
				t.Fatalf("runs %d, count %q; want 2 runs, count %s", runs, got, tc.want)
			}
		})
	}
}

// TestTwoInstancesClaimOnce: goroutines on two instances claim the same
// record at once (create it if absent); exactly one claim wins.
func TestTwoInstancesClaimOnce(t *testing.T) {
	prefix := newPrefix(t)
	insts := []*Store{mustOpen(t, shared.Endpoints(), prefix), mustOpen(t, shared.Endpoints(), prefix)}
	for round := range 5 {
		id := store.RecordID{Principal: "p", Tool: "place_order", Key: fmt.Sprintf("key-%d", round)}
		var wins atomic.Int64
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := insts[i%2]
				won := false
				err := s.Commit(func(tn store.Txn) error {
					won = false
					if _, ok, err := tn.Record(id); err != nil || ok {
						return err
					}
					rec := testRecord(id.Key)
					rec.Owner = s.Owner()
					won = true
					return tn.PutRecord(rec)
				})
				if err != nil {
					t.Errorf("claim: %v", err)
				}
				if won {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if w := wins.Load(); w != 1 {
			t.Fatalf("round %d: %d claims won, want 1", round, w)
		}
	}
}

func readCounter(t testing.TB, s *Store) uint64 {
	t.Helper()
	var n uint64
	err := s.ViewBucket("ctr", func(b store.Bucket) error {
		if v := b.Get([]byte("n")); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func increment(b store.Bucket) error {
	var n uint64
	if v := b.Get([]byte("n")); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	var nb [8]byte
	binary.BigEndian.PutUint64(nb[:], n+1)
	return b.Put([]byte("n"), nb[:])
}

// TestSerializableCounter: goroutines on three instances increment one
// counter through Commit; the total is exact.
func TestSerializableCounter(t *testing.T) {
	prefix := newPrefix(t)
	insts := []*Store{mustOpen(t, shared.Endpoints(), prefix), mustOpen(t, shared.Endpoints(), prefix), mustOpen(t, shared.Endpoints(), prefix)}
	const goroutines, each = 12, 20
	var wg sync.WaitGroup
	var failed atomic.Int64
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := insts[g%3].UpdateBucket("ctr", increment); err != nil {
					t.Errorf("increment: %v", err)
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got, want := readCounter(t, insts[0]), uint64(goroutines*each)-uint64(failed.Load()); got != want {
		t.Fatalf("counter = %d, want %d", got, want)
	}
	var retries uint64
	for _, s := range insts {
		retries += s.CommitStats().Retries
	}
	t.Logf("%d increments on 3 instances, %d conflict retries", goroutines*each, retries)
}

// TestAuditChainThreeInstances: three instances append to the one chain at
// once, in transactions and through AuditAsync; the chain verifies whole, has
// every entry once, and its export verifies with Bolt's offline verifier.
func TestAuditChainThreeInstances(t *testing.T) {
	prefix := newPrefix(t)
	key := []byte("audit-hmac-key")
	insts := make([]*Store, 3)
	for i := range insts {
		insts[i] = mustOpen(t, shared.Endpoints(), prefix, func(o *Options) { o.AuditKey = key })
	}
	const perInst = 40
	var wg sync.WaitGroup
	for i, s := range insts {
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range perInst / 4 {
					e := store.AuditEntry{Principal: fmt.Sprintf("inst%d", i), Tool: "place_order", Outcome: store.OutcomeIntent,
						Key: fmt.Sprintf("k-%d-%d-%d", i, g, j), Args: []byte(`{"market_id":"paper:X","api_key":"secret"}`)}
					var err error
					if j%2 == 0 {
						err = s.Commit(func(tn store.Txn) error { _, err := tn.AppendAudit(e); return err })
					} else {
						err = s.AuditAsync(context.Background(), e)
					}
					if err != nil {
						t.Errorf("append: %v", err)
					}
				}
			}()
		}
	}
	wg.Wait()
	for _, s := range insts {
		if err := s.FlushAudit(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	v, err := insts[1].VerifyAudit()
	if err != nil || !v.OK || v.Entries != 3*perInst || !v.HMACChecked {
		t.Fatalf("VerifyAudit = %+v, %v; want OK with %d entries", v, err, 3*perInst)
	}
	inc, err := insts[2].VerifyAuditIncremental(50)
	for err == nil && inc.OK && !inc.Complete {
		inc, err = insts[2].VerifyAuditIncremental(50)
	}
	if err != nil || !inc.OK || inc.VerifiedThrough != 3*perInst {
		t.Fatalf("VerifyAuditIncremental = %+v, %v", inc, err)
	}
	seen := map[string]bool{}
	all, err := insts[0].ReadAudit(0, 1000, "")
	if err != nil || len(all) != 3*perInst {
		t.Fatalf("ReadAudit: %d entries, %v", len(all), err)
	}
	for i, e := range all {
		if e.Seq != uint64(i+1) || seen[e.Key] {
			t.Fatalf("entry %d: seq %d key %s (seen before: %v)", i, e.Seq, e.Key, seen[e.Key])
		}
		if bytes.Contains(e.Args, []byte("secret")) {
			t.Fatalf("entry %d holds the secret argument: %s", e.Seq, e.Args)
		}
		seen[e.Key] = true
	}
	var buf bytes.Buffer
	n, err := insts[0].ExportAudit(&buf, 0)
	if err != nil || n != 3*perInst {
		t.Fatalf("ExportAudit: %d, %v", n, err)
	}
	off, err := store.VerifyAuditJSONL(&buf, key)
	if err != nil || !off.OK || off.Entries != 3*perInst {
		t.Fatalf("VerifyAuditJSONL of the export = %+v, %v", off, err)
	}
	mine, last, err := insts[0].ReadAuditOf("inst1", 0, 1000, 1000, "")
	if err != nil || len(mine) != perInst || last != 3*perInst {
		t.Fatalf("ReadAuditOf: %d entries, last %d, %v", len(mine), last, err)
	}
	tail, err := insts[0].TailAudit(5, "")
	if err != nil || len(tail) != 5 || tail[4].Seq != 3*perInst {
		t.Fatalf("TailAudit: %+v %v", tail, err)
	}
	hashes, err := insts[0].AuditEntryHashes([]uint64{1, 3 * perInst, 3*perInst + 1})
	if err != nil || hashes[0] != all[0].Hash || hashes[1] != all[len(all)-1].Hash || hashes[2] != "" {
		t.Fatalf("AuditEntryHashes = %v, %v", hashes, err)
	}

	// Tampering is found, as on Bolt.
	k := insts[0].auditEntryKey(7)
	resp, err := insts[0].Client().Get(context.Background(), k)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatal(err)
	}
	bad := bytes.Replace(resp.Kvs[0].Value, []byte(`"outcome":"intent"`), []byte(`"outcome":"placed"`), 1)
	if _, err := insts[0].Client().Put(context.Background(), k, string(bad)); err != nil {
		t.Fatal(err)
	}
	v, err = insts[0].VerifyAudit()
	if err != nil || v.OK || v.BadSeq != 7 || v.Problem != store.ProblemHashMismatch {
		t.Fatalf("VerifyAudit after tampering = %+v, %v; want hash_mismatch at 7", v, err)
	}
}

// TestSameBytesAsBolt: an entry appended on etcd is stored as the very bytes
// Bolt stores for it.
func TestSameBytesAsBolt(t *testing.T) {
	s := mustOpen(t, shared.Endpoints(), newPrefix(t))
	b, err := store.Open(t.TempDir() + "/sibyl.db")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	e := store.AuditEntry{Time: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Principal: "p<&>", Tool: "get_market", Outcome: "ok",
		Args: []byte(`{"b":1,"a":"\u2028x"}`)}
	for _, st := range []store.Store{s, b} {
		if err := st.Commit(func(tn store.Txn) error { _, err := tn.AppendAudit(e); return err }); err != nil {
			t.Fatal(err)
		}
	}
	var fromEtcd, fromBolt bytes.Buffer
	s.ExportAudit(&fromEtcd, 0)
	b.ExportAudit(&fromBolt, 0)
	if fromEtcd.String() != fromBolt.String() || fromEtcd.Len() == 0 {
		t.Fatalf("etcd stored %s\nBolt stored %s", fromEtcd.String(), fromBolt.String())
	}
	h1, _ := s.AuditHead()
	h2, _ := b.AuditHead()
	if h1 != h2 {
		t.Fatalf("heads differ: %+v %+v", h1, h2)
	}
}

func TestAPIKeysShared(t *testing.T) {
	prefix := newPrefix(t)
	a := mustOpen(t, shared.Endpoints(), prefix)
	b := mustOpen(t, shared.Endpoints(), prefix)
	token, key, err := a.CreateAPIKey("bot", []string{"read", "trade"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.AuthenticateAPIKey(token)
	if err != nil || got.ID != key.ID {
		t.Fatalf("other instance: %+v %v", got, err)
	}
	if _, err := b.AuthenticateAPIKey(token + "x"); !errors.Is(err, store.ErrBadAPIKey) {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := b.RevokeAPIKey(key.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AuthenticateAPIKey(token); !errors.Is(err, store.ErrBadAPIKey) {
		t.Fatalf("revoked key: %v", err)
	}
	if err := a.RevokeAPIKey("000000000000", time.Now()); err == nil {
		t.Fatal("revoking an unknown key succeeded")
	}
	keys, err := a.APIKeys()
	if err != nil || len(keys) != 1 || keys[0].Revoked.IsZero() {
		t.Fatalf("APIKeys = %+v %v", keys, err)
	}
	// Only the hash is stored.
	resp, _ := a.Client().Get(context.Background(), prefix, clientv3.WithPrefix())
	_, secret, _ := store.ParseAPIToken(token)
	for _, kv := range resp.Kvs {
		if bytes.Contains(kv.Value, []byte(secret)) {
			t.Fatalf("key %s holds the token's secret", kv.Key)
		}
	}
}

func TestBucketsAndSequence(t *testing.T) {
	s := mustOpen(t, shared.Endpoints(), newPrefix(t))
	// A missing bucket reads empty, without a round trip to find out.
	var got []byte
	if err := s.ViewBucket("empty", func(b store.Bucket) error { got = b.Get([]byte("k")); return nil }); err != nil || got != nil {
		t.Fatalf("ViewBucket on a missing bucket: got %q, %v; want nothing", got, err)
	}
	var seqs []uint64
	err := s.UpdateBucket("bk", func(b store.Bucket) error {
		seqs = seqs[:0]
		for range 3 {
			n, err := b.NextSequence()
			if err != nil {
				return err
			}
			seqs = append(seqs, n)
		}
		if err := b.Put([]byte("a/1"), []byte("x")); err != nil {
			return err
		}
		if err := b.Put([]byte("a/2"), nil); err != nil {
			return err
		}
		if err := b.Put([]byte("b/1"), []byte("y")); err != nil {
			return err
		}
		// Reads see this transaction's writes.
		var ks []string
		b.ForEachPrefix([]byte("a/"), func(k, v []byte) error { ks = append(ks, string(k)); return nil })
		if strings.Join(ks, ",") != "a/1,a/2" {
			return fmt.Errorf("ForEachPrefix in the writing transaction: %v", ks)
		}
		if b.Put(nil, []byte("x")) == nil {
			return errors.New("empty key accepted")
		}
		return nil
	})
	if err != nil || fmt.Sprint(seqs) != "[1 2 3]" {
		t.Fatalf("UpdateBucket: %v, seqs %v", err, seqs)
	}
	err = s.View(func(tn store.Txn) error {
		b, err := tn.Bucket("bk")
		if err != nil || b == nil {
			return fmt.Errorf("Bucket in View: %v %v", b, err)
		}
		if v := b.Get([]byte("a/2")); v == nil || len(v) != 0 {
			return fmt.Errorf("empty value read back as %v", v)
		}
		if b.Put([]byte("z"), nil) == nil {
			return errors.New("Put inside View succeeded")
		}
		if nb, _ := tn.Bucket("none"); nb != nil {
			return errors.New("a missing bucket is not nil in View")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	if err := s.CommitBucketAsync("bk", func(b store.Bucket) error { return b.Delete([]byte("b/1")) }, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.ViewBucket("bk", func(b store.Bucket) error {
		if b.Get([]byte("b/1")) != nil {
			t.Error("b/1 not deleted")
		}
		return nil
	})
}

// TestTxnSplitByMaxTxnOps: a batch whose writes exceed one etcd Txn is
// committed as several; one function too big alone fails clearly.
func TestTxnSplitByMaxTxnOps(t *testing.T) {
	s := mustOpen(t, shared.Endpoints(), newPrefix(t), func(o *Options) { o.MaxTxnOps = 16 })
	var wg sync.WaitGroup
	errs := make([]error, 30)
	gate := make(chan struct{})
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			errs[i] = s.UpdateBucket("w", func(b store.Bucket) error {
				for j := range 3 {
					if err := b.Put([]byte(fmt.Sprintf("%02d-%d", i, j)), []byte("v")); err != nil {
						return err
					}
				}
				return nil
			})
		}()
	}
	close(gate)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("function %d: %v", i, err)
		}
	}
	n := 0
	s.ViewBucket("w", func(b store.Bucket) error {
		return b.ForEachPrefix(nil, func(_, _ []byte) error { n++; return nil })
	})
	if n != 90 {
		t.Fatalf("%d keys, want 90", n)
	}
	err := s.UpdateBucket("w", func(b store.Bucket) error {
		for j := range 20 {
			if err := b.Put([]byte(fmt.Sprintf("big-%d", j)), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("a function of 20 writes with MaxTxnOps 16: %v", err)
	}
}

func TestWatchRecord(t *testing.T) {
	prefix := newPrefix(t)
	a := mustOpen(t, shared.Endpoints(), prefix)
	b := mustOpen(t, shared.Endpoints(), prefix)
	rec := testRecord("w1")
	if err := a.Commit(func(tn store.Txn) error { return tn.PutRecord(rec) }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, _, err := b.Record(rec.ID); err != nil { // b's last read
		t.Fatal(err)
	}
	ch := b.WatchRecord(ctx, rec.ID)
	rec.State = store.Done
	if err := a.Commit(func(tn store.Txn) error { return tn.PutRecord(rec) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatal("the watch did not fire for a write by another instance")
	}
	if ctx.Err() != nil {
		t.Fatal("woken by the deadline, not the write")
	}
	// Cancelling closes it too.
	c2, cancel2 := context.WithCancel(context.Background())
	ch2 := b.WatchRecord(c2, store.RecordID{Principal: "p", Tool: "t", Key: "never"})
	cancel2()
	<-ch2
}

func TestLockAcrossInstances(t *testing.T) {
	prefix := newPrefix(t)
	a := mustOpen(t, shared.Endpoints(), prefix)
	b := mustOpen(t, shared.Endpoints(), prefix)
	unlock, err := a.Lock(context.Background(), "sweeper")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = b.Lock(ctx, "sweeper")
	cancel()
	if err == nil {
		t.Fatal("b took the lock a holds")
	}
	// In-process: a second caller of a waits too.
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = a.Lock(ctx, "sweeper")
	cancel()
	if err == nil {
		t.Fatal("a second caller on a took the lock a holds")
	}
	unlock()
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	unlockB, err := b.Lock(ctx, "sweeper")
	if err != nil {
		t.Fatalf("b after a released: %v", err)
	}
	unlockB()
}

// TestOwnerLiveness: a closed instance is gone at once (its lease is
// revoked); a crashed one (lease not kept alive) is gone when its TTL runs out.
func TestOwnerLiveness(t *testing.T) {
	prefix := newPrefix(t)
	watcher := mustOpen(t, shared.Endpoints(), prefix)
	closed := mustOpen(t, shared.Endpoints(), prefix)
	crashed := mustOpen(t, shared.Endpoints(), prefix, func(o *Options) { o.SessionTTL = 2 * time.Second })
	if !watcher.OwnerLive(closed.Owner()) || !watcher.OwnerLive(crashed.Owner()) {
		t.Fatal("live instances reported gone")
	}
	if watcher.OwnerLive("nobody-000000000000") {
		t.Fatal("an unknown owner reported live")
	}
	closed.Close()
	if watcher.OwnerLive(closed.Owner()) {
		t.Fatal("a closed instance is still live")
	}
	crashed.abandon()
	if !watcher.OwnerLive(crashed.Owner()) {
		t.Log("the crashed instance's lease was gone already")
	}
	deadline := time.Now().Add(30 * time.Second) // far beyond the TTL: etcd may round it up
	for watcher.OwnerLive(crashed.Owner()) {
		if time.Now().After(deadline) {
			t.Fatal("a crashed instance is still live long after its TTL")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Inside a transaction the read is tracked.
	err := watcher.Commit(func(tn store.Txn) error {
		live, err := tn.OwnerLive(crashed.Owner())
		if err != nil || live {
			return fmt.Errorf("Txn.OwnerLive = %v, %v", live, err)
		}
		live, err = tn.OwnerLive(watcher.Owner())
		if err != nil || !live {
			return fmt.Errorf("Txn.OwnerLive(self) = %v, %v", live, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLockReleasedAfterQuorumLoss: a lock released while etcd is down (the
// release's delete fails) is released for real once the cluster is back,
// so another instance waiting for it gets it. Without that the holder's lock
// key stays for as long as its session lives (sessions outlive a short
// quorum loss), and every other instance's Lock waits for it.
func TestLockReleasedAfterQuorumLoss(t *testing.T) {
	c, a, b := lockCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	release, err := a.Lock(ctx, "paper")
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	// Every member down: the release's delete cannot even be sent, so it is
	// certainly not applied later (with one member left up it sometimes is).
	for _, m := range c.Members() {
		if err := m.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	release()
	restartAndLock(t, c, b, a) // a still locks and unlocks normally too
}

// lockCluster starts a 3-member cluster of its own (the lock tests kill its
// members) and opens two instances on it whose sessions outlive a short
// quorum loss.
func lockCluster(t *testing.T) (*etcdtest.Cluster, *Store, *Store) {
	t.Helper()
	c := etcdtest.StartCluster(t, 3)
	long := func(o *Options) { o.OpTimeout = 1 * time.Second; o.SessionTTL = 60 * time.Second }
	return c, mustOpen(t, c.Endpoints(), "/locks/", long), mustOpen(t, c.Endpoints(), "/locks/", long)
}

// restartAndLock restarts c's stopped members, waits for a healthy cluster,
// then has each store take and release the lock "paper" in turn.
func restartAndLock(t *testing.T, c *etcdtest.Cluster, stores ...*Store) {
	t.Helper()
	if err := c.RestartStopped(context.Background()); err != nil {
		t.Fatal(err)
	}
	hctx, hcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer hcancel()
	if err := c.WaitHealthy(hctx); err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		release, err := s.Lock(ctx, "paper")
		cancel()
		if err != nil {
			t.Fatalf("store %d's Lock after the cluster came back: %v after %v (something left behind still holds it)", i, err, time.Since(start).Round(time.Millisecond))
		}
		t.Logf("store %d got the lock %v after the cluster was healthy", i, time.Since(start).Round(time.Millisecond))
		release()
	}
}

// TestLockTriedDuringQuorumLoss: a Lock that fails while etcd has no quorum
// (its queue key's Txn may still be applied once the quorum is back) leaves
// nothing that blocks another instance's Lock afterwards.
func TestLockTriedDuringQuorumLoss(t *testing.T) {
	c, a, b := lockCluster(t)
	if _, err := c.KillQuorum(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err := a.Lock(ctx, "paper")
	cancel()
	if err == nil {
		t.Fatal("Lock without quorum succeeded")
	}
	t.Logf("Lock without quorum: %v", err)
	restartAndLock(t, c, b)
}

// TestLockWaiterAnswersAtItsDeadline: a Lock waiting behind another
// instance's hold when etcd loses its quorum returns when its context ends,
// not when the quorum is back, and leaves nothing behind that blocks a later
// Lock.
func TestLockWaiterAnswersAtItsDeadline(t *testing.T) {
	c, a, b := lockCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	releaseB, err := b.Lock(ctx, "paper")
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	const wait = 3 * time.Second
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		release, err := a.Lock(ctx, "paper")
		if err == nil {
			release()
		}
		done <- err
	}()
	time.Sleep(500 * time.Millisecond) // a is waiting behind b
	if _, err := c.KillQuorum(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a got the lock b holds")
		}
		t.Logf("the waiting Lock answered after %v (its context: %v): %v", time.Since(start).Round(time.Millisecond), wait, err)
	case <-time.After(wait + 10*time.Second):
		t.Fatalf("the waiting Lock has not answered %v after its context ended (etcd still without quorum)", 10*time.Second)
	}
	releaseB()
	// b first: a does not lock again, so anything a's failed wait left in
	// the lock's queue would stay there, ahead of b, as long as a lives.
	restartAndLock(t, c, b, a)
}

// TestQuorumLoss: with two of three members down a Commit fails with
// ErrUnavailable after about OpTimeout, applies nothing, and the store works
// again once the members are back.
func TestQuorumLoss(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	s := mustOpen(t, c.Endpoints(), "/q/", func(o *Options) { o.OpTimeout = 1 * time.Second; o.SessionTTL = 30 * time.Second })
	if err := s.UpdateBucket("q", func(b store.Bucket) error { return b.Put([]byte("before"), []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.KillQuorum(); err != nil {
		t.Fatal(err)
	}
	sent := s.txnsSent.Load()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- s.UpdateBucket("q", func(b store.Bucket) error { return b.Put([]byte("during"), []byte("1")) })
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("Commit hangs with the quorum lost")
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Commit without quorum: %v, want ErrUnavailable", err)
	}
	t.Logf("Commit without quorum failed after %v (OpTimeout 1s): %v", time.Since(start).Round(time.Millisecond), err)
	if n := s.txnsSent.Load() - sent; n != 0 {
		t.Fatalf("%d commit Txns sent without quorum: their outcome is unknown; want the batch refused before", n)
	}
	// A claim-like Commit whose reads all come from the instance's cache is
	// refused before sending too.
	err = s.UpdateBucket("q", func(b store.Bucket) error {
		b.Get([]byte("before"))
		return b.Put([]byte("during2"), []byte("1"))
	})
	if !errors.Is(err, store.ErrUnavailable) || s.txnsSent.Load() != sent {
		t.Fatalf("a Commit reading cached values without quorum: %v, %d Txns sent", err, s.txnsSent.Load()-sent)
	}
	if _, _, err := s.Record(store.RecordID{Principal: "p", Tool: "t", Key: "k"}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Record without quorum: %v, want ErrUnavailable", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.RestartStopped(ctx); err != nil {
		t.Fatal(err)
	}
	var during []byte
	for {
		err = s.UpdateBucket("q", func(b store.Bucket) error {
			during = b.Get([]byte("during"))
			if during == nil {
				during = b.Get([]byte("during2"))
			}
			return b.Put([]byte("after"), []byte("1"))
		})
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Commit after the quorum is back: %v", err)
	}
	if during != nil {
		t.Fatal("the write refused without quorum was applied")
	}
}

// TestPasswordNeverShown: with etcd auth on, a wrong password fails Open with
// an error that does not hold it, and nothing logged holds the right one.
func TestPasswordNeverShown(t *testing.T) {
	c := etcdtest.StartCluster(t, 1)
	cli := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const password = "s3cret-etcd-passw0rd"
	if _, err := cli.UserAdd(ctx, "root", password); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.UserGrantRole(ctx, "root", "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, err := Open(ctx, Options{Endpoints: c.Endpoints(), Username: "root", Password: password + "-wrong", Logger: logger, OpTimeout: 2 * time.Second})
	if err == nil {
		t.Fatal("Open with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), password) {
		t.Fatalf("the error holds the password: %v", err)
	}
	s, err := Open(ctx, Options{Endpoints: c.Endpoints(), Username: "root", Password: password, Logger: logger})
	if err != nil {
		t.Fatalf("Open with the password: %v", err)
	}
	if err := s.UpdateBucket("x", func(b store.Bucket) error { return b.Put([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.Describe(), password) || strings.Contains(fmt.Sprintf("%+v", s.CommitStats()), password) {
		t.Fatal("Describe holds the password")
	}
	s.Close()
	if strings.Contains(logs.String(), password) {
		t.Fatalf("the logs hold the password:\n%s", logs.String())
	}
}

// TestLeaseLostFencesCommits: when this instance's lease ends under it (here
// revoked from outside, as a lapse while cut off from etcd would), its next
// commit is refused (ErrUnavailable) and nothing of it is applied; the
// instance registers its owner id again under a new lease and commits again.
func TestLeaseLostFencesCommits(t *testing.T) {
	prefix := newPrefix(t)
	s := mustOpen(t, shared.Endpoints(), prefix)
	other := mustOpen(t, shared.Endpoints(), prefix)
	if err := s.UpdateBucket("f", func(b store.Bucket) error { return b.Put([]byte("a"), []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	lease := clientv3.LeaseID(s.lease.Load())
	if _, err := other.Client().Revoke(context.Background(), lease); err != nil {
		t.Fatal(err)
	}
	if other.OwnerLive(s.Owner()) {
		t.Fatal("owner live after its lease was revoked")
	}
	// The commit right after may or may not find the session gone already:
	// either the fence refuses it or the session loop does.
	err := s.UpdateBucket("f", func(b store.Bucket) error { return b.Put([]byte("lost"), []byte("1")) })
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("commit with the lease lost: %v, want ErrUnavailable", err)
	}
	var lost []byte
	other.ViewBucket("f", func(b store.Bucket) error { lost = b.Get([]byte("lost")); return nil })
	if lost != nil {
		t.Fatal("a commit made after the lease was lost was applied")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = s.UpdateBucket("f", func(b store.Bucket) error { return b.Put([]byte("back"), []byte("1")) })
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("commit after re-registering: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !other.OwnerLive(s.Owner()) {
		t.Fatal("owner not live after registering again")
	}
	if clientv3.LeaseID(s.lease.Load()) == lease {
		t.Fatal("registered again under the revoked lease")
	}
}

// TestFenceRefusesForeignLease: a commit whose Txn carries a lease that does
// not hold the owner key (as after a lapse the session loop has not noticed
// yet) is refused by the fence compare, applies nothing, and the instance
// registers again.
func TestFenceRefusesForeignLease(t *testing.T) {
	s := mustOpen(t, shared.Endpoints(), newPrefix(t))
	if err := s.UpdateBucket("f", func(b store.Bucket) error { return b.Put([]byte("a"), []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	real := s.lease.Load()
	s.lease.Store(real + 1) // the session is untouched: only the fence can tell
	err := s.UpdateBucket("f", func(b store.Bucket) error { return b.Put([]byte("fenced"), []byte("1")) })
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("commit under a lease that does not hold the owner key: %v, want ErrUnavailable", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = s.UpdateBucket("f", func(b store.Bucket) error { return b.Put([]byte("back"), []byte("1")) })
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("commit after registering again: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var fenced []byte
	s.ViewBucket("f", func(b store.Bucket) error { fenced = b.Get([]byte("fenced")); return nil })
	if fenced != nil {
		t.Fatal("the fenced commit was applied")
	}
}
