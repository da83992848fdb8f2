package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sibylmcp/sibyl/canon"
	"slices"
	"strings"
	"sync"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

// claimKind is what the claim transaction decided.
type claimKind int

const (
	claimSend    claimKind = iota + 1 // new record: send
	claimRecover                      // took over an abandoned record: reconcile, then maybe send
	claimReplay                       // done: return the stored outcome
	claimRefuse                       // refused (key reused, possible duplicate): return err
	claimWait                         // a live owner holds it: wait
	claimSkip                         // background: nothing to take over; nothing written
)

type claim struct {
	kind    claimKind
	rec     store.Record // the record after the claim
	err     error        // for claimRefuse
	attempt int          // our fencing token for claimSend/claimRecover
	version uint64       // for claimSend/claimRecover: the record version the claim wrote
}

// Do runs one state-changing Action exactly once per (Principal, Tool, Key): the
// claim / send / complete protocol. Place and Cancel are built on it. Errors and
// results are as documented on Place. A replayed refusal comes back as the
// stored error together with a Result whose Replayed is set.
func (s *Service) Do(ctx context.Context, a Action) (Result, error) {
	if err := ValidateKey(a.Key); err != nil {
		s.auditInvalid(ctx, a, err)
		return Result{}, err
	}
	if a.Principal == "" || strings.IndexByte(a.Principal, 0) >= 0 || a.Tool == "" {
		err := sibyl.WrapError(sibyl.Internal, fmt.Errorf("orders: action without a valid principal (%q) or tool (%q)", a.Principal, a.Tool), "internal error")
		return Result{}, err
	}
	v, ok := s.venues[a.Venue]
	if !ok {
		field := "venue"
		if a.Tool == ToolPlaceOrder {
			field = "market_id"
		}
		err := sibyl.FieldErrorf(sibyl.Invalid, field, "unknown venue %q; configured venues: %s", a.Venue, strings.Join(s.venueNames(), ", "))
		s.auditInvalid(ctx, a, err)
		return Result{}, err
	}
	if err := s.liveGate(a.Venue, a.Tool); err != nil {
		s.auditInvalid(ctx, a, err)
		return Result{}, err
	}
	// Fingerprint, redact and canonicalize the arguments once, outside the
	// shared transactions.
	tmpl, err := store.PrepareFingerprinted(store.AuditEntry{Principal: a.Principal, Session: a.Session, Transport: a.Transport,
		Tool: a.Tool, Args: a.Args, Key: a.Key, Time: s.now()}, fingerprintOmit...)
	if err != nil {
		err := sibyl.WrapError(sibyl.Invalid, err, "arguments must be a JSON object")
		s.auditInvalid(ctx, a, err)
		return Result{}, err
	}
	fp := tmpl.Fingerprint
	if len(a.FingerprintArgs) > 0 {
		nfp, err := canon.Fingerprint(a.FingerprintArgs, fingerprintOmit...)
		if err != nil {
			err := sibyl.WrapError(sibyl.Invalid, err, "arguments must be a JSON object")
			s.auditInvalid(ctx, a, err)
			return Result{}, err
		}
		a.legacyFPs = append(a.legacyFPs[:0:0], fp)
		for _, eq := range a.EquivalentArgs {
			if efp, err := canon.Fingerprint(eq, fingerprintOmit...); err == nil {
				a.legacyFPs = append(a.legacyFPs, efp)
			}
		}
		fp = nfp
		tmpl.Fingerprint = fp
	}
	a.audit, a.hasAudit = tmpl, true
	id := store.RecordID{Principal: a.Principal, Tool: a.Tool, Key: a.Key}
	coid := ClientOrderID(a.Principal, a.Tool, a.Key)
	res := Result{ClientOrderID: coid}
	if err := ctx.Err(); err != nil {
		return res, sibyl.WrapError(sibyl.Unavailable, err, "the call was cancelled before anything was recorded or sent; retry with the same idempotency_key")
	}

	// Prepare (sign) a new order before the claim, so that the claim stores it
	// with the record, in the same transaction. A key that has a record
	// already uses the stored prepared order (a concurrent first call that
	// loses the claim race discards its own).
	var prepared *sibyl.PreparedOrder
	if a.Prepare != nil {
		if exists, err := s.recordExists(a, id); err != nil {
			return res, sibyl.WrapError(sibyl.Internal, fmt.Errorf("reading idempotency record: %w", err), "internal error")
		} else if !exists {
			pctx, cancel := context.WithTimeout(ctx, s.opts.SendTimeout)
			prepared, err = a.Prepare(pctx, v, coid)
			cancel()
			if err != nil {
				if isDeterministic(err) {
					s.auditInvalid(ctx, a, err)
					return res, err
				}
				return res, sibyl.WrapError(sibyl.Unavailable, err, "the order could not be prepared; nothing was recorded or sent; retry with the same idempotency_key")
			}
		}
	}

	if a.OpensOrder && !a.background {
		s.placing.RLock()
		defer s.placing.RUnlock()
	}
	deadline := time.Now().Add(s.opts.WaitInFlight)
	for {
		c, err := s.claim(a, id, fp, coid, prepared)
		a.recordAbsent = false // true only of the first claim
		if err != nil {
			return res, s.storeError("claiming idempotency key", err)
		}
		switch c.kind {
		case claimRefuse:
			return res, c.err
		case claimReplay:
			return replay(c.rec, coid)
		case claimSend, claimRecover:
			s.hook(s.opts.Hooks.AfterClaim, a.Key)
			return s.execute(ctx, a, v, id, coid, c)
		case claimSkip: // only background actions (ReconcilePending) are skipped
			return res, sibyl.WrapError(sibyl.Internal, fmt.Errorf("orders: claim skipped for a foreground call"), "internal error")
		case claimWait:
			if !time.Now().Before(deadline) {
				return res, sibyl.Errorf(sibyl.InProgress,
					"another call with this idempotency_key is still running; retry with the same idempotency_key in a few seconds")
			}
			s.wait(ctx, id, deadline)
			if ctx.Err() != nil {
				return res, sibyl.WrapError(sibyl.InProgress, ctx.Err(),
					"another call with this idempotency_key is still running; retry with the same idempotency_key")
			}
		}
	}
}

