package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
	bolt "go.etcd.io/bbolt"
)

// RecordState is where an idempotency record is in the claim/send/complete
// protocol.
type RecordState string

// Record states.
const (
	// Pending: claimed; the venue call is running, or its outcome is unknown.
	Pending RecordState = "pending"
	// Done: the outcome is known and stored; later calls replay it.
	Done RecordState = "done"
)

// RecordID names an idempotency record: the key is scoped by who called and
// which tool.
type RecordID struct {
	Principal string
	Tool      string
	Key       string
}

func (id RecordID) bytes() []byte { return joinKey(id.Principal, id.Tool, id.Key) }

func (id RecordID) valid() error {
	for _, s := range []string{id.Principal, id.Tool, id.Key} {
		if s == "" || strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("store: record id %q/%q/%q: parts must be non-empty and free of NUL", id.Principal, id.Tool, id.Key)
		}
	}
	return nil
}

// joinKey joins parts with NUL separators. Callers make sure parts hold no NUL.
func joinKey(parts ...string) []byte {
	return []byte(strings.Join(parts, "\x00"))
}

// RecordError is a stored deterministic failure, replayed as the same error.
type RecordError struct {
	Code    sibyl.Code `json:"code"`
	Message string     `json:"message"`
	Field   string     `json:"field,omitempty"`
}

// Err returns the failure as a *sibyl.Error.
func (e *RecordError) Err() *sibyl.Error {
	return &sibyl.Error{Code: e.Code, Message: e.Message, Field: e.Field}
}

// Record is one idempotency record.
type Record struct {
	ID            RecordID        `json:"-"`
	State         RecordState     `json:"state"`
	Fingerprint   string          `json:"fingerprint"`
	ClientOrderID string          `json:"client_order_id"`
	Venue         string          `json:"venue,omitempty"`
	Owner         string          `json:"owner"`
	Attempt       int             `json:"attempt"` // incremented by every claim or recovery: a fencing token
	LeaseUntil    time.Time       `json:"lease_until"`
	Created       time.Time       `json:"created"`
	Updated       time.Time       `json:"updated"`
	Result        json.RawMessage `json:"-"` // stored beside the record, in its own bucket, as raw bytes
	Error         *RecordError    `json:"error,omitempty"`
	OrderID       string          `json:"order_id,omitempty"`
	OrderFinal    bool            `json:"order_final"`
}

// keepsOrderOpen reports whether the record must outlive the retention window:
// its order may still trade, or its outcome is unknown (so the order may exist).
func (r *Record) keepsOrderOpen() bool {
	if r.State == Pending {
		return true
	}
	return r.OrderID != "" && !r.OrderFinal
}

// FingerprintUse is the duplicate-detection index entry: the last key under which
// a principal sent a given fingerprint to a tool, and when.
type FingerprintUse struct {
	Key  string    `json:"key"`
	Time time.Time `json:"time"`
}

func (t *Txn) bucket(name string) *bolt.Bucket { return t.tx.Bucket([]byte(name)) }

// Record returns the record with the given id. ok is false when there is none.
func (t *Txn) Record(id RecordID) (rec Record, ok bool, err error) {
	if err := id.valid(); err != nil {
		return Record{}, false, err
	}
	v := t.bucket(bucketIdem).Get(id.bytes())
	if v == nil {
		return Record{}, false, nil
	}
	if err := json.Unmarshal(v, &rec); err != nil { // Unmarshal copies what it keeps
		return Record{}, false, fmt.Errorf("decoding idempotency record: %w", err)
	}
	rec.ID = id
	if r := t.bucket(bucketIdemResult).Get(id.bytes()); r != nil {
		rec.Result = bytes.Clone(r)
	}
	return rec, true, nil
}

