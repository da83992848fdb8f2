package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

// ReconcileResult counts what ReconcileOpen did.
type ReconcileResult struct {
	Checked int // orders a venue was asked about
	Final   int // found final (filled, cancelled, expired, rejected) and marked so
	Open    int // still open at the venue: their records stay (asked again an hour or more later)
	Failed  int // no answer (a venue error, a venue no longer configured): asked again in a round an hour or more later
}

// reconcileChunk bounds the records one transaction marks final.
const reconcileChunk = 256

// Background reconciliation does not ask about the same record again for
// askAgainAfter, so that records that stay as they are (orders resting for
// weeks, pending records the venue has nothing for) do not take every round's
// limit: the next round asks about the next ones. A pass stops after
// maxVenueFailures venue errors in a row (the venue is down; next round).
const (
	askAgainAfter    = time.Hour
	maxVenueFailures = 5
)

// askable reports whether key was not asked about within askAgainAfter, and
// if so notes that it is being asked now. Entries older than that are
// dropped on the way.
func (s *Service) askable(key string, now time.Time) bool {
	s.askedMu.Lock()
	defer s.askedMu.Unlock()
	if t, ok := s.asked[key]; ok && now.Sub(t) < askAgainAfter {
		return false
	}
	s.asked[key] = now
	return true
}

// forgetAsked drops the entries older than askAgainAfter.
func (s *Service) forgetAsked(now time.Time) {
	s.askedMu.Lock()
	defer s.askedMu.Unlock()
	for k, t := range s.asked {
		if now.Sub(t) >= askAgainAfter {
			delete(s.asked, k)
		}
	}
}

