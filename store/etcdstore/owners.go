package etcdstore

import (
	"context"
	"sync"
	"time"

	"github.com/sibylmcp/sibyl/store"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// OwnerLive reports whether the instance named owner is registered: its
// owner key exists, under a lease that it keeps alive. When etcd cannot be
// read it answers true: the caller then waits for the record's own lease
// instead of taking over a claim that may still be worked on.
func (s *Store) OwnerLive(owner string) bool {
	if owner == s.owner {
		return true
	}
	ctx, cancel := s.opCtx()
	defer cancel()
	resp, err := s.cli.Get(ctx, s.prefix+keyOwners+owner, clientv3.WithCountOnly())
	if err != nil {
		return true
	}
	s.seen(resp.Header.Revision)
	return resp.Count > 0
}

// WatchRecord returns a channel closed when the record id may have changed
// (written by any instance), when the instance that owns it (a pending record
// of another instance) goes away, or when ctx ends. The watches start just
// after the newest revision this instance has seen, so a write (or an
// owner's end) after the caller's next read of the record is never missed (an
// earlier one may wake it for nothing).
func (s *Store) WatchRecord(ctx context.Context, id store.RecordID) <-chan struct{} {
	ch := make(chan struct{})
	if id.Valid() != nil {
		close(ch)
		return ch
	}
	from := s.maxRev.Load() + 1
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	wch := s.cli.Watch(wctx, s.recKey(id), clientv3.WithRev(from))
	// A waiter on a live owner must wake when that owner's instance dies,
	// not only when its record's lease runs out: watch the owner's key too.
	var och clientv3.WatchChan
	if rec, ok, err := s.Record(id); err == nil && ok && rec.State == store.Pending && rec.Owner != s.owner {
		och = s.cli.Watch(wctx, s.prefix+keyOwners+rec.Owner, clientv3.WithRev(from))
	}
	go func() {
		defer cancel()
		defer close(ch)
		select {
		case <-wch: // an event, an error (compacted, no leader) or the end
		case <-och: // the owner's key changed: deleted with its lease, or re-registered
		case <-ctx.Done():
		case <-s.ctx.Done():
		}
	}()
	return ch
}

// Lock takes the cluster-wide lock name: first among this instance's
// callers, then an etcd mutex under locks/<name> on the instance's session,
// so a holder whose instance dies loses it with its lease.
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
	m := concurrency.NewMutex(sess, s.prefix+keyLocks+name)
	if err := m.Lock(ctx); err != nil {
		<-local
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, s.etcdErr("taking lock "+name, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if err := s.unlock(m); err == nil {
				<-local
				return
			}
			// The delete did not reach a quorum, and it may never be
			// applied: the lock key would then stay for as long as this
			// instance's session lives (a session outlives a short quorum
			// loss), and every other instance's Lock would wait behind it.
			// Keep deleting it until that is done or the session is gone.
			// This instance's next Lock of name waits for that (local stays
			// taken), so the retried delete can never remove a newer hold.
			s.log.Warn("etcd: releasing a lock failed; retrying in the background", "lock", name)
			go s.unlockLater(m, sess, name, local)
		})
	}, nil
}

// unlock deletes m's key if it is still m's (the same create revision, so a
// later hold of the same key is never removed). Any answer from etcd, deleted
// or not, means the key is no longer m's hold.
func (s *Store) unlock(m *concurrency.Mutex) error {
	ctx, cancel := s.opCtx()
	defer cancel()
	_, err := s.cli.Txn(ctx).If(m.IsOwner()).Then(clientv3.OpDelete(m.Key())).Commit()
	return err
}

// unlockLater retries unlock until it succeeds, the session that holds the
// key ends (its lease takes the key with it) or the store closes, then frees
// name for this instance's callers.
func (s *Store) unlockLater(m *concurrency.Mutex, sess *concurrency.Session, name string, local chan struct{}) {
	defer func() { <-local }()
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
		select {
		case <-s.ctx.Done():
			return
		case <-sess.Done():
			return
		case <-time.After(backoff):
		}
		if err := s.unlock(m); err == nil {
			s.log.Info("etcd: lock released after the retries", "lock", name)
			return
		}
	}
}
