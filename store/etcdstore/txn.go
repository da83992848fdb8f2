package etcdstore

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/sibylmcp/sibyl/store"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// errStale is a transaction's snapshot no longer being readable (compacted,
// or ahead of the member asked): the batch runs again on a fresh one.
var errStale = errors.New("etcdstore: snapshot not readable; retrying")

// errReadOnly is a write inside View.
var errReadOnly = errors.New("etcdstore: write in a read-only transaction")

// txn is one transaction: reads at a pinned revision, tracked; writes
// buffered until the commit (see the package doc).
type txn struct {
	s        *Store
	writable bool
	rev      int64 // the snapshot; 0 until the first read

	reads   map[string]readVal // keys read from etcd at rev
	readLog []string           // keys in reads, in the order read (for splitting)
	ranges  []keyRange         // ranges read (Commit only)

	writes map[string]*writeVal
	undo   []undoEntry

	audited []store.AuditOutcome // for OnCommit

	fail error // an etcd read failed: the transaction cannot commit

	// cached: some read came from the instance's read cache, so even a
	// transaction that writes nothing must send its compares to be sure.
	cached bool
}

type readVal struct {
	val []byte
	mod int64 // ModRevision; 0 when absent
	ok  bool
}

type writeVal struct {
	val []byte
	del bool
}

type undoEntry struct {
	key  string
	prev *writeVal // nil: the key was not written before
}

type keyRange struct{ start, end string }

type savepoint struct{ undo, reads, ranges, audited int }

func (s *Store) newTxn(writable bool) *txn {
	return &txn{s: s, writable: writable, reads: map[string]readVal{}, writes: map[string]*writeVal{}}
}

// seed starts the transaction at rev with values already read there (from a
// failed commit's Else branch).
func (t *txn) seed(rev int64, kvs map[string]readVal) {
	t.rev = rev
	for k, v := range kvs {
		t.reads[k] = v
		t.readLog = append(t.readLog, k)
	}
}

func (t *txn) save() savepoint {
	return savepoint{len(t.undo), len(t.readLog), len(t.ranges), len(t.audited)}
}

// rollback undoes the writes made since sp. With reads, the keys first read
// since sp are forgotten as well (the function is moved to the next Txn).
func (t *txn) rollback(sp savepoint, reads bool) {
	for i := len(t.undo) - 1; i >= sp.undo; i-- {
		u := t.undo[i]
		if u.prev == nil {
			delete(t.writes, u.key)
		} else {
			t.writes[u.key] = u.prev
		}
	}
	t.undo = t.undo[:sp.undo]
	t.audited = t.audited[:sp.audited]
	if reads {
		for _, k := range t.readLog[sp.reads:] {
			delete(t.reads, k)
		}
		t.readLog = t.readLog[:sp.reads]
		t.ranges = t.ranges[:sp.ranges]
	}
}

// readErr records an etcd read failure: the transaction is poisoned.
func (t *txn) readErr(op string, err error) error {
	if errors.Is(err, rpctypes.ErrCompacted) || errors.Is(err, rpctypes.ErrFutureRev) {
		t.fail = errStale
	} else {
		t.fail = t.s.etcdErr(op, err)
	}
	return t.fail
}

// get reads key: this transaction's writes first, then the snapshot.
func (t *txn) get(key string) ([]byte, bool, error) {
	if t.fail != nil {
		return nil, false, t.fail
	}
	if w, ok := t.writes[key]; ok {
		if w.del {
			return nil, false, nil
		}
		return w.val, true, nil
	}
	if r, ok := t.reads[key]; ok {
		return r.val, r.ok, nil
	}
	if t.writable {
		if r, ok := t.s.cache.get(key); ok {
			t.reads[key] = r
			t.readLog = append(t.readLog, key)
			t.cached = true
			return r.val, r.ok, nil
		}
	}
	resp, err := t.s.getAt(key, t.rev)
	if err != nil {
		return nil, false, t.readErr("reading", err)
	}
	if t.rev == 0 {
		t.rev = resp.Header.Revision
		t.s.seen(t.rev)
	}
	r := readVal{}
	if len(resp.Kvs) > 0 {
		kv := resp.Kvs[0]
		r = readVal{val: valueOf(kv), mod: kv.ModRevision, ok: true}
	}
	t.reads[key] = r
	t.readLog = append(t.readLog, key)
	t.s.cache.put(key, r)
	return r.val, r.ok, nil
}

// valueOf returns kv's value, never nil for a present key.
func valueOf(kv *mvccpb.KeyValue) []byte {
	if kv.Value == nil {
		return []byte{}
	}
	return kv.Value
}

func (t *txn) put(key string, val []byte) error {
	return t.write(key, &writeVal{val: bytes.Clone(val)})
}

func (t *txn) del(key string) error { return t.write(key, &writeVal{del: true}) }

func (t *txn) write(key string, w *writeVal) error {
	if !t.writable {
		return errReadOnly
	}
	if t.fail != nil {
		return t.fail
	}
	if w.val == nil && !w.del {
		w.val = []byte{}
	}
	t.undo = append(t.undo, undoEntry{key: key, prev: t.writes[key]})
	t.writes[key] = w
	return nil
}

// scanPage is how many keys one range read fetches.
const scanPage = 512

