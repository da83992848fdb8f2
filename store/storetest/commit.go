package storetest

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/store"
)

const counterBucket = "storetest_counter"

// increment adds one to the decimal counter at key in b.
func increment(b store.Bucket, key string) error {
	n := 0
	if v := b.Get([]byte(key)); v != nil {
		var err error
		if n, err = strconv.Atoi(string(v)); err != nil {
			return fmt.Errorf("counter %q: %w", v, err)
		}
	}
	return b.Put([]byte(key), []byte(strconv.Itoa(n+1)))
}

// A Commit whose function fails writes nothing of what it wrote (record,
// bucket, audit entry), and the caller gets the function's error.
func testCommitAtomic(t *testing.T, s *suite) {
	st := s.fresh(t)
	err := st.Commit(func(tx store.Txn) error {
		if err := tx.PutRecord(pending(id("atomic-00001"), t0)); err != nil {
			return err
		}
		b, err := tx.Bucket(counterBucket)
		if err != nil {
			return err
		}
		if err := b.Put([]byte("k"), []byte("v")); err != nil {
			return err
		}
		if _, err := tx.AppendAudit(store.AuditEntry{Time: t0, Principal: "local", Tool: "place_order", Outcome: store.OutcomeIntent}); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", errTest)
	})
	if !errors.Is(err, errTest) {
		t.Fatalf("Commit: got %v, want the function's error", err)
	}
	if exists(t, st, id("atomic-00001")) {
		t.Error("the failed function's record is stored")
	}
	if got := bucketValue(t, st, counterBucket, "k"); got != "" {
		t.Errorf("the failed function's bucket write is stored: %q", got)
	}
	head, err := st.AuditHead()
	if err != nil || head.Seq != 0 {
		t.Errorf("AuditHead: got %+v, %v; want seq 0 (the failed function's entry not appended)", head, err)
	}
	if got := st.IdemStats(); got.Records != 0 {
		t.Errorf("IdemStats: got %+v, want no records", got)
	}
	// The store still works, and a later append starts the chain at 1.
	mustCommit(t, st, func(tx store.Txn) error {
		e, err := tx.AppendAudit(store.AuditEntry{Time: t0, Principal: "local", Tool: "place_order", Outcome: store.OutcomeIntent})
		if err == nil && e.Seq != 1 {
			t.Errorf("first appended entry: seq %d, want 1", e.Seq)
		}
		return err
	})
}

