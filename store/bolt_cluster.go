package store

import (
	"context"
	"sync"
)

// Bolt's answers to the shared-state parts of the Store interface: one
// process owns the file, so every owner it meets is either of this process
// or of a process that has died (it could not have left the file otherwise),
// and its locks are in-process.

// Owner returns "": Bolt tracks no instances (see Store.Owner).
func (s *Bolt) Owner() string { return "" }

// OwnerLive reports whether owner may still be working on its claims: whether
// it wrote a record through this Bolt since Open. Any other owner belongs to
// a process that held the file before and has died (the file lock shuts out
// every other process), so its pending records and cancel-on-disconnect
// watches are orphans. Owners of this process (package orders may run several
// Services on one Bolt; tests do) are live, and their records' leases decide.
func (s *Bolt) OwnerLive(owner string) bool {
	_, ok := s.owners.Load(owner)
	return ok
}

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
