package store

import (
	"errors"

	bolt "go.etcd.io/bbolt"
)

// view is db.View that reports a closed store as ErrClosed (the Store
// contract), not as bbolt's "database not open".
func (s *Bolt) view(fn func(tx *bolt.Tx) error) error { return closedErr(s.db.View(fn)) }

// updateDB is db.Update with view's error mapping.
func (s *Bolt) updateDB(fn func(tx *bolt.Tx) error) error { return closedErr(s.db.Update(fn)) }

func closedErr(err error) error {
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// isClosed reports whether Close has been called.
func (s *Bolt) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}