func (s *Service) hook(h func(string), key string) {
	if h != nil {
		h(key)
	}
}

// fingerprintOmit are the control arguments a fingerprint leaves out: they
// are not part of the order.
var fingerprintOmit = []string{"idempotency_key", "allow_duplicate"}

// sameRequest reports whether a record with fingerprint recFP was made by the
// same request as this call, whose fingerprint is fp: equal, or equal to the
// fingerprint of the arguments as sent or of an equivalent spelling (records
// written before defaults were applied to fingerprints).
func (a *Action) sameRequest(recFP, fp string) bool {
	return recFP == fp || slices.Contains(a.legacyFPs, recFP)
}

// replay turns a done record into the caller's answer.
func replay(rec store.Record, coid string) (Result, error) {
	res := Result{Replayed: true, ClientOrderID: coid}
	if rec.Error != nil {
		if len(rec.Result) > 0 {
			_ = json.Unmarshal(rec.Result, &res.Order)
		}
		return res, rec.Error.Err()
	}
	if len(rec.Result) == 0 {
		return res, nil // the venue answered without an order id; nothing more was stored
	}
	if err := json.Unmarshal(rec.Result, &res.Order); err != nil {
		return res, sibyl.WrapError(sibyl.Internal, fmt.Errorf("decoding stored result: %w", err), "internal error")
	}
	return res, nil
}

// recordExists reports whether id has a record, without reading it again
// when the caller just found it absent (a.recordAbsent).
func (s *Service) recordExists(a Action, id store.RecordID) (bool, error) {
	if a.recordAbsent {
		return false, nil
	}
	_, exists, err := s.store.Record(id)
	return exists, err
}

