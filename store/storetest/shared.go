package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/store"
)

// SharedOpener opens two instances over one fresh, empty shared state, as two
// sibyl processes on one etcd cluster would be.
type SharedOpener func(t *testing.T) (a, b store.Store)

// RunShared runs the checks of a backend whose instances share one state:
// what one instance writes, the other reads; claims, counters and the audit
// chain stay exactly-once and serializable across them; locks and record
// watches work across them; and an instance's owner stops being live when it
// closes.
func RunShared(t *testing.T, open SharedOpener) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, a, b store.Store, s *suite)
	}{
		{"RecordsSeenAcross", sharedRecords},
		{"OneClaimWins", func(t *testing.T, a, b store.Store, _ *suite) { claimRace(t, []store.Store{a, b}, 48) }},
		{"DuplicateCheckAcross", func(t *testing.T, a, b store.Store, _ *suite) { dupRace(t, []store.Store{a, b}, 32) }},
		{"CounterAcross", sharedCounter},
		{"OneAuditChain", sharedAudit},
		{"LockAcross", sharedLock},
		{"WatchAcross", sharedWatch},
		{"APIKeysAcross", sharedKeys},
		{"OwnerGoneAfterClose", sharedOwnerGone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &suite{}
			a, b := open(t)
			if a == nil || b == nil {
				t.Fatal("opener returned a nil store")
			}
			s.closeLater(t, a)
			s.closeLater(t, b)
			tc.fn(t, a, b, s)
		})
	}
}

// A record, a bucket value, the indexes and a sweep written through a are
// seen through b.
func sharedRecords(t *testing.T, a, b store.Store, _ *suite) {
	rec := done(pending(id("across-0001"), t0), "o-1", false)
	rec.Fingerprint, rec.DupIndexed = "fp-across", true
	old := pending(id("across-pend"), t0)
	mustPut(t, a, rec, old)
	if err := a.UpdateBucket(counterBucket, func(bk store.Bucket) error { return bk.Put([]byte("k"), []byte("from a")) }); err != nil {
		t.Fatal(err)
	}
	assertRecord(t, mustRecord(t, b, rec.ID), rec)
	if got := bucketValue(t, b, counterBucket, "k"); got != "from a" {
		t.Errorf("b reads a's bucket value: %q", got)
	}
	if u, ok := fpUse(t, b, "local", "place_order", "fp-across"); !ok || u.Key != rec.ID.Key {
		t.Errorf("b's FingerprintUse of a's record: %+v (ok %v)", u, ok)
	}
	if got := b.PendingRecords("place_order", t0.Add(time.Hour), 0); len(got) != 1 || got[0] != old.ID {
		t.Errorf("b's PendingRecords: %v, want a's pending record", got)
	}
	if got := b.OpenOrders(t0.Add(time.Hour), 0); len(got) != 1 || got[0].OrderID != "o-1" {
		t.Errorf("b's OpenOrders: %+v, want a's open order", got)
	}
	if got := b.IdemStats().Records; got != 2 {
		t.Errorf("b's IdemStats().Records: %d, want 2", got)
	}
	mustCommit(t, b, func(tx store.Txn) error {
		found, err := tx.MarkOrderFinal("local", "paper", "o-1", t0.Add(time.Hour))
		if !found && err == nil {
			t.Error("b's MarkOrderFinal of a's order: not found")
		}
		return err
	})
	if got := mustRecord(t, a, rec.ID); !got.OrderFinal {
		t.Errorf("a reads b's MarkOrderFinal: %+v", got)
	}
	res, err := b.Sweep(t0.Add(time.Hour))
	if err != nil || res.Deleted != 1 || res.KeptPending != 1 {
		t.Errorf("b's Sweep: %+v, %v; want a's final record deleted, its pending one kept", res, err)
	}
	if exists(t, a, rec.ID) || !exists(t, a, old.ID) {
		t.Error("a after b's Sweep: want the final record gone and the pending one kept")
	}
}

