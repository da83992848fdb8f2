package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// idemIndex is the in-memory half of the record log (see encodeVersion): for
// each record the sequence number of its newest version, and the two lookup
// indexes derived from the newest versions. It is rebuilt from the log when
// the file is opened (loadIndex) and changed only by the group committer's
// goroutine, after a transaction has committed (apply), so a reader that looks
// a version up and then opens a read transaction finds it on disk (unless a
// later transaction deleted it meanwhile, superseded or expired; see
// Store.Record).
type idemIndex struct {
	mu         sync.RWMutex
	recs       map[string]recMeta // record id bytes -> its newest version
	fps        map[string]fpUse   // principal NUL tool NUL fingerprint -> last use
	orders     map[string]string  // principal NUL venue NUL order id -> record id bytes
	superseded int                // versions in the log that are not a record's newest
	nextSeq    uint64             // the next log sequence number
	// garbage lists versions superseded by committed and applied
	// transactions, oldest first, that are still in the log: the committer
	// deletes them at the start of its next transactions (see collectGarbage).
	// Only the committer's goroutine reads or changes it.
	garbage []uint64
}

// recMeta is what the index keeps of a record's newest version.
type recMeta struct {
	seq     uint64
	created int64 // Unix nanoseconds
	keep    bool  // keepsOrderOpen: the retention sweep must keep it
	pending bool
}

type fpUse struct {
	key  string
	time int64 // Unix nanoseconds
}

func newIdemIndex() *idemIndex {
	return &idemIndex{recs: map[string]recMeta{}, fps: map[string]fpUse{}, orders: map[string]string{}, nextSeq: 1}
}

func (x *idemIndex) lookup(id string) (recMeta, bool) {
	x.mu.RLock()
	m, ok := x.recs[id]
	x.mu.RUnlock()
	return m, ok
}

// idemDelta is one transaction's changes to the index, applied when it
// commits. A nil map value deletes the entry.
type idemDelta struct {
	recs       map[string]*recMeta
	fps        map[string]*fpUse
	orders     map[string]*string
	superseded int
	nextSeq    uint64
	garbage    []uint64 // versions this transaction superseded
	collected  int      // entries of idemIndex.garbage this transaction deleted
}

// apply makes a committed transaction's changes visible.
func (x *idemIndex) apply(d *idemDelta) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for k, m := range d.recs {
		if m == nil {
			delete(x.recs, k)
		} else {
			x.recs[k] = *m
		}
	}
	for k, u := range d.fps {
		if u == nil {
			delete(x.fps, k)
		} else {
			x.fps[k] = *u
		}
	}
	for k, id := range d.orders {
		if id == nil {
			delete(x.orders, k)
		} else {
			x.orders[k] = *id
		}
	}
	x.superseded += d.superseded
	if d.nextSeq > x.nextSeq {
		x.nextSeq = d.nextSeq
	}
	x.garbage = append(x.garbage[d.collected:], d.garbage...)
}

// garbagePerTxn bounds the superseded versions one transaction deletes, so that
// a backlog (a file opened with many) spreads over several commits.
const garbagePerTxn = 512

// collectGarbage deletes, at the start of a committer transaction, the record
// versions that earlier committed and applied transactions superseded. Their
// deletion could not go in the transaction that superseded them: a reader
// outside commits may have looked the old version up in the index before that
// transaction was applied, and must still find it when its read transaction
// begins; once the index has moved on, a reader that misses a version looks it
// up again (Store.Record). A version already gone (a sweep took it) is skipped.
// So the log holds about one version per record instead of every version
// until the next sweep.
func (t *boltTxn) collectGarbage() {
	g := t.s.idx.garbage
	if len(g) == 0 {
		return
	}
	g = g[:min(len(g), garbagePerTxn)]
	b := t.logBucket()
	deleted := 0
	for _, seq := range g {
		k := seqKey(seq)
		if b.Get(k) == nil {
			continue
		}
		if b.Delete(k) != nil {
			// Not worth failing every commit for: the version stays in the
			// file (Sweep tries it again), and the list moves on.
			continue
		}
		deleted++
	}
	d := t.idemDelta()
	d.collected = len(g)
	d.superseded -= deleted
}

// idemDelta returns the transaction's pending index changes, creating them.
func (t *boltTxn) idemDelta() *idemDelta {
	if t.idem == nil {
		t.s.idx.mu.RLock()
		next := t.s.idx.nextSeq
		t.s.idx.mu.RUnlock()
		t.idem = &idemDelta{recs: map[string]*recMeta{}, fps: map[string]*fpUse{}, orders: map[string]*string{}, nextSeq: next}
	}
	return t.idem
}

func (t *boltTxn) nextLogSeq() uint64 {
	d := t.idemDelta()
	seq := d.nextSeq
	d.nextSeq++
	return seq
}

