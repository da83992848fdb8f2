package main

import (
	"context"
	"time"

	"github.com/sibylmcp/sibyl/mcp"
	"github.com/sibylmcp/sibyl/orders"
)

// watchDisconnects wires cancel on disconnect: orders placed with
// cancel_on_disconnect by a session are cancelled, exactly once each, when
// the session ends; those of sessions that died with an earlier process are
// cancelled now, before anything is served.
func (m *Main) watchDisconnects(srv *mcp.Server, svc *orders.Service) {
	if res := svc.CancelOrphaned(context.Background()); res != (orders.DisconnectResult{}) {
		m.logger.Warn("cancel on disconnect: orders of sessions that ended with the previous process", "cancelled", res.Cancelled, "already_final", res.WereFinal, "failed", res.Failed)
	}
	srv.OnSessionEnd(func(sess *mcp.Session) {
		id := sess.ID()
		m.disconnects.Add(1)
		go func() {
			defer m.disconnects.Done()
			if res := svc.SessionEnded(context.Background(), id); res != (orders.DisconnectResult{}) {
				m.logger.Info("cancel on disconnect: the session ended", "session", id, "cancelled", res.Cancelled, "already_final", res.WereFinal, "failed", res.Failed)
			}
		}()
	})
}

// orphanCheck is how often the instance that leads looks for the
// cancel-on-disconnect watches of instances that died (their sessions ended
// with them, and they may never come back to cancel at their next start).
const orphanCheck = 5 * time.Second

// orphanLock elects that instance among those sharing a store: one instance
// reads the watches every orphanCheck, not each of them.
const orphanLock = "orphans"

// cancelOrphansEvery runs CancelOrphaned every interval, once this instance
// leads (holds orphanLock: until then it waits in the lock's queue, with no
// traffic but a watch; the lock goes with a dead leader's etcd lease), until
// the returned function is called. Should two instances ever check at once
// (a leader cut off from etcd that has not noticed it lost the lock), the
// cancels still go through the exactly-once path under keys derived from the
// watch, so each order is cancelled once.
func (m *Main) cancelOrphansEvery(interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		unlock := m.lead(ctx, orphanLock)
		if unlock == nil {
			return // stopped before leading
		}
		defer unlock()
		m.logger.Info("cancel on disconnect: this instance leads the check for orphaned watches", "every", interval)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if res := m.orders.CancelOrphaned(ctx); res != (orders.DisconnectResult{}) {
					m.logger.Warn("cancel on disconnect: orders of sessions that ended with an instance that died", "cancelled", res.Cancelled, "already_final", res.WereFinal, "failed", res.Failed)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// lead waits until this instance holds the store's lock name and returns its
// release, or nil once ctx ends. While the store is unreachable it tries
// again with a growing pause.
func (m *Main) lead(ctx context.Context, name string) (unlock func()) {
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		unlock, err := m.store.Lock(ctx, name)
		if err == nil {
			return unlock
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
}
