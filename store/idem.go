package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

// parseRecordID is the inverse of RecordID.bytes.
func parseRecordID(b []byte) (RecordID, error) {
	parts := strings.SplitN(string(b), "\x00", 3)
	if len(parts) != 3 {
		return RecordID{}, fmt.Errorf("store: malformed record id %q", b)
	}
	id := RecordID{Principal: parts[0], Tool: parts[1], Key: parts[2]}
	return id, id.valid()
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
	Result        json.RawMessage `json:"-"` // stored after the record's JSON, as raw bytes
	Error         *RecordError    `json:"error,omitempty"`
	// OrderID is the venue order this record opened, if any. Setting it lists the
	// record in the order index, which MarkOrderFinal reads.
	OrderID    string `json:"order_id,omitempty"`
	OrderFinal bool   `json:"order_final"`
	// DupIndexed lists the record in the duplicate-detection index under its
	// Fingerprint (see FingerprintUse), as the last use of that fingerprint by
	// its principal on its tool, at Created.
	DupIndexed bool `json:"dup_indexed,omitempty"`
	// NativeMarketID is the order's market (the venue's native id), for the
	// venue lookup hint (sibyl.LookupHint) when the outcome is unknown.
	NativeMarketID string `json:"native_market_id,omitempty"`
	// Prepared is the prepared order of a sibyl.Preparer venue, stored in the
	// claim before the first send: every send and resend uses these bytes.
	Prepared *sibyl.PreparedOrder `json:"prepared,omitempty"`
}

// LookupHint returns what the record knows for a venue lookup by client
// order id: the market, the claim's time (Created) and the prepared order.
func (r Record) LookupHint() sibyl.LookupHint {
	return sibyl.LookupHint{NativeMarketID: r.NativeMarketID, ClaimedAt: r.Created, Prepared: r.Prepared}
}

