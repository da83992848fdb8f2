package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

func put(tb testing.TB, s *Bolt, recs ...Record) {
	tb.Helper()
	if err := s.Commit(func(t Txn) error {
		for _, r := range recs {
			if err := t.PutRecord(r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
}

func mustRecord(tb testing.TB, s *Bolt, id RecordID) Record {
	tb.Helper()
	rec, ok, err := s.Record(id)
	if err != nil || !ok {
		tb.Fatalf("Record(%v): ok %v, err %v", id, ok, err)
	}
	return rec
}

func fingerprintUse(tb testing.TB, s *Bolt, principal, tool, fp string) (FingerprintUse, bool) {
	tb.Helper()
	var u FingerprintUse
	var ok bool
	if err := s.View(func(t Txn) (err error) { u, ok, err = t.FingerprintUse(principal, tool, fp); return err }); err != nil {
		tb.Fatal(err)
	}
	return u, ok
}

// The record log and its in-memory indexes come back the same after a restart:
// newest versions, the duplicate index, the order index, and the sequence
// numbers (a write after reopening must not overwrite an old version).
func TestRecordLogSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sibyl.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	a := RecordID{"p", "place_order", "key-a"}
	b := RecordID{"p", "place_order", "key-b"}
	c := RecordID{"q", "cancel_order", "key-c"}
	put(t, s, Record{ID: a, State: Pending, Fingerprint: "fp1", Created: t0, DupIndexed: true},
		Record{ID: b, State: Pending, Fingerprint: "fp2", Created: t0.Add(time.Second), DupIndexed: true})
	put(t, s, Record{ID: c, State: Done, Fingerprint: "fp3", Created: t0, OrderFinal: true})
	put(t, s, Record{ID: a, State: Done, Fingerprint: "fp1", Created: t0, DupIndexed: true, OrderID: "o-1", Venue: "paper",
		Result: json.RawMessage(`{"id":"o-1"}`)})
	// b was refused: it leaves the duplicate index. This transaction deletes
	// a's superseded version; b's stays in the file until the next one.
	put(t, s, Record{ID: b, State: Done, Fingerprint: "fp2", Created: t0.Add(time.Second), Error: &RecordError{Code: "insufficient_funds", Message: "no"}})
	want := IdemStats{Records: 3, Versions: 4}
	if got := s.IdemStats(); got != want {
		t.Fatalf("IdemStats: %+v, want %+v", got, want)
	}
	before := map[RecordID]Record{a: mustRecord(t, s, a), b: mustRecord(t, s, b), c: mustRecord(t, s, c)}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.IdemStats(); got != want {
		t.Errorf("IdemStats after reopening: %+v, want %+v", got, want)
	}
	for id, rec := range before {
		if diff := cmp.Diff(rec, mustRecord(t, s, id)); diff != "" {
			t.Errorf("record %v after reopening (-before +after):\n%s", id, diff)
		}
	}
	if u, ok := fingerprintUse(t, s, "p", "place_order", "fp1"); !ok || u.Key != "key-a" || !u.Time.Equal(t0) {
		t.Errorf("fingerprint fp1: %+v %v, want key-a at %v", u, ok, t0)
	}
	if u, ok := fingerprintUse(t, s, "p", "place_order", "fp2"); ok {
		t.Errorf("fingerprint fp2 (refused record): %+v, want none", u)
	}
	err = s.Commit(func(t Txn) error {
		ok, err := t.MarkOrderFinal("p", "paper", "o-1", t0.Add(time.Hour))
		if err == nil && !ok {
			err = fmt.Errorf("order o-1 not in the order index")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec := mustRecord(t, s, a); !rec.OrderFinal || string(rec.Result) != `{"id":"o-1"}` {
		t.Errorf("after MarkOrderFinal: %+v", rec)
	}
	// That transaction deleted b's superseded version, found when the file was
	// opened, and superseded a's, which the next transaction deletes; no write
	// after reopening replaced a version: the log holds exactly Versions
	// entries.
	if got := s.IdemStats(); got != want {
		t.Errorf("IdemStats after MarkOrderFinal: %+v, want %+v", got, want)
	}
	if n := logEntries(t, s); n != s.IdemStats().Versions {
		t.Errorf("log entries %d, IdemStats %+v", n, s.IdemStats())
	}
	if err := s.Commit(func(Txn) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := s.IdemStats(); got != (IdemStats{Records: 3, Versions: 3}) {
		t.Errorf("IdemStats after one more commit: %+v, want 3 records in 3 versions", got)
	}
	if n := logEntries(t, s); n != 3 {
		t.Errorf("log entries after one more commit: %d, want 3", n)
	}
	if res, err := s.Sweep(t0.Add(-time.Hour)); err != nil || res != (SweepResult{}) {
		t.Errorf("Sweep: %+v %v, want nothing left to do", res, err)
	}
}

func logEntries(tb testing.TB, s *Bolt) int {
	tb.Helper()
	n := 0
	s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket([]byte(bucketIdemLog)).Stats().KeyN
		return nil
	})
	return n
}

// Superseded versions leave the log with the committer's next transactions:
// not with one that is rolled back, and a backlog (as a file may hold when
// opened) a bounded number per transaction.
func TestSupersededVersionsAreDeleted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sibyl.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const n = garbagePerTxn + 100
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{ID: RecordID{"p", "place_order", fmt.Sprintf("key-%05d", i)}, State: Pending, Fingerprint: "fp", Created: time.Now()}
	}
	put(t, s, recs...)
	for i := range recs {
		recs[i].State = Done
	}
	put(t, s, recs...)
	if got := s.IdemStats(); got != (IdemStats{Records: n, Versions: 2 * n}) {
		t.Fatalf("after rewriting every record: %+v", got)
	}
	// A rolled-back transaction deletes nothing, and forgets nothing.
	if err := s.Commit(func(Txn) error { return errors.New("refused") }); err == nil {
		t.Fatal("a failing commit function committed")
	}
	if got, logged := s.IdemStats(), logEntries(t, s); got.Versions != 2*n || logged != 2*n {
		t.Fatalf("after a rolled-back transaction: %+v, %d log entries; want %d versions", got, logged, 2*n)
	}
	// Closed and opened again: the index finds the superseded versions.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpenPath(t, path) // checked and closed at cleanup
	for i, want := range []int{2*n - garbagePerTxn, n} {
		if err := s.Commit(func(Txn) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if got, logged := s.IdemStats(), logEntries(t, s); got.Versions != want || logged != want {
			t.Errorf("after commit %d: %+v, %d log entries; want %d versions", i+1, got, logged, want)
		}
	}
	for _, r := range recs[:3] {
		if got := mustRecord(t, s, r.ID); got.State != Done {
			t.Errorf("record %s: state %s, want done", r.ID.Key, got.State)
		}
	}
}

// A file written by the first layout (records rewritten in place, with
// separate result, fingerprint and order buckets) is migrated when opened.
func TestMigratesFirstLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sibyl.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	old := []Record{
		{ID: RecordID{"p", "place_order", "open-order"}, State: Done, Fingerprint: "fpA", Created: t0.Add(2 * time.Minute), OrderID: "o-7", Venue: "paper"},
		{ID: RecordID{"p", "place_order", "refused-1"}, State: Done, Fingerprint: "fpB", Created: t0.Add(time.Minute), Error: &RecordError{Code: "market_closed", Message: "closed"}},
		{ID: RecordID{"p", "place_order", "pending-1"}, State: Pending, Fingerprint: "fpC", Created: t0},
	}
	err = db.Update(func(tx *bolt.Tx) error {
		idem, _ := tx.CreateBucket([]byte(bucketIdemV1))
		results, _ := tx.CreateBucket([]byte(bucketIdemResultV1))
		fps, _ := tx.CreateBucket([]byte(bucketIdemFPV1))
		orders, _ := tx.CreateBucket([]byte(bucketIdemOrderV1))
		for _, r := range old {
			v, _ := json.Marshal(r)
			idem.Put(r.ID.bytes(), v)
		}
		results.Put(old[0].ID.bytes(), []byte(`{"id":"o-7"}`))
		fpv := func(key string, at time.Time) []byte {
			v := make([]byte, 8)
			for i := range 8 {
				v[i] = byte(uint64(at.UnixNano()) >> (56 - 8*i))
			}
			return append(v, key...)
		}
		fps.Put(joinKey("p", "place_order", "fpA"), fpv("open-order", old[0].Created))
		fps.Put(joinKey("p", "place_order", "fpC"), fpv("pending-1", t0))
		return orders.Put(joinKey("p", "paper", "o-7"), old[0].ID.bytes())
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.IdemStats(); got != (IdemStats{Records: 3, Versions: 3}) {
		t.Errorf("IdemStats: %+v, want 3 records", got)
	}
	rec := mustRecord(t, s, old[0].ID)
	if rec.OrderID != "o-7" || string(rec.Result) != `{"id":"o-7"}` || !rec.DupIndexed {
		t.Errorf("migrated open order: %+v", rec)
	}
	if rec := mustRecord(t, s, old[1].ID); rec.Error == nil || rec.DupIndexed {
		t.Errorf("migrated refusal: %+v", rec)
	}
	if u, ok := fingerprintUse(t, s, "p", "place_order", "fpC"); !ok || u.Key != "pending-1" {
		t.Errorf("fingerprint fpC: %+v %v", u, ok)
	}
	err = s.Commit(func(t Txn) error {
		if ok, err := t.MarkOrderFinal("p", "paper", "o-7", t0.Add(time.Hour)); err != nil || !ok {
			return fmt.Errorf("MarkOrderFinal: %v %v", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	s.db.View(func(tx *bolt.Tx) error {
		for _, name := range []string{bucketIdemV1, bucketIdemResultV1, bucketIdemFPV1, bucketIdemOrderV1} {
			if tx.Bucket([]byte(name)) != nil {
				t.Errorf("old bucket %s still there", name)
			}
		}
		// Oldest first, so sweeps by age walk the log in time order.
		var keys []string
		tx.Bucket([]byte(bucketIdemLog)).ForEach(func(k, v []byte) error {
			id, _, _, _ := splitVersion(v)
			keys = append(keys, string(bytes.SplitN(id, []byte{0}, 3)[2]))
			return nil
		})
		if diff := cmp.Diff([]string{"pending-1", "refused-1", "open-order", "open-order"}, keys); diff != "" {
			t.Errorf("log order (-want +got):\n%s", diff)
		}
		return nil
	})
	if err := s.Check(); err != nil {
		t.Error(err)
	}
}

// Readers outside a commit never miss a record that exists the whole time,
// while it is rewritten and its superseded versions are swept under them.
func TestRecordReadsRaceSweeps(t *testing.T) {
	s := mustOpen(t, Options{})
	const n = 20
	ids := make([]RecordID, n)
	for i := range ids {
		ids[i] = RecordID{"p", "place_order", fmt.Sprintf("key-%04d", i)}
		put(t, s, Record{ID: ids[i], State: Pending, Fingerprint: "fp", Created: time.Now()})
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var misses atomic.Int64
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r; !stop.Load(); i++ {
				if _, ok, err := s.Record(ids[i%n]); err != nil || !ok {
					misses.Add(1)
					t.Errorf("Record(%v): ok %v err %v", ids[i%n], ok, err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for round := 0; !stop.Load(); round++ {
			if round%5 == 0 {
				if _, err := s.Sweep(time.Now().Add(-time.Hour)); err != nil {
					t.Error(err)
					return
				}
				continue
			}
			for _, id := range ids {
				s.CommitAsync(func(t Txn) error {
					return t.PutRecord(Record{ID: id, State: Pending, Attempt: round, Fingerprint: "fp", Created: time.Now()})
				}, nil)
			}
		}
	}()
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()
	// The writer's last CommitAsync calls may still be queued; a sweep sharing
	// their transaction leaves the versions they supersede for the next sweep
	// (by design). An empty Commit behind them is answered only once they are
	// committed and applied, so the sweep below runs in a later transaction.
	if err := s.Commit(func(Txn) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sweep(time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := s.IdemStats(); got != (IdemStats{Records: n, Versions: n}) {
		t.Errorf("after the last sweep: %+v, want %d records with no older versions", got, n)
	}
}

func FuzzSplitVersion(f *testing.F) {
	f.Add(encodeVersion([]byte("p\x00place_order\x00key-1"), []byte(`{"state":"done"}`), []byte(`{"id":"o"}`)))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, v []byte) {
		id, rec, res, err := splitVersion(v)
		if err != nil {
			return
		}
		if got := encodeVersion(id, rec, res); !bytes.Equal(got, v) && len(v) > 0 {
			// Non-minimal varints may decode; re-encoding them is shorter.
			if len(got) > len(v) {
				t.Fatalf("re-encoded %x longer than input %x", got, v)
			}
		}
		_, _ = decodeVersion(v) // must not panic
	})
}