// What Commit, CommitAsync and UpdateBucket returned from is there after a
// restart, and the audit chain still verifies.
func testCommitDurable(t *testing.T, s *suite) {
	st := s.fresh(t)
	want := done(pending(id("durable-0001"), t0), "o-1", false)
	mustCommit(t, st, func(tx store.Txn) error {
		if err := tx.PutRecord(want); err != nil {
			return err
		}
		_, err := tx.AppendAudit(store.AuditEntry{Time: t0, Principal: "local", Tool: "place_order", Outcome: store.OutcomePlaced, OrderIDs: []string{"o-1"}})
		return err
	})
	if err := st.UpdateBucket(counterBucket, func(b store.Bucket) error { return b.Put([]byte("sync"), []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	asyncDone := make(chan error, 1)
	if err := st.CommitAsync(func(tx store.Txn) error {
		b, err := tx.Bucket(counterBucket)
		if err != nil {
			return err
		}
		return b.Put([]byte("async"), []byte("1"))
	}, func(err error) { asyncDone <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-asyncDone; err != nil {
		t.Fatalf("CommitAsync done: %v", err)
	}
	head, err := st.AuditHead()
	if err != nil {
		t.Fatal(err)
	}

	st = s.reopen(t, st)
	got := mustRecord(t, st, want.ID)
	assertRecord(t, got, want)
	for _, k := range []string{"sync", "async"} {
		if v := bucketValue(t, st, counterBucket, k); v != "1" {
			t.Errorf("bucket key %s after reopen: got %q, want 1", k, v)
		}
	}
	if h, err := st.AuditHead(); err != nil || h != head {
		t.Errorf("AuditHead after reopen: got %+v, %v; want %+v", h, err, head)
	}
	if v, err := st.VerifyAudit(); err != nil || !v.OK || v.Entries != 1 {
		t.Errorf("VerifyAudit after reopen: got %+v, %v; want OK with 1 entry", v, err)
	}
	if got := st.IdemStats(); got.Records != 1 {
		t.Errorf("IdemStats after reopen: got %+v, want 1 record", got)
	}
}

// Functions that share transactions with failing neighbours: each failing one
// gets its own error and writes nothing, each other one gets nil and its
// writes stay, and captured results are those of the run that committed.
func testCommitReRunRules(t *testing.T, s *suite) {
	st := s.fresh(t)
	const n = 64
	errs := make([]error, n)
	reported := make([]string, n) // what each function reports through a captured variable
	atOnce(n, func(i int) {
		key := fmt.Sprintf("rerun-%04d", i)
		var result string
		errs[i] = st.Commit(func(tx store.Txn) error {
			result = "" // Commit may run this more than once
			if _, ok, err := tx.Record(id(key)); err != nil {
				return err
			} else if ok {
				result = "already there"
				return nil
			}
			if err := tx.PutRecord(pending(id(key), t0)); err != nil {
				return err
			}
			b, err := tx.Bucket(counterBucket)
			if err != nil {
				return err
			}
			if err := increment(b, "total"); err != nil {
				return err
			}
			if i%5 == 0 {
				return fmt.Errorf("function %d: %w", i, errTest)
			}
			result = "claimed " + key
			return nil
		})
		reported[i] = result
	})
	succeeded := 0
	for i := range n {
		key := fmt.Sprintf("rerun-%04d", i)
		if i%5 == 0 {
			if !errors.Is(errs[i], errTest) {
				t.Errorf("failing function %d: got %v, want its own error", i, errs[i])
			}
			if exists(t, st, id(key)) {
				t.Errorf("failing function %d: its record is stored", i)
			}
			continue
		}
		succeeded++
		if errs[i] != nil {
			t.Errorf("function %d beside failing ones: got %v, want nil", i, errs[i])
		}
		if !exists(t, st, id(key)) {
			t.Errorf("function %d beside failing ones: its record is missing", i)
		}
		if reported[i] != "claimed "+key {
			t.Errorf("function %d reported %q, want %q", i, reported[i], "claimed "+key)
		}
	}
	if got := bucketValue(t, st, counterBucket, "total"); got != strconv.Itoa(succeeded) {
		t.Errorf("counter: got %s, want %d (one per committed function)", got, succeeded)
	}
}

// Many goroutines incrementing one counter, through Commit, UpdateBucket and
// a Txn's bucket, lose no update: committed functions are serializable.
func testCommitSerializable(t *testing.T, s *suite) {
	st := s.fresh(t)
	const workers, each = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				var err error
				switch w % 3 {
				case 0, 1:
					err = st.Commit(func(tx store.Txn) error {
						b, err := tx.Bucket(counterBucket)
						if err != nil {
							return err
						}
						return increment(b, "n")
					})
				case 2:
					err = st.UpdateBucket(counterBucket, func(b store.Bucket) error { return increment(b, "n") })
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("increment: %v", err)
	}
	if got, want := bucketValue(t, st, counterBucket, "n"), strconv.Itoa(workers*each); got != want {
		t.Errorf("counter: got %s, want %s", got, want)
	}
}

// Concurrent claims of one record, each creating it only if absent inside a
// Commit (as package orders claims a key): exactly one creates it.
func testCreateIfAbsent(t *testing.T, s *suite) {
	st := s.fresh(t)
	claimRace(t, []store.Store{st}, 48)
}

// claimRace runs rounds of n concurrent create-if-absent claims of one record
// spread over stores, and checks that exactly one won each round and that
// every store sees the winner's record.
func claimRace(t *testing.T, stores []store.Store, n int) {
	t.Helper()
	for round := range 4 {
		rid := id(fmt.Sprintf("claim-race-%04d", round))
		won := make([]bool, n)
		errs := make([]error, n)
		atOnce(n, func(i int) {
			st := stores[i%len(stores)]
			var mine bool
			errs[i] = st.Commit(func(tx store.Txn) error {
				mine = false
				if _, ok, err := tx.Record(rid); err != nil || ok {
					return err
				}
				rec := pending(rid, t0)
				rec.Owner = fmt.Sprintf("claimant-%d", i)
				mine = true
				return tx.PutRecord(rec)
			})
			won[i] = mine && errs[i] == nil
		})
		winners := []int{}
		for i := range n {
			if errs[i] != nil {
				t.Errorf("round %d claimant %d: %v", round, i, errs[i])
			}
			if won[i] {
				winners = append(winners, i)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: claimants that created the record: got %v, want exactly one", round, winners)
		}
		for j, st := range stores {
			rec := mustRecord(t, st, rid)
			if want := fmt.Sprintf("claimant-%d", winners[0]); rec.Owner != want {
				t.Errorf("round %d store %d: record owner %q, want the winner %q", round, j, rec.Owner, want)
			}
		}
	}
}

// Concurrent claims of one fingerprint under different keys, each refused
// when FingerprintUse finds another key's use (package orders'
// possible_duplicate check): exactly one goes ahead.
func testDuplicateCheckSerializable(t *testing.T, s *suite) {
	st := s.fresh(t)
	dupRace(t, []store.Store{st}, 32)
}

func dupRace(t *testing.T, stores []store.Store, n int) {
	t.Helper()
	// Several rounds, each on a new fingerprint, so that some round's first
	// claims share a transaction (or race between instances).
	for round := range 8 {
		fp := fmt.Sprintf("fp-shared-by-all-%d", round)
		placed := make([]bool, n)
		atOnce(n, func(i int) {
			st := stores[i%len(stores)]
			var ok bool
			err := st.Commit(func(tx store.Txn) error {
				ok = false
				if _, found, err := tx.FingerprintUse("local", "place_order", fp); err != nil || found {
					return err
				}
				rec := pending(id(fmt.Sprintf("dup-race-%d-%04d", round, i)), t0.Add(time.Duration(i)*time.Millisecond))
				rec.Fingerprint, rec.DupIndexed = fp, true
				ok = true
				return tx.PutRecord(rec)
			})
			if err != nil {
				t.Errorf("round %d claim %d: %v", round, i, err)
			}
			placed[i] = ok && err == nil
		})
		var winners []int
		for i, p := range placed {
			if p {
				winners = append(winners, i)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: claims that found no earlier use of the fingerprint: got %v, want exactly one", round, winners)
		}
		for j, st := range stores {
			var u store.FingerprintUse
			var found bool
			if err := st.View(func(tx store.Txn) error {
				var err error
				u, found, err = tx.FingerprintUse("local", "place_order", fp)
				return err
			}); err != nil || !found || u.Key != fmt.Sprintf("dup-race-%d-%04d", round, winners[0]) {
				t.Errorf("round %d store %d: FingerprintUse: got %+v (found %v, err %v), want the winner's key", round, j, u, found, err)
			}
		}
	}
}

// Functions queued by one caller with CommitAsync commit in queue order; each
// done is called once, with nil, after its function is durable.
func testCommitAsyncOrder(t *testing.T, s *suite) {
	st := s.fresh(t)
	const n = 200
	var mu sync.Mutex
	calls := make([]int, n)
	var wg sync.WaitGroup
	wg.Add(n)
	for i := range n {
		fn := func(tx store.Txn) error {
			b, err := tx.Bucket(counterBucket)
			if err != nil {
				return err
			}
			// Each function appends its number to the list, and records
			// which number came before it.
			prev := b.Get([]byte("last"))
			if err := b.Put([]byte(fmt.Sprintf("after-%04d", i)), prev); err != nil {
				return err
			}
			return b.Put([]byte("last"), []byte(strconv.Itoa(i)))
		}
		err := st.CommitAsync(fn, func(err error) {
			if err != nil {
				t.Errorf("function %d: done with %v", i, err)
			}
			mu.Lock()
			calls[i]++
			mu.Unlock()
			wg.Done()
		})
		if err != nil {
			t.Fatalf("CommitAsync %d: %v", i, err)
		}
	}
	waitGroup(t, &wg, "CommitAsync done callbacks")
	for i, c := range calls {
		if c != 1 {
			t.Errorf("function %d: done called %d times, want 1", i, c)
		}
	}
	err := st.View(func(tx store.Txn) error {
		b, err := tx.Bucket(counterBucket)
		if err != nil || b == nil {
			return fmt.Errorf("bucket: %v, %v", b, err)
		}
		for i := range n {
			got := string(b.Get([]byte(fmt.Sprintf("after-%04d", i))))
			want := ""
			if i > 0 {
				want = strconv.Itoa(i - 1)
			}
			if got != want {
				return fmt.Errorf("function %d ran after %q, want after %q (queue order)", i, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// A CommitAsync function that fails: done gets its error, its writes are not
// applied, and the functions queued beside it commit.
func testCommitAsyncFailure(t *testing.T, s *suite) {
	st := s.fresh(t)
	results := make([]error, 3)
	var wg sync.WaitGroup
	wg.Add(3)
	for i := range 3 {
		err := st.CommitAsync(func(tx store.Txn) error {
			if err := tx.PutRecord(pending(id(fmt.Sprintf("async-fail-%d", i)), t0)); err != nil {
				return err
			}
			if i == 1 {
				return errTest
			}
			return nil
		}, func(err error) { results[i] = err; wg.Done() })
		if err != nil {
			t.Fatal(err)
		}
	}
	waitGroup(t, &wg, "CommitAsync done callbacks")
	for i, err := range results {
		key := fmt.Sprintf("async-fail-%d", i)
		if i == 1 {
			if !errors.Is(err, errTest) || exists(t, st, id(key)) {
				t.Errorf("failing function: done got %v, record stored %v; want its error and no record", err, exists(t, st, id(key)))
			}
			continue
		}
		if err != nil || !exists(t, st, id(key)) {
			t.Errorf("function %d beside the failing one: done got %v, record stored %v; want nil and the record", i, err, exists(t, st, id(key)))
		}
	}
	// A nil done is allowed.
	if err := st.CommitAsync(func(tx store.Txn) error { return tx.PutRecord(pending(id("async-nil-done"), t0)) }, nil); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, st, func(store.Txn) error { return nil }) // queued after it: commits after it
	if !exists(t, st, id("async-nil-done")) {
		t.Error("CommitAsync with a nil done: the record is missing after a later Commit")
	}
}

// Close runs every function queued before it: after a restart their writes
// are there, and their done callbacks were called.
func testCloseRunsQueued(t *testing.T, s *suite) {
	st := s.fresh(t)
	const n = 100
	var wg sync.WaitGroup
	wg.Add(2 * n)
	for i := range n {
		if err := st.CommitAsync(func(tx store.Txn) error {
			return tx.PutRecord(pending(id(fmt.Sprintf("queued-%04d", i)), t0))
		}, func(err error) {
			if err != nil {
				t.Errorf("queued function %d: %v", i, err)
			}
			wg.Done()
		}); err != nil {
			t.Fatal(err)
		}
		if err := st.CommitBucketAsync(counterBucket, func(b store.Bucket) error { return increment(b, "queued") },
			func(err error) {
				if err != nil {
					t.Errorf("queued bucket function %d: %v", i, err)
				}
				wg.Done()
			}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AuditAsync(ctx(t), store.AuditEntry{Time: t0, Principal: "local", Tool: "get_market", Outcome: store.OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	if s.cfg.reopen == nil {
		s.close(t, st)
		waitGroup(t, &wg, "done callbacks of functions queued before Close")
		t.Skip("the backend gave no reopen hook (WithReopen): checked only the done callbacks")
	}
	st = s.reopen(t, st)
	waitGroup(t, &wg, "done callbacks of functions queued before Close")
	for i := range n {
		if !exists(t, st, id(fmt.Sprintf("queued-%04d", i))) {
			t.Fatalf("record queued-%04d, queued before Close: missing after reopen", i)
		}
	}
	if got := bucketValue(t, st, counterBucket, "queued"); got != strconv.Itoa(n) {
		t.Errorf("bucket counter queued before Close: got %q, want %d", got, n)
	}
	if h, err := st.AuditHead(); err != nil || h.Seq != 1 {
		t.Errorf("AuditHead after reopen: got %+v, %v; want the entry queued before Close", h, err)
	}
}

// waitGroup waits for wg, failing the test when it takes unreasonably long.
func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: still waiting after 60 s", what)
	}
}

// atOnce runs fn(0) ... fn(n-1) in n goroutines released together, and waits
// for them all: the races of the suite.
func atOnce(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}
