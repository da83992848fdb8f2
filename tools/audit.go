package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"

	"github.com/sibylmcp/sibyl/store"
)

// StoreAuditor writes one audit entry per read-only tool call through the store's
// asynchronous appender: the call does not wait for the disk, and a crash may
// lose the last few read entries (never an order: order tools audit inside their
// own transactions).
type StoreAuditor struct {
	Store store.Store
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

// declaredArgNames returns the top-level property names of an input schema.
func declaredArgNames(inputSchema json.RawMessage) map[string]bool {
	var sch struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	_ = json.Unmarshal(inputSchema, &sch) // a schema without properties declares none
	names := make(map[string]bool, len(sch.Properties))
	for n := range sch.Properties {
		names[n] = true
	}
	return names
}

// declaredArgs keeps the members of args that the tool declares, for the audit
// of a call its schema refused: an undeclared argument (of any size) is not
// stored, and declared values still go through the store's redaction, which
// keeps oversized ones as their length and hash. Arguments that are not a JSON
// object are not stored at all (nil).
func declaredArgs(args json.RawMessage, declared map[string]bool) json.RawMessage {
	trimmed := bytes.TrimSpace(args)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &m); err != nil {
		return nil
	}
	for k := range m {
		if !declared[k] {
			delete(m, k)
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return out
}
