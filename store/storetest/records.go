package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

// assertRecord compares two records field by field (times by Equal, the
// result by its bytes).
func assertRecord(t *testing.T, got, want store.Record) {
	t.Helper()
	if !bytes.Equal(got.Result, want.Result) {
		t.Errorf("record %s result: got %q, want %q", want.ID.Key, got.Result, want.Result)
	}
	got.Result, want.Result = nil, nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("record %s (-want +got):\n%s", want.ID.Key, diff)
	}
}

// Inside View, every write fails and changes nothing; a missing bucket is nil.
func testViewReadOnly(t *testing.T, s *suite) {
	st := s.fresh(t)
	rec := done(pending(id("view-only-01"), t0), "o-1", false)
	mustPut(t, st, rec)
	if err := st.UpdateBucket("storetest_view", func(b store.Bucket) error { return b.Put([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	version := func() uint64 {
		var v uint64
		st.View(func(tx store.Txn) error { v, _ = tx.RecordVersion(rec.ID); return nil })
		return v
	}
	before := version()
	err := st.View(func(tx store.Txn) error {
		got, ok, err := tx.Record(rec.ID)
		if err != nil || !ok {
			t.Errorf("Record in View: ok %v, err %v; want the record", ok, err)
		} else {
			assertRecord(t, got, rec)
		}
		changed := rec
		changed.State = store.Pending
		if err := tx.PutRecord(changed); err == nil {
			t.Error("PutRecord in View: got nil error, want a failure")
		}
		p, err := store.PrepareRecord(pending(id("view-only-02"), t0))
		if err != nil {
			return err
		}
		if _, err := tx.PutPrepared(p); err == nil {
			t.Error("PutPrepared in View: got nil error, want a failure")
		}
		if _, err := tx.AppendAudit(store.AuditEntry{Time: t0, Principal: "local", Tool: "place_order", Outcome: store.OutcomeIntent}); err == nil {
			t.Error("AppendAudit in View: got nil error, want a failure")
		}
		if ok, err := tx.MarkOrderFinal("local", "paper", "o-1", t0.Add(time.Minute)); err == nil {
			t.Errorf("MarkOrderFinal of an existing order in View: got %v, nil; want a failure", ok)
		}
		b, err := tx.Bucket("storetest_view")
		if err != nil || b == nil {
			t.Errorf("Bucket of an existing bucket in View: got %v, %v", b, err)
		} else {
			if got := string(b.Get([]byte("k"))); got != "v" {
				t.Errorf("Get in View: got %q, want v", got)
			}
			if err := b.Put([]byte("k"), []byte("changed")); err == nil {
				t.Error("bucket Put in View: got nil error, want a failure")
			}
			if err := b.Delete([]byte("k")); err == nil {
				t.Error("bucket Delete in View: got nil error, want a failure")
			}
		}
		missing, err := tx.Bucket("storetest_never_written")
		if err != nil || missing != nil {
			t.Errorf("Bucket of a missing bucket in View: got %v, %v; want nil, nil", missing, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	assertRecord(t, mustRecord(t, st, rec.ID), rec)
	if exists(t, st, id("view-only-02")) {
		t.Error("PutPrepared in View stored a record")
	}
	if v := version(); v != before {
		t.Errorf("record version after View: got %d, want %d (unchanged)", v, before)
	}
	if h, err := st.AuditHead(); err != nil || h.Seq != 0 {
		t.Errorf("AuditHead after View: %+v, %v; want no entry", h, err)
	}
	if got := bucketValue(t, st, "storetest_view", "k"); got != "v" {
		t.Errorf("bucket after View: got %q, want v", got)
	}
	// A missing bucket: fn is not called, or it sees an empty bucket.
	var seen []string
	if err := st.ViewBucket("storetest_never_written", func(b store.Bucket) error {
		if v := b.Get([]byte("k")); v != nil {
			seen = append(seen, "k="+string(v))
		}
		return b.ForEachPrefix(nil, func(k, _ []byte) error { seen = append(seen, string(k)); return nil })
	}); err != nil || len(seen) > 0 {
		t.Errorf("ViewBucket of a missing bucket: err %v, keys %q; want nil and no key", err, seen)
	}
	// A View's error comes back.
	if err := st.View(func(store.Txn) error { return errTest }); !errors.Is(err, errTest) {
		t.Errorf("View returning an error: got %v, want it", err)
	}
}

// Every field of a record comes back as written, through Store.Record, a
// Txn's Record (in the writing transaction and later ones) and PutPrepared.
func testRecords(t *testing.T, s *suite) {
	st := s.fresh(t)
	if _, ok, err := st.Record(id("missing-0001")); ok || err != nil {
		t.Errorf("Record of a missing id: ok %v, err %v; want false, nil", ok, err)
	}
	full := store.Record{
		ID: store.RecordID{Principal: "key:0123456789ab", Tool: "place_order", Key: "full-record/01:a.b_c-d"}, State: store.Done,
		Fingerprint: "fp-full", ClientOrderID: "6f1d7c1e-1a2b-5c3d-8e4f-0123456789ab", Venue: "polymarket",
		Owner: "owner-7", Attempt: 3, LeaseUntil: t0.Add(time.Second), Created: t0.Add(-time.Minute), Updated: t0.Add(time.Second),
		Result:         []byte(`{"native_id":"0xabc","status":"open"}`),
		Error:          &store.RecordError{Code: sibyl.InsufficientFunds, Message: "balance $3.00 does not cover $4.20", Field: "quantity"},
		OrderID:        "0xabc",
		DupIndexed:     true,
		NativeMarketID: "BTC-ABOVE-120000",
		Prepared:       &sibyl.PreparedOrder{NativeOrderID: "0xabc", Payload: []byte(`{"signed":"bytes","n":1}`)},
	}
	mustCommit(t, st, func(tx store.Txn) error {
		if err := tx.PutRecord(full); err != nil {
			return err
		}
		got, ok, err := tx.Record(full.ID)
		if err != nil || !ok {
			return fmt.Errorf("Record in the writing transaction: ok %v, err %v", ok, err)
		}
		assertRecord(t, got, full)
		return nil
	})
	assertRecord(t, mustRecord(t, st, full.ID), full)

	p, err := store.PrepareRecord(pending(id("prepared-0001"), t0))
	if err != nil {
		t.Fatal(err)
	}
	assertRecord(t, p.Record(), pending(id("prepared-0001"), t0))
	mustCommit(t, st, func(tx store.Txn) error {
		_, err := tx.PutPrepared(p)
		return err
	})
	assertRecord(t, mustRecord(t, st, p.Record().ID), p.Record())

	// Records of other principals, tools and keys are distinct.
	other := []store.RecordID{
		{Principal: "other", Tool: "place_order", Key: "prepared-0001"},
		{Principal: "local", Tool: "cancel_order", Key: "prepared-0001"},
	}
	for _, rid := range other {
		if exists(t, st, rid) {
			t.Errorf("Record(%+v): found, want none", rid)
		}
	}
	// A rewrite replaces the record.
	next := done(p.Record(), "o-9", true)
	mustPut(t, st, next)
	assertRecord(t, mustRecord(t, st, next.ID), next)
}

// RecordVersion changes with every write of the record and with nothing else.
func testRecordVersion(t *testing.T, s *suite) {
	st := s.fresh(t)
	rid := id("versioned-01")
	read := func() (uint64, bool) {
		var v uint64
		var ok bool
		if err := st.View(func(tx store.Txn) error { v, ok = tx.RecordVersion(rid); return nil }); err != nil {
			t.Fatal(err)
		}
		return v, ok
	}
	if _, ok := read(); ok {
		t.Fatal("RecordVersion of a missing record: ok, want not")
	}
	var v1 uint64
	p, err := store.PrepareRecord(pending(rid, t0))
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, st, func(tx store.Txn) error {
		var err error
		if v1, err = tx.PutPrepared(p); err != nil {
			return err
		}
		if v, ok := tx.RecordVersion(rid); !ok || v != v1 {
			t.Errorf("RecordVersion in the writing transaction: got %d (ok %v), want %d (PutPrepared's)", v, ok, v1)
		}
		return nil
	})
	if v, ok := read(); !ok || v != v1 {
		t.Errorf("RecordVersion after commit: got %d (ok %v), want %d", v, ok, v1)
	}
	// Writes of other records, buckets and the audit chain leave it alone.
	mustPut(t, st, pending(id("versioned-02"), t0))
	mustCommit(t, st, func(tx store.Txn) error {
		b, err := tx.Bucket(counterBucket)
		if err != nil {
			return err
		}
		if err := increment(b, "x"); err != nil {
			return err
		}
		_, err = tx.AppendAudit(store.AuditEntry{Time: t0, Principal: "local", Tool: "place_order", Outcome: store.OutcomeIntent})
		return err
	})
	if v, ok := read(); !ok || v != v1 {
		t.Errorf("RecordVersion after other writes: got %d (ok %v), want %d (unchanged)", v, ok, v1)
	}
	// A failed rewrite leaves it alone.
	st.Commit(func(tx store.Txn) error {
		if err := tx.PutRecord(done(pending(rid, t0), "o-1", false)); err != nil {
			return err
		}
		return errTest
	})
	if v, ok := read(); !ok || v != v1 {
		t.Errorf("RecordVersion after a failed rewrite: got %d (ok %v), want %d (unchanged)", v, ok, v1)
	}
	// Every rewrite, even of identical contents, gives a new version.
	seen := map[uint64]bool{v1: true}
	for i := range 3 {
		mustPut(t, st, pending(rid, t0))
		v, ok := read()
		if !ok || seen[v] {
			t.Errorf("rewrite %d: RecordVersion %d (ok %v), want a version not seen before (%v)", i, v, ok, seen)
		}
		seen[v] = true
	}
	// Two writes in one transaction: the version read after is the last's.
	mustCommit(t, st, func(tx store.Txn) error {
		if err := tx.PutRecord(pending(rid, t0)); err != nil {
			return err
		}
		va, _ := tx.RecordVersion(rid)
		p, err := store.PrepareRecord(done(pending(rid, t0), "o-2", false))
		if err != nil {
			return err
		}
		vb, err := tx.PutPrepared(p)
		if err != nil {
			return err
		}
		if vnow, _ := tx.RecordVersion(rid); va == vb || vnow != vb {
			t.Errorf("two writes in one transaction: versions %d then %d, RecordVersion %d; want distinct, the last", va, vb, vnow)
		}
		return nil
	})
}

// Invalid record ids are refused, not stored.
func testInvalidRecordID(t *testing.T, s *suite) {
	st := s.fresh(t)
	for _, rid := range []store.RecordID{
		{Principal: "", Tool: "place_order", Key: "key-00000001"},
		{Principal: "local", Tool: "", Key: "key-00000001"},
		{Principal: "local", Tool: "place_order", Key: ""},
		{Principal: "lo\x00cal", Tool: "place_order", Key: "key-00000001"},
	} {
		if _, err := store.PrepareRecord(pending(rid, t0)); err == nil {
			t.Errorf("PrepareRecord(%q): got nil error, want a refusal", rid)
		}
		err := st.Commit(func(tx store.Txn) error { return tx.PutRecord(pending(rid, t0)) })
		if err == nil {
			t.Errorf("PutRecord(%q): got nil error, want a refusal", rid)
		}
		if _, ok, err := st.Record(rid); ok || err == nil {
			t.Errorf("Record(%q): ok %v, err %v; want a refusal", rid, ok, err)
		}
	}
	if got := st.IdemStats(); got.Records != 0 {
		t.Errorf("IdemStats: %+v, want no records", got)
	}
}

func fpUse(t *testing.T, st store.Store, principal, tool, fp string) (store.FingerprintUse, bool) {
	t.Helper()
	var u store.FingerprintUse
	var ok bool
	if err := st.View(func(tx store.Txn) error {
		var err error
		u, ok, err = tx.FingerprintUse(principal, tool, fp)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return u, ok
}

// FingerprintUse names the last DupIndexed record of a fingerprint, per
// principal and tool, at its Created time.
func testFingerprintUse(t *testing.T, s *suite) {
	st := s.fresh(t)
	const fp = "fp-dup"
	if _, ok := fpUse(t, st, "local", "place_order", fp); ok {
		t.Fatal("FingerprintUse on an empty store: found")
	}
	indexed := func(key string, created time.Time, on bool) store.Record {
		r := pending(id(key), created)
		r.Fingerprint, r.DupIndexed = fp, on
		return r
	}
	mustPut(t, st, indexed("not-indexed-1", t0, false))
	if u, ok := fpUse(t, st, "local", "place_order", fp); ok {
		t.Errorf("after a record without DupIndexed: got %+v, want none", u)
	}
	mustCommit(t, st, func(tx store.Txn) error {
		if err := tx.PutRecord(indexed("first-key-01", t0.Add(time.Second), true)); err != nil {
			return err
		}
		u, ok, err := tx.FingerprintUse("local", "place_order", fp)
		if err != nil || !ok || u.Key != "first-key-01" {
			t.Errorf("FingerprintUse in the writing transaction: got %+v (ok %v, err %v), want first-key-01", u, ok, err)
		}
		return err
	})
	if u, ok := fpUse(t, st, "local", "place_order", fp); !ok || u.Key != "first-key-01" || !u.Time.Equal(t0.Add(time.Second)) {
		t.Errorf("after first-key-01: got %+v (ok %v), want first-key-01 at %v", u, ok, t0.Add(time.Second))
	}
	for _, o := range []struct{ principal, tool string }{{"other", "place_order"}, {"local", "cancel_order"}} {
		if u, ok := fpUse(t, st, o.principal, o.tool, fp); ok {
			t.Errorf("FingerprintUse(%s, %s): got %+v, want none (another principal or tool)", o.principal, o.tool, u)
		}
	}
	mustPut(t, st, indexed("second-key-2", t0.Add(2*time.Second), true))
	if u, ok := fpUse(t, st, "local", "place_order", fp); !ok || u.Key != "second-key-2" || !u.Time.Equal(t0.Add(2*time.Second)) {
		t.Errorf("after second-key-2: got %+v (ok %v), want second-key-2", u, ok)
	}
	// Unindexing an older use leaves the newer one.
	mustPut(t, st, indexed("first-key-01", t0.Add(time.Second), false))
	if u, ok := fpUse(t, st, "local", "place_order", fp); !ok || u.Key != "second-key-2" {
		t.Errorf("after unindexing first-key-01: got %+v (ok %v), want second-key-2 still", u, ok)
	}
	// Unindexing the last use removes it.
	mustPut(t, st, indexed("second-key-2", t0.Add(2*time.Second), false))
	if u, ok := fpUse(t, st, "local", "place_order", fp); ok && u.Key == "second-key-2" {
		t.Errorf("after unindexing second-key-2: got %+v, want it gone", u)
	}
}

// MarkOrderFinal finds the record that opened an order by principal, venue
// and order id, sets OrderFinal and Updated, and is a new version.
func testMarkOrderFinal(t *testing.T, s *suite) {
	st := s.fresh(t)
	rec := done(pending(id("opens-order-1"), t0), "o-1", false)
	mustPut(t, st, rec)
	mark := func(principal, venue, orderID string, now time.Time) bool {
		var found bool
		mustCommit(t, st, func(tx store.Txn) error {
			var err error
			found, err = tx.MarkOrderFinal(principal, venue, orderID, now)
			return err
		})
		return found
	}
	version := func() uint64 {
		var v uint64
		st.View(func(tx store.Txn) error { v, _ = tx.RecordVersion(rec.ID); return nil })
		return v
	}
	v0 := version()
	for _, c := range []struct{ principal, venue, orderID string }{
		{"local", "paper", "o-2"}, {"other", "paper", "o-1"}, {"local", "kalshi", "o-1"},
	} {
		if mark(c.principal, c.venue, c.orderID, t0.Add(time.Minute)) {
			t.Errorf("MarkOrderFinal(%s, %s, %s): found, want no such order", c.principal, c.venue, c.orderID)
		}
	}
	if got := mustRecord(t, st, rec.ID); got.OrderFinal || version() != v0 {
		t.Fatalf("a miss changed the record: %+v", got)
	}
	later := t0.Add(time.Hour)
	if !mark("local", "paper", "o-1", later) {
		t.Fatal("MarkOrderFinal of the record's order: not found")
	}
	got := mustRecord(t, st, rec.ID)
	want := rec
	want.OrderFinal, want.Updated = true, later
	assertRecord(t, got, want)
	if version() == v0 {
		t.Error("MarkOrderFinal did not change the record's version")
	}
	if !mark("local", "paper", "o-1", later.Add(time.Hour)) {
		t.Error("MarkOrderFinal again: not found, want found (already final)")
	}
	if got := mustRecord(t, st, rec.ID); !got.OrderFinal {
		t.Errorf("after a second MarkOrderFinal: %+v, want final", got)
	}
	// The order is no longer open for the retention sweep.
	if open := st.OpenOrders(later.Add(24*time.Hour), 0); len(open) != 0 {
		t.Errorf("OpenOrders after MarkOrderFinal: %+v, want none", open)
	}
}

// PendingRecords, OpenOrders and Sweep agree on what an old record is and
// what keeps it: unknown outcome (pending) or an order that may be open.
func testPendingOpenSweep(t *testing.T, s *suite) {
	st := s.fresh(t)
	cutoff := t0.Add(time.Hour)
	old := func(key string, minutes int) store.Record {
		return pending(id(key), t0.Add(time.Duration(minutes)*time.Minute))
	}
	cancelPending := pending(store.RecordID{Principal: "local", Tool: "cancel_order", Key: "cancel-pend-1"}, t0)
	oldOpen := done(old("old-open-0001", 5), "o-open", false)
	oldFinal := done(old("old-final-001", 6), "o-final", true)
	oldFinal.Fingerprint, oldFinal.DupIndexed = "fp-old-final", true
	oldRefused := old("old-refused-1", 7)
	oldRefused.State, oldRefused.OrderFinal = store.Done, true
	oldRefused.Error = &store.RecordError{Code: sibyl.RiskLimit, Message: "over the limit"}
	newPending := pending(id("new-pending-1"), cutoff.Add(time.Minute))
	newDone := done(pending(id("new-done-0001"), cutoff), "o-new", true) // created at the cutoff: not before it
	mustPut(t, st, old("old-pending-2", 3), old("old-pending-1", 1), cancelPending, oldOpen, oldFinal, oldRefused, newPending, newDone)

	keys := func(ids []store.RecordID) []string {
		var out []string
		for _, r := range ids {
			out = append(out, r.Key)
		}
		return out
	}
	if got, want := keys(st.PendingRecords("place_order", cutoff, 0)), []string{"old-pending-1", "old-pending-2"}; !slices.Equal(got, want) {
		t.Errorf("PendingRecords(place_order): got %v, want %v (oldest first, created before the cutoff)", got, want)
	}
	if got, want := keys(st.PendingRecords("place_order", cutoff, 1)), []string{"old-pending-1"}; !slices.Equal(got, want) {
		t.Errorf("PendingRecords with limit 1: got %v, want %v", got, want)
	}
	if got, want := keys(st.PendingRecords("cancel_order", cutoff, 0)), []string{"cancel-pend-1"}; !slices.Equal(got, want) {
		t.Errorf("PendingRecords(cancel_order): got %v, want %v", got, want)
	}
	if got := st.PendingRecords("place_order", t0, 0); len(got) != 0 {
		t.Errorf("PendingRecords before every record: got %v, want none", keys(got))
	}
	open := st.OpenOrders(cutoff, 0)
	if len(open) != 1 || open[0] != (store.OpenOrder{Principal: "local", Venue: "paper", OrderID: "o-open", Created: oldOpen.Created}) {
		t.Errorf("OpenOrders: got %+v, want only o-open", open)
	}
	if got := st.OpenOrders(t0, 0); len(got) != 0 {
		t.Errorf("OpenOrders before every record: got %+v, want none", got)
	}

	res, err := st.Sweep(cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted != 2 || res.KeptOpen != 1 || res.KeptPending != 3 || res.Index != 1 {
		t.Errorf("Sweep: got %+v, want 2 deleted (final, refused), 1 kept open, 3 kept pending, 1 index entry", res)
	}
	for _, r := range []struct {
		rid  store.RecordID
		kept bool
	}{
		{id("old-pending-1"), true}, {id("old-pending-2"), true}, {cancelPending.ID, true}, {oldOpen.ID, true},
		{oldFinal.ID, false}, {oldRefused.ID, false}, {newPending.ID, true}, {newDone.ID, true},
	} {
		if got := exists(t, st, r.rid); got != r.kept {
			t.Errorf("after Sweep, record %s exists: %v, want %v", r.rid.Key, got, r.kept)
		}
	}
	if u, ok := fpUse(t, st, "local", "place_order", "fp-old-final"); ok {
		t.Errorf("the swept record's fingerprint use is still indexed: %+v", u)
	}
	mustCommit(t, st, func(tx store.Txn) error {
		found, err := tx.MarkOrderFinal("local", "paper", "o-final", cutoff)
		if found {
			t.Error("MarkOrderFinal of the swept record's order: found")
		}
		return err
	})
	if got := st.IdemStats().Records; got != 6 {
		t.Errorf("IdemStats().Records after Sweep: got %d, want 6", got)
	}
	// A second sweep deletes nothing more.
	if res, err := st.Sweep(cutoff); err != nil || res.Deleted != 0 {
		t.Errorf("second Sweep: got %+v, %v; want nothing deleted", res, err)
	}
	// The open order, once final, goes with the next sweep.
	mustCommit(t, st, func(tx store.Txn) error {
		_, err := tx.MarkOrderFinal("local", "paper", "o-open", cutoff)
		return err
	})
	if res, err := st.Sweep(cutoff); err != nil || res.Deleted != 1 || exists(t, st, oldOpen.ID) {
		t.Errorf("Sweep after MarkOrderFinal: got %+v, %v; want the old open order's record deleted", res, err)
	}
}

// IdemStats counts records (one per id, however often rewritten).
func testIdemStats(t *testing.T, s *suite) {
	st := s.fresh(t)
	if got := st.IdemStats(); got.Records != 0 || got.Versions != 0 {
		t.Errorf("IdemStats of an empty store: %+v", got)
	}
	for i := range 5 {
		mustPut(t, st, pending(id(fmt.Sprintf("stats-%04d", i)), t0))
	}
	for range 3 {
		mustPut(t, st, done(pending(id("stats-0000"), t0), "o-1", false))
	}
	if got := st.IdemStats(); got.Records != 5 || got.Versions < got.Records {
		t.Errorf("IdemStats: got %+v, want 5 records (and at least as many versions)", got)
	}
}
