package etcdstore

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/sibylmcp/sibyl/store"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func (s *Store) auditEntryKey(seq uint64) string {
	return s.prefix + keyAuditEntry + fmt.Sprintf("%020d", seq)
}

func (s *Store) auditRange() (start, end string) {
	start = s.prefix + keyAuditEntry
	return start, clientv3.GetPrefixRangeEnd(start)
}

// parseAuditKey returns the seq of an entry key, ok false for a key that is
// not 20 digits under the entries' prefix.
func (s *Store) parseAuditKey(k []byte) (uint64, bool) {
	d, ok := strings.CutPrefix(string(k), s.prefix+keyAuditEntry)
	if !ok || len(d) != 20 {
		return 0, false
	}
	seq, err := strconv.ParseUint(d, 10, 64)
	return seq, err == nil
}

// AppendAudit links e to the cluster's one chain in this transaction: it reads
// the head (a tracked read: instances appending at once conflict on it, and
// one runs again) and writes the entry and the new head.
func (e *etcdTxn) AppendAudit(entry store.AuditEntry) (store.AuditEntry, error) {
	t := e.t
	if !t.writable {
		return store.AuditEntry{}, errReadOnly
	}
	s := t.s
	hv, _, err := t.get(s.prefix + keyAuditHead)
	if err != nil {
		return store.AuditEntry{}, err
	}
	head, err := store.DecodeAuditHead(hv)
	if err != nil {
		return store.AuditEntry{}, err
	}
	linked, stored, err := store.LinkAudit(entry, head, s.auditKey)
	if err != nil {
		return store.AuditEntry{}, err
	}
	if err := t.put(s.auditEntryKey(linked.Seq), stored); err != nil {
		return store.AuditEntry{}, err
	}
	if err := t.put(s.prefix+keyAuditHead, store.EncodeAuditHead(store.AuditHead{Seq: linked.Seq, Hash: linked.Hash})); err != nil {
		return store.AuditEntry{}, err
	}
	if s.onCommit != nil {
		t.audited = append(t.audited, store.AuditOutcome{Tool: linked.Tool, Outcome: linked.Outcome, Error: linked.Error})
	}
	return linked, nil
}

// AuditAsync queues e for the background appender (store.AuditQueue), which
// writes queued entries in batches through Commit. Entries still queued when
// the process dies (not when it is closed) are lost, as with Bolt.
func (s *Store) AuditAsync(ctx context.Context, e store.AuditEntry) error {
	return s.audit.Send(ctx, e)
}

// FlushAudit waits until every entry queued before the call is committed and
// returns the first error the appender met since the previous flush.
func (s *Store) FlushAudit(ctx context.Context) error { return s.audit.Flush(ctx) }

