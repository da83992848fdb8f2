package paper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

// A venue whose store is shared by several sibyl instances (Store.Owner is
// not "": etcd) keeps the same in-memory trading state as one on a bbolt
// file, but it is only a cache of the store's:
//
//   - The store keeps a generation number (bucket GenBucketName), bumped in
//     the same transaction as every change of the trading state. The venue
//     remembers the generation its memory was loaded at.
//   - A call that changes the state (PlaceOrder, CancelOrder, Fund, Reset)
//     is queued to the instance's batcher, which takes the store's lock
//     BucketName (cluster-wide on etcd), brings the memory to the stored
//     generation (applying the changes other instances logged, or
//     reloading), has the queued calls make their changes in order and
//     commits them with the next generation before it releases the lock.
//     The commit is fenced: it fails unless the stored generation is still
//     the one the changes were computed from, so a holder that lost the lock
//     (its lease lapsed) cannot overwrite a newer state; such changes are
//     made again on the new state.
//   - A call that only reads (GetOrder, ListOrders, Portfolio, the market
//     data) reads the stored generation without the lock, brings the memory
//     to it and answers from memory. When the read itself changes the state
//     (a resting order filled by the simulated market makers, a market that
//     closed or settled since the last call), it commits that change, fenced;
//     when another instance moved first, the call runs again as a change,
//     under the lock.
//
// So every call sees the store's latest state, changes are serialized across
// instances, and order and fill ids (counters in the "meta" record) are
// unique. The settings that shape the simulated world (the seed, starting
// cash, fees, market-maker refresh, settlement delay, retention, venue name)
// are recorded with the state by the first instance; an instance with other
// settings is refused by New, as one with another seed is on a bbolt file.
//
// On a single-process store (Bolt) none of this runs: nothing else writes
// the bucket, the memory is the truth, and writes go through the group
// committer without waiting under the lock (persist.go).

// GenBucketName is the bucket holding the generation of the paper venue's
// shared trading state (key "gen", a decimal number). Only venues on a shared
// store write it.
const GenBucketName = "paper_venue_gen"

var genKey = []byte("gen")

// logKeep is how many generations' changes the store keeps (keys
// "c/<generation>" of GenBucketName, each the keys and values one change
// wrote): an instance that is fewer generations behind applies them instead
// of reloading the whole state.
const logKeep = 256

func logKey(gen uint64) []byte { return []byte(fmt.Sprintf("c/%020d", gen)) }

// logPut is one key and value of a logged change.
type logPut struct {
	K string          `json:"k"`
	V json.RawMessage `json:"v"`
}

// maxFenced bounds how many times a change is computed again after its
// commit found that another instance had written first (each time after a
// short random pause, so that instances racing without the lock part).
const maxFenced = 20

// errFenced fails a shared commit whose generation is no longer the stored one.
var errFenced = errors.New("paper venue: another instance changed the trading state first")

// worldRecord is what every instance sharing the trading state must agree on:
// the settings that shape the simulated world and its accounts.
type worldRecord struct {
	Seed         int64   `json:"seed"`
	StartingCash int64   `json:"starting_cash"` // cents
	FeeRate      float64 `json:"fee_rate"`
	MakerFeeRate float64 `json:"maker_fee_rate"`
	MMRefresh    int64   `json:"mm_refresh_ns"`
	SettleDelay  int64   `json:"settle_delay_ns"`
	Retention    int64   `json:"retention_ns"`
	Name         string  `json:"name"`
}

func newWorld(o Options) *worldRecord {
	return &worldRecord{
		Seed: o.Seed, StartingCash: dollarsToCents(o.StartingCash), FeeRate: o.FeeRate, MakerFeeRate: o.MakerFeeRate,
		MMRefresh: int64(o.MMRefresh), SettleDelay: int64(o.SettleDelay), Retention: int64(o.Retention), Name: o.Name,
	}
}