// claim is step 1: one transaction, on disk before the venue is called.
func (s *Service) claim(a Action, id store.RecordID, fp, coid string, prepared *sibyl.PreparedOrder) (claim, error) {
	// Read-only fast path: a live owner means waiting, with no write (and no
	// fsync). It reads what the claim transaction will read first, the record
	// and, for a new order, the duplicate-detection entry, in this caller's
	// goroutine: on a shared store (etcd) those reads then come from the
	// instance's read cache inside the one committer every claim waits for,
	// instead of a round trip each there (the commit's compares check that
	// they are still current).
	var rec store.Record
	var ok bool
	checkDup := a.CheckDuplicate && !a.AllowDuplicate
	if !a.recordAbsent || checkDup {
		err := s.store.View(func(t store.Txn) error {
			var err error
			if !a.recordAbsent {
				if rec, ok, err = t.Record(id); err != nil || ok {
					return err
				}
			}
			if checkDup {
				_, _, err = t.FingerprintUse(a.Principal, a.Tool, fp)
			}
			return err
		})
		if err != nil {
			return claim{}, err
		}
	}
	if ok && rec.State == store.Pending && a.sameRequest(rec.Fingerprint, fp) && s.leaseLive(rec, s.now()) {
		return claim{kind: claimWait, rec: rec}, nil
	}

	// Encode outside the shared transaction what a new key will write: the
	// committer's goroutine is the one every order waits for.
	now := s.now()
	fresh, err := store.PrepareRecord(store.Record{
		ID: id, State: store.Pending, Fingerprint: fp, ClientOrderID: coid, Venue: a.Venue,
		Owner: s.opts.Owner, Attempt: 1, LeaseUntil: now.Add(s.opts.Lease), Created: now, Updated: now,
		DupIndexed: a.CheckDuplicate, NativeMarketID: a.NativeMarketID, Prepared: prepared,
	})
	if err != nil {
		return claim{}, err
	}
	auditTmpl := s.auditEntry(a, fp, now)
	rp, err := s.prepareRisk(a, now)
	if err != nil {
		return claim{}, err
	}
	var c claim
	err = s.store.Commit(func(t store.Txn) error {
		c = claim{} // Commit may run this more than once
		audit := auditTmpl
		rec, ok, err := t.Record(id)
		if err != nil {
			return err
		}
		live := false
		if ok && rec.State == store.Pending {
			if live, err = s.leaseLiveTxn(t, rec, now); err != nil {
				return err
			}
		}
		if a.background && (!ok || rec.State != store.Pending || !a.sameRequest(rec.Fingerprint, fp) || live) {
			c = claim{kind: claimSkip} // done, gone or owned meanwhile: not ours to touch
			return nil
		}
		if !ok && !a.background && a.OpensOrder {
			if err := s.Halted(); err != nil {
				c = claim{kind: claimRefuse, err: err}
				audit.Outcome, audit.Error = OutcomeHalted, string(sibyl.RiskLimit)
				_, err := t.AppendAudit(audit)
				return err
			}
		}
		if !ok {
			if a.CheckDuplicate && !a.AllowDuplicate {
				u, found, err := t.FingerprintUse(a.Principal, a.Tool, fp)
				if err != nil {
					return err
				}
				if found && u.Key != a.Key && now.Sub(u.Time) < s.opts.DuplicateWindow {
					c = claim{kind: claimRefuse, err: sibyl.Errorf(sibyl.PossibleDuplicate,
						"an identical order was placed %s ago under another idempotency_key; to retry that order, reuse its original idempotency_key; to really place a second identical order, set allow_duplicate to true",
						now.Sub(u.Time).Round(time.Second))}
					audit.Outcome, audit.Error = store.OutcomeDuplicate, string(sibyl.PossibleDuplicate)
					_, err := t.AppendAudit(audit)
					return err
				}
			}
			if a.confirm != nil {
				declined, err := s.confirmAudit(t, a, fresh, audit)
				if err != nil {
					return err
				}
				if declined != nil {
					c = claim{kind: claimRefuse, err: declined}
					audit.Outcome, audit.Error = store.OutcomeRejected, string(sibyl.RiskLimit)
					_, err := t.AppendAudit(audit)
					return err
				}
			}
			if rp != nil {
				refusal, err := s.checkAndReserve(t, rp, id)
				if err != nil {
					return err
				}
				if refusal != nil {
					// Stored as done with the refusal, so every retry replays it.
					rec := fresh.Record()
					rec.State, rec.LeaseUntil, rec.DupIndexed, rec.OrderFinal = store.Done, now, false, true
					rec.Error = &store.RecordError{Code: sibyl.ErrorCode(refusal), Message: sibyl.ErrorMessage(refusal), Field: sibyl.ErrorField(refusal)}
					if err := t.PutRecord(rec); err != nil {
						return err
					}
					c = claim{kind: claimRefuse, err: refusal}
					audit.Outcome, audit.Error = store.OutcomeRejected, string(sibyl.RiskLimit)
					_, err := t.AppendAudit(audit)
					return err
				}
			}
			version, err := t.PutPrepared(fresh)
			if err != nil {
				return err
			}
			audit.Outcome = store.OutcomeIntent
			if _, err := t.AppendAudit(audit); err != nil {
				return err
			}
			c = claim{kind: claimSend, rec: fresh.Record(), attempt: 1, version: version}
			return nil
		}
		switch {
		case !a.sameRequest(rec.Fingerprint, fp):
			c = claim{kind: claimRefuse, err: sibyl.FieldErrorf(sibyl.IdempotencyKeyReused, "idempotency_key",
				"this idempotency_key was already used for a different %s request; nothing was sent. Use a new idempotency_key for a different order, or resend the original arguments unchanged to retry it", a.Tool)}
			audit.Outcome, audit.Error = store.OutcomeKeyReused, string(sibyl.IdempotencyKeyReused)
		case rec.State == store.Done:
			c = claim{kind: claimReplay, rec: rec}
			audit.Outcome = store.OutcomeReplay
			if rec.OrderID != "" {
				audit.OrderIDs = []string{rec.OrderID}
			}
			if rec.Error != nil {
				audit.Error = string(rec.Error.Code)
			}
		case live:
			c = claim{kind: claimWait, rec: rec}
			return nil // nothing to write
		case !a.background && a.OpensOrder && s.Halted() != nil:
			// An unknown outcome is not reconciled while halted: the takeover
			// could send the order again.
			c = claim{kind: claimRefuse, err: s.Halted()}
			audit.Outcome, audit.Error = OutcomeHalted, string(sibyl.RiskLimit)
		default:
			// The owner died or gave up (lease expired or released): take over.
			rec.Owner = s.opts.Owner
			rec.Attempt++
			rec.LeaseUntil = now.Add(s.opts.Lease)
			rec.Updated = now
			if err := t.PutRecord(rec); err != nil {
				return err
			}
			version, _ := t.RecordVersion(id)
			c = claim{kind: claimRecover, rec: rec, attempt: rec.Attempt, version: version}
			audit.Outcome = store.OutcomeRecover
		}
		_, err = t.AppendAudit(audit)
		return err
	})
	if errors.Is(err, store.ErrUnavailable) {
		// The claim may have been recorded with its answer lost: nobody
		// would work on it, yet its lease would hold every retry off.
		s.releaseLostClaim(a, id, now.Add(s.opts.Lease))
	}
	return c, err
}

