// Package store keeps sibyl's durable state in one bbolt file: idempotency records,
// orders, the audit chain, API keys and the paper venue's state.
//
// bbolt stays inside this package: callers see Update/View closures over named
// buckets and byte slices copied out of the transaction, never a *bolt.Tx.
package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store is the bbolt file. It is safe for concurrent use.
type Store struct {
	db *bolt.DB
}

// Open opens (creating if needed) the bbolt file at path, creating its directory
// with mode 0700. It fails with a clear error if another process holds the file.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if err == bolt.ErrTimeout {
			return nil, fmt.Errorf("opening %s: another sibyl process holds it (timeout waiting for the file lock)", path)
		}
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Path returns the file's path.
func (s *Store) Path() string { return s.db.Path() }

// Bucket is one named bucket inside an Update or View closure. Values returned by
// Get are copies and stay valid after the closure returns. A Bucket must not be
// used after its closure returns.
type Bucket struct {
	b        *bolt.Bucket
	writable bool
}

// Get returns a copy of the value at key, or nil when there is none.
func (b *Bucket) Get(key []byte) []byte {
	v := b.b.Get(key)
	if v == nil {
		return nil
	}
	return bytes.Clone(v)
}

// Put stores value at key. It fails inside a View closure.
func (b *Bucket) Put(key, value []byte) error { return b.b.Put(key, value) }

// Delete removes key. It fails inside a View closure.
func (b *Bucket) Delete(key []byte) error { return b.b.Delete(key) }

// NextSequence returns the bucket's next autoincrement integer.
func (b *Bucket) NextSequence() (uint64, error) { return b.b.NextSequence() }

// ForEachPrefix calls fn for every key with the given prefix, in key order, with
// copies of key and value. Iteration stops at the first error, which is returned.
func (b *Bucket) ForEachPrefix(prefix []byte, fn func(key, value []byte) error) error {
	c := b.b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(bytes.Clone(k), bytes.Clone(v)); err != nil {
			return err
		}
	}
	return nil
}

// UpdateBucket runs fn in one read-write transaction on the named bucket (created
// if needed). The transaction commits (and fsyncs) when fn returns nil and rolls
// back otherwise. Use it for state with no idempotency or audit duties, such as
// the paper venue's books and accounts.
func (s *Store) UpdateBucket(name string, fn func(b *Bucket) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(name))
		if err != nil {
			return fmt.Errorf("creating bucket %s: %w", name, err)
		}
		return fn(&Bucket{b: bk, writable: true})
	})
}

// ViewBucket runs fn in one read-only transaction on the named bucket. fn is not
// called when the bucket does not exist yet.
func (s *Store) ViewBucket(name string, fn func(b *Bucket) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(name))
		if bk == nil {
			return nil
		}
		return fn(&Bucket{b: bk})
	})
}