// String names the settings as the flags and options that set them.
func (w *worldRecord) String() string {
	return fmt.Sprintf("seed %d, starting cash $%.2f, fee rate %v, maker fee rate %v, market-maker refresh %v, settle delay %v, retention %v, venue name %q",
		w.Seed, centsToDollars(w.StartingCash), w.FeeRate, w.MakerFeeRate, time.Duration(w.MMRefresh), time.Duration(w.SettleDelay), time.Duration(w.Retention), w.Name)
}

// run runs fn, the body of one call at now, on the trading state and makes
// what it changed durable before it returns. write says the call is meant to
// change the state. fn may run more than once (on a shared store), each time
// on fresh state, so it must reset what it reports through captured
// variables. run returns a storage error (Unavailable: the call's change was
// not kept, or on a shared store its outcome is unknown); fn's own result is
// the caller's.
func (v *Venue) run(ctx context.Context, now time.Time, write bool, fn func(t *tx)) error {
	if !v.shared {
		t := v.begin(now)
		fn(t)
		return v.commitAndUnlock(t)
	}
	return v.runShared(ctx, now, write, fn)
}

// runShared is run on a shared store (see the comment at the top of this file).
func (v *Venue) runShared(ctx context.Context, now time.Time, write bool, fn func(t *tx)) error {
	if !write {
		// Read the generation before taking v.mu, so that concurrent reads
		// wait for the store together, not one after the other.
		seen, err := v.storedGen()
		if err != nil {
			return err
		}
		v.mu.Lock()
		if err := v.refreshTo(seen); err != nil {
			v.mu.Unlock()
			return err
		}
		t := newTx()
		v.housekeep(now, t)
		fn(t)
		if t.empty() {
			v.mu.Unlock()
			return nil
		}
		// Reading changed the state, computed from the stored generation:
		// commit it fenced on that generation.
		err = v.commitShared(t)
		if err != nil {
			v.stale = true // the memory holds a change the store may not have
		}
		v.mu.Unlock()
		if err == nil {
			return nil
		}
		if !errors.Is(err, errFenced) {
			return sibyl.WrapError(sibyl.Unavailable, fmt.Errorf("paper venue commit to %s: %w", v.opts.Store.Describe(), err),
				"the paper venue could not save its shared state; the change may not have been kept, retry")
		}
		v.fenced.Add(1) // another instance moved first: make it under the lock
	}
	return v.submit(ctx, now, fn)
}

// writeReq is one call's change waiting for the store's lock. The caller
// makes its change itself, in its own goroutine, when the batcher hands it
// the transaction (with v.mu held for it), so that the call's function never
// leaves its stack: on bbolt, where the same functions run directly, they
// cost no allocation.
type writeReq struct {
	now   time.Time
	steps chan *tx      // the transaction to make the change in, now
	ran   chan struct{} // the change was made in it
	done  chan error    // the outcome: committed (nil) or failed
}

// Batching on a shared store: a change is queued, and one goroutine per
// instance (the batcher) takes the store's lock and makes the queued changes
// in order, those that arrived together in one commit (one generation), for
// up to maxRounds commits before it lets other instances have the lock. So
// the lock's round trips are shared by the callers of an instance, as
// fsyncs are on bbolt.
const (
	// batchKeys bounds the keys one commit writes (each with its copy in the
	// change log), well inside one etcd Txn (128 operations by default).
	batchKeys = 48
	// maxRounds bounds the commits made per turn of the lock.
	maxRounds = 16
	// lockWait bounds how long the batcher waits for the store's lock before
	// it goes on without it (a turn of another instance takes well under a
	// second); lockSkip is how long it then does without.
	lockWait = 3 * time.Second
	lockSkip = 15 * time.Second
	// lockProbe is how long the batcher waits for the lock before it checks
	// that the store answers at all.
	lockProbe = time.Second
)