// execute is steps 2 and 3: (reconcile,) send, complete.
func (s *Service) execute(ctx context.Context, a Action, v sibyl.Venue, id store.RecordID, coid string, c claim) (Result, error) {
	sendCtx, cancel := context.WithTimeout(ctx, s.opts.SendTimeout)
	defer cancel()
	attempt := c.attempt
	if c.kind == claimRecover && a.Reconcile != nil {
		o, found, err := a.Reconcile(sendCtx, v, coid, c.rec.LookupHint())
		if err != nil {
			s.hook(s.opts.Hooks.AfterSend, a.Key)
			return s.completeUnknown(a, id, coid, attempt, err)
		}
		if found {
			// An earlier attempt's order: this call places nothing, so its answer
			// is a replay (whether or not an earlier answer reached anyone).
			s.hook(s.opts.Hooks.AfterSend, a.Key)
			res, err := s.complete(a, id, coid, c, o, nil, store.OutcomeReconciled)
			res.Replayed = true
			return res, err
		}
	}
	o, err := a.Send(sendCtx, v, coid, c.rec.Prepared)
	reconciled := false
	if err != nil && a.ReconcileOnConflict && a.Reconcile != nil && sibyl.ErrorCode(err) == sibyl.Conflict {
		// The venue says it has this client order id already: fetch it.
		// If that lookup fails, the order may exist: the outcome is unknown,
		// not a refusal to store and replay.
		found, ok, rerr := a.Reconcile(sendCtx, v, coid, c.rec.LookupHint())
		switch {
		case rerr != nil:
			s.hook(s.opts.Hooks.AfterSend, a.Key)
			return s.completeUnknown(a, id, coid, attempt, rerr)
		case ok:
			o, err, reconciled = found, nil, true
		}
	}
	s.hook(s.opts.Hooks.AfterSend, a.Key)
	switch {
	case err == nil:
		outcome := a.SuccessOutcome
		if o.Status == sibyl.OrderRejected {
			outcome = store.OutcomeRejected
		}
		res, err := s.complete(a, id, coid, c, o, nil, outcome)
		res.Replayed = res.Replayed || reconciled
		return res, err
	case isDeterministic(err):
		return s.complete(a, id, coid, c, o, err, store.OutcomeRejected)
	default:
		return s.completeUnknown(a, id, coid, attempt, err)
	}
}

