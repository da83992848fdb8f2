package etcdstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sibylmcp/sibyl/store"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdBucket is a named bucket inside a transaction: the keys under
// b/<name>/.
type etcdBucket struct {
	t    *txn
	name string
	pfx  string // the full key prefix of the bucket's keys
}

var _ store.Bucket = (*etcdBucket)(nil)

// Bucket returns the named bucket. In a View it is nil when the bucket holds
// no key at the snapshot (etcd has no empty buckets).
func (e *etcdTxn) Bucket(name string) (store.Bucket, error) {
	if !store.ValidBucketName(name) {
		return nil, fmt.Errorf("etcdstore: invalid bucket name %q", name)
	}
	b := &etcdBucket{t: e.t, name: name, pfx: e.t.s.prefix + keyBuckets + name + "/"}
	if e.t.writable {
		return b, nil
	}
	empty := true
	err := e.t.scanLimit(b.pfx, clientv3.GetPrefixRangeEnd(b.pfx), 1, func(string, []byte) { empty = false })
	if err != nil {
		return nil, err
	}
	if empty {
		return nil, nil
	}
	return b, nil
}

// Get returns a copy of the value at key, or nil.
func (b *etcdBucket) Get(key []byte) []byte {
	v, ok, err := b.t.get(b.pfx + string(key))
	if err != nil || !ok {
		return nil
	}
	return bytes.Clone(v)
}

// Put stores value at key. It fails inside a View, and for an empty key (as
// bbolt does).
func (b *etcdBucket) Put(key, value []byte) error {
	if len(key) == 0 {
		return errors.New("etcdstore: empty bucket key")
	}
	return b.t.put(b.pfx+string(key), value)
}

// Delete removes key. It fails inside a View.
func (b *etcdBucket) Delete(key []byte) error { return b.t.del(b.pfx + string(key)) }

// ForEachPrefix calls fn for every key with the given prefix, in key order,
// at the transaction's snapshot with its own writes. In a Commit the range is
// tracked: a key another instance inserts into it, changes or deletes before
// the commit makes the transaction run again.
func (b *etcdBucket) ForEachPrefix(prefix []byte, fn func(key, value []byte) error) error {
	start := b.pfx + string(prefix)
	return b.t.scan(start, clientv3.GetPrefixRangeEnd(start), func(k string, v []byte) error {
		return fn([]byte(k[len(b.pfx):]), bytes.Clone(v))
	})
}

// NextSequence returns the bucket's next autoincrement integer (a counter key
// read and written in the transaction).
func (b *etcdBucket) NextSequence() (uint64, error) {
	key := b.t.s.prefix + keyBucketSeq + b.name
	v, ok, err := b.t.get(key)
	if err != nil {
		return 0, err
	}
	var n uint64
	if ok {
		if len(v) != 8 {
			return 0, fmt.Errorf("etcdstore: malformed sequence of bucket %s", b.name)
		}
		n = binary.BigEndian.Uint64(v)
	}
	n++
	var nb [8]byte
	binary.BigEndian.PutUint64(nb[:], n)
	return n, b.t.put(key, nb[:])
}

// PackPages does nothing: etcd has no pages.
func (b *etcdBucket) PackPages() {}

// scanLimit reads at most limit keys of [start, end) at the snapshot, without
// tracking them (existence checks of a View).
func (t *txn) scanLimit(start, end string, limit int64, fn func(key string, val []byte)) error {
	if t.fail != nil {
		return t.fail
	}
	opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(limit)}
	if t.rev > 0 {
		opts = append(opts, clientv3.WithRev(t.rev))
	}
	ctx, cancel := t.s.opCtx()
	resp, err := t.s.cli.Get(ctx, start, opts...)
	cancel()
	if err != nil {
		return t.readErr("reading a range", err)
	}
	if t.rev == 0 {
		t.rev = resp.Header.Revision
		t.s.seen(t.rev)
	}
	for _, kv := range resp.Kvs {
		fn(string(kv.Key), valueOf(kv))
	}
	return nil
}
