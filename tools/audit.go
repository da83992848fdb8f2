package tools

import (
	"context"
	"log/slog"

	"github.com/sibylmcp/sibyl/store"
)

// StoreAuditor writes one audit entry per read-only tool call through the store's
// asynchronous appender: the call does not wait for the disk, and a crash may
// lose the last few read entries (never an order: order tools audit inside their
// own transactions).
type StoreAuditor struct {
	Store *store.Store
	Log   *slog.Logger
}

// RecordCall implements Auditor.
func (a StoreAuditor) RecordCall(r CallRecord) {
	e := store.AuditEntry{Time: r.Time, Principal: r.Principal, Session: r.SessionID, Transport: r.Transport,
		Tool: r.Tool, Args: r.Args, Outcome: store.OutcomeOK}
	if r.Outcome != "ok" {
		e.Outcome, e.Error = "error", r.Outcome
	}
	// Prepare here, so that arguments that are not canonical JSON lose only their
	// own args, not the whole batch the appender writes them in.
	p, err := store.PrepareAudit(e)
	if err != nil {
		e.Args = nil
		p, _ = store.PrepareAudit(e)
	}
	if err := a.Store.AuditAsync(context.Background(), p); err != nil && a.Log != nil {
		a.Log.Warn("audit entry not queued", "tool", r.Tool, "err", err)
	}
}