// complete is step 3 for a known outcome: the order, or a deterministic refusal
// (err), stored as done in one transaction with its audit entry.
//
// A refusal is on disk before the caller hears of it, so every retry replays
// it. An accepted order is written asynchronously: it rides in the next group
// commit (typically the one carrying this caller's next claim), and the caller
// gets the order without waiting for that fsync. This is safe because the claim
// was durable before the venue call: if the process dies before the completion
// is on disk, the record is still pending and the next attempt reconciles with
// the venue by client_order_id and finds this very order. Within the process,
// a retry that arrives first waits for the completion (the lease is ours). It
// halves the fsyncs an order waits for (see BenchmarkPlace).
func (s *Service) complete(a Action, id store.RecordID, coid string, c claim, o sibyl.Order, refusal error, outcome string) (Result, error) {
	var result json.RawMessage
	if o.NativeID != "" {
		b, err := json.Marshal(o) // outside the shared transaction
		if err != nil {
			return Result{ClientOrderID: coid}, sibyl.WrapError(sibyl.Internal, err, "internal error")
		}
		result = b
	}
	// done turns the pending record into the completed one, with its audit entry.
	done := func(rec store.Record, now time.Time) (store.Record, store.AuditEntry) {
		rec.State = store.Done
		rec.Updated = now
		rec.LeaseUntil = now
		rec.Error = nil
		rec.Result = result
		audit := s.auditEntry(a, rec.Fingerprint, now)
		audit.Outcome = outcome
		if o.NativeID != "" {
			audit.OrderIDs = []string{o.NativeID}
		}
		if refusal != nil {
			rec.Error = &store.RecordError{Code: sibyl.ErrorCode(refusal), Message: sibyl.ErrorMessage(refusal), Field: sibyl.ErrorField(refusal)}
			audit.Error = string(rec.Error.Code)
			// A refused order is no duplicate risk: after (say) a deposit, the agent
			// retries under a new key and must not be told possible_duplicate.
			rec.DupIndexed = false
		}
		if a.OpensOrder && refusal == nil && o.NativeID != "" {
			rec.OrderID = o.NativeID // lists the record in the order index, for MarkOrderFinal
			rec.OrderFinal = o.Status.Final()
		} else {
			rec.OrderFinal = true // this record opened no order
		}
		return rec, audit
	}
	// The common case, prepared outside the shared transaction: the record is
	// still the version our claim wrote.
	now := s.now()
	fastRec, fastAudit := done(c.rec, now)
	fast, err := store.PrepareRecord(fastRec)
	if err != nil {
		return Result{ClientOrderID: coid}, sibyl.WrapError(sibyl.Internal, err, "internal error")
	}
	var stored store.Record
	var already bool
	shared := a.OpensOrder && refusal == nil && o.NativeID != "" && s.sharedAccount(a.Venue)
	fn := func(t store.Txn) error {
		stored, already = store.Record{}, false
		if shared {
			// One account for every principal: remember whose order it is,
			// in the transaction that completes its record.
			if err := putOwner(t, a.Venue, o.NativeID, a.Principal); err != nil {
				return err
			}
		}
		if a.ClosesOrder && o.NativeID != "" && o.Status.Final() {
			if _, err := t.MarkOrderFinal(a.Principal, a.Venue, o.NativeID, now); err != nil {
				return err
			}
			if err := settleOrder(t, a.Principal, a.Venue, o); err != nil {
				return err
			}
		}
		if a.OpensOrder {
			if err := s.settleClaim(t, id, a.Venue, o, refusal); err != nil {
				return err
			}
		}
		if v, ok := t.RecordVersion(id); ok && v == c.version {
			if _, err := t.PutPrepared(fast); err != nil {
				return err
			}
			if _, err := t.AppendAudit(fastAudit); err != nil {
				return err
			}
			stored = fastRec
			return nil
		}
		// Someone else wrote the record since our claim (a retry that took over
		// an expired lease, or a MarkOrderFinal): start from what is there.
		rec, ok, err := t.Record(id)
		if err != nil {
			return err
		}
		if ok && rec.State == store.Done {
			// Another attempt completed it first (after taking over our lease).
			stored, already = rec, true
			return nil
		}
		if !ok {
			return fmt.Errorf("idempotency record %s/%s vanished while pending", id.Tool, id.Key)
		}
		rec, audit := done(rec, s.now())
		if err := t.PutRecord(rec); err != nil {
			return err
		}
		if _, err := t.AppendAudit(audit); err != nil {
			return err
		}
		stored = rec
		return nil
	}

	if refusal == nil {
		// Not awaited (see above). If the store is closing, the record stays
		// pending and the order is reconciled on the next attempt.
		s.commitAsync(a.Key, id, fn)
		return Result{Order: o, ClientOrderID: coid}, nil
	}

	err = s.store.Commit(fn)
	s.notify(id)
	if err != nil {
		// The refusal is not on disk: the record stays pending and the next
		// attempt reconciles (finds nothing) and sends again.
		return Result{ClientOrderID: coid}, sibyl.WrapError(sibyl.Unavailable, fmt.Errorf("completing idempotency record: %w", err),
			"outcome unknown; retry with the same idempotency_key to reconcile")
	}
	s.hook(s.opts.Hooks.AfterComplete, a.Key)
	if already {
		res, err := replay(stored, coid)
		res.Replayed = false // this call did reach the venue; the other attempt stored first
		return res, err
	}
	return Result{Order: o, ClientOrderID: coid}, stored.Error.Err()
}

