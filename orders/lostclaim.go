package orders

import (
	"errors"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

// releaseLostClaim handles a claim transaction that failed with
// store.ErrUnavailable. On a shared store (etcd) that error can mean the
// transaction was sent and then the answer was lost, or the quorum went and
// came back: the claim may be recorded all the same. If it is, nobody works on
// it (the call returned unavailable without sending anything), yet its lease
// names this live instance, so every retry would be answered in_progress
// until the lease runs out (30 s by default).
//
// So, in the background, until the store answers or the lease would have run
// out anyway: if the record is still exactly that claim (pending, owned here,
// with the lease the claim wrote, which no other write carries), release its
// lease and audit the unknown outcome, exactly as completeUnknown does after a
// venue call with an unknown outcome. The next attempt then takes it over at
// once and reconciles with the venue by client_order_id before sending. When
// the claim was not recorded, nothing is written.
func (s *Service) releaseLostClaim(a Action, id store.RecordID, lease time.Time) {
	give := time.Now().Add(s.opts.Lease)
	go func() {
		for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
			released := false
			err := s.store.Commit(func(t store.Txn) error {
				released = false
				rec, ok, err := t.Record(id)
				if err != nil || !ok || rec.State != store.Pending || rec.Owner != s.opts.Owner || !rec.LeaseUntil.Equal(lease) {
					return err // not recorded, or no longer that claim
				}
				now := s.now()
				rec.LeaseUntil, rec.Updated = now, now
				if err := t.PutRecord(rec); err != nil {
					return err
				}
				audit := s.auditEntry(a, rec.Fingerprint, now)
				audit.Outcome, audit.Error = store.OutcomeUnknown, string(sibyl.Unavailable)
				_, err = t.AppendAudit(audit)
				released = err == nil
				return err
			})
			switch {
			case err == nil:
				if released {
					s.opts.Logger.Info("a claim whose answer was lost is released; the next attempt reconciles",
						"tool", id.Tool, "key", id.Key)
					s.notify(id)
				}
				return
			case !errors.Is(err, store.ErrUnavailable) || time.Now().Add(backoff).After(give):
				// Closed, or the lease runs out on its own: nothing more to do.
				return
			}
			time.Sleep(backoff)
		}
	}()
}
