package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// errLockSessionEnded is a Lock whose instance session ended while it waited
// (its queue key went with the lease).
var errLockSessionEnded = errors.New("this instance's etcd session ended while waiting for the lock")

// Lock takes the cluster-wide lock name: first among this instance's
// callers, then in etcd, as the queue that concurrency.Mutex keeps (the same
// keys, so instances of either kind exclude each other): the key
// locks/<name>/<lease id> under the instance's session lease, and the lock is
// held by the oldest key. A holder whose instance dies loses it with its
// lease.
//
// Unlike concurrency.Mutex, every etcd call is bounded by ctx and the op
// timeout, and a queue key that may exist after a failure (a wait cut short,
// a Txn or delete whose outcome is unknown while etcd has no quorum) is
// deleted in the background until etcd confirms it: otherwise it would stay
// for as long as this instance's session lives, ahead of every other
// instance's Lock.
func (s *Store) Lock(ctx context.Context, name string) (func(), error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	v, _ := s.locks.LoadOrStore(name, make(chan struct{}, 1))
	local := v.(chan struct{})
	select {
	case local <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	sess := s.session()
	if sess == nil {
		<-local
		return nil, errLeaseLostUnavailable()
	}
	pfx := s.prefix + keyLocks + name + "/"
	h := &lockHold{s: s, sess: sess, name: name, local: local, pfx: pfx, key: fmt.Sprintf("%s%x", pfx, sess.Lease())}
	if err := h.acquire(ctx); err != nil {
		h.release()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, s.etcdErr("taking lock "+name, err)
	}
	var once sync.Once
	return func() { once.Do(h.release) }, nil
}

// lockHold is one Lock call's place in the queue of a lock.
type lockHold struct {
	s     *Store
	sess  *concurrency.Session
	name  string
	local chan struct{} // this instance's hold of name; freed once the key is gone
	pfx   string        // locks/<name>/
	key   string        // pfx + the session's lease id
	rev   int64         // the key's create revision; 0 while unknown
}

// bounded returns ctx cut to the store's op timeout.
func (h *lockHold) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, h.s.opTimeout)
}

// acquire puts the key in the queue (or finds it there: this session held
// or queued for the lock before) and waits until every older key is gone.
func (h *lockHold) acquire(ctx context.Context) error {
	s := h.s
	tctx, cancel := h.bounded(ctx)
	resp, err := s.cli.Txn(tctx).
		If(clientv3.Compare(clientv3.CreateRevision(h.key), "=", 0)).
		Then(clientv3.OpPut(h.key, "", clientv3.WithLease(h.sess.Lease())), clientv3.OpGet(h.pfx, clientv3.WithFirstCreate()...)).
		Else(clientv3.OpGet(h.key), clientv3.OpGet(h.pfx, clientv3.WithFirstCreate()...)).
		Commit()
	cancel()
	if err != nil {
		return err
	}
	h.rev = resp.Header.Revision
	if !resp.Succeeded {
		h.rev = resp.Responses[0].GetResponseRange().Kvs[0].CreateRevision
	}
	if first := resp.Responses[1].GetResponseRange().Kvs; len(first) == 0 || first[0].CreateRevision == h.rev {
		return nil
	}
	for {
		gctx, cancel := h.bounded(ctx)
		older, err := s.cli.Get(gctx, h.pfx, append(clientv3.WithLastCreate(), clientv3.WithMaxCreateRev(h.rev-1))...)
		cancel()
		if err != nil {
			return err
		}
		if len(older.Kvs) == 0 {
			break
		}
		if err := h.waitDelete(ctx, string(older.Kvs[0].Key), older.Header.Revision); err != nil {
			return err
		}
	}
	// The session may have ended while waiting, taking the key with it.
	gctx, cancel := h.bounded(ctx)
	mine, err := s.cli.Get(gctx, h.key)
	cancel()
	if err != nil {
		return err
	}
	if len(mine.Kvs) == 0 || mine.Kvs[0].CreateRevision != h.rev {
		return fmt.Errorf("%w: %w", errLockSessionEnded, errLeaseLostUnavailable())
	}
	return nil
}

// waitDelete waits until key, which existed at revision rev, is deleted. The
// watch requires a leader, so a member cut off from the quorum ends it with
// an error instead of leaving it silent.
func (h *lockHold) waitDelete(ctx context.Context, key string, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := h.s.cli.Watch(wctx, key, clientv3.WithRev(rev+1))
	for {
		select {
		case wr, ok := <-wch:
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return errors.New("the watch on the lock ended")
			}
			if err := wr.Err(); err != nil {
				return err
			}
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypeDelete {
					return nil
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-h.sess.Done():
			return errLockSessionEnded
		case <-h.s.ctx.Done():
			return errors.New("the store is closing")
		}
	}
}

// release deletes the key, then frees name for this instance's callers. If
// etcd does not confirm the delete, it is retried in the background, and
// name stays taken here until then: a retried delete can never remove a
// newer hold of the same key.
func (h *lockHold) release() {
	if err := h.delete(); err == nil {
		<-h.local
		return
	}
	h.s.log.Warn("etcd: releasing a lock failed; retrying in the background", "lock", h.name)
	go func() {
		defer func() { <-h.local }()
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
			select {
			case <-h.s.ctx.Done(): // Close revokes the lease: the key goes with it
				return
			case <-h.sess.Done(): // the lease ended: the key went with it
				return
			case <-time.After(backoff):
			}
			if err := h.delete(); err == nil {
				h.s.log.Info("etcd: lock released after retries", "lock", h.name)
				return
			}
		}
	}()
}

// delete removes the key: fenced on its create revision when that is known
// (a later hold of the same key is never removed), unconditionally when the
// Txn that would have created it had no answer (only this instance writes
// that key, and name is still taken here). Any answer from etcd means the
// hold is gone.
func (h *lockHold) delete() error {
	ctx, cancel := h.s.opCtx()
	defer cancel()
	if h.rev == 0 {
		_, err := h.s.cli.Delete(ctx, h.key)
		return err
	}
	_, err := h.s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(h.key), "=", h.rev)).Then(clientv3.OpDelete(h.key)).Commit()
	return err
}