// scan calls fn for every key in [start, end) in key order, this
// transaction's writes included, with the values as of the snapshot. In a
// Commit the range and the keys it returned are tracked.
func (t *txn) scan(start, end string, fn func(key string, val []byte) error) error {
	if t.fail != nil {
		return t.fail
	}
	got := map[string][]byte{}
	from := start
	for {
		resp, err := t.s.getAt(from, t.rev, clientv3.WithRange(end), clientv3.WithLimit(scanPage))
		if err != nil {
			return t.readErr("reading a range", err)
		}
		if t.rev == 0 {
			t.rev = resp.Header.Revision
			t.s.seen(t.rev)
		}
		for _, kv := range resp.Kvs {
			k := string(kv.Key)
			got[k] = valueOf(kv)
			if _, ok := t.reads[k]; !ok {
				t.reads[k] = readVal{val: valueOf(kv), mod: kv.ModRevision, ok: true}
				t.readLog = append(t.readLog, k)
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	if t.writable {
		t.ranges = append(t.ranges, keyRange{start, end})
	}
	for k, w := range t.writes {
		if k >= start && k < end {
			if w.del {
				delete(got, k)
			} else {
				got[k] = w.val
			}
		}
	}
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k, got[k]); err != nil {
			return err
		}
	}
	return nil
}

// size returns the compares and the operations the commit Txn would carry,
// and an estimate of its request's bytes.
func (t *txn) size() (cmps, ops, nbytes int) {
	cmps = len(t.reads) + len(t.ranges) + 1 // + the owner fence
	ops = len(t.writes)
	for k, w := range t.writes {
		nbytes += len(k) + len(w.val) + 16
	}
	for k := range t.reads {
		nbytes += 2*len(k) + 32 // the compare and the Else's read
	}
	for _, r := range t.ranges {
		nbytes += len(r.start) + len(r.end) + 24
	}
	return cmps, ops, nbytes
}

// tooBig reports whether the commit Txn would exceed etcd's limits.
func (t *txn) tooBig() bool {
	cmps, ops, n := t.size()
	return cmps > t.s.maxOps || ops > t.s.maxOps || n > t.s.maxBytes
}

// commitResult is what a commit Txn did.
type commitResult struct {
	ok        bool
	fenceLost bool               // this instance's owner key is not under its lease
	rev       int64              // the revision the failed Txn saw
	kvs       map[string]readVal // the keys read, as of rev (nil when not fetched)
}

// commit sends the Txn. lease is the fence: the owner key must be under it.
func (t *txn) commit(lease clientv3.LeaseID) (commitResult, error) {
	cmps := make([]clientv3.Cmp, 0, len(t.reads)+len(t.ranges)+1)
	cmps = append(cmps, clientv3.Compare(clientv3.LeaseValue(t.s.ownerKey), "=", lease))
	keys := make([]string, 0, len(t.reads))
	for k, r := range t.reads {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", r.mod))
		keys = append(keys, k)
	}
	for _, r := range t.ranges {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(r.start).WithRange(r.end), "<", t.rev+1))
	}
	ops := make([]clientv3.Op, 0, len(t.writes))
	for k, w := range t.writes {
		if w.del {
			ops = append(ops, clientv3.OpDelete(k))
		} else {
			ops = append(ops, clientv3.OpPut(k, string(w.val)))
		}
	}
	elseOps := []clientv3.Op{clientv3.OpGet(t.s.ownerKey)}
	if 1+len(keys) <= t.s.maxOps {
		for _, k := range keys {
			elseOps = append(elseOps, clientv3.OpGet(k))
		}
	} else {
		keys = nil
	}
	t.s.txnsSent.Add(1)
	ctx, cancel := t.s.opCtx()
	resp, err := t.s.cli.Txn(ctx).If(cmps...).Then(ops...).Else(elseOps...).Commit()
	cancel()
	if err != nil {
		return commitResult{}, t.s.etcdErr("committing", err)
	}
	t.s.seen(resp.Header.Revision)
	if resp.Succeeded {
		for k, w := range t.writes {
			if w.del {
				t.s.cache.put(k, readVal{})
			} else {
				t.s.cache.put(k, readVal{val: w.val, mod: resp.Header.Revision, ok: true})
			}
		}
		return commitResult{ok: true}, nil
	}
	res := commitResult{rev: resp.Header.Revision}
	if len(resp.Responses) != len(elseOps) {
		return res, fmt.Errorf("etcdstore: a failed Txn answered %d reads, not %d", len(resp.Responses), len(elseOps))
	}
	owner := resp.Responses[0].GetResponseRange().GetKvs()
	if len(owner) == 0 || owner[0].Lease != int64(lease) {
		res.fenceLost = true
		return res, nil
	}
	if keys != nil {
		res.kvs = make(map[string]readVal, len(keys))
		for i, k := range keys {
			r := readVal{}
			if kvs := resp.Responses[i+1].GetResponseRange().GetKvs(); len(kvs) > 0 {
				r = readVal{val: valueOf(kvs[0]), mod: kvs[0].ModRevision, ok: true}
			}
			res.kvs[k] = r
			t.s.cache.put(k, r)
		}
	}
	return res, nil
}

// getAt reads key at rev, or (rev 0) linearizably now. A read at a pinned
// revision needs no quorum round trip: any member that has applied rev
// answers it exactly (serializable), and one that has not yet says so
// (ErrFutureRev), when the read goes to the leader's quorum instead.
func (s *Store) getAt(key string, rev int64, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	ctx, cancel := s.opCtx()
	defer cancel()
	if rev > 0 {
		resp, err := s.cli.Get(ctx, key, append(opts, clientv3.WithSerializable())...)
		if !errors.Is(err, rpctypes.ErrFutureRev) {
			return resp, err
		}
	}
	return s.cli.Get(ctx, key, opts...)
}