// submit queues fn and waits until it was committed or failed. Once queued,
// the change is made even when ctx ends meanwhile, so submit waits for the
// outcome instead of reporting one it does not know.
func (v *Venue) submit(ctx context.Context, now time.Time, fn func(t *tx)) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	r := &writeReq{now: now, steps: make(chan *tx), ran: make(chan struct{}), done: make(chan error, 1)}
	v.wqMu.Lock()
	v.pending = append(v.pending, r)
	start := !v.batching
	v.batching = true
	v.wqMu.Unlock()
	if start {
		go v.batcher()
	}
	for {
		select {
		case t := <-r.steps: // again when the commit was fenced
			v.housekeep(r.now, t)
			fn(t)
			r.ran <- struct{}{}
		case err := <-r.done:
			return err
		}
	}
}

// batcher makes the queued changes until none is left.
func (v *Venue) batcher() {
	for {
		v.wqMu.Lock()
		if len(v.pending) == 0 {
			v.batching = false
			v.wqMu.Unlock()
			return
		}
		v.wqMu.Unlock()
		v.lockedTurn()
	}
}

// take removes and returns the queued changes.
func (v *Venue) take() []*writeReq {
	v.wqMu.Lock()
	defer v.wqMu.Unlock()
	q := v.pending
	v.pending = nil
	return q
}

// lockedTurn takes the store's lock and makes queued changes, up to
// maxRounds commits.
//
// The lock only keeps instances from computing changes that the fence would
// then refuse; correctness rests on the fenced commit. So when the lock does
// not come within lockWait while the store answers (a holder that died keeps
// it until its lease lapses; a lock key left behind by an acquisition that
// failed during an outage keeps it until its instance acquires again or
// stops), the turn goes on without it, and so do the turns of the next
// lockSkip.
func (v *Venue) lockedTurn() {
	unlock, err := v.lock()
	if err != nil {
		err = sibyl.WrapError(sibyl.Unavailable, fmt.Errorf("paper venue: taking the lock on %s: %w", v.opts.Store.Describe(), err), "the paper venue's shared state is unavailable; nothing was changed, retry")
		for _, r := range v.take() {
			r.done <- err
		}
		return
	}
	defer unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	var rest []*writeReq
	for round := 0; round < maxRounds; round++ {
		q := append(rest, v.take()...)
		if len(q) == 0 {
			return
		}
		// Only the first round needs to look at the store: after that this
		// instance holds the lock and its memory is what it committed (the
		// fence catches a lock lost meanwhile).
		var done []*writeReq
		var err error
		done, rest, err = v.commitRound(q, round == 0)
		for _, r := range done {
			r.done <- err
		}
	}
	if len(rest) > 0 {
		// Back to the queue's head for the next turn.
		v.wqMu.Lock()
		v.pending = append(rest, v.pending...)
		v.wqMu.Unlock()
	}
}

// lock takes the store's lock, or returns a no-op unlock when the lock is
// stuck (see lockedTurn). It fails when the store does not answer.
func (v *Venue) lock() (func(), error) {
	if time.Now().Before(v.lockSkipUntil) { // only the batcher uses it
		v.unlocked.Add(1)
		return func() {}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), lockWait)
	defer cancel()
	// Waiting for the lock does not tell a busy or stuck lock from an
	// unreachable store: when the lock is slow to come, a read of the store
	// tells, and an unavailable store ends the wait with its error.
	var probed atomic.Pointer[error]
	probe := time.AfterFunc(lockProbe, func() {
		if _, err := v.storedGen(); err != nil {
			probed.Store(&err)
			cancel()
		}
	})
	unlock, err := v.opts.Store.Lock(ctx, BucketName)
	probe.Stop()
	if err == nil {
		return unlock, nil
	}
	if p := probed.Load(); p != nil {
		return nil, *p
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	// The store answers but the lock does not come: go on without it.
	if _, err := v.storedGen(); err != nil {
		return nil, err
	}
	v.lockSkipUntil = time.Now().Add(lockSkip)
	v.unlocked.Add(1)
	return func() {}, nil
}