// keepsOrderOpen reports whether the record must outlive the retention window:
// its order may still trade, or its outcome is unknown (so the order may exist).
func (r Record) keepsOrderOpen() bool {
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

// The idempotency records live in one append-only bucket, the record log:
// keys are 8-byte big-endian log sequence numbers, values one version of one
// record (see encodeVersion). PutRecord appends a new version instead of
// rewriting the old one, so a transaction dirties the log's last pages rather
// than one random page per record: random-key B-tree writes were most of the
// pages, and so of the commit time, of an order (see BENCHMARKS.md). Which
// version is a record's newest, the duplicate-detection index and the order
// index are kept in memory (idemIndex), rebuilt from the log when the file is
// opened; superseded versions are deleted by the committer's next transaction
// (Txn.collectGarbage), or by Sweep.

// encodeVersion lays out one version: uvarint len(id) | id | uvarint len(json)
// | record JSON | result bytes.
func encodeVersion(id []byte, recJSON, result []byte) []byte {
	v := make([]byte, 0, 2*binary.MaxVarintLen32+len(id)+len(recJSON)+len(result))
	v = binary.AppendUvarint(v, uint64(len(id)))
	v = append(v, id...)
	v = binary.AppendUvarint(v, uint64(len(recJSON)))
	v = append(v, recJSON...)
	return append(v, result...)
}

// splitVersion is the inverse of encodeVersion. The slices alias v.
func splitVersion(v []byte) (id, recJSON, result []byte, err error) {
	n, w := binary.Uvarint(v)
	if w <= 0 || n > uint64(len(v)-w) {
		return nil, nil, nil, errors.New("store: malformed record version (id length)")
	}
	id, v = v[w:w+int(n)], v[w+int(n):]
	n, w = binary.Uvarint(v)
	if w <= 0 || n > uint64(len(v)-w) {
		return nil, nil, nil, errors.New("store: malformed record version (record length)")
	}
	return id, v[w : w+int(n)], v[w+int(n):], nil
}

// decodeVersion decodes a stored version into a Record (copying what it keeps).
func decodeVersion(v []byte) (Record, error) {
	idb, recJSON, result, err := splitVersion(v)
	if err != nil {
		return Record{}, err
	}
	id, err := parseRecordID(idb)
	if err != nil {
		return Record{}, err
	}
	var rec Record
	if err := json.Unmarshal(recJSON, &rec); err != nil {
		return Record{}, fmt.Errorf("decoding idempotency record: %w", err)
	}
	rec.ID = id
	if len(result) > 0 {
		rec.Result = bytes.Clone(result)
	}
	return rec, nil
}

func (t *boltTxn) logBucket() *bolt.Bucket {
	if t.log == nil {
		t.log = t.tx.Bucket([]byte(bucketIdemLog))
		if t.tx.Writable() {
			t.log.FillPercent = 1 // append-only: pack pages full instead of splitting them in half
		}
	}
	return t.log
}

// Record returns the record with the given id. ok is false when there is none.
func (t *boltTxn) Record(id RecordID) (rec Record, ok bool, err error) {
	if err := id.valid(); err != nil {
		return Record{}, false, err
	}
	m, ok := t.recMeta(string(id.bytes()))
	if !ok {
		return Record{}, false, nil
	}
	v := t.logBucket().Get(seqKey(m.seq))
	if v == nil {
		if t.tx.Writable() {
			return Record{}, false, fmt.Errorf("store: record %s/%s: version %d missing from the log", id.Tool, id.Key, m.seq)
		}
		return Record{}, false, nil // not in this read transaction's snapshot: written after it began, or swept
	}
	rec, err = decodeVersion(v)
	if err != nil {
		return Record{}, false, fmt.Errorf("record %s/%s: %w", id.Tool, id.Key, err)
	}
	return rec, true, nil
}

// PreparedRecord is a record encoded outside any transaction by PrepareRecord,
// so that PutPrepared only appends bytes inside the shared one.
type PreparedRecord struct {
	rec   Record
	value []byte // the record log value (see encodeVersion)
}

// PrepareRecord encodes rec for PutPrepared. It fails on an invalid ID.
func PrepareRecord(rec Record) (PreparedRecord, error) {
	if err := rec.ID.valid(); err != nil {
		return PreparedRecord{}, err
	}
	recJSON, err := encodeRecord(&rec)
	if err != nil {
		return PreparedRecord{}, fmt.Errorf("encoding idempotency record: %w", err)
	}
	return PreparedRecord{rec: rec, value: encodeVersion(rec.ID.bytes(), recJSON, rec.Result)}, nil
}

// Record returns the prepared record.
func (p PreparedRecord) Record() Record { return p.rec }

// PutRecord writes rec under rec.ID, as a new version in the record log, and
// updates the in-memory indexes (when the transaction commits): the duplicate-
// detection index from DupIndexed and Fingerprint, the order index from
// OrderID and Venue. Callers on a hot path should PrepareRecord outside the
// transaction and PutPrepared inside it.
func (t *boltTxn) PutRecord(rec Record) error {
	p, err := PrepareRecord(rec)
	if err != nil {
		return err
	}
	_, err = t.PutPrepared(p)
	return err
}

// PutPrepared is PutRecord for a prepared record. It returns the new version's
// number (see RecordVersion).
func (t *boltTxn) PutPrepared(p PreparedRecord) (version uint64, err error) {
	rec := &p.rec
	if p.value == nil {
		return 0, errors.New("store: PutPrepared with a zero PreparedRecord")
	}
	seq := t.nextLogSeq()
	if err := t.logBucket().Put(seqKey(seq), p.value); err != nil {
		return 0, err
	}
	if rec.Owner != "" {
		t.s.owners.Store(rec.Owner, struct{}{}) // see Bolt.OwnerLive
	}
	id := string(rec.ID.bytes())
	d := t.idemDelta()
	if old, ok := t.recMeta(id); ok {
		d.superseded++
		d.garbage = append(d.garbage, old.seq)
	}
	m := &recMeta{seq: seq, created: rec.Created.UnixNano(), keep: rec.keepsOrderOpen(), pending: rec.State == Pending}
	d.recs[id] = m
	fpk := string(joinKey(rec.ID.Principal, rec.ID.Tool, rec.Fingerprint))
	if rec.DupIndexed {
		d.fps[fpk] = &fpUse{key: rec.ID.Key, time: m.created}
	} else {
		t.dropFingerprint(fpk, rec.ID.Key)
	}
	if rec.OrderID != "" {
		d.orders[string(joinKey(rec.ID.Principal, rec.Venue, rec.OrderID))] = &id
	}
	return seq, nil
}

// RecordVersion returns the number of the record's newest version: it changes
// with every PutRecord, so a caller that wrote version v and finds it still
// newest knows the record is exactly what it wrote.
func (t *boltTxn) RecordVersion(id RecordID) (uint64, bool) {
	m, ok := t.recMeta(string(id.bytes()))
	return m.seq, ok
}

// encodeRecord writes rec's JSON as encoding/json would (TestRecordEncoding
// holds that), without reflection.
func encodeRecord(rec *Record) ([]byte, error) {
	o := jsonObject{b: make([]byte, 0, 384), empty: true}
	o.b = append(o.b, '{')
	o.str("state", string(rec.State), false)
	o.str("fingerprint", rec.Fingerprint, false)
	o.str("client_order_id", rec.ClientOrderID, false)
	o.str("venue", rec.Venue, true)
	o.str("owner", rec.Owner, false)
	o.int("attempt", int64(rec.Attempt))
	for _, tm := range []struct {
		name string
		t    time.Time
	}{{"lease_until", rec.LeaseUntil}, {"created", rec.Created}, {"updated", rec.Updated}} {
		if err := o.time(tm.name, tm.t); err != nil {
			return nil, fmt.Errorf("%s: %w", tm.name, err)
		}
	}
	if e := rec.Error; e != nil {
		o.name("error")
		eo := jsonObject{b: append(o.b, '{'), empty: true}
		eo.str("code", string(e.Code), false)
		eo.str("message", e.Message, false)
		eo.str("field", e.Field, true)
		o.b = append(eo.b, '}')
	}
	o.str("order_id", rec.OrderID, true)
	o.bool("order_final", rec.OrderFinal, false)
	o.bool("dup_indexed", rec.DupIndexed, true)
	o.str("native_market_id", rec.NativeMarketID, true)
	if rec.Prepared != nil {
		p, err := json.Marshal(rec.Prepared)
		if err != nil {
			return nil, fmt.Errorf("prepared order: %w", err)
		}
		o.raw("prepared", p)
	}
	return append(o.b, '}'), nil
}

// dropFingerprint removes the duplicate-detection entry fpk if it still names
// key (a later key's entry is left alone).
func (t *boltTxn) dropFingerprint(fpk, key string) {
	if u, ok := t.fpUse(fpk); ok && u.key == key {
		t.idemDelta().fps[fpk] = nil
	}
}

// FingerprintUse returns the last use of fingerprint by principal on tool: the
// newest record with DupIndexed set and that fingerprint.
func (t *boltTxn) FingerprintUse(principal, tool, fingerprint string) (FingerprintUse, bool, error) {
	u, ok := t.fpUse(string(joinKey(principal, tool, fingerprint)))
	if !ok {
		return FingerprintUse{}, false, nil
	}
	return FingerprintUse{Key: u.key, Time: time.Unix(0, u.time).UTC()}, true, nil
}

// MarkOrderFinal sets OrderFinal on the record that opened principal's order
// orderID at venue (the record whose OrderID it is), so the retention sweep may
// drop it. It reports whether such a record exists.
func (t *boltTxn) MarkOrderFinal(principal, venue, orderID string, now time.Time) (bool, error) {
	idb, ok := t.orderRecord(string(joinKey(principal, venue, orderID)))
	if !ok {
		return false, nil
	}
	id, err := parseRecordID([]byte(idb))
	if err != nil {
		return false, err
	}
	rec, ok, err := t.Record(id)
	if err != nil || !ok {
		return false, err
	}
	if rec.OrderFinal {
		return true, nil
	}
	rec.OrderFinal = true
	rec.Updated = now
	return true, t.PutRecord(rec)
}

// Record returns the record with the given id, read outside any Commit. ok is
// false when there is none.
func (s *Bolt) Record(id RecordID) (rec Record, ok bool, err error) {
	if err := id.valid(); err != nil {
		return Record{}, false, err
	}
	key := string(id.bytes())
	// The index is updated after each commit, so a read transaction begun after
	// the lookup holds the version found, unless a later transaction deleted it
	// meanwhile (it had been superseded, or the record expired): look again.
	// Each miss means a newer version was committed and applied meanwhile.
	for range 64 {
		m, found := s.idx.lookup(key)
		if !found {
			return Record{}, false, nil
		}
		var v []byte
		if err := s.view(func(tx *bolt.Tx) error {
			v = bytes.Clone(tx.Bucket([]byte(bucketIdemLog)).Get(seqKey(m.seq)))
			return nil
		}); err != nil {
			return Record{}, false, err
		}
		if v != nil {
			rec, err := decodeVersion(v)
			if err != nil {
				return Record{}, false, fmt.Errorf("record %s/%s: %w", id.Tool, id.Key, err)
			}
			return rec, true, nil
		}
	}
	return Record{}, false, fmt.Errorf("store: record %s/%s: its version kept moving under concurrent writes", id.Tool, id.Key)
}

// IdemStats counts the idempotency records.
type IdemStats struct {
	Records  int // records (their newest versions)
	Versions int // versions in the record log, superseded ones not yet deleted included
}

// IdemStats returns the record counts.
func (s *Bolt) IdemStats() IdemStats {
	s.idx.mu.RLock()
	defer s.idx.mu.RUnlock()
	return IdemStats{Records: len(s.idx.recs), Versions: len(s.idx.recs) + s.idx.superseded}
}
