package paper

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

// BucketName is the bbolt bucket holding the paper venue's trading state. Keys:
// "meta" (seed and id counters), "o/<order id>" (orders with their fills),
// "a/<principal>" (cash and positions), "m/<market>" (the market makers'
// consumed liquidity in the current refresh bucket).
const BucketName = "paper_venue"

type metaRecord struct {
	Seed     int64  `json:"seed"`
	OrderSeq uint64 `json:"order_seq"`
	FillSeq  uint64 `json:"fill_seq"`
	// World is the simulation's settings that every instance sharing the
	// store must agree on; written only by shared venues (see shared.go).
	World *worldRecord `json:"world,omitempty"`
}

type mmRecord struct {
	Bucket int64         `json:"bucket"`
	Sync   int64         `json:"sync,omitempty"` // last bucket resting orders were matched in
	Bids   map[int]int64 `json:"bids,omitempty"`
	Asks   map[int]int64 `json:"asks,omitempty"`
}

// begin starts a call at now: it takes v.mu, reloads the trading state if a
// write failed since it was loaded, applies the closings and settlements due
// by now, and returns the transaction that collects the call's changes. The
// call ends with commitAndUnlock.
func (v *Venue) begin(now time.Time) *tx {
	v.mu.Lock()
	// Best effort: when reloading fails, the state stays stale and every
	// write is refused (see commitAndUnlock) until a reload succeeds.
	_ = v.reload()
	t := newTx()
	v.housekeep(now, t)
	return t
}

// commitAndUnlock makes what t changed durable before the call returns, and
// releases v.mu. It must be called with v.mu held; it queues t's changes to
// the store's group committer (in v.mu order, so transactions commit in the
// order the state changed) and releases v.mu before it waits for the disk,
// so other calls can run meanwhile and share the fsync.
//
// When a write fails, the in-memory state is reloaded from the file, so memory
// never runs ahead of disk, and every call whose change was lost gets an
// Unavailable error: its order may not exist (OrderByClientID tells). Writes
// queued after a failed one are not made (their epoch is stale): they were
// computed from the lost change. Until a reload succeeds, every write is
// refused: the state it was computed from is not the file's.
func (v *Venue) commitAndUnlock(t *tx) error {
	if v.opts.Store == nil || t.empty() {
		v.mu.Unlock()
		return nil
	}
	if v.epoch.Load() != v.loaded {
		// An earlier write failed and this change was made on state that may
		// include it: drop it with the rest.
		defer v.mu.Unlock()
		return v.lost(errors.New("an earlier write failed"))
	}
	done, err := v.enqueue(t)
	v.mu.Unlock()
	if err != nil {
		return err // encoding failed; nothing was queued
	}
	if err := <-done; err != nil {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.lost(err)
	}
	return nil
}

// lost reloads the trading state from the file after a failed write (v.mu
// held) and returns the Unavailable error for a call whose change was lost.
func (v *Venue) lost(cause error) error {
	if err := v.reload(); err != nil {
		cause = fmt.Errorf("%w (and reloading failed: %v)", cause, err)
	}
	return sibyl.WrapError(sibyl.Unavailable, fmt.Errorf("paper venue commit: %w", cause), "the paper venue could not save its state; the change was not kept, retry")
}

// reload replaces the trading state with the file's when a write failed since
// it was loaded (v.mu held). When loading fails, the state is left empty and
// still stale, so no write is made from it and the next call tries again.
func (v *Venue) reload() error {
	e := v.epoch.Load()
	if e == v.loaded {
		return nil
	}
	v.st = newState()
	if err := v.load(); err != nil {
		v.st = newState()
		return err
	}
	v.loaded = e
	return nil
}

type kvPut struct {
	k string
	v []byte
}

// errStale fails a queued write made after an earlier write failed.
var errStale = errors.New("paper venue: an earlier write failed; this change was made on state that was not kept")