// commitRound runs the changes of q in order, as many as fit in one commit
// (at least one), commits them as one generation and returns the ones it
// made and the ones left for the next round, with the result of those made
// (v.mu and the store's lock held).
func (v *Venue) commitRound(q []*writeReq, look bool) (done, rest []*writeReq, err error) {
	for attempt := 1; ; attempt++ {
		if look || attempt > 1 || v.stale {
			if err := v.refresh(); err != nil {
				return q[:1], q[1:], err
			}
		}
		t := newTx()
		n := 0
		for n < len(q) {
			q[n].steps <- t
			<-q[n].ran
			n++
			if len(t.orders)+len(t.accounts)+len(t.mm) >= batchKeys {
				break
			}
		}
		done, rest = q[:n], q[n:]
		if t.empty() {
			return done, rest, nil
		}
		err := v.commitShared(t)
		if err == nil {
			return done, rest, nil
		}
		v.stale = true // memory holds changes the store may not have
		if errors.Is(err, errFenced) {
			v.fenced.Add(1)
			if attempt < maxFenced {
				time.Sleep(time.Duration(rand.Int64N(int64(attempt) * int64(time.Millisecond))))
				continue // nothing was written: make them again on the new state
			}
		}
		return done, rest, sibyl.WrapError(sibyl.Unavailable, fmt.Errorf("paper venue commit to %s: %w", v.opts.Store.Describe(), err),
			"the paper venue could not save its shared state; the change may not have been kept, retry")
	}
}

// storedGen returns the stored generation (without v.mu).
func (v *Venue) storedGen() (uint64, error) {
	var gen uint64
	err := v.opts.Store.View(func(t store.Txn) error {
		gb, err := t.Bucket(GenBucketName)
		if err != nil || gb == nil {
			return err
		}
		gen, err = decodeGen(gb.Get(genKey))
		return err
	})
	if err != nil {
		return 0, sibyl.WrapError(sibyl.Unavailable, fmt.Errorf("paper venue: reading the generation from %s: %w", v.opts.Store.Describe(), err), "the paper venue's shared state is unavailable; retry")
	}
	return gen, nil
}

// refreshTo brings the memory to the generation seen, read from the store
// since the call began, or later (v.mu held): when it is there already (this
// instance's own commits brought it there), it reads nothing more.
func (v *Venue) refreshTo(seen uint64) error {
	if !v.stale && v.gen >= seen {
		return nil
	}
	return v.refresh()
}

// refresh brings the memory to the store's latest state (v.mu held). When
// the stored generation moved, it applies the changes logged since the
// memory's generation, or reloads everything when they are no longer all
// logged (or the memory is stale).
func (v *Venue) refresh() error {
	if v.stale {
		return v.reloadShared()
	}
	var gen uint64
	var changes [][]kvPut
	full := false
	err := v.opts.Store.View(func(t store.Txn) error {
		var err error
		changes, full = nil, false
		if gen, _, err = viewGen(t); err != nil || gen == v.gen {
			return err
		}
		if gen < v.gen || gen-v.gen > logKeep {
			full = true
			return nil
		}
		gb, err := t.Bucket(GenBucketName)
		if err != nil {
			return err
		}
		for g := v.gen + 1; g <= gen; g++ {
			raw := gb.Get(logKey(g))
			if raw == nil {
				full = true
				return nil
			}
			var c []logPut
			if err := json.Unmarshal(raw, &c); err != nil {
				return fmt.Errorf("decoding the paper venue's change %d: %w", g, err)
			}
			puts := make([]kvPut, len(c))
			for i, p := range c {
				puts[i] = kvPut{p.K, p.V}
			}
			changes = append(changes, puts)
		}
		return nil
	})
	if err != nil {
		return sibyl.WrapError(sibyl.Unavailable, fmt.Errorf("paper venue: reading the generation from %s: %w", v.opts.Store.Describe(), err), "the paper venue's shared state is unavailable; retry")
	}
	if gen == v.gen {
		return nil
	}
	if full {
		return v.reloadShared()
	}
	for _, puts := range changes {
		if err := v.apply(puts); err != nil {
			// The memory may be half changed: start again from the store.
			return v.reloadShared()
		}
	}
	v.gen = gen
	v.applied.Add(uint64(len(changes)))
	if v.checkApply != nil {
		v.checkApply()
	}
	return nil
}