// commitAsync queues fn and, once it is on disk, wakes the waiters of id and
// runs the AfterComplete hook.
func (s *Service) commitAsync(key string, id store.RecordID, fn func(t store.Txn) error) {
	s.inflight.add(1)
	err := s.store.CommitAsync(fn, func(err error) {
		s.notify(id)
		if err == nil {
			s.hook(s.opts.Hooks.AfterComplete, key)
		} else {
			s.opts.Logger.Error("completing idempotency record; it stays pending and the next attempt reconciles",
				"tool", id.Tool, "key", id.Key, "err", err)
		}
		s.inflight.add(-1)
	})
	if err != nil {
		s.opts.Logger.Error("queueing completion; the record stays pending and the next attempt reconciles",
			"tool", id.Tool, "key", id.Key, "err", err)
		s.notify(id)
		s.inflight.add(-1)
	}
}

// Flush waits until every completion this Service has queued is on disk. Call
// it before closing the Store for a clean shutdown (Store.Close also writes
// queued completions), and in tests before inspecting records.
func (s *Service) Flush() { s.inflight.wait() }

// completeUnknown is step 3 for an unknown outcome: the record stays pending with
// the lease released, so the next attempt reconciles at once. The write is not
// awaited: if it is lost, the lease simply expires.
func (s *Service) completeUnknown(a Action, id store.RecordID, coid string, attempt int, cause error) (Result, error) {
	s.commitAsync(a.Key, id, func(t store.Txn) error {
		now := s.now()
		rec, ok, err := t.Record(id)
		if err != nil || !ok || rec.State != store.Pending || rec.Attempt != attempt {
			return err // someone else owns it now; leave it to them
		}
		rec.LeaseUntil = now
		rec.Updated = now
		if err := t.PutRecord(rec); err != nil {
			return err
		}
		audit := s.auditEntry(a, rec.Fingerprint, now)
		audit.Outcome = store.OutcomeUnknown
		audit.Error = string(sibyl.ErrorCode(cause))
		_, err = t.AppendAudit(audit)
		return err
	})
	res := Result{ClientOrderID: coid}
	if sibyl.ErrorCode(cause) == sibyl.RateLimited {
		return res, cause // refused before acceptance: the agent should slow down, then retry with the same key
	}
	return res, sibyl.WrapError(sibyl.Unavailable, cause, "outcome unknown; retry with the same idempotency_key to reconcile")
}

// counter is a count of in-flight work that can be waited on.
type counter struct {
	mu   sync.Mutex
	cond *sync.Cond
	n    int
}

func (c *counter) add(d int) {
	c.mu.Lock()
	c.n += d
	if c.n == 0 && c.cond != nil {
		c.cond.Broadcast()
	}
	c.mu.Unlock()
}

func (c *counter) wait() {
	c.mu.Lock()
	if c.cond == nil {
		c.cond = sync.NewCond(&c.mu)
	}
	for c.n > 0 {
		c.cond.Wait()
	}
	c.mu.Unlock()
}