// recMeta looks a record up, this transaction's changes first.
func (t *boltTxn) recMeta(id string) (recMeta, bool) {
	if t.idem != nil {
		if m, ok := t.idem.recs[id]; ok {
			if m == nil {
				return recMeta{}, false
			}
			return *m, true
		}
	}
	return t.s.idx.lookup(id)
}

func (t *boltTxn) fpUse(fpk string) (fpUse, bool) {
	if t.idem != nil {
		if u, ok := t.idem.fps[fpk]; ok {
			if u == nil {
				return fpUse{}, false
			}
			return *u, true
		}
	}
	t.s.idx.mu.RLock()
	u, ok := t.s.idx.fps[fpk]
	t.s.idx.mu.RUnlock()
	return u, ok
}

func (t *boltTxn) orderRecord(ok string) (string, bool) {
	if t.idem != nil {
		if id, found := t.idem.orders[ok]; found {
			if id == nil {
				return "", false
			}
			return *id, true
		}
	}
	t.s.idx.mu.RLock()
	id, found := t.s.idx.orders[ok]
	t.s.idx.mu.RUnlock()
	return id, found
}

// OpenOrder names an order whose idempotency record the retention sweep keeps
// only because the order was open when last seen (see Store.OpenOrders).
type OpenOrder struct {
	Principal string
	Venue     string
	OrderID   string
	Created   time.Time // when the record was created
}

// OpenOrders returns up to limit orders (all when limit <= 0) whose records
// were created before createdBefore and are kept by the retention sweep only
// because the order may still be open at its venue: the record is complete,
// names an order and was not marked final. Oldest first. Nothing updates such
// a record when the venue fills, expires or settles the order on its own; a
// caller that finds the order final marks it so with Txn.MarkOrderFinal, and
// the next sweep can delete it.
func (s *Bolt) OpenOrders(createdBefore time.Time, limit int) []OpenOrder {
	cut := createdBefore.UnixNano()
	x := s.idx
	x.mu.RLock()
	var out []OpenOrder
	for k, id := range x.orders {
		m, ok := x.recs[id]
		if !ok || !m.keep || m.pending || m.created >= cut {
			continue
		}
		parts := strings.SplitN(k, "\x00", 3)
		if len(parts) != 3 {
			continue
		}
		out = append(out, OpenOrder{Principal: parts[0], Venue: parts[1], OrderID: parts[2], Created: time.Unix(0, m.created).UTC()})
	}
	x.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].OrderID < out[j].OrderID
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// PendingRecords returns up to limit ids (all when limit <= 0) of tool's
// records created before createdBefore whose outcome is still unknown (state
// pending), oldest first.
func (s *Bolt) PendingRecords(tool string, createdBefore time.Time, limit int) []RecordID {
	cut := createdBefore.UnixNano()
	type found struct {
		id      RecordID
		created int64
	}
	var fs []found
	x := s.idx
	x.mu.RLock()
	for k, m := range x.recs {
		if !m.pending || m.created >= cut {
			continue
		}
		if id, err := parseRecordID([]byte(k)); err == nil && id.Tool == tool {
			fs = append(fs, found{id, m.created})
		}
	}
	x.mu.RUnlock()
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].created != fs[j].created {
			return fs[i].created < fs[j].created
		}
		return fs[i].id.Key < fs[j].id.Key
	})
	if limit > 0 && len(fs) > limit {
		fs = fs[:limit]
	}
	ids := make([]RecordID, len(fs))
	for i, f := range fs {
		ids[i] = f.id
	}
	return ids
}

// forgetRecord drops rec (being deleted from the log) from the indexes. It
// reports whether a duplicate-detection entry went with it.
func (t *boltTxn) forgetRecord(rec Record) (droppedFP bool) {
	d := t.idemDelta()
	id := string(rec.ID.bytes())
	d.recs[id] = nil
	fpk := string(joinKey(rec.ID.Principal, rec.ID.Tool, rec.Fingerprint))
	if u, ok := t.fpUse(fpk); ok && u.key == rec.ID.Key {
		d.fps[fpk] = nil
		droppedFP = true
	}
	if rec.OrderID != "" {
		ok := string(joinKey(rec.ID.Principal, rec.Venue, rec.OrderID))
		if cur, found := t.orderRecord(ok); found && cur == id {
			d.orders[ok] = nil
		}
	}
	return droppedFP
}