// encode returns t's changes as the keys and values to write (v.mu held, so
// they are a consistent snapshot).
func (v *Venue) encode(t *tx) ([]kvPut, error) {
	var puts []kvPut
	put := func(k string, val any) error {
		raw, err := json.Marshal(val)
		if err != nil {
			return sibyl.WrapError(sibyl.Internal, fmt.Errorf("encoding %s: %w", k, err), "the paper venue could not encode its state")
		}
		puts = append(puts, kvPut{k, raw})
		return nil
	}
	for o := range t.orders {
		if err := put("o/"+o.NativeID, o); err != nil {
			return nil, err
		}
	}
	for a := range t.accounts {
		if err := put("a/"+a.Principal, a); err != nil {
			return nil, err
		}
	}
	for ms := range t.mm {
		r := mmRecord{Bucket: ms.bucket, Sync: ms.syncBucket, Bids: map[int]int64{}, Asks: map[int]int64{}}
		for tk := 1; tk < ticks; tk++ {
			if n := ms.used[0][tk]; n > 0 {
				r.Bids[tk] = n
			}
			if n := ms.used[1][tk]; n > 0 {
				r.Asks[tk] = n
			}
		}
		if err := put("m/"+ms.def.id, r); err != nil {
			return nil, err
		}
	}
	if t.meta {
		if err := put("meta", metaRecord{Seed: v.opts.Seed, OrderSeq: v.st.orderSeq, FillSeq: v.st.fillSeq, World: v.world}); err != nil {
			return nil, err
		}
	}
	return puts, nil
}

// enqueue encodes t's changes (under v.mu, so they are a consistent snapshot)
// and queues them to the store's group committer; the returned channel
// receives the commit's result. A failed write bumps v.epoch, so that the
// writes queued after it fail too and the state is reloaded.
func (v *Venue) enqueue(t *tx) (chan error, error) {
	puts, err := v.encode(t)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	e := v.loaded
	write := func(b store.Bucket) error {
		if v.epoch.Load() != e {
			return errStale
		}
		b.PackPages() // orders are keyed by ascending id
		for _, p := range puts {
			if err := b.Put([]byte(p.k), p.v); err != nil {
				return fmt.Errorf("writing %s: %w", p.k, err)
			}
		}
		return nil
	}
	// reply runs on the committer's goroutine, after the transaction and all
	// earlier ones are on disk (or failed).
	reply := func(err error) {
		if err != nil {
			v.epoch.CompareAndSwap(e, e+1)
		}
		done <- err
	}
	if err := v.opts.Store.CommitBucketAsync(BucketName, write, reply); err != nil {
		reply(err) // not queued (the store is closed)
	}
	return done, nil
}