// PutRecord writes rec under rec.ID.
func (t *Txn) PutRecord(rec Record) error {
	if err := rec.ID.valid(); err != nil {
		return err
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding idempotency record: %w", err)
	}
	k := rec.ID.bytes()
	if err := t.bucket(bucketIdem).Put(k, v); err != nil {
		return err
	}
	// The result (an order as JSON, the bulk of a record) is kept as raw bytes
	// so that the many record rewrites do not re-encode it.
	rb := t.bucket(bucketIdemResult)
	if len(rec.Result) == 0 {
		return rb.Delete(k)
	}
	return rb.Put(k, rec.Result)
}

// FingerprintUse returns the last use of fingerprint by principal on tool.
func (t *Txn) FingerprintUse(principal, tool, fingerprint string) (FingerprintUse, bool, error) {
	v := t.bucket(bucketIdemFP).Get(joinKey(principal, tool, fingerprint))
	if v == nil {
		return FingerprintUse{}, false, nil
	}
	u, err := decodeFingerprintUse(v)
	if err != nil {
		return FingerprintUse{}, false, err
	}
	return u, true, nil
}

// Fingerprint index values are 8 bytes of big-endian Unix nanoseconds followed
// by the key: cheap to write in the claim transaction.
func encodeFingerprintUse(u FingerprintUse) []byte {
	v := make([]byte, 8, 8+len(u.Key))
	binary.BigEndian.PutUint64(v, uint64(u.Time.UnixNano()))
	return append(v, u.Key...)
}

func decodeFingerprintUse(v []byte) (FingerprintUse, error) {
	if len(v) < 8 {
		return FingerprintUse{}, fmt.Errorf("decoding fingerprint index: %d bytes", len(v))
	}
	return FingerprintUse{Key: string(v[8:]), Time: time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()}, nil
}

// PutFingerprintUse records that principal sent fingerprint to tool under u.Key.
func (t *Txn) PutFingerprintUse(principal, tool, fingerprint string, u FingerprintUse) error {
	return t.bucket(bucketIdemFP).Put(joinKey(principal, tool, fingerprint), encodeFingerprintUse(u))
}

// IndexOrder remembers that the venue order orderID of principal was opened by
// the record id, so that MarkOrderFinal can find the record later.
func (t *Txn) IndexOrder(principal, venue, orderID string, id RecordID) error {
	return t.bucket(bucketIdemOrder).Put(joinKey(principal, venue, orderID), id.bytes())
}

// MarkOrderFinal sets OrderFinal on the record that opened principal's order
// orderID at venue (see IndexOrder), so the retention sweep may drop it. It
// reports whether such a record exists.
func (t *Txn) MarkOrderFinal(principal, venue, orderID string, now time.Time) (bool, error) {
	idKey := t.bucket(bucketIdemOrder).Get(joinKey(principal, venue, orderID))
	if idKey == nil {
		return false, nil
	}
	b := t.bucket(bucketIdem)
	v := b.Get(idKey)
	if v == nil {
		return false, nil
	}
	var rec Record
	if err := json.Unmarshal(v, &rec); err != nil {
		return false, fmt.Errorf("decoding idempotency record: %w", err)
	}
	if rec.OrderFinal {
		return true, nil
	}
	rec.OrderFinal = true
	rec.Updated = now
	nv, err := json.Marshal(rec)
	if err != nil {
		return false, err
	}
	return true, b.Put(bytes.Clone(idKey), nv)
}

// Record returns the record with the given id, read outside any Commit. ok is
// false when there is none.
func (s *Store) Record(id RecordID) (rec Record, ok bool, err error) {
	err = s.View(func(t *Txn) error {
		rec, ok, err = t.Record(id)
		return err
	})
	return rec, ok, err
}

// SweepResult counts what Sweep did.
type SweepResult struct {
	Deleted     int // records removed
	KeptOpen    int // old records kept because their order is still open
	KeptPending int // old records kept because their outcome is unknown
	Index       int // duplicate-detection index entries removed
}

