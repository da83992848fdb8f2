// Package storetest is the conformance suite of the store.Store interface: the
// behaviour the exactly-once protocol (package orders) relies on, checked the
// same way on every backend. It is written from the interface's documented
// contract (store/backend.go), not from any backend's internals.
//
// A backend's test calls Run with a function that opens a fresh, empty store,
// and, for a backend whose instances can share one state (etcd), RunShared
// with a function that opens two instances over one fresh state:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, openFresh, storetest.WithReopen(reopen), storetest.WithAuditKey(openKeyed))
//	}
//
// The suite closes every store it is given (after its subtest, or earlier
// when a check needs it), so an opener's own cleanup must not expect the store
// to be open; it may reopen the data to check it. This package is for tests
// only: it must never be imported by non-test code.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/store"
)

// Opener opens a fresh, empty store for one subtest.
type Opener func(t *testing.T) store.Store

// Option adds a capability of the backend to Run.
type Option func(*config)

type config struct {
	reopen func(t *testing.T, closed store.Store) store.Store
	keyed  func(t *testing.T, auditKey []byte) store.Store
}

// WithReopen gives Run a way to open the data of a closed store again, as a
// restarted process would (Bolt: the same file; etcd: a new instance on the
// same endpoints and prefix). Without it the durability checks are skipped.
func WithReopen(reopen func(t *testing.T, closed store.Store) store.Store) Option {
	return func(c *config) { c.reopen = reopen }
}

// WithAuditKey gives Run a way to open a fresh, empty store whose audit
// entries carry an HMAC with auditKey. Without it the HMAC checks are skipped.
func WithAuditKey(open func(t *testing.T, auditKey []byte) store.Store) Option {
	return func(c *config) { c.keyed = open }
}

// suite is one subtest's view of the backend.
type suite struct {
	cfg  config
	open Opener
	mu   sync.Mutex
	done map[store.Store]bool // stores closed already
}

// Run runs the conformance suite against the backend open opens, one subtest
// per part of the contract, each on a fresh store.
func Run(t *testing.T, open Opener, opts ...Option) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"CommitAtomic", testCommitAtomic},
		{"CommitDurable", testCommitDurable},
		{"CommitReRunRules", testCommitReRunRules},
		{"CommitSerializable", testCommitSerializable},
		{"CreateIfAbsentOneWinner", testCreateIfAbsent},
		{"DuplicateCheckSerializable", testDuplicateCheckSerializable},
		{"CommitAsyncOrder", testCommitAsyncOrder},
		{"CommitAsyncFailure", testCommitAsyncFailure},
		{"CloseRunsQueuedWork", testCloseRunsQueued},
		{"ViewIsReadOnly", testViewReadOnly},
		{"Records", testRecords},
		{"RecordVersion", testRecordVersion},
		{"InvalidRecordID", testInvalidRecordID},
		{"FingerprintUse", testFingerprintUse},
		{"MarkOrderFinal", testMarkOrderFinal},
		{"PendingOpenSweep", testPendingOpenSweep},
		{"IdemStats", testIdemStats},
		{"AuditChain", testAuditChain},
		{"AuditAtomicWithCommit", testAuditAtomic},
		{"AuditRedactsSecrets", testAuditRedacts},
		{"AuditHMAC", testAuditHMAC},
		{"APIKeys", testAPIKeys},
		{"Buckets", testBuckets},
		{"BucketAsync", testBucketAsync},
		{"Lock", testLock},
		{"Owner", testOwner},
		{"WatchRecord", testWatchRecord},
		{"Closed", testClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, &suite{cfg: cfg, open: open})
		})
	}
}

// fresh opens a fresh store that the suite closes after the subtest.
func (s *suite) fresh(t *testing.T) store.Store {
	t.Helper()
	st := s.open(t)
	if st == nil {
		t.Fatal("opener returned a nil store")
	}
	s.closeLater(t, st)
	return st
}

func (s *suite) closeLater(t *testing.T, st store.Store) {
	t.Cleanup(func() {
		s.mu.Lock()
		closed := s.done[st]
		s.mu.Unlock()
		if !closed {
			if err := st.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	})
}

// close closes st now and remembers it.
func (s *suite) close(t *testing.T, st store.Store) {
	t.Helper()
	s.mu.Lock()
	if s.done == nil {
		s.done = map[store.Store]bool{}
	}
	s.done[st] = true
	s.mu.Unlock()
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// reopen closes st and opens its data again, or skips the test when the
// backend cannot.
func (s *suite) reopen(t *testing.T, st store.Store) store.Store {
	t.Helper()
	if s.cfg.reopen == nil {
		t.Skip("the backend gave no reopen hook (WithReopen)")
	}
	s.close(t, st)
	again := s.cfg.reopen(t, st)
	if again == nil {
		t.Fatal("reopen returned a nil store")
	}
	s.closeLater(t, again)
	return again
}

// ctx returns a context that ends with the test or after a generous bound, so
// that a hung backend fails the test instead of hanging it.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// t0 is the suite's clock: records are stamped with times after it.
var t0 = time.Date(2026, 11, 27, 4, 30, 0, 0, time.UTC)

func id(key string) store.RecordID {
	return store.RecordID{Principal: "local", Tool: "place_order", Key: key}
}

// pending returns a freshly claimed record, as package orders writes one.
func pending(rid store.RecordID, created time.Time) store.Record {
	return store.Record{
		ID: rid, State: store.Pending, Fingerprint: "fp-" + rid.Key, ClientOrderID: "coid-" + rid.Key,
		Venue: "paper", Owner: "owner-1", Attempt: 1, LeaseUntil: created.Add(30 * time.Second),
		Created: created, Updated: created,
	}
}

// done returns rec completed with an order (final or still open).
func done(rec store.Record, orderID string, final bool) store.Record {
	rec.State = store.Done
	rec.LeaseUntil = rec.Updated
	rec.Result = []byte(fmt.Sprintf(`{"native_id":%q}`, orderID))
	rec.OrderID = orderID
	rec.OrderFinal = final
	return rec
}

func mustCommit(t *testing.T, st store.Store, fn func(tx store.Txn) error) {
	t.Helper()
	if err := st.Commit(fn); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func mustPut(t *testing.T, st store.Store, recs ...store.Record) {
	t.Helper()
	mustCommit(t, st, func(tx store.Txn) error {
		for _, r := range recs {
			if err := tx.PutRecord(r); err != nil {
				return err
			}
		}
		return nil
	})
}

func mustRecord(t *testing.T, st store.Store, rid store.RecordID) store.Record {
	t.Helper()
	rec, ok, err := st.Record(rid)
	if err != nil || !ok {
		t.Fatalf("Record(%s): ok %v, err %v; want the record", rid.Key, ok, err)
	}
	return rec
}

func exists(t *testing.T, st store.Store, rid store.RecordID) bool {
	t.Helper()
	_, ok, err := st.Record(rid)
	if err != nil {
		t.Fatalf("Record(%s): %v", rid.Key, err)
	}
	return ok
}

// bucketValue reads key from bucket name in a View ("" when absent).
func bucketValue(t *testing.T, st store.Store, name, key string) string {
	t.Helper()
	var v []byte
	err := st.View(func(tx store.Txn) error {
		b, err := tx.Bucket(name)
		if err != nil || b == nil {
			return err
		}
		v = b.Get([]byte(key))
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return string(v)
}

// errTest is what the suite's failing functions return.
var errTest = errors.New("storetest: this function fails on purpose")