// load rebuilds the trading state from the store.
func (v *Venue) load() error {
	st := newState()
	var meta *metaRecord
	var orders []*order
	mms := map[string]mmRecord{}
	read := func(b store.Bucket) error {
		if raw := b.Get([]byte("meta")); raw != nil {
			meta = &metaRecord{}
			if err := json.Unmarshal(raw, meta); err != nil {
				return fmt.Errorf("decoding meta: %w", err)
			}
		}
		if err := b.ForEachPrefix([]byte("a/"), func(k, val []byte) error {
			a := &account{}
			if err := json.Unmarshal(val, a); err != nil {
				return fmt.Errorf("decoding %s: %w", k, err)
			}
			if a.Positions == nil {
				a.Positions = map[string]*position{}
			}
			a.open = map[string]*order{}
			st.accounts[a.Principal] = a
			return nil
		}); err != nil {
			return err
		}
		if err := b.ForEachPrefix([]byte("o/"), func(k, val []byte) error {
			o := &order{}
			if err := json.Unmarshal(val, o); err != nil {
				return fmt.Errorf("decoding %s: %w", k, err)
			}
			orders = append(orders, o)
			return nil
		}); err != nil {
			return err
		}
		return b.ForEachPrefix([]byte("m/"), func(k, val []byte) error {
			var r mmRecord
			if err := json.Unmarshal(val, &r); err != nil {
				return fmt.Errorf("decoding %s: %w", k, err)
			}
			mms[strings.TrimPrefix(string(k), "m/")] = r
			return nil
		})
	}
	var gen uint64
	var err error
	if v.shared {
		// One snapshot of the state and its generation (see shared.go).
		err = v.opts.Store.View(func(t store.Txn) error {
			var b store.Bucket
			gen, b, err = viewGen(t)
			if err != nil || b == nil {
				return err
			}
			return read(b)
		})
	} else {
		err = v.opts.Store.ViewBucket(BucketName, read)
	}
	if err != nil {
		return fmt.Errorf("loading paper state from %s: %w", v.opts.Store.Describe(), err)
	}
	if meta != nil && meta.Seed != v.opts.Seed {
		if v.shared {
			return &otherWorldError{fmt.Sprintf("paper state in %s was created with seed %d, not %d: every instance sharing it must run with the same --seed (a paper world with another seed needs a store of its own: another --etcd-prefix)", v.opts.Store.Describe(), meta.Seed, v.opts.Seed)}
		}
		return &otherWorldError{fmt.Sprintf("paper state in %s was created with seed %d, not %d: open it with the same seed or use another data file", v.opts.Store.Describe(), meta.Seed, v.opts.Seed)}
	}
	if meta != nil && meta.World != nil && v.world != nil && *meta.World != *v.world {
		return &otherWorldError{fmt.Sprintf("paper state in %s was created with %s; this instance has %s: every instance sharing it must run the paper venue with the same settings (a paper world with other settings needs a store of its own: another --etcd-prefix, or another data file on bbolt)", v.opts.Store.Describe(), meta.World, v.world)}
	}
	v.st = st
	if meta != nil {
		st.orderSeq, st.fillSeq = meta.OrderSeq, meta.FillSeq
	}
	sort.Slice(orders, func(i, j int) bool { return orders[i].Seq < orders[j].Seq })
	for _, o := range orders {
		if o.Fills == nil {
			o.Fills = []sibyl.Fill{}
		}
		st.add(o, v.account(o.Principal, nil))
		if !o.Status.Final() {
			def, ok := v.defByID(o.Native)
			if !ok {
				return fmt.Errorf("loading paper state: order %s names unknown market %s", o.NativeID, o.Native)
			}
			v.book(v.market(def, true), o)
		}
	}
	for _, a := range st.accounts {
		for _, p := range a.Positions {
			if p.Settled {
				continue
			}
			def, ok := v.defByID(p.Market)
			if !ok {
				return fmt.Errorf("loading paper state: position of %s names unknown market %s", a.Principal, p.Market)
			}
			v.market(def, true).holders[a.Principal] = struct{}{}
		}
	}
	cur, _ := v.bucketOf(v.now())
	for id, r := range mms {
		ms := st.markets[id]
		if ms != nil && ms.synced && r.Sync > ms.syncBucket {
			ms.syncBucket = r.Sync // buckets up to r.Sync were already replayed
		}
		if r.Bucket != cur {
			continue
		}
		def, ok := v.defByID(id)
		if !ok {
			continue
		}
		ms = v.market(def, true)
		ms.bucket = r.Bucket
		for tk, n := range r.Bids {
			if tk > 0 && tk < ticks {
				ms.used[0][tk] = n
			}
		}
		for tk, n := range r.Asks {
			if tk > 0 && tk < ticks {
				ms.used[1][tk] = n
			}
		}
	}
	v.gen, v.stale = gen, false
	v.claimed = meta != nil && meta.World != nil
	return nil
}

// otherWorldError refuses stored state made with other world settings.
type otherWorldError struct{ msg string }

func (e *otherWorldError) Error() string { return e.msg }

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeCursor(s string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", false
	}
	return string(b), true
}