// ReconcileOpen asks the venues about the orders whose records were created
// before cutoff and are kept only because the order was open when last seen,
// and marks final the records of those the venue has since filled, cancelled,
// expired or rejected, so that the retention sweep can delete them. A record
// otherwise changes only through sibyl (a cancel marks its order final): an
// order that rests and then fills or expires at the venue on its own would
// keep its record forever.
//
// At most limit orders are asked about per call (all when limit <= 0), oldest
// first, one venue call at a time, each bounded by SendTimeout; an order asked
// about is not asked again for an hour, so each call moves on to the next
// ones. It stops early after five venue errors in a row, or when ctx ends
// (returning what it did and ctx's error). Marking a record final is
// bookkeeping of the record, not an action on the order: it writes no audit
// entry. sibyl serve runs it before each sweep.
func (s *Service) ReconcileOpen(ctx context.Context, cutoff time.Time, limit int) (ReconcileResult, error) {
	var res ReconcileResult
	type finalOrder struct {
		store.OpenOrder
		got sibyl.Order
	}
	var final []finalOrder
	now := s.now()
	s.forgetAsked(now)
	failures := 0
	for _, o := range s.store.OpenOrders(cutoff, 0) {
		if ctx.Err() != nil || (limit > 0 && res.Checked+res.Failed >= limit) || failures >= maxVenueFailures {
			break
		}
		if !s.askable("open\x00"+o.Principal+"\x00"+o.Venue+"\x00"+o.OrderID, now) {
			continue
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
			failures++
			s.opts.Logger.Warn("reconciling open orders: venue lookup failed", "venue", o.Venue, "order_id", o.OrderID, "err", err)
			continue
		case got.Status.Final():
			final = append(final, finalOrder{o, got})
		default:
			res.Open++
		}
		failures = 0
	}
	for len(final) > 0 {
		chunk := final[:min(len(final), reconcileChunk)]
		final = final[len(chunk):]
		marked := 0
		err := s.store.Commit(func(t store.Txn) error {
			marked = 0 // Commit may run this more than once
			for _, o := range chunk {
				ok, err := t.MarkOrderFinal(o.Principal, o.Venue, o.OrderID, now)
				if err != nil {
					return err
				}
				if err := settleOrder(t, o.Principal, o.Venue, o.got); err != nil {
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

// PendingResult counts what ReconcilePending did.
type PendingResult struct {
	Checked    int // pending records whose venue was asked about the order
	Completed  int // the venue had the order: the record is done with it (audit "reconciled")
	NotAtVenue int // the venue has no such order: left pending for a retry of its key
	Failed     int // no answer (a venue error, a venue no longer configured): asked again in a round an hour or more later
}

// errNotSent is what a background reconciliation's Send answers: it never
// sends an order, so a record the venue has nothing for stays pending.
var errNotSent = sibyl.Errorf(sibyl.Unavailable, "not sent: the outcome is reconciled in the background only when the venue has the order")

// ReconcilePending completes place_order records whose outcome is unknown (a
// crash, a timeout or a lost answer, and no retry of the key since) from the
// venue: when the venue has the order under the record's client order id, the
// record takes it over as a retry would (audit "recover", then "reconciled"),
// so the order is in the audit log and a later retry replays it. When the
// venue has no such order, nothing is written and the record stays pending:
// only a retry of its key may send the order. It never sends an order. (If the
// order is found and then, at the second lookup inside the takeover, the
// venue fails or no longer has it, the record is released as a failed retry
// would leave it: audit "recover", then "unknown".)
//
// It looks at records created before createdBefore that no call holds (lease
// over), oldest first, at most limit of them (all when limit <= 0), one venue
// call at a time, each bounded by SendTimeout; a record asked about is not
// asked again for an hour, so each call moves on to the next ones. It stops
// early after five venue errors in a row, or when ctx ends. A record that a
// caller takes over meanwhile is left to that caller. sibyl serve runs it
// before each sweep.
func (s *Service) ReconcilePending(ctx context.Context, createdBefore time.Time, limit int) (PendingResult, error) {
	var res PendingResult
	now := s.now()
	s.forgetAsked(now)
	failures := 0
	for _, id := range s.store.PendingRecords(ToolPlaceOrder, createdBefore, 0) {
		if ctx.Err() != nil || (limit > 0 && res.Checked+res.Failed >= limit) || failures >= maxVenueFailures {
			break
		}
		rec, ok, err := s.store.Record(id)
		if err != nil {
			return res, err
		}
		if !ok || rec.State != store.Pending || s.leaseLive(rec, s.now()) {
			continue
		}
		coid := ClientOrderID(id.Principal, id.Tool, id.Key)
		if rec.ClientOrderID != coid {
			continue // not a record this version of the protocol wrote; left to a retry
		}
		if !s.askable("pending\x00"+coid, now) {
			continue
		}
		v, ok := s.venues[rec.Venue]
		if !ok {
			res.Failed++
			s.opts.Logger.Warn("reconciling pending records: venue not configured", "venue", rec.Venue, "client_order_id", coid)
			continue
		}
		res.Checked++
		// Ask first, without writing: most abandoned records have nothing at
		// the venue, and taking them over would only add audit entries.
		find := findByClientID(id.Principal)
		vctx, cancel := context.WithTimeout(ctx, s.opts.SendTimeout)
		_, found, err := find(vctx, v, coid, rec.LookupHint())
		cancel()
		if err != nil {
			res.Failed++
			failures++
			s.opts.Logger.Warn("reconciling pending records: venue lookup failed", "venue", rec.Venue, "client_order_id", coid, "err", err)
			continue
		}
		failures = 0
		if !found {
			res.NotAtVenue++
			continue
		}
		a := Action{
			Tool: id.Tool, Principal: id.Principal, Transport: "background", Key: id.Key, Venue: rec.Venue,
			OpensOrder: true, SuccessOutcome: store.OutcomePlaced, background: true,
			Send: func(context.Context, sibyl.Venue, string, *sibyl.PreparedOrder) (sibyl.Order, error) {
				return sibyl.Order{}, errNotSent
			},
			Reconcile: find,
		}
		c, err := s.claim(a, id, rec.Fingerprint, coid, nil)
		if err != nil {
			return res, fmt.Errorf("taking over pending record %s: %w", id.Key, err)
		}
		if c.kind != claimRecover {
			continue // done or taken over meanwhile
		}
		if _, err := s.execute(ctx, a, v, id, coid, c); err != nil {
			res.Failed++ // the order vanished between the two lookups, or the lookup failed: released, still pending
			continue
		}
		res.Completed++
	}
	return res, ctx.Err()
}
