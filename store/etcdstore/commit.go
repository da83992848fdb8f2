package etcdstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sibylmcp/sibyl/store"
	clientv3 "go.etcd.io/etcd/client/v3"
)

type commitReq struct {
	fn   func(t store.Txn) error
	done chan error  // Commit: receives the result
	then func(error) // CommitAsync: called with the result
}

func (r *commitReq) reply(err error) {
	if r.done != nil {
		r.done <- err
	}
	if r.then != nil {
		r.then(err)
	}
}

// Commit runs fn in a read-write transaction that it may share with other
// concurrent Commit calls of this instance, and returns after the
// transaction is committed by a quorum (etcd fsyncs it), with fn's error or a
// storage error. Errors reaching etcd wrap store.ErrUnavailable. fn has
// store.Store.Commit's re-run rules: it runs again whenever another instance
// wrote what the batch read.
func (s *Store) Commit(fn func(t store.Txn) error) error {
	req := &commitReq{fn: fn, done: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return store.ErrClosed
	}
	s.commitCh <- req
	s.mu.RUnlock()
	return <-req.done
}

// CommitAsync queues fn like Commit and returns at once; done (if not nil)
// is called with the result on the committer's goroutine (quick, and never
// calling Commit). Functions commit in the order they were queued. It fails
// with store.ErrClosed after Close.
func (s *Store) CommitAsync(fn func(t store.Txn) error, done func(error)) error {
	req := &commitReq{fn: fn, then: done}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	s.commitCh <- req
	return nil
}

// commitInternal is Commit for the store's own loops, which Close drains
// before it closes the commit queue.
func (s *Store) commitInternal(fn func(t store.Txn) error) error {
	req := &commitReq{fn: fn, done: make(chan error, 1)}
	s.commitCh <- req
	return <-req.done
}

// View runs fn in a read-only transaction: every read is at one snapshot
// revision. Writes fail.
func (s *Store) View(fn func(t store.Txn) error) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	t := s.newTxn(false)
	err := fn(&etcdTxn{t})
	if t.fail != nil && err == nil {
		err = t.fail
	}
	return err
}

// gatherDelay bounds how long the committer waits for stragglers.
const gatherDelay = 500 * time.Microsecond

func (s *Store) commitLoop() {
	defer s.loops.Done()
	batch := make([]*commitReq, 0, s.maxBatch)
	last := 1
	for first := range s.commitCh {
		batch = append(batch[:0], first)
		batch = store.GatherBatch(s.commitCh, batch, last, s.maxBatch, gatherDelay)
		last = len(batch)
		start := time.Now()
		s.runBatch(batch)
		s.commitBusy.Add(int64(time.Since(start)))
	}
}

func (s *Store) runBatch(batch []*commitReq) {
	for len(batch) > 0 {
		n := s.commitPrefix(batch)
		batch = batch[n:]
	}
}

// errLeaseLost is the refusal while this instance's lease is lost.
var errLeaseLost = errors.New("this instance's etcd lease lapsed (cut off from etcd longer than its session TTL); it is registering again")

