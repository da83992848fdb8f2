package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"
)

// SweepResult counts what Sweep did.
type SweepResult struct {
	Deleted     int // records removed
	KeptOpen    int // old records kept because their order is still open
	KeptPending int // old records kept because their outcome is unknown
	Index       int // duplicate-detection index entries removed with their records
	Superseded  int // older versions of records removed from the record log
}

// Per sweep transaction: at most this many log entries read, and deleted. A
// sweep transaction is one of the group committer's, so it is kept short.
const (
	sweepScan   = 4096
	sweepDelete = 1000
)

// Sweep deletes idempotency records created before cutoff, unless their order
// may still be open (OrderID set and not OrderFinal) or their outcome is unknown
// (Pending): those stay until a cancel, a reconcile or a status check marks them
// final. A deleted record leaves the duplicate-detection and order indexes too.
// It also deletes any superseded version still in the record log, whatever its
// age (the committer deletes them as it goes; see Txn.collectGarbage). It works
// through the group committer, a few thousand log entries per transaction.
func (s *Bolt) Sweep(cutoff time.Time) (SweepResult, error) {
	var total SweepResult
	cut := cutoff.UnixNano()
	var from uint64
	for {
		var res SweepResult
		var next uint64
		err := s.Commit(func(tn Txn) error {
			t := tn.(*boltTxn)
			res, next = SweepResult{}, 0 // Commit may run this more than once
			b := t.logBucket()
			c := b.Cursor()
			var del []uint64
			scanned := 0
			for k, v := c.Seek(seqKey(from)); k != nil; k, v = c.Next() {
				seq := binary.BigEndian.Uint64(k)
				if scanned == sweepScan || len(del) == sweepDelete {
					next = seq
					break
				}
				scanned++
				idb, _, _, err := splitVersion(v)
				if err != nil {
					return fmt.Errorf("record log entry %d: %w", seq, err)
				}
				// A version is garbage once a committed and applied transaction
				// superseded it: readers outside commits look versions up in the
				// applied index (see Store.Record), so one superseded only in
				// this transaction may still be being read. It goes next sweep.
				applied, inApplied := t.s.idx.lookup(string(idb))
				m, ok := t.recMeta(string(idb))
				switch {
				case (!inApplied || applied.seq != seq) && (!ok || m.seq != seq):
					del = append(del, seq)
					res.Superseded++
					continue
				case !inApplied || applied.seq != seq || !ok || m.seq != seq:
					continue // written or superseded in this transaction
				case m.created >= cut:
					continue
				case m.keep && m.pending:
					res.KeptPending++
					continue
				case m.keep:
					res.KeptOpen++
					continue
				}
				rec, err := decodeVersion(v)
				if err != nil {
					return fmt.Errorf("record log entry %d: %w", seq, err)
				}
				if t.forgetRecord(rec) {
					res.Index++
				}
				del = append(del, seq)
				res.Deleted++
			}
			// Delete after iterating: deleting under a bbolt cursor can skip keys.
			for _, seq := range del {
				if err := b.Delete(seqKey(seq)); err != nil {
					return err
				}
			}
			t.idemDelta().superseded -= res.Superseded
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("sweeping idempotency records: %w", err)
		}
		total.Deleted += res.Deleted
		total.KeptOpen += res.KeptOpen
		total.KeptPending += res.KeptPending
		total.Index += res.Index
		total.Superseded += res.Superseded
		if next == 0 {
			return total, nil
		}
		from = next
	}
}

// SweeperOptions configures a Sweeper.
type SweeperOptions struct {
	Retention time.Duration            // records older than this are swept (default 24h)
	Interval  time.Duration            // how often (default 10 minutes)
	Now       func() time.Time         // default time.Now
	OnSweep   func(SweepResult, error) // optional: called after each sweep, for logging
	// BeforeSweep (optional) runs before each sweep with its cutoff, on the
	// sweeper's goroutine; ctx ends when the sweeper is stopped. sibyl serve
	// uses it to have the venues say which old open orders are now final
	// (orders.Service.ReconcileOpen), so the sweep can delete their records.
	BeforeSweep func(ctx context.Context, cutoff time.Time)
}

// Sweeper runs Sweep in the background. It owns its goroutine and its cancel;
// Stop ends it.
type Sweeper struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// StartSweeper starts a background loop that calls Sweep(now - Retention) every
// Interval. Stop it before closing the Store.
func (s *Bolt) StartSweeper(opts SweeperOptions) *Sweeper { return StartSweeper(s, opts) }

// SweeperLock is the Store.Lock that elects the sweep's leader among the
// instances sharing a store: the first sweeper to take it keeps it until it
// stops (or its instance dies, which releases it on etcd), and only the holder
// sweeps; the others try again every round. Sweeps and the reconciliation in
// BeforeSweep stay correct if two instances ever run them at once (a holder
// cut off from etcd that has not noticed yet): every change goes through
// Commit and the claim protocol.
const SweeperLock = "sweeper"

// StartSweeper starts a background loop over any Store that, every Interval,
// makes sure this instance leads (SweeperLock; a round is skipped while
// another instance does), runs BeforeSweep and then Sweep(now - Retention).
// Stop it before closing the Store.
func StartSweeper(s Store, opts SweeperOptions) *Sweeper {
	if opts.Retention <= 0 {
		opts.Retention = 24 * time.Hour
	}
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	sw := &Sweeper{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(sw.done)
		tick := time.NewTicker(opts.Interval)
		defer tick.Stop()
		var unlock func() // set while this sweeper leads
		defer func() {
			if unlock != nil {
				unlock()
			}
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if unlock == nil {
					lctx, cancelLock := context.WithTimeout(ctx, time.Second)
					u, err := s.Lock(lctx, SweeperLock)
					cancelLock()
					if err != nil {
						continue // another instance leads (or the store is unreachable): next round
					}
					unlock = u
				}
				cutoff := opts.Now().Add(-opts.Retention)
				if opts.BeforeSweep != nil {
					opts.BeforeSweep(ctx, cutoff)
				}
				res, err := s.Sweep(cutoff)
				if opts.OnSweep != nil {
					opts.OnSweep(res, err)
				}
			}
		}
	}()
	return sw
}

// Stop ends the loop and waits for a running sweep to finish. It is safe to call
// more than once.
func (sw *Sweeper) Stop() {
	sw.once.Do(sw.cancel)
	<-sw.done
}
