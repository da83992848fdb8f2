package paper

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

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
}

type mmRecord struct {
	Bucket int64         `json:"bucket"`
	Sync   int64         `json:"sync,omitempty"` // last bucket resting orders were matched in
	Bids   map[int]int64 `json:"bids,omitempty"`
	Asks   map[int]int64 `json:"asks,omitempty"`
}

// commit makes what t changed durable before the call returns. It must be
// called with v.mu held; it releases v.mu while it waits for the disk and takes
// it again, so other calls can run meanwhile and share the next fsync (group
// commit: every change queued while one transaction is being written goes
// into the next one, in order).
//
// When a write fails, the in-memory state is reloaded from the file, so memory
// never runs ahead of disk, and every call whose change was lost gets an
// Unavailable error: its order may not exist (OrderByClientID tells).
func (v *Venue) commit(t *tx) error {
	if v.opts.Store == nil || t.empty() {
		return nil
	}
	done, err := v.enqueue(t)
	if err != nil {
		return err
	}
	v.mu.Unlock()
	err = <-done
	v.mu.Lock()
	return err
}

type kvPut struct {
	k string
	v []byte
}

// committer batches the encoded changes of concurrent calls into shared
// store transactions. One flushing goroutine runs while there is work.
type committer struct {
	mu      sync.Mutex
	puts    []kvPut
	waiters []chan error
	running bool
}

// enqueue encodes t's changes (under v.mu, so they are a consistent snapshot)
// and queues them; the returned channel receives the commit's result.
func (v *Venue) enqueue(t *tx) (chan error, error) {
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
		if err := put("o/"+o.ID, o); err != nil {
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
		if err := put("meta", metaRecord{Seed: v.opts.Seed, OrderSeq: v.st.orderSeq, FillSeq: v.st.fillSeq}); err != nil {
			return nil, err
		}
	}
	done := make(chan error, 1)
	c := &v.cq
	c.mu.Lock()
	c.puts = append(c.puts, puts...)
	c.waiters = append(c.waiters, done)
	if !c.running {
		c.running = true
		go v.flush()
	}
	c.mu.Unlock()
	return done, nil
}

// flush writes queued changes until the queue is empty.
func (v *Venue) flush() {
	c := &v.cq
	for {
		c.mu.Lock()
		puts, waiters := c.puts, c.waiters
		c.puts, c.waiters = nil, nil
		if len(waiters) == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		err := v.opts.Store.UpdateBucket(BucketName, func(b *store.Bucket) error {
			for _, p := range puts {
				if err := b.Put([]byte(p.k), p.v); err != nil {
					return fmt.Errorf("writing %s: %w", p.k, err)
				}
			}
			return nil
		})
		if err != nil {
			// Memory is ahead of disk for this batch and everything queued
			// after it: reload, and fail them all.
			v.mu.Lock()
			v.st = newState()
			if lerr := v.load(); lerr != nil {
				err = fmt.Errorf("%w (and reloading failed: %v)", err, lerr)
			}
			c.mu.Lock()
			waiters = append(waiters, c.waiters...)
			c.puts, c.waiters = nil, nil
			c.mu.Unlock()
			v.mu.Unlock()
			err = sibyl.WrapError(sibyl.Unavailable, fmt.Errorf("paper venue commit: %w", err), "the paper venue could not save its state; the change was not kept, retry")
		}
		for _, w := range waiters {
			w <- err
		}
	}
}

// load rebuilds the trading state from the store.
func (v *Venue) load() error {
	st := newState()
	var meta *metaRecord
	var orders []*order
	mms := map[string]mmRecord{}
	err := v.opts.Store.ViewBucket(BucketName, func(b *store.Bucket) error {
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
	})
	if err != nil {
		return fmt.Errorf("loading paper state from %s: %w", v.opts.Store.Path(), err)
	}
	if meta != nil && meta.Seed != v.opts.Seed {
		return fmt.Errorf("paper state in %s was created with seed %d, not %d: open it with the same seed or use another data file", v.opts.Store.Path(), meta.Seed, v.opts.Seed)
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
		st.orders[o.ID] = o
		if o.ClientOrderID != "" {
			st.byClient[o.Principal+"\x00"+o.ClientOrderID] = o
		}
		a := st.accounts[o.Principal]
		if a == nil {
			a = v.account(o.Principal, nil)
		}
		a.orders = append(a.orders, o)
		if !o.Status.Final() {
			def, ok := v.defByID(o.Native)
			if !ok {
				return fmt.Errorf("loading paper state: order %s names unknown market %s", o.ID, o.Native)
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
	return nil
}

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeCursor(s string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", false
	}
	return string(b), true
}
