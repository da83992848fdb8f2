package etcdstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/sibylmcp/sibyl/store"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdTxn is the store.Txn of a Commit or View.
type etcdTxn struct{ t *txn }

var _ store.Txn = (*etcdTxn)(nil)

func (s *Store) recKey(id store.RecordID) string { return s.prefix + keyRecords + string(id.Bytes()) }
func (s *Store) fpKey(principal, tool, fp string) string {
	return s.prefix + keyFingerprts + string(store.JoinKey(principal, tool, fp))
}
func (s *Store) ordKey(principal, venue, orderID string) string {
	return s.prefix + keyOrders + string(store.JoinKey(principal, venue, orderID))
}

// A record's value: its 8-byte big-endian version, then its stored form.
func encodeRecValue(version uint64, enc []byte) []byte {
	v := make([]byte, 8, 8+len(enc))
	binary.BigEndian.PutUint64(v, version)
	return append(v, enc...)
}

func splitRecValue(v []byte) (uint64, []byte, error) {
	if len(v) < 8 {
		return 0, nil, errors.New("etcdstore: malformed record value")
	}
	return binary.BigEndian.Uint64(v), v[8:], nil
}

func decodeRecValue(v []byte) (store.Record, uint64, error) {
	ver, enc, err := splitRecValue(v)
	if err != nil {
		return store.Record{}, 0, err
	}
	rec, err := store.DecodeRecord(enc)
	return rec, ver, err
}

// Record returns the record with the given id.
func (e *etcdTxn) Record(id store.RecordID) (store.Record, bool, error) {
	if err := id.Valid(); err != nil {
		return store.Record{}, false, err
	}
	v, ok, err := e.t.get(e.t.s.recKey(id))
	if err != nil || !ok {
		return store.Record{}, false, err
	}
	rec, _, err := decodeRecValue(v)
	if err != nil {
		return store.Record{}, false, fmt.Errorf("record %s/%s: %w", id.Tool, id.Key, err)
	}
	return rec, true, nil
}

// RecordVersion returns the record's version counter: 1 for its first write,
// one more with every write.
func (e *etcdTxn) RecordVersion(id store.RecordID) (uint64, bool) {
	if id.Valid() != nil {
		return 0, false
	}
	v, ok, err := e.t.get(e.t.s.recKey(id))
	if err != nil || !ok {
		return 0, false
	}
	ver, _, err := splitRecValue(v)
	if err != nil {
		return 0, false
	}
	return ver, true
}

// PutRecord writes rec and its index entries.
func (e *etcdTxn) PutRecord(rec store.Record) error {
	p, err := store.PrepareRecord(rec)
	if err != nil {
		return err
	}
	_, err = e.PutPrepared(p)
	return err
}

// PutPrepared writes a prepared record and its index entries, and returns its
// new version: the previous one plus one.
func (e *etcdTxn) PutPrepared(p store.PreparedRecord) (uint64, error) {
	enc := p.Encoded()
	if enc == nil {
		return 0, errors.New("store: PutPrepared with a zero PreparedRecord")
	}
	if !e.t.writable {
		return 0, errReadOnly
	}
	rec := p.Record()
	s := e.t.s
	key := s.recKey(rec.ID)
	old, ok, err := e.t.get(key)
	if err != nil {
		return 0, err
	}
	var version uint64 = 1
	if ok {
		prev, _, err := splitRecValue(old)
		if err != nil {
			return 0, err
		}
		version = prev + 1
	}
	if err := e.t.put(key, encodeRecValue(version, enc)); err != nil {
		return 0, err
	}
	fpk := s.fpKey(rec.ID.Principal, rec.ID.Tool, rec.Fingerprint)
	if rec.DupIndexed {
		if err := e.t.put(fpk, encodeFPUse(rec.ID.Key, rec.Created)); err != nil {
			return 0, err
		}
	} else if err := e.dropFingerprint(fpk, rec.ID.Key); err != nil {
		return 0, err
	}
	if rec.OrderID != "" {
		if err := e.t.put(s.ordKey(rec.ID.Principal, rec.Venue, rec.OrderID), rec.ID.Bytes()); err != nil {
			return 0, err
		}
	}
	return version, nil
}

func encodeFPUse(key string, created time.Time) []byte {
	v := make([]byte, 8, 8+len(key))
	binary.BigEndian.PutUint64(v, uint64(created.UnixNano()))
	return append(v, key...)
}

func decodeFPUse(v []byte) (store.FingerprintUse, error) {
	if len(v) < 8 {
		return store.FingerprintUse{}, errors.New("etcdstore: malformed fingerprint index entry")
	}
	return store.FingerprintUse{Key: string(v[8:]), Time: time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()}, nil
}