// Increments through both instances, concurrently, lose no update.
func sharedCounter(t *testing.T, a, b store.Store, _ *suite) {
	const workers, each = 8, 15
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := []store.Store{a, b}[w%2]
			for range each {
				err := st.Commit(func(tx store.Txn) error {
					bk, err := tx.Bucket(counterBucket)
					if err != nil {
						return err
					}
					return increment(bk, "n")
				})
				if err != nil {
					t.Errorf("increment: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	for i, st := range []store.Store{a, b} {
		if got := bucketValue(t, st, counterBucket, "n"); got != strconv.Itoa(workers*each) {
			t.Errorf("counter read through instance %d: got %s, want %d", i, got, workers*each)
		}
	}
}

// Entries appended through both instances, in Commits and asynchronously,
// form one chain that verifies from either, and exports identically.
func sharedAudit(t *testing.T, a, b store.Store, _ *suite) {
	var wg sync.WaitGroup
	for i, st := range []store.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			appendMixed(t, st, 15, fmt.Sprintf("instance-%d", i))
		}()
	}
	wg.Wait()
	const total = 60
	chainA := checkChain(t, a, total)
	chainB := checkChain(t, b, total)
	per := map[string]int{}
	for i := range chainA {
		if chainA[i].Hash != chainB[i].Hash {
			t.Fatalf("entry %d: a reads hash %.12s, b reads %.12s", chainA[i].Seq, chainA[i].Hash, chainB[i].Hash)
		}
		per[chainA[i].Principal]++
	}
	if per["instance-0"] != total/2 || per["instance-1"] != total/2 {
		t.Errorf("entries per instance: %v, want %d each", per, total/2)
	}
	var ea, eb bytes.Buffer
	if _, err := a.ExportAudit(&ea, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ExportAudit(&eb, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ea.Bytes(), eb.Bytes()) {
		t.Error("the exports through a and b differ")
	}
	if v, err := store.VerifyAuditJSONL(bytes.NewReader(ea.Bytes()), nil); err != nil || !v.OK || v.Entries != total {
		t.Errorf("VerifyAuditJSONL of the shared chain: %+v, %v", v, err)
	}
}

// A lock held through a keeps b out until a releases it.
func sharedLock(t *testing.T, a, b store.Store, _ *suite) {
	unlock, err := a.Lock(ctx(t), "storetest-shared")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	u, err := b.Lock(short, "storetest-shared")
	cancel()
	if err == nil {
		u()
		t.Fatal("b took a lock that a holds")
	}
	got := make(chan error, 1)
	go func() {
		u, err := b.Lock(ctx(t), "storetest-shared")
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Errorf("b's Lock after a released it: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("b did not get the lock 30 s after a released it")
	}
}

// A watch through b fires on a write through a.
func sharedWatch(t *testing.T, a, b store.Store, _ *suite) {
	rid := id("watched-across")
	ch := b.WatchRecord(ctx(t), rid)
	if ch == nil {
		t.Fatal("WatchRecord on a shared backend: nil, want a watch of writes made by other instances")
	}
	mustPut(t, a, pending(rid, t0))
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("b's watch did not fire 30 s after a wrote the record")
	}
	// And the other way, on a record that exists.
	ch = a.WatchRecord(ctx(t), rid)
	mustPut(t, b, done(pending(rid, t0), "o-1", false))
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("a's watch did not fire 30 s after b rewrote the record")
	}
}

// An API key created through a works through b, and b's revocation is seen
// by a.
func sharedKeys(t *testing.T, a, b store.Store, _ *suite) {
	tok, key, err := a.CreateAPIKey("shared", []string{"read", "trade"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.AuthenticateAPIKey(tok); err != nil || got.ID != key.ID {
		t.Fatalf("b authenticates a's key: %+v, %v", got, err)
	}
	if err := b.RevokeAPIKey(key.ID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AuthenticateAPIKey(tok); !errors.Is(err, store.ErrBadAPIKey) {
		t.Errorf("a after b revoked the key: %v, want ErrBadAPIKey", err)
	}
}

// Each instance has its own live owner; once b is closed, a no longer counts
// b's owner live (its claims can be taken over at once), and the locks b held
// are free.
func sharedOwnerGone(t *testing.T, a, b store.Store, s *suite) {
	oa, ob := a.Owner(), b.Owner()
	if oa == "" || ob == "" || oa == ob {
		t.Fatalf("owners %q and %q: want two distinct, non-empty names", oa, ob)
	}
	if !a.OwnerLive(ob) || !b.OwnerLive(oa) {
		t.Fatalf("OwnerLive across: a sees b %v, b sees a %v; want both live", a.OwnerLive(ob), b.OwnerLive(oa))
	}
	if _, err := b.Lock(ctx(t), "storetest-held-by-b"); err != nil {
		t.Fatal(err)
	}
	s.close(t, b)
	if unlock, err := a.Lock(ctx(t), "storetest-held-by-b"); err != nil {
		t.Errorf("a's Lock of a lock b held when it closed: %v", err)
	} else {
		unlock()
	}
	deadline := time.Now().Add(30 * time.Second)
	for a.OwnerLive(ob) {
		if time.Now().After(deadline) {
			t.Fatal("a still counts b's owner live 30 s after b closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var live bool
	mustCommit(t, a, func(tx store.Txn) error {
		var err error
		live, err = tx.OwnerLive(ob)
		return err
	})
	if live {
		t.Error("Txn.OwnerLive of the closed instance's owner: true")
	}
	if !a.OwnerLive(oa) {
		t.Error("a's own owner is no longer live")
	}
}