// reloadShared replaces the memory with the store's state (v.mu held).
func (v *Venue) reloadShared() error {
	v.reloads.Add(1)
	v.st = newState()
	if err := v.load(); err != nil {
		v.st, v.stale = newState(), true
		var ow *otherWorldError
		if errors.As(err, &ow) {
			return sibyl.WrapError(sibyl.Internal, err, "the paper venue's shared state was created with other settings than this instance's; see the server log")
		}
		return sibyl.WrapError(sibyl.Unavailable, err, "the paper venue could not load its shared state; retry")
	}
	return nil
}

// viewGen returns the stored generation and the state's bucket (nil when
// there is none yet) inside t.
func viewGen(t store.Txn) (uint64, store.Bucket, error) {
	gb, err := t.Bucket(GenBucketName)
	if err != nil {
		return 0, nil, err
	}
	var gen uint64
	if gb != nil {
		if gen, err = decodeGen(gb.Get(genKey)); err != nil {
			return 0, nil, err
		}
	}
	b, err := t.Bucket(BucketName)
	return gen, b, err
}

func decodeGen(raw []byte) (uint64, error) {
	if raw == nil {
		return 0, nil
	}
	g, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("decoding the paper venue's generation %q: %w", raw, err)
	}
	return g, nil
}

// commitShared writes t's changes with the next generation, fenced on the
// generation the memory holds (v.mu held), and waits until they are durable.
func (v *Venue) commitShared(t *tx) error {
	if !v.claimed {
		t.meta = true // the first write records the world's settings
	}
	puts, err := v.encode(t)
	if err != nil {
		return err
	}
	gen := v.gen
	next := []byte(strconv.FormatUint(gen+1, 10))
	logged := make([]logPut, len(puts))
	for i, p := range puts {
		logged[i] = logPut{p.k, p.v}
	}
	change, err := json.Marshal(logged)
	if err != nil {
		return err
	}
	err = v.opts.Store.Commit(func(tn store.Txn) error {
		gb, err := tn.Bucket(GenBucketName)
		if err != nil {
			return err
		}
		if got, err := decodeGen(gb.Get(genKey)); err != nil {
			return err
		} else if got != gen {
			return errFenced
		}
		b, err := tn.Bucket(BucketName)
		if err != nil {
			return err
		}
		for _, p := range puts {
			if err := b.Put([]byte(p.k), p.v); err != nil {
				return fmt.Errorf("writing %s: %w", p.k, err)
			}
		}
		if err := gb.Put(logKey(gen+1), change); err != nil {
			return err
		}
		if gen+1 > logKeep {
			if err := gb.Delete(logKey(gen + 1 - logKeep)); err != nil {
				return err
			}
		}
		return gb.Put(genKey, next)
	})
	if err != nil {
		return err
	}
	v.gen, v.claimed = gen+1, true
	return nil
}

// claimWorld loads the shared state (refusing settings other than the
// recorded ones) and, when no instance has recorded the world's settings
// yet, records this one's, so that a later instance with other settings is
// refused.
func (v *Venue) claimWorld() error {
	v.mu.Lock()
	err := v.load()
	claimed := v.claimed
	v.mu.Unlock()
	if err != nil || claimed {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// An empty change: commitShared writes the meta record when the world
	// is not claimed yet. A competing instance's claim makes the reload fail
	// on other settings.
	return v.runShared(ctx, v.now(), true, func(t *tx) {
		if !v.claimed {
			t.meta = true
		}
	})
}
