package store

import (
	"context"
	"sync"
)

// Bolt's answers to the shared-state parts of the Store interface: one
// process owns the file, so every owner it meets is either itself or a
// process that has died (it could not have left the file otherwise), and its
// locks are in-process.

// Owner returns "": Bolt tracks no instances (see Store.Owner).
func (s *Bolt) Owner() string { return "" }

// OwnerLive reports whether owner may still be working on its claims: only
// this process can be (the file lock shuts out every other), except that a
// record's own lease is still honoured for owners of the same process that
// package orders runs several of (tests do).
func (s *Bolt) OwnerLive(owner string) bool { return true }

// OwnerLive is Bolt.OwnerLive inside a transaction.
func (t *boltTxn) OwnerLive(owner string) (bool, error) { return t.s.OwnerLive(owner), nil }

// WatchRecord returns nil: nothing but this process writes the file, and
// package orders wakes its own waiters.
func (s *Bolt) WatchRecord(ctx context.Context, id RecordID) <-chan struct{} { return nil }

// Describe names the file.
func (s *Bolt) Describe() string { return "bbolt file " + s.Path() }

// Lock takes the in-process lock name. It fails with ErrClosed after Close.
func (s *Bolt) Lock(ctx context.Context, name string) (func(), error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	v, _ := s.locks.LoadOrStore(name, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-ch }) }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

var _ Store = (*Bolt)(nil)