// dropFingerprint deletes the duplicate-detection entry fpk if it still
// names key (a later key's entry is left alone). It reports whether it did.
func (e *etcdTxn) dropFingerprint(fpk, key string) error {
	v, ok, err := e.t.get(fpk)
	if err != nil || !ok {
		return err
	}
	u, err := decodeFPUse(v)
	if err != nil {
		return err
	}
	if u.Key == key {
		return e.t.del(fpk)
	}
	return nil
}

// FingerprintUse returns the last use of fingerprint by principal on tool.
func (e *etcdTxn) FingerprintUse(principal, tool, fingerprint string) (store.FingerprintUse, bool, error) {
	v, ok, err := e.t.get(e.t.s.fpKey(principal, tool, fingerprint))
	if err != nil || !ok {
		return store.FingerprintUse{}, false, err
	}
	u, err := decodeFPUse(v)
	return u, err == nil, err
}

// MarkOrderFinal sets OrderFinal on the record that opened the order.
func (e *etcdTxn) MarkOrderFinal(principal, venue, orderID string, now time.Time) (bool, error) {
	idb, ok, err := e.t.get(e.t.s.ordKey(principal, venue, orderID))
	if err != nil || !ok {
		return false, err
	}
	id, err := store.ParseRecordID(idb)
	if err != nil {
		return false, err
	}
	rec, ok, err := e.Record(id)
	if err != nil || !ok {
		return false, err
	}
	if rec.OrderFinal {
		return true, nil
	}
	rec.OrderFinal = true
	rec.Updated = now
	return true, e.PutRecord(rec)
}

// OwnerLive reports whether owner's key exists, as a read of this
// transaction: if it changes before the commit, the transaction runs again.
func (e *etcdTxn) OwnerLive(owner string) (bool, error) {
	_, ok, err := e.t.get(e.t.s.prefix + keyOwners + owner)
	return ok, err
}

// deleteRecord removes rec and the index entries that still name it.
func (e *etcdTxn) deleteRecord(rec store.Record) (droppedFP bool, err error) {
	s := e.t.s
	if err := e.t.del(s.recKey(rec.ID)); err != nil {
		return false, err
	}
	fpk := s.fpKey(rec.ID.Principal, rec.ID.Tool, rec.Fingerprint)
	if v, ok, err := e.t.get(fpk); err != nil {
		return false, err
	} else if ok {
		if u, err := decodeFPUse(v); err == nil && u.Key == rec.ID.Key {
			if err := e.t.del(fpk); err != nil {
				return false, err
			}
			droppedFP = true
		}
	}
	if rec.OrderID != "" {
		ok := s.ordKey(rec.ID.Principal, rec.Venue, rec.OrderID)
		if v, found, err := e.t.get(ok); err != nil {
			return false, err
		} else if found && string(v) == string(rec.ID.Bytes()) {
			if err := e.t.del(ok); err != nil {
				return false, err
			}
		}
	}
	return droppedFP, nil
}

// Record returns the record with the given id, read (linearizable) outside
// any Commit.
func (s *Store) Record(id store.RecordID) (store.Record, bool, error) {
	if err := s.checkOpen(); err != nil {
		return store.Record{}, false, err
	}
	if err := id.Valid(); err != nil {
		return store.Record{}, false, err
	}
	ctx, cancel := s.opCtx()
	resp, err := s.cli.Get(ctx, s.recKey(id))
	cancel()
	if err != nil {
		return store.Record{}, false, s.etcdErr("reading a record", err)
	}
	s.seen(resp.Header.Revision)
	if len(resp.Kvs) == 0 {
		s.cache.put(s.recKey(id), readVal{})
		return store.Record{}, false, nil
	}
	s.cache.put(s.recKey(id), readVal{val: valueOf(resp.Kvs[0]), mod: resp.Kvs[0].ModRevision, ok: true})
	rec, _, err := decodeRecValue(resp.Kvs[0].Value)
	if err != nil {
		return store.Record{}, false, fmt.Errorf("record %s/%s: %w", id.Tool, id.Key, err)
	}
	return rec, true, nil
}

