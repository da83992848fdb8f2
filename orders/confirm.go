package orders

import (
	"encoding/json"
	"fmt"

	"github.com/shopspring/decimal"
	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

// Confirmation is a person's answer to "place this order?", asked by a tool
// (through MCP elicitation) before the order reaches Place. Place records it
// in the audit log, in the claim transaction, before the intent; a decline
// is stored under the key as a risk_limit refusal and replayed to every
// retry, and nothing is sent.
type Confirmation struct {
	Accepted bool            // the person confirmed
	Action   string          // the client's answer: accept, decline or cancel
	By       string          // who answered: the MCP client, its session and principal
	Asked    json.RawMessage // what the person was shown (market, side, price, quantity, cost, fees)
}

// Audit outcomes of a confirmation.
const (
	OutcomeConfirmed = "confirmed"
	OutcomeDeclined  = "declined"
)

// Notional returns an order's notional in dollars, exactly: quantity times
// the limit price, or $1 a contract for a market order.
func Notional(o sibyl.OrderRequest) decimal.Decimal { return riskOrder("", o).Notional() }

// confirmAudit appends the confirmation's audit entry, and for a decline
// writes the refusal as the record's outcome. It runs in the claim
// transaction of a new record; declined reports the refusal.
func (s *Service) confirmAudit(t store.Txn, a Action, fresh store.PreparedRecord, tmpl store.AuditEntry) (declined error, err error) {
	cf := a.confirm
	args, err := json.Marshal(map[string]any{"asked": cf.Asked, "answer": cf.Action, "by": cf.By})
	if err != nil {
		return nil, err
	}
	e := store.AuditEntry{Time: tmpl.Time, Principal: a.Principal, Session: a.Session, Transport: a.Transport, Tool: a.Tool,
		Key: a.Key, Fingerprint: tmpl.Fingerprint, Args: args, Outcome: OutcomeConfirmed}
	if !cf.Accepted {
		e.Outcome, e.Error = OutcomeDeclined, string(sibyl.RiskLimit)
	}
	if _, err := t.AppendAudit(e); err != nil {
		return nil, err
	}
	if cf.Accepted {
		return nil, nil
	}
	refusal := sibyl.Errorf(sibyl.RiskLimit, "risk limit confirm-above: the person declined this order when asked to confirm it (answer %q). Nothing was sent to the venue; this refusal is stored, so a retry with the same idempotency_key gets it again; ask the person and use a new key for a new order", cf.Action)
	rec := fresh.Record()
	rec.State, rec.LeaseUntil, rec.DupIndexed, rec.OrderFinal = store.Done, tmpl.Time, false, true
	rec.Error = &store.RecordError{Code: sibyl.RiskLimit, Message: refusal.Message}
	if err := t.PutRecord(rec); err != nil {
		return nil, fmt.Errorf("storing a declined order: %w", err)
	}
	return refusal, nil
}