// Sweep deletes idempotency records created before cutoff, unless their order
// may still be open (OrderID set and not OrderFinal) or their outcome is unknown
// (Pending): those stay until a cancel, a reconcile or a status check marks them
// final. It also drops duplicate-detection index entries older than cutoff. It
// works in transactions of at most 1000 deletions.
func (s *Store) Sweep(cutoff time.Time) (SweepResult, error) {
	var total SweepResult
	var start []byte
	for {
		var res SweepResult
		var next []byte
		err := s.db.Update(func(tx *bolt.Tx) error {
			res, next = SweepResult{}, nil
			b := tx.Bucket([]byte(bucketIdem))
			ob := tx.Bucket([]byte(bucketIdemOrder))
			rb := tx.Bucket([]byte(bucketIdemResult))
			c := b.Cursor()
			var k, v []byte
			if start == nil {
				k, v = c.First()
			} else {
				k, v = c.Seek(start)
			}
			var del [][]byte
			for ; k != nil; k, v = c.Next() {
				if len(del) >= 1000 {
					next = bytes.Clone(k)
					break
				}
				var rec Record
				if err := json.Unmarshal(v, &rec); err != nil {
					return fmt.Errorf("decoding idempotency record %q: %w", k, err)
				}
				if !rec.Created.Before(cutoff) {
					continue
				}
				if rec.keepsOrderOpen() {
					if rec.State == Pending {
						res.KeptPending++
					} else {
						res.KeptOpen++
					}
					continue
				}
				del = append(del, bytes.Clone(k))
				if parts := strings.SplitN(string(k), "\x00", 3); rec.OrderID != "" && len(parts) == 3 {
					if ok := joinKey(parts[0], rec.Venue, rec.OrderID); bytes.Equal(ob.Get(ok), k) {
						del = append(del, nil, ok) // nil marks: the next key is in the order index
					}
				}
			}
			// Delete after iterating: deleting under a bbolt cursor can skip keys.
			for i := 0; i < len(del); i++ {
				if del[i] == nil {
					i++
					if err := ob.Delete(del[i]); err != nil {
						return err
					}
					continue
				}
				if err := b.Delete(del[i]); err != nil {
					return err
				}
				if err := rb.Delete(del[i]); err != nil {
					return err
				}
				res.Deleted++
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("sweeping idempotency records: %w", err)
		}
		total.Deleted += res.Deleted
		total.KeptOpen += res.KeptOpen
		total.KeptPending += res.KeptPending
		if next == nil {
			break
		}
		start = next
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		total.Index = 0
		b := tx.Bucket([]byte(bucketIdemFP))
		var del [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if u, err := decodeFingerprintUse(v); err != nil || u.Time.Before(cutoff) {
				del = append(del, bytes.Clone(k))
			}
		}
		for _, k := range del {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		total.Index = len(del)
		return nil
	})
	if err != nil {
		return total, fmt.Errorf("sweeping fingerprint index: %w", err)
	}
	return total, nil
}

// SweeperOptions configures a Sweeper.
type SweeperOptions struct {
	Retention time.Duration            // records older than this are swept (default 24h)
	Interval  time.Duration            // how often (default 10 minutes)
	Now       func() time.Time         // default time.Now
	OnSweep   func(SweepResult, error) // optional: called after each sweep, for logging
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
func (s *Store) StartSweeper(opts SweeperOptions) *Sweeper {
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
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				res, err := s.Sweep(opts.Now().Add(-opts.Retention))
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

// DeleteFingerprintUse removes the duplicate-detection entry of fingerprint if
// it still names key (a later key's entry is left alone).
func (t *Txn) DeleteFingerprintUse(principal, tool, fingerprint, key string) error {
	u, ok, err := t.FingerprintUse(principal, tool, fingerprint)
	if err != nil || !ok || u.Key != key {
		return err
	}
	return t.bucket(bucketIdemFP).Delete(joinKey(principal, tool, fingerprint))
}