// scanRecords calls fn with every record's summary, a page at a time, all
// at one revision.
func (s *Store) scanRecords(fn func(key string, r store.RecordSummary)) error {
	start := s.prefix + keyRecords
	end := clientv3.GetPrefixRangeEnd(start)
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(scanPage)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		ctx, cancel := s.opCtx()
		resp, err := s.cli.Get(ctx, start, opts...)
		cancel()
		if err != nil {
			return s.etcdErr("scanning records", err)
		}
		rev = resp.Header.Revision
		s.seen(rev)
		for _, kv := range resp.Kvs {
			_, enc, err := splitRecValue(kv.Value)
			if err != nil {
				return fmt.Errorf("record %q: %w", kv.Key, err)
			}
			r, err := store.DecodeRecordSummary(enc)
			if err != nil {
				return fmt.Errorf("record %q: %w", kv.Key, err)
			}
			fn(string(kv.Key), r)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// PendingRecords returns up to limit ids of tool's records created before
// createdBefore whose outcome is unknown, oldest first. It reads every record
// (a range scan): the retention sweep bounds how many there are. On an etcd
// error it returns none (and logs it): the caller tries again later.
func (s *Store) PendingRecords(tool string, createdBefore time.Time, limit int) []store.RecordID {
	type found struct {
		id      store.RecordID
		created time.Time
	}
	var fs []found
	err := s.scanRecords(func(_ string, r store.RecordSummary) {
		if r.State == store.Pending && r.ID.Tool == tool && r.Created.Before(createdBefore) {
			fs = append(fs, found{r.ID, r.Created})
		}
	})
	if err != nil {
		s.log.Error("etcd: listing pending records", "err", err)
		return nil
	}
	sort.Slice(fs, func(i, j int) bool {
		if !fs[i].created.Equal(fs[j].created) {
			return fs[i].created.Before(fs[j].created)
		}
		return fs[i].id.Key < fs[j].id.Key
	})
	if limit > 0 && len(fs) > limit {
		fs = fs[:limit]
	}
	ids := make([]store.RecordID, len(fs))
	for i, f := range fs {
		ids[i] = f.id
	}
	return ids
}

// OpenOrders returns up to limit orders whose records were created before
// createdBefore and are kept only because the order may still be open.
func (s *Store) OpenOrders(createdBefore time.Time, limit int) []store.OpenOrder {
	var out []store.OpenOrder
	err := s.scanRecords(func(_ string, r store.RecordSummary) {
		if r.OrderID != "" && r.State != store.Pending && r.KeepsOrderOpen() && r.Created.Before(createdBefore) {
			out = append(out, store.OpenOrder{Principal: r.ID.Principal, Venue: r.Venue, OrderID: r.OrderID, Created: r.Created.UTC()})
		}
	})
	if err != nil {
		s.log.Error("etcd: listing open orders", "err", err)
		return nil
	}
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

// IdemStats counts the records (etcd keeps one version of each).
func (s *Store) IdemStats() store.IdemStats {
	ctx, cancel := s.opCtx()
	defer cancel()
	resp, err := s.cli.Get(ctx, s.prefix+keyRecords, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		s.log.Error("etcd: counting records", "err", err)
		return store.IdemStats{}
	}
	return store.IdemStats{Records: int(resp.Count), Versions: int(resp.Count)}
}

// sweepChunk is how many records one sweep transaction deletes at most: each
// costs up to three compares and three deletes in one etcd Txn.
const sweepChunk = 24

// Sweep deletes the records created before cutoff whose order is final and
// whose outcome is known, with the index entries that name them. It scans the
// records outside any transaction and deletes candidates through Commit, a
// chunk per transaction, each re-read there: a record changed meanwhile by
// any instance is judged again.
func (s *Store) Sweep(cutoff time.Time) (store.SweepResult, error) {
	if err := s.checkOpen(); err != nil {
		return store.SweepResult{}, err
	}
	var total store.SweepResult
	var cands []store.RecordID
	err := s.scanRecords(func(_ string, r store.RecordSummary) {
		if !r.Created.Before(cutoff) {
			return
		}
		switch {
		case r.State == store.Pending:
			total.KeptPending++
		case r.KeepsOrderOpen():
			total.KeptOpen++
		default:
			cands = append(cands, r.ID)
		}
	})
	if err != nil {
		return total, fmt.Errorf("sweeping idempotency records: %w", err)
	}
	for len(cands) > 0 {
		chunk := cands[:min(sweepChunk, len(cands))]
		cands = cands[len(chunk):]
		var res store.SweepResult
		err := s.Commit(func(tn store.Txn) error {
			e := tn.(*etcdTxn)
			res = store.SweepResult{}
			for _, id := range chunk {
				rec, ok, err := e.Record(id)
				if err != nil {
					return err
				}
				if !ok || !rec.Created.Before(cutoff) {
					continue
				}
				if rec.KeepsOrderOpen() {
					if rec.State == store.Pending {
						res.KeptPending++
					} else {
						res.KeptOpen++
					}
					continue
				}
				dropped, err := e.deleteRecord(rec)
				if err != nil {
					return err
				}
				res.Deleted++
				if dropped {
					res.Index++
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("sweeping idempotency records: %w", err)
		}
		total.Deleted += res.Deleted
		total.Index += res.Index
		total.KeptOpen += res.KeptOpen
		total.KeptPending += res.KeptPending
	}
	return total, nil
}
