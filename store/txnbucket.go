package store

import (
	"fmt"
)

// Bucket returns the named bucket inside this transaction, so a component can
// keep its own small state in the same transaction as the idempotency record
// and audit entry it belongs to (the orders service's risk ledger does). In a
// Commit the bucket is created when missing; in a View a missing bucket is
// returned as nil with a nil error, and callers treat it as empty.
func (t *boltTxn) Bucket(name string) (Bucket, error) {
	if t.tx.Writable() {
		bk, err := t.tx.CreateBucketIfNotExists([]byte(name))
		if err != nil {
			return nil, fmt.Errorf("creating bucket %s: %w", name, err)
		}
		return &boltBucket{b: bk, writable: true}, nil
	}
	bk := t.tx.Bucket([]byte(name))
	if bk == nil {
		return nil, nil
	}
	return &boltBucket{b: bk}, nil
}
