package main

import (
	"context"

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