// commitPrefix runs the functions of batch in order in one transaction until
// they all ran or the next would make the Txn too big, commits those (running
// them again on conflicts), answers them, and returns how many it answered.
func (s *Store) commitPrefix(batch []*commitReq) int {
	var seedRev int64
	var seedKVs map[string]readVal
	for try := 0; ; try++ {
		lease := clientv3.LeaseID(s.lease.Load())
		if lease == 0 {
			err := fmt.Errorf("%w: %w", store.ErrUnavailable, errLeaseLost)
			for _, r := range batch {
				r.reply(err)
			}
			return len(batch)
		}
		t := s.newTxn(true)
		if seedKVs != nil {
			t.seed(seedRev, seedKVs)
		}
		et := &etcdTxn{t}
		errs := make([]error, 0, len(batch))
		for len(errs) < len(batch) {
			sp := t.save()
			err := safeCall(batch[len(errs)].fn, et)
			if t.fail != nil {
				break
			}
			if err != nil {
				t.rollback(sp, false)
			}
			if t.tooBig() {
				if len(errs) == 0 {
					cmps, ops, n := t.size()
					batch[0].reply(fmt.Errorf("etcdstore: transaction too large for one etcd Txn (%d compares, %d operations, about %d bytes; limits %d operations, %d bytes)",
						cmps, ops, n, s.maxOps, s.maxBytes))
					return 1
				}
				t.rollback(sp, true)
				break
			}
			errs = append(errs, err)
		}
		if t.fail == nil && t.rev == 0 && len(t.writes) > 0 {
			// Nothing was read from etcd (blind writes, or every read from
			// the cache): read once, linearizably, before sending the Txn, so
			// that a cluster that has lost its quorum refuses the batch here,
			// with nothing sent, instead of holding a Txn whose outcome is
			// unknown (a member without quorum may still commit it once the
			// quorum is back).
			if resp, err := s.getAt(s.ownerKey, 0, clientv3.WithCountOnly()); err != nil {
				t.readErr("reading", err)
			} else {
				t.rev = resp.Header.Revision
				s.seen(t.rev)
			}
		}
		if t.fail != nil {
			if errors.Is(t.fail, errStale) && try < s.maxRetry {
				seedKVs = nil
				continue
			}
			// etcd is unreachable: every function waiting now would wait
			// out its own deadline; fail them all at once.
			for _, r := range batch {
				r.reply(t.fail)
			}
			return len(batch)
		}
		n := len(errs)
		fnDone := time.Now()
		res := commitResult{ok: true}
		if len(t.writes) > 0 || t.cached {
			var err error
			res, err = t.commit(lease)
			if err != nil {
				if errors.Is(err, store.ErrUnavailable) {
					for _, r := range batch {
						r.reply(err)
					}
					return len(batch)
				}
				for _, r := range batch[:n] {
					r.reply(err)
				}
				return n
			}
		}
		if res.ok {
			s.commitTxs.Add(1)
			s.commitFns.Add(uint64(n))
			if s.onCommit != nil {
				s.onCommit(store.CommitInfo{Functions: n, Sync: time.Since(fnDone), Audit: t.audited})
			}
			for i, r := range batch[:n] {
				r.reply(errs[i])
			}
			return n
		}
		if res.fenceLost {
			s.leaseLost()
			err := fmt.Errorf("%w: %w", store.ErrUnavailable, errLeaseLost)
			for _, r := range batch {
				r.reply(err)
			}
			return len(batch)
		}
		s.retries.Add(1)
		if try >= s.maxRetry {
			err := fmt.Errorf("%w: etcd transaction conflicted %d times with other instances' writes", store.ErrUnavailable, try+1)
			for _, r := range batch[:n] {
				r.reply(err)
			}
			return n
		}
		seedRev, seedKVs = res.rev, res.kvs
		if try > 0 {
			// Jitter, so that instances that keep colliding drift apart.
			time.Sleep(time.Duration(rand.Int64N(int64(min(time.Duration(try)*time.Millisecond, 20*time.Millisecond)))))
		}
	}
}

// leaseLost is a commit finding this instance's owner key gone: the session
// loop may not have noticed yet. Commits are refused until it registers again.
func (s *Store) leaseLost() {
	s.sessMu.Lock()
	sess := s.sess
	s.sessMu.Unlock()
	if sess != nil {
		s.lease.Store(0)
		sess.Orphan() // ends the session: keepSession registers again
	}
}

func safeCall(fn func(store.Txn) error, t store.Txn) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: commit function panicked: %v", p)
		}
	}()
	return fn(t)
}

// UpdateBucket runs fn on the named bucket through the group committer.
func (s *Store) UpdateBucket(name string, fn func(b store.Bucket) error) error {
	if !store.ValidBucketName(name) {
		return fmt.Errorf("etcdstore: invalid bucket name %q", name)
	}
	return s.Commit(func(t store.Txn) error {
		b, err := t.Bucket(name)
		if err != nil {
			return err
		}
		return fn(b)
	})
}

// CommitBucketAsync is UpdateBucket through CommitAsync.
func (s *Store) CommitBucketAsync(name string, fn func(b store.Bucket) error, done func(error)) error {
	if !store.ValidBucketName(name) {
		return fmt.Errorf("etcdstore: invalid bucket name %q", name)
	}
	return s.CommitAsync(func(t store.Txn) error {
		b, err := t.Bucket(name)
		if err != nil {
			return err
		}
		return fn(b)
	}, done)
}

// ViewBucket runs fn on the named bucket at one snapshot. fn is not called
// when the bucket holds no key.
func (s *Store) ViewBucket(name string, fn func(b store.Bucket) error) error {
	if !store.ValidBucketName(name) {
		return fmt.Errorf("etcdstore: invalid bucket name %q", name)
	}
	return s.View(func(tn store.Txn) error {
		// No check that the bucket holds a key (Txn.Bucket in a View makes
		// one, to answer nil for a missing bucket): a ViewBucket is usually
		// one Get (a session lookup, the paper venue's generation), and the
		// check would double its round trips. A missing bucket reads empty.
		t := tn.(*etcdTxn).t
		return fn(&etcdBucket{t: t, name: name, pfx: s.prefix + keyBuckets + name + "/"})
	})
}

func errLeaseLostUnavailable() error { return fmt.Errorf("%w: %w", store.ErrUnavailable, errLeaseLost) }