// loadIndex rebuilds the index from the record log: a first pass finds each
// record's newest version, a second decodes those.
func loadIndex(tx *bolt.Tx) (*idemIndex, error) {
	x := newIdemIndex()
	b := tx.Bucket([]byte(bucketIdemLog))
	newest := map[string]uint64{}
	total := 0
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			return nil, fmt.Errorf("record log: malformed key %x", k)
		}
		idb, _, _, err := splitVersion(v)
		if err != nil {
			return nil, fmt.Errorf("record log entry %d: %w", binary.BigEndian.Uint64(k), err)
		}
		seq := binary.BigEndian.Uint64(k)
		if old, ok := newest[string(idb)]; ok {
			x.garbage = append(x.garbage, old)
		}
		newest[string(idb)] = seq
		total++
		x.nextSeq = seq + 1
	}
	x.recs = make(map[string]recMeta, len(newest))
	for id, seq := range newest {
		idb, recJSON, _, err := splitVersion(b.Get(seqKey(seq)))
		if err != nil {
			return nil, fmt.Errorf("record log entry %d: %w", seq, err)
		}
		rid, err := parseRecordID(idb)
		if err != nil {
			return nil, fmt.Errorf("record log entry %d: %w", seq, err)
		}
		// Only what the indexes need: decoding the whole Record would allocate
		// the rest for nothing.
		var rec struct {
			State       RecordState `json:"state"`
			Fingerprint string      `json:"fingerprint"`
			Venue       string      `json:"venue"`
			Created     time.Time   `json:"created"`
			OrderID     string      `json:"order_id"`
			OrderFinal  bool        `json:"order_final"`
			DupIndexed  bool        `json:"dup_indexed"`
		}
		if err := json.Unmarshal(recJSON, &rec); err != nil {
			return nil, fmt.Errorf("record log entry %d: decoding idempotency record: %w", seq, err)
		}
		created := rec.Created.UnixNano()
		keep := Record{State: rec.State, OrderID: rec.OrderID, OrderFinal: rec.OrderFinal}.keepsOrderOpen()
		x.recs[id] = recMeta{seq: seq, created: created, keep: keep, pending: rec.State == Pending}
		if rec.DupIndexed {
			fpk := string(joinKey(rid.Principal, rid.Tool, rec.Fingerprint))
			if u, ok := x.fps[fpk]; !ok || u.time < created {
				x.fps[fpk] = fpUse{key: rid.Key, time: created}
			}
		}
		if rec.OrderID != "" {
			x.orders[string(joinKey(rid.Principal, rec.Venue, rec.OrderID))] = id
		}
	}
	x.superseded = total - len(x.recs)
	return x, nil
}

// Buckets of the first layout, in which every record was rewritten in place
// under its id; migrateRecordsV1 moves their records into the log.
const (
	bucketIdemV1       = "idem"        // record id -> Record JSON
	bucketIdemResultV1 = "idem_result" // record id -> result
	bucketIdemFPV1     = "idem_fp"     // principal NUL tool NUL fingerprint -> 8-byte Unix ns + key
	bucketIdemOrderV1  = "idem_order"  // principal NUL venue NUL order id -> record id
)

// migrateRecordsV1 appends the records of a file written by the first layout
// to the record log, oldest first, and deletes the old buckets, in the
// caller's transaction. It returns how many records moved.
func migrateRecordsV1(tx *bolt.Tx) (int, error) {
	old := tx.Bucket([]byte(bucketIdemV1))
	if old == nil {
		return 0, nil
	}
	results := tx.Bucket([]byte(bucketIdemResultV1))
	fps := tx.Bucket([]byte(bucketIdemFPV1))
	var recs []Record
	err := old.ForEach(func(k, v []byte) error {
		id, err := parseRecordID(k)
		if err != nil {
			return err
		}
		var rec Record
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("decoding idempotency record %q: %w", k, err)
		}
		rec.ID = id
		if results != nil {
			if r := results.Get(k); r != nil {
				rec.Result = bytes.Clone(r)
			}
		}
		if fps != nil {
			// The old index named the last key a fingerprint was used under.
			u := fps.Get(joinKey(id.Principal, id.Tool, rec.Fingerprint))
			rec.DupIndexed = len(u) >= 8 && string(u[8:]) == id.Key
		}
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("migrating idempotency records: %w", err)
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Created.Before(recs[j].Created) })
	log := tx.Bucket([]byte(bucketIdemLog))
	log.FillPercent = 1
	seq, _ := log.Cursor().Last()
	next := uint64(1)
	if seq != nil {
		next = binary.BigEndian.Uint64(seq) + 1
	}
	for _, rec := range recs {
		recJSON, err := json.Marshal(rec)
		if err != nil {
			return 0, err
		}
		if err := log.Put(seqKey(next), encodeVersion(rec.ID.bytes(), recJSON, rec.Result)); err != nil {
			return 0, err
		}
		next++
	}
	for _, name := range []string{bucketIdemV1, bucketIdemResultV1, bucketIdemFPV1, bucketIdemOrderV1} {
		if tx.Bucket([]byte(name)) != nil {
			if err := tx.DeleteBucket([]byte(name)); err != nil {
				return 0, fmt.Errorf("deleting old bucket %s: %w", name, err)
			}
		}
	}
	return len(recs), nil
}