func (s *Service) auditEntry(a Action, fp string, now time.Time) store.AuditEntry {
	if a.hasAudit {
		e := a.audit // prepared: redacted, canonical arguments
		e.Time, e.Fingerprint = now.UTC(), fp
		return e
	}
	return store.AuditEntry{
		Time: now, Principal: a.Principal, Session: a.Session, Transport: a.Transport,
		Tool: a.Tool, Args: a.Args, Fingerprint: fp, Key: a.Key,
	}
}

// auditInvalid records a call refused before any state was written. It goes
// through the asynchronous appender: nothing changed, so nothing needs the fsync.
func (s *Service) auditInvalid(ctx context.Context, a Action, err error) {
	e := s.auditEntry(a, "", s.now())
	e.Outcome, e.Error = store.OutcomeInvalid, string(sibyl.ErrorCode(err))
	if !json.Valid(e.Args) {
		e.Args = nil
	}
	if len(a.Key) > 128 {
		e.Key = a.Key[:128]
	}
	if err := s.store.AuditAsync(context.WithoutCancel(ctx), e); err != nil {
		s.opts.Logger.Error("auditing a refused call", "tool", a.Tool, "err", err)
	}
}

// waiterKey names a record for in-process notification.
func waiterKey(id store.RecordID) string { return id.Principal + "\x00" + id.Tool + "\x00" + id.Key }

// notify wakes the calls waiting on id.
func (s *Service) notify(id store.RecordID) {
	k := waiterKey(id)
	s.mu.Lock()
	if ch, ok := s.waiters[k]; ok {
		close(ch)
		delete(s.waiters, k)
	}
	s.mu.Unlock()
}

// wait blocks until the record id is no longer held by a live owner, the
// deadline passes or ctx ends. It is woken by notify from this Service and,
// for owners in other instances, by the store's watch on the record (etcd) or,
// where the store has none, by polling it.
func (s *Service) wait(ctx context.Context, id store.RecordID, deadline time.Time) {
	k := waiterKey(id)
	s.mu.Lock()
	ch, ok := s.waiters[k]
	if !ok {
		ch = make(chan struct{})
		s.waiters[k] = ch
	}
	s.mu.Unlock()

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for {
		// Subscribe, then check, so a completion just before is not missed.
		changed := s.store.WatchRecord(wctx, id)
		var poll <-chan time.Time
		if changed == nil {
			poll = time.After(50 * time.Millisecond)
		}
		rec, ok, err := s.store.Record(id)
		if err != nil || !ok || rec.State != store.Pending || !s.leaseLive(rec, s.now()) {
			return
		}
		// A live lease ends on its own: wake then at the latest, to take over.
		expiry := time.NewTimer(max(rec.LeaseUntil.Sub(s.now()), 0) + 5*time.Millisecond)
		select {
		case <-ch:
		case <-timer.C:
		case <-ctx.Done():
		case <-changed:
			expiry.Stop()
			continue
		case <-poll:
			expiry.Stop()
			continue
		case <-expiry.C:
			continue
		}
		expiry.Stop()
		return
	}
}

// leaseLive reports whether rec's owner may still be working on it: its lease
// has not run out, the store does not know its instance to be gone (on etcd,
// an instance's liveness is its etcd lease) and, for a SoleOwner, the owner is
// this Service (any other owner's process has died, or it could not have left
// the file to us).
func (s *Service) leaseLive(rec store.Record, now time.Time) bool {
	if !s.leaseTimeLive(rec, now) {
		return false
	}
	return rec.Owner == s.opts.Owner || s.store.OwnerLive(rec.Owner)
}

// leaseLiveTxn is leaseLive inside a transaction: the owner's liveness is read
// in t, so the transaction is retried if it changes before t commits.
func (s *Service) leaseLiveTxn(t store.Txn, rec store.Record, now time.Time) (bool, error) {
	if !s.leaseTimeLive(rec, now) {
		return false, nil
	}
	if rec.Owner == s.opts.Owner {
		return true, nil
	}
	return t.OwnerLive(rec.Owner)
}

func (s *Service) leaseTimeLive(rec store.Record, now time.Time) bool {
	if s.opts.SoleOwner && rec.Owner != s.opts.Owner {
		return false
	}
	return rec.LeaseUntil.After(now)
}