// writeAudit appends entries to the chain in one commit: the asynchronous
// appender's write.
func (s *Store) writeAudit(entries []store.AuditEntry) error {
	return s.commitInternal(func(t store.Txn) error {
		for _, e := range entries {
			if _, err := t.AppendAudit(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// readAuditHead reads the head, and the revision it was read at.
func (s *Store) readAuditHead(rev int64) (store.AuditHead, int64, error) {
	ctx, cancel := s.opCtx()
	defer cancel()
	var opts []clientv3.OpOption
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	resp, err := s.cli.Get(ctx, s.prefix+keyAuditHead, opts...)
	if err != nil {
		return store.AuditHead{}, 0, s.etcdErr("reading the audit head", err)
	}
	s.seen(resp.Header.Revision)
	var v []byte
	if len(resp.Kvs) > 0 {
		v = resp.Kvs[0].Value
	}
	h, err := store.DecodeAuditHead(v)
	return h, resp.Header.Revision, err
}

// AuditHead returns the chain head.
func (s *Store) AuditHead() (store.AuditHead, error) {
	if err := s.checkOpen(); err != nil {
		return store.AuditHead{}, err
	}
	h, _, err := s.readAuditHead(0)
	return h, err
}

// auditPage reads up to limit entry keys from start (inclusive) to the end of
// the entries, at rev (0: now), in key order (descending when desc, from the
// end down to start).
func (s *Store) auditPage(start, end string, rev int64, limit int, desc bool) (*clientv3.GetResponse, error) {
	opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(int64(limit))}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	if desc {
		opts = append(opts, clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
	}
	ctx, cancel := s.opCtx()
	defer cancel()
	resp, err := s.cli.Get(ctx, start, opts...)
	if err != nil {
		return nil, s.etcdErr("reading the audit log", err)
	}
	s.seen(resp.Header.Revision)
	return resp, nil
}

// ReadAudit returns up to limit entries (default 100, at most 10,000) after
// afterSeq, oldest first, of tool when not empty.
func (s *Store) ReadAudit(afterSeq uint64, limit int, tool string) ([]store.AuditEntry, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	var out []store.AuditEntry
	_, end := s.auditRange()
	from := s.auditEntryKey(afterSeq + 1)
	var rev int64
	for len(out) < limit {
		resp, err := s.auditPage(from, end, rev, scanPage, false)
		if err != nil {
			return out, err
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			if len(out) == limit {
				break
			}
			var e store.AuditEntry
			if err := json.Unmarshal(kv.Value, &e); err != nil {
				return out, fmt.Errorf("decoding audit entry %q: %w", kv.Key, err)
			}
			if tool == "" || e.Tool == tool {
				out = append(out, e)
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	return out, nil
}

// ReadAuditOf is ReadAudit for one principal, reading at most scanLimit
// entries; it returns the entries and the last seq read.
func (s *Store) ReadAuditOf(principal string, afterSeq uint64, limit, scanLimit int, tool string) ([]store.AuditEntry, uint64, error) {
	if err := s.checkOpen(); err != nil {
		return nil, afterSeq, err
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	var out []store.AuditEntry
	last := afterSeq
	_, end := s.auditRange()
	from := s.auditEntryKey(afterSeq + 1)
	scanned := 0
	var rev int64
	for len(out) < limit && scanned < scanLimit {
		resp, err := s.auditPage(from, end, rev, min(scanPage, scanLimit-scanned), false)
		if err != nil {
			return out, last, err
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			if len(out) == limit {
				break
			}
			scanned++
			if seq, ok := s.parseAuditKey(kv.Key); ok {
				last = seq
			}
			if !store.AuditMayMention(kv.Value, principal) {
				continue
			}
			var e store.AuditEntry
			if err := json.Unmarshal(kv.Value, &e); err != nil {
				return out, last, fmt.Errorf("decoding audit entry %q: %w", kv.Key, err)
			}
			if e.Principal == principal && (tool == "" || e.Tool == tool) {
				out = append(out, e)
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	return out, last, nil
}

// TailAudit returns the last n entries (default 20, at most 10,000), of tool
// when not empty, oldest first.
func (s *Store) TailAudit(n int, tool string) ([]store.AuditEntry, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if n <= 0 {
		n = 20
	}
	n = min(n, 10000)
	var out []store.AuditEntry
	start, end := s.auditRange()
	var rev int64
	for len(out) < n {
		resp, err := s.auditPage(start, end, rev, scanPage, true)
		if err != nil {
			return nil, err
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			if len(out) == n {
				break
			}
			var e store.AuditEntry
			if err := json.Unmarshal(kv.Value, &e); err != nil {
				return nil, fmt.Errorf("decoding audit entry %q: %w", kv.Key, err)
			}
			if tool == "" || e.Tool == tool {
				out = append(out, e)
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		end = string(resp.Kvs[len(resp.Kvs)-1].Key)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// ExportAudit writes the entries after afterSeq as JSON Lines of their stored
// canonical bytes and returns how many it wrote.
func (s *Store) ExportAudit(w io.Writer, afterSeq uint64) (int, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	n := 0
	_, end := s.auditRange()
	from := s.auditEntryKey(afterSeq + 1)
	for {
		resp, err := s.auditPage(from, end, 0, 1000, false)
		if err != nil {
			return n, err
		}
		for _, kv := range resp.Kvs {
			if _, err := w.Write(append(append([]byte(nil), kv.Value...), '\n')); err != nil {
				return n, fmt.Errorf("exporting audit log: %w", err)
			}
			n++
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return n, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// AuditEntryHashes returns the stored hash of the entry at each seq ("" when
// there is none), all read at one revision.
func (s *Store) AuditEntryHashes(seqs []uint64) ([]string, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	out := make([]string, len(seqs))
	var rev int64
	for i, seq := range seqs {
		opts := []clientv3.OpOption{}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		ctx, cancel := s.opCtx()
		resp, err := s.cli.Get(ctx, s.auditEntryKey(seq), opts...)
		cancel()
		if err != nil {
			return nil, s.etcdErr("reading the audit log", err)
		}
		rev = resp.Header.Revision
		if len(resp.Kvs) == 0 {
			continue
		}
		h, err := store.AuditEntryHash(resp.Kvs[0].Value)
		if err != nil {
			return nil, fmt.Errorf("audit entry %d: %w", seq, err)
		}
		out[i] = h
	}
	return out, nil
}

// VerifyAudit checks the whole chain at one revision with Bolt's checks and
// returns the first bad entry. The error is non-nil only when etcd cannot be
// read.
func (s *Store) VerifyAudit() (store.AuditVerification, error) {
	if err := s.checkOpen(); err != nil {
		return store.AuditVerification{}, err
	}
	head, rev, err := s.readAuditHead(0)
	if err != nil {
		if errorsIsUnavailable(err) {
			return store.AuditVerification{}, err
		}
		return store.AuditVerification{HMACChecked: len(s.auditKey) > 0, Problem: store.ProblemHeadMismatch, Detail: err.Error()}, nil
	}
	v := store.NewChainVerifier(s.auditKey)
	start, end := s.auditRange()
	from := start
walk:
	for {
		resp, err := s.auditPage(from, end, rev, scanPage, false)
		if err != nil {
			return store.AuditVerification{}, err
		}
		for _, kv := range resp.Kvs {
			seq, ok := s.parseAuditKey(kv.Key)
			if !ok {
				v.BadKey(fmt.Sprintf("key %q is not a 20-digit sequence number", kv.Key))
				break walk
			}
			if !v.Entry(seq, kv.Value) {
				break walk
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	return v.Result(head), nil
}

// verifiedPrefix remembers how much of the chain VerifyAuditIncremental has
// verified (as Bolt's does).
type verifiedPrefix struct {
	mu     sync.Mutex
	seq    uint64
	hash   string
	prev   string
	broken *store.AuditVerification
}

// VerifyAuditIncremental verifies the chain a batch of at most limit entries
// at a time (store.Bolt.VerifyAuditIncremental's contract), reading at one
// revision per call.
func (s *Store) VerifyAuditIncremental(limit int) (store.IncrementalVerification, error) {
	if err := s.checkOpen(); err != nil {
		return store.IncrementalVerification{}, err
	}
	if limit <= 0 {
		limit = store.DefaultVerifyBatch
	}
	v := &s.verified
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.broken != nil {
		return store.IncrementalVerification{AuditVerification: *v.broken, VerifiedThrough: v.seq}, nil
	}
	if v.hash == "" {
		v.hash = store.AuditGenesis
	}
	r := store.AuditVerification{HMACChecked: len(s.auditKey) > 0}
	bad := func(seq uint64, p store.AuditProblem, format string, args ...any) {
		r.BadSeq, r.Problem, r.Detail = seq, p, fmt.Sprintf(format, args...)
	}
	head, rev, err := s.readAuditHead(0)
	if err != nil {
		if errorsIsUnavailable(err) {
			return store.IncrementalVerification{}, err
		}
		bad(0, store.ProblemHeadMismatch, "%s", err.Error())
		return store.IncrementalVerification{AuditVerification: r, VerifiedThrough: v.seq}, nil
	}
	r.Head = head
	prev, last, before := v.hash, v.seq, v.prev
	if last > 0 {
		ctx, cancel := s.opCtx()
		resp, err := s.cli.Get(ctx, s.auditEntryKey(last), clientv3.WithRev(rev))
		cancel()
		if err != nil {
			return store.IncrementalVerification{}, s.etcdErr("reading the audit log", err)
		}
		if len(resp.Kvs) == 0 {
			bad(last, store.ProblemGap, "entry %d, verified earlier, is missing", last)
		} else if p, detail := store.CheckAuditEntry(s.auditKey, last, before, resp.Kvs[0].Value); p != "" {
			bad(last, p, "%s", detail)
		} else if h, err := store.AuditEntryHash(resp.Kvs[0].Value); err != nil || h != prev {
			bad(last, store.ProblemHashMismatch, "entry %d changed since it was verified", last)
		}
	}
	checked := 0
	complete := false
	if r.Problem == "" {
		_, end := s.auditRange()
		from := s.auditEntryKey(last + 1)
		reachedEnd := false
	walk:
		for checked < limit {
			resp, err := s.auditPage(from, end, rev, min(scanPage, limit-checked+1), false)
			if err != nil {
				return store.IncrementalVerification{}, err
			}
			for _, kv := range resp.Kvs {
				if checked == limit {
					break walk
				}
				seq, ok := s.parseAuditKey(kv.Key)
				if !ok {
					bad(last+1, store.ProblemBadKey, "key %q is not a 20-digit sequence number", kv.Key)
					break walk
				}
				if seq != last+1 {
					bad(last+1, store.ProblemGap, "entry %d is missing (next key is %d)", last+1, seq)
					break walk
				}
				if p, detail := store.CheckAuditEntry(s.auditKey, seq, prev, kv.Value); p != "" {
					bad(seq, p, "%s", detail)
					break walk
				}
				h, _ := store.AuditEntryHash(kv.Value)
				before, prev, last = prev, h, seq
				checked++
			}
			if !resp.More || len(resp.Kvs) == 0 {
				reachedEnd = true
				break
			}
			from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		}
		if r.Problem == "" && reachedEnd {
			if head.Seq != last || head.Hash != prev {
				bad(min(head.Seq, last+1), store.ProblemHeadMismatch, "chain head says seq %d hash %.12s, last entry is seq %d hash %.12s", head.Seq, head.Hash, last, prev)
			} else {
				complete = true
			}
		}
	}
	r.OK = r.Problem == ""
	r.Entries = last
	v.seq, v.hash, v.prev = last, prev, before
	if !r.OK {
		saved := r
		v.broken = &saved
	}
	return store.IncrementalVerification{AuditVerification: r, VerifiedThrough: last, Complete: complete, Checked: checked}, nil
}
