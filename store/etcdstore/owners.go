package etcdstore

import (
	"context"

	"github.com/sibylmcp/sibyl/store"
	clientv3 "go.etcd.io/etcd/client/v3"
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
