package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/store"
)

// API keys: a token authenticates as its key until it is revoked; a wrong,
// malformed or revoked token gives ErrBadAPIKey; only a hash is kept.
func testAPIKeys(t *testing.T, s *suite) {
	st := s.fresh(t)
	if keys, err := st.APIKeys(); err != nil || len(keys) != 0 {
		t.Errorf("APIKeys of an empty store: %+v, %v", keys, err)
	}
	tokA, keyA, err := st.CreateAPIKey("pipeline", []string{"read", "trade"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	tokB, keyB, err := st.CreateAPIKey("dashboard", []string{"read"}, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if tokA == tokB || keyA.ID == keyB.ID || tokA == "" {
		t.Fatalf("two keys: tokens %q %q ids %q %q; want distinct", tokA, tokB, keyA.ID, keyB.ID)
	}
	if keyA.Name != "pipeline" || !slices.Equal(keyA.Scopes, []string{"read", "trade"}) || !keyA.Created.Equal(t0) || !keyA.Revoked.IsZero() {
		t.Errorf("created key: %+v", keyA)
	}
	got, err := st.AuthenticateAPIKey(tokA)
	if err != nil || got.ID != keyA.ID || got.Name != "pipeline" || !slices.Equal(got.Scopes, keyA.Scopes) {
		t.Errorf("AuthenticateAPIKey(A): got %+v, %v; want key A", got, err)
	}
	if got, err := st.AuthenticateAPIKey(tokB); err != nil || got.ID != keyB.ID {
		t.Errorf("AuthenticateAPIKey(B): got %+v, %v; want key B", got, err)
	}
	flip := []byte(tokA)
	last := len(flip) - 1
	flip[last] ^= 1
	for name, tok := range map[string]string{
		"empty": "", "garbage": "not-a-token", "wrong secret": string(flip),
		"A's id with B's secret": tokA[:strings.LastIndex(tokA, keyA.ID)+len(keyA.ID)] + tokB[strings.LastIndex(tokB, keyB.ID)+len(keyB.ID):],
		"truncated":              tokA[:len(tokA)-4],
	} {
		if _, err := st.AuthenticateAPIKey(tok); !errors.Is(err, store.ErrBadAPIKey) {
			t.Errorf("AuthenticateAPIKey(%s): got %v, want ErrBadAPIKey", name, err)
		}
	}
	keys, err := st.APIKeys()
	if err != nil || len(keys) != 2 || keys[0].ID != keyA.ID || keys[1].ID != keyB.ID {
		t.Fatalf("APIKeys: got %+v, %v; want A then B", keys, err)
	}
	for _, k := range keys {
		if strings.Contains(fmt.Sprintf("%+v", k), tokA) || strings.Contains(fmt.Sprintf("%+v", k), tokB) ||
			strings.Contains(tokA, k.Hash) {
			t.Errorf("stored key %s holds its token: %+v", k.ID, k)
		}
	}

	revokedAt := t0.Add(time.Hour)
	if err := st.RevokeAPIKey(keyA.ID, revokedAt); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AuthenticateAPIKey(tokA); !errors.Is(err, store.ErrBadAPIKey) {
		t.Errorf("AuthenticateAPIKey of a revoked key: got %v, want ErrBadAPIKey", err)
	}
	if _, err := st.AuthenticateAPIKey(tokB); err != nil {
		t.Errorf("the other key after revoking A: %v", err)
	}
	if err := st.RevokeAPIKey(keyA.ID, revokedAt.Add(time.Hour)); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
	if err := st.RevokeAPIKey("000000000000", revokedAt); err == nil {
		t.Error("revoking an unknown id: got nil error")
	}
	keys, err = st.APIKeys()
	if err != nil || len(keys) != 2 || !keys[0].Revoked.Equal(revokedAt) || !keys[1].Revoked.IsZero() {
		t.Errorf("APIKeys after revoking A: %+v, %v; want A revoked at %v (the first time), B live", keys, err, revokedAt)
	}
}

// Buckets: Get, Put, Delete, prefix iteration in key order, sequences.
func testBuckets(t *testing.T, s *suite) {
	st := s.fresh(t)
	const name = "storetest_bucket"
	var seqsSeen []uint64
	err := st.UpdateBucket(name, func(b store.Bucket) error {
		if v := b.Get([]byte("missing")); v != nil {
			t.Errorf("Get of a missing key: %q, want nil", v)
		}
		b.PackPages()
		for _, k := range []string{"b/2", "a/1", "b/10", "b/1", "c", "b/", "bz"} {
			if err := b.Put([]byte(k), []byte("v:"+k)); err != nil {
				return err
			}
		}
		if got := string(b.Get([]byte("b/2"))); got != "v:b/2" {
			t.Errorf("Get in the writing transaction: %q", got)
		}
		for range 3 {
			n, err := b.NextSequence()
			if err != nil {
				return err
			}
			seqsSeen = append(seqsSeen, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateBucket(name, func(b store.Bucket) error {
		n, err := b.NextSequence()
		seqsSeen = append(seqsSeen, n)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i, n := range seqsSeen {
		if n == 0 || i > 0 && n <= seqsSeen[i-1] {
			t.Errorf("NextSequence: got %v, want increasing positive numbers", seqsSeen)
			break
		}
	}
	// A failing UpdateBucket writes nothing and returns its error.
	if err := st.UpdateBucket(name, func(b store.Bucket) error {
		if err := b.Put([]byte("a/1"), []byte("changed")); err != nil {
			return err
		}
		if err := b.Delete([]byte("c")); err != nil {
			return err
		}
		return errTest
	}); !errors.Is(err, errTest) {
		t.Errorf("failing UpdateBucket: got %v, want its error", err)
	}
	var keys []string
	err = st.ViewBucket(name, func(b store.Bucket) error {
		if got := string(b.Get([]byte("a/1"))); got != "v:a/1" {
			t.Errorf("after the failed UpdateBucket, a/1 = %q", got)
		}
		if got := string(b.Get([]byte("c"))); got != "v:c" {
			t.Errorf("after the failed UpdateBucket, c = %q", got)
		}
		v := b.Get([]byte("c"))
		v[0] = 'X' // a copy: changing it changes nothing stored
		if got := string(b.Get([]byte("c"))); got != "v:c" {
			t.Errorf("Get's value is not a copy: c = %q after changing the returned slice", got)
		}
		return b.ForEachPrefix([]byte("b/"), func(k, v []byte) error {
			if string(v) != "v:"+string(k) {
				t.Errorf("ForEachPrefix: %q = %q", k, v)
			}
			keys = append(keys, string(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"b/", "b/1", "b/10", "b/2"}; !slices.Equal(keys, want) {
		t.Errorf("ForEachPrefix(b/): got %q, want %q (key order, prefix only)", keys, want)
	}
	var all []string
	st.ViewBucket(name, func(b store.Bucket) error {
		return b.ForEachPrefix(nil, func(k, _ []byte) error { all = append(all, string(k)); return nil })
	})
	if want := []string{"a/1", "b/", "b/1", "b/10", "b/2", "bz", "c"}; !slices.Equal(all, want) {
		t.Errorf("ForEachPrefix(nil): got %q, want %q", all, want)
	}
	// An error stops the iteration and comes back.
	visited := 0
	err = st.ViewBucket(name, func(b store.Bucket) error {
		return b.ForEachPrefix([]byte("b"), func(k, _ []byte) error {
			visited++
			if visited == 2 {
				return errTest
			}
			return nil
		})
	})
	if !errors.Is(err, errTest) || visited != 2 {
		t.Errorf("ForEachPrefix stopped by an error: got %v after %d keys, want the error after 2", err, visited)
	}
	// Delete, through a Txn's bucket in a Commit: the same bucket.
	mustCommit(t, st, func(tx store.Txn) error {
		b, err := tx.Bucket(name)
		if err != nil {
			return err
		}
		if got := string(b.Get([]byte("bz"))); got != "v:bz" {
			t.Errorf("Txn.Bucket sees %q, want UpdateBucket's v:bz", got)
		}
		return b.Delete([]byte("bz"))
	})
	if got := bucketValue(t, st, name, "bz"); got != "" {
		t.Errorf("after Delete: bz = %q", got)
	}
	// Buckets are separate name spaces.
	if err := st.UpdateBucket("storetest_other", func(b store.Bucket) error { return b.Put([]byte("a/1"), []byte("other")) }); err != nil {
		t.Fatal(err)
	}
	if got := bucketValue(t, st, name, "a/1"); got != "v:a/1" {
		t.Errorf("another bucket's write changed this one: %q", got)
	}
	// A Commit's bucket is created when missing.
	mustCommit(t, st, func(tx store.Txn) error {
		b, err := tx.Bucket("storetest_created")
		if err != nil || b == nil {
			return fmt.Errorf("Bucket in a Commit: %v, %v", b, err)
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	if got := bucketValue(t, st, "storetest_created", "k"); got != "v" {
		t.Errorf("bucket created in a Commit: %q", got)
	}
}

// CommitBucketAsync: queue order, done callbacks, failures.
func testBucketAsync(t *testing.T, s *suite) {
	st := s.fresh(t)
	const name = "storetest_async"
	const n = 50
	var wg sync.WaitGroup
	wg.Add(n + 1)
	for i := range n {
		if err := st.CommitBucketAsync(name, func(b store.Bucket) error {
			return b.Put([]byte("last"), []byte(fmt.Sprint(i)))
		}, func(err error) {
			if err != nil {
				t.Errorf("CommitBucketAsync %d: %v", i, err)
			}
			wg.Done()
		}); err != nil {
			t.Fatal(err)
		}
	}
	var failed error
	if err := st.CommitBucketAsync(name, func(b store.Bucket) error {
		if err := b.Put([]byte("last"), []byte("failed")); err != nil {
			return err
		}
		return errTest
	}, func(err error) { failed = err; wg.Done() }); err != nil {
		t.Fatal(err)
	}
	waitGroup(t, &wg, "CommitBucketAsync done callbacks")
	if !errors.Is(failed, errTest) {
		t.Errorf("failing CommitBucketAsync: done got %v, want its error", failed)
	}
	if got := bucketValue(t, st, name, "last"); got != fmt.Sprint(n-1) {
		t.Errorf("last write: got %q, want %d (queue order; the failed function not applied)", got, n-1)
	}
}

// Lock: mutual exclusion between holders, release, waiting bounded by ctx,
// independent names.
func testLock(t *testing.T, s *suite) {
	st := s.fresh(t)
	unlock, err := st.Lock(ctx(t), "storetest-lock")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = st.Lock(short, "storetest-lock")
	cancel()
	if err == nil {
		t.Fatal("Lock of a held lock returned before ctx ended, want ctx's error")
	}
	other, err := st.Lock(ctx(t), "storetest-other")
	if err != nil {
		t.Fatalf("Lock of another name while the first is held: %v", err)
	}
	other()
	got := make(chan func(), 1)
	go func() {
		u, err := st.Lock(ctx(t), "storetest-lock")
		if err != nil {
			t.Errorf("waiting Lock: %v", err)
			u = func() {}
		}
		got <- u
	}()
	select {
	case u := <-got:
		u()
		t.Fatal("a second holder got the lock while the first held it")
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	select {
	case u := <-got:
		u()
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting Lock did not get the lock after it was released")
	}

	// Many goroutines: never two inside at once, none starved.
	var inside, entered atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				u, err := st.Lock(ctx(t), "storetest-mutex")
				if err != nil {
					t.Errorf("Lock: %v", err)
					return
				}
				if inside.Add(1) != 1 {
					t.Error("two holders of one lock at once")
				}
				entered.Add(1)
				time.Sleep(time.Millisecond)
				inside.Add(-1)
				u()
			}
		}()
	}
	waitGroup(t, &wg, "lock holders")
	if got := entered.Load(); got != 40 {
		t.Errorf("lock entries: got %d, want 40", got)
	}
}

// Owner: when the backend names instances, its own owner is live, in and
// outside a transaction.
func testOwner(t *testing.T, s *suite) {
	st := s.fresh(t)
	if st.Describe() == "" {
		t.Error("Describe: empty")
	}
	owner := st.Owner()
	if owner == "" {
		t.Skip("the backend tracks no instances (Owner is empty)")
	}
	if !st.OwnerLive(owner) {
		t.Errorf("OwnerLive(own owner %q): false, want true", owner)
	}
	var live bool
	mustCommit(t, st, func(tx store.Txn) error {
		var err error
		live, err = tx.OwnerLive(owner)
		return err
	})
	if !live {
		t.Errorf("Txn.OwnerLive(own owner %q): false, want true", owner)
	}
}

// WatchRecord is nil, or closes after a write of the record, and when its
// ctx ends.
func testWatchRecord(t *testing.T, s *suite) {
	st := s.fresh(t)
	rid := id("watched-0001")
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	ch := st.WatchRecord(c, rid)
	if ch == nil {
		t.Skip("the backend has no record watch (WatchRecord is nil)")
	}
	mustPut(t, st, pending(rid, t0))
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("WatchRecord: not closed 30 s after a write of the record")
	}
	c2, cancel2 := context.WithCancel(ctx(t))
	ch = st.WatchRecord(c2, id("never-written"))
	cancel2()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("WatchRecord: not closed 30 s after its ctx ended")
	}
}

// After Close, calls fail with ErrClosed and done callbacks are not called.
func testClosed(t *testing.T, s *suite) {
	st := s.fresh(t)
	mustPut(t, st, pending(id("before-close"), t0))
	s.close(t, st)
	var called atomic.Bool
	checks := map[string]error{
		"Commit":            st.Commit(func(tx store.Txn) error { return tx.PutRecord(pending(id("after-close"), t0)) }),
		"CommitAsync":       st.CommitAsync(func(store.Txn) error { return nil }, func(error) { called.Store(true) }),
		"CommitBucketAsync": st.CommitBucketAsync("storetest_closed", func(store.Bucket) error { return nil }, func(error) { called.Store(true) }),
		"UpdateBucket":      st.UpdateBucket("storetest_closed", func(store.Bucket) error { return nil }),
		"ViewBucket":        st.ViewBucket("storetest_closed", func(store.Bucket) error { return nil }),
		"View":              st.View(func(store.Txn) error { return nil }),
		"AuditAsync":        st.AuditAsync(context.Background(), entry(1, "local", "get_market", store.OutcomeOK)),
		"FlushAudit":        st.FlushAudit(context.Background()),
	}
	_, _, checks["Record"] = st.Record(id("before-close"))
	_, checks["AuditHead"] = st.AuditHead()
	_, checks["ReadAudit"] = st.ReadAudit(0, 10, "")
	_, checks["VerifyAudit"] = st.VerifyAudit()
	_, checks["ExportAudit"] = st.ExportAudit(&bytes.Buffer{}, 0)
	_, _, checks["CreateAPIKey"] = st.CreateAPIKey("late", []string{"read"}, t0)
	_, checks["APIKeys"] = st.APIKeys()
	_, checks["Sweep"] = st.Sweep(t0)
	_, checks["Lock"] = st.Lock(context.Background(), "storetest-closed")
	var failed []string
	for name, err := range checks {
		if !errors.Is(err, store.ErrClosed) {
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
		}
	}
	slices.Sort(failed)
	if len(failed) > 0 {
		t.Errorf("after Close, want ErrClosed from every call; got:\n%s", strings.Join(failed, "\n"))
	}
	time.Sleep(50 * time.Millisecond)
	if called.Load() {
		t.Error("a done callback queued after Close was called")
	}
}
