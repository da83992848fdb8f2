package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/sibylmcp/sibyl/store"
)

// ReconcileResult counts what ReconcileOpen did.
type ReconcileResult struct {
	Checked int // orders a venue was asked about
	Final   int // found final (filled, cancelled, expired, rejected) and marked so
	Open    int // still open at the venue: their records stay
	Failed  int // no answer (a venue error, a venue no longer configured): asked again next time
}

// reconcileChunk bounds the records one transaction marks final.
const reconcileChunk = 256

// ReconcileOpen asks the venues about the orders whose records were created
// before cutoff and are kept only because the order was open when last seen,
// and marks final the records of those the venue has since filled, cancelled,
// expired or rejected, so that the retention sweep can delete them. A record
// otherwise changes only through sibyl (a cancel marks its order final): an
// order that rests and then fills or expires at the venue on its own would
// keep its record forever.
//
// At most limit orders are asked about per call (all when limit <= 0), oldest
// first, one venue call at a time, each bounded by SendTimeout; it stops early
// when ctx ends, returning what it did and ctx's error. Marking a record final
// is bookkeeping of the record, not an action on the order: it writes no audit
// entry. sibyl serve runs it before each sweep.
func (s *Service) ReconcileOpen(ctx context.Context, cutoff time.Time, limit int) (ReconcileResult, error) {
	var res ReconcileResult
	var final []store.OpenOrder
	for _, o := range s.store.OpenOrders(cutoff, limit) {
		if ctx.Err() != nil {
			break
		}
		v, ok := s.venues[o.Venue]
		if !ok {
			res.Failed++
			s.opts.Logger.Warn("reconciling open orders: venue not configured", "venue", o.Venue, "order_id", o.OrderID)
			continue
		}
		res.Checked++
		vctx, cancel := context.WithTimeout(ctx, s.opts.SendTimeout)
		got, err := v.GetOrder(vctx, o.Principal, o.OrderID)
		cancel()
		switch {
		case err != nil:
			res.Failed++
			s.opts.Logger.Warn("reconciling open orders: venue lookup failed", "venue", o.Venue, "order_id", o.OrderID, "err", err)
		case got.Status.Final():
			final = append(final, o)
		default:
			res.Open++
		}
	}
	now := s.now()
	for len(final) > 0 {
		chunk := final[:min(len(final), reconcileChunk)]
		final = final[len(chunk):]
		marked := 0
		err := s.store.Commit(func(t *store.Txn) error {
			marked = 0 // Commit may run this more than once
			for _, o := range chunk {
				ok, err := t.MarkOrderFinal(o.Principal, o.Venue, o.OrderID, now)
				if err != nil {
					return err
				}
				if ok {
					marked++
				}
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("marking reconciled orders final: %w", err)
		}
		res.Final += marked
	}
	return res, ctx.Err()
}
