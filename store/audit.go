package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gowebpki/jcs"
	"github.com/sibylmcp/sibyl/canon"
	"github.com/sibylmcp/sibyl/redact"
	bolt "go.etcd.io/bbolt"
)

// Audit outcomes written by the order path. Read-only tools use "ok" or an
// error code.
const (
	OutcomeIntent     = "intent"             // a state-changing call claimed its key; the venue is about to be called
	OutcomeReplay     = "replay"             // a retry got the stored result
	OutcomePlaced     = "placed"             // the venue accepted the order
	OutcomeCancelled  = "cancelled"          // the venue cancelled the order
	OutcomeRejected   = "rejected"           // a deterministic refusal, stored and replayed
	OutcomeUnknown    = "unknown"            // transient failure: the outcome is unknown, the next attempt reconciles
	OutcomeRecover    = "recover"            // a retry took over an abandoned (lease expired) record
	OutcomeReconciled = "reconciled"         // the venue already had the order of an earlier attempt
	OutcomeKeyReused  = "key_reused"         // same key, different arguments: refused, nothing sent
	OutcomeDuplicate  = "possible_duplicate" // same arguments under a new key: refused, nothing sent
	OutcomeInvalid    = "invalid"            // refused before any state was written
	OutcomeOK         = "ok"                 // a read-only call succeeded
)

// AuditEntry is one link of the audit chain. The JSON field order is
// alphabetical on purpose: the stored form is canonical (see Canonical).
type AuditEntry struct {
	Args        json.RawMessage `json:"args,omitempty"`        // redacted tool arguments
	Error       string          `json:"error,omitempty"`       // error code when the call failed
	Fingerprint string          `json:"fingerprint,omitempty"` // request fingerprint (state-changing tools)
	Format      int             `json:"format,omitempty"`      // hash rule: 2 = RFC 8785 (JCS); absent = 1, the legacy canonical form
	Hash        string          `json:"hash,omitempty"`        // hex SHA-256 over Prev + canonical entry without hash and hmac
	HMAC        string          `json:"hmac,omitempty"`        // hex HMAC-SHA256 over the same bytes, when a key is configured
	Key         string          `json:"idempotency_key,omitempty"`
	OrderIDs    []string        `json:"order_ids,omitempty"`
	Outcome     string          `json:"outcome"`
	Prev        string          `json:"prev"` // Hash of the previous entry; 64 zeros for the first
	Principal   string          `json:"principal"`
	Seq         uint64          `json:"seq"`
	Session     string          `json:"session,omitempty"`
	Time        time.Time       `json:"time"`
	Tool        string          `json:"tool"`
	Transport   string          `json:"transport,omitempty"`

	prepared int // the format whose canonical form Args are in (redacted, Time UTC; see PrepareAudit); 0: not prepared
}

// Audit entry formats: how an entry's canonical bytes, which its hash covers,
// are made (see SECURITY.md, "The audit log").
const (
	// FormatLegacy entries (no "format" member) are canonicalized by
	// Canonical: keys sorted by UTF-8 bytes, strings escaped as Go's
	// encoding/json escapes them (<, >, & and U+2028/U+2029 as \u escapes).
	FormatLegacy = 1
	// FormatJCS entries ("format":2) are canonicalized by RFC 8785, the JSON
	// Canonicalization Scheme, so that any JCS library can recompute their
	// hashes from an export.
	FormatJCS = 2
	// auditFormat is the format new entries are written in.
	auditFormat = FormatJCS
)

// PrepareAudit does the costly part of an append outside the write transaction:
// it redacts and canonicalizes e.Args and sets Time (now when zero) to UTC.
// AppendAudit then only links and hashes. Copies of a prepared entry stay
// prepared as long as Args is not changed.
func PrepareAudit(e AuditEntry) (AuditEntry, error) { return prepareAudit(e, auditFormat) }

func prepareAudit(e AuditEntry, format int) (AuditEntry, error) {
	if e.prepared == format {
		return e, nil
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	if len(e.Args) > 0 {
		c, err := canonicalRedacted(e.Args, format)
		if err != nil {
			return AuditEntry{}, fmt.Errorf("audit args: %w", err)
		}
		e.Args = c
	}
	e.prepared = format
	return e, nil
}

// canonicalArgs encodes decoded (and redacted) arguments in format's
// canonical form.
func canonicalArgs(v any, format int) ([]byte, error) {
	if format == FormatLegacy {
		return canon.Append(nil, v)
	}
	return appendJCS(nil, v)
}

// PrepareFingerprinted is PrepareAudit for a state-changing call: it also sets
// e.Fingerprint to canon.Fingerprint(e.Args, omit...), decoding the arguments once
// for both. It fails, like Fingerprint, when the arguments are not a JSON
// object.
func PrepareFingerprinted(e AuditEntry, omit ...string) (AuditEntry, error) {
	m, wasNull, err := canon.DecodeObject(e.Args) // a JSON null stays null in the audit
	if err != nil {
		return AuditEntry{}, err
	}
	fp, err := canon.FingerprintObject(m, omit)
	if err != nil {
		return AuditEntry{}, err
	}
	e.Fingerprint = fp
	if e.prepared == auditFormat {
		return e, nil
	}
	if len(e.Args) > 0 {
		if len(bytes.TrimSpace(e.Args)) == 0 {
			return AuditEntry{}, errors.New("audit args: canonical json: no value")
		}
		var redacted any
		if !wasNull {
			redacted = redactValue(m)
		}
		c, err := canonicalArgs(redacted, auditFormat)
		if err != nil {
			return AuditEntry{}, fmt.Errorf("audit args: %w", err)
		}
		e.Args = c
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	e.prepared = auditFormat
	return e, nil
}

// canonicalRedacted is RedactArgs(args) in format's canonical form, with one
// decode.
func canonicalRedacted(args json.RawMessage, format int) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if len(bytes.TrimSpace(args)) == 0 {
			return nil, fmt.Errorf("canonical json: %w", err)
		}
		return json.RawMessage(`"[redacted: arguments are not valid JSON]"`), nil
	}
	return canonicalArgs(redactValue(v), format)
}

// AuditHead is the last link of the chain, kept in the meta bucket so that a
// truncated chain is detected.
type AuditHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

var genesisHash = AuditGenesis

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func readHead(tx *bolt.Tx) (AuditHead, error) {
	return DecodeAuditHead(tx.Bucket([]byte(bucketMeta)).Get([]byte(metaAuditHead)))
}

// AppendAudit adds e to the audit chain in this transaction, so the entry and the
// state it describes commit together. It redacts e.Args (unless e came from
// PrepareAudit, which callers should use to keep the work out of the shared
// transaction), fills in Seq, Prev, Hash and HMAC (and Time when zero), and
// returns the stored entry.
func (t *boltTxn) AppendAudit(e AuditEntry) (AuditEntry, error) {
	e, err := t.s.appendAudit(t.tx, e, &t.head)
	if err == nil && t.s.onCommit != nil {
		t.audited = append(t.audited, AuditOutcome{Tool: e.Tool, Outcome: e.Outcome, Error: e.Error})
	}
	return e, err
}

// appendAudit appends e; cache holds the chain head across the appends of one
// transaction (it must start zero and live no longer).
func (s *Bolt) appendAudit(tx *bolt.Tx, e AuditEntry, cache *headCache) (AuditEntry, error) {
	return s.appendAuditFormat(tx, e, cache, auditFormat)
}

// appendAuditFormat appends e in the given format (tests write legacy entries
// to show that old chains still verify).
func (s *Bolt) appendAuditFormat(tx *bolt.Tx, e AuditEntry, cache *headCache, format int) (AuditEntry, error) {
	var head AuditHead
	if cache.ok {
		head = cache.head
	} else {
		h, err := readHead(tx)
		if err != nil {
			return AuditEntry{}, err
		}
		head = h
	}
	e, stored, err := linkAudit(e, head, s.auditKey, format)
	if err != nil {
		return AuditEntry{}, err
	}

	ab := tx.Bucket([]byte(bucketAudit))
	ab.FillPercent = 1 // append-only: pack pages full instead of splitting them in half
	if err := ab.Put(seqKey(e.Seq), stored); err != nil {
		return AuditEntry{}, err
	}
	head = AuditHead{Seq: e.Seq, Hash: e.Hash}
	hv := EncodeAuditHead(head)
	if err := tx.Bucket([]byte(bucketMeta)).Put([]byte(metaAuditHead), hv); err != nil {
		return AuditEntry{}, err
	}
	cache.head, cache.ok = head, true
	return e, nil
}

// encodeAuditBody encodes a prepared entry (canonical Args, UTC Time) without
// its hash and hmac, as encoding/json would: fields are declared in key order,
// so the output is canonical (TestAuditEntryEncodingIsCanonical holds this;
// VerifyAudit re-checks every stored entry). split is the offset of the byte
// after which "hash" and "hmac" go: the ',' before the first member that sorts
// after them, or the opening '{' when no member sorts before them.
//
// For FormatJCS entries (e.Format 2) strings are escaped as RFC 8785 says (only
// '"', '\\' and control characters), and the members' names are ASCII, so the
// body is in JCS form as long as e.Args is (canonicalArgs); the tests and
// VerifyAudit check it against the JCS library.
func encodeAuditBody(e *AuditEntry) (body []byte, split int, err error) {
	o := jsonObject{b: make([]byte, 0, 256+len(e.Args)), empty: true, jcs: e.Format == FormatJCS}
	o.b = append(o.b, '{')
	o.raw("args", e.Args)
	o.str("error", e.Error, true)
	o.str("fingerprint", e.Fingerprint, true)
	if e.Format != 0 {
		o.int("format", int64(e.Format))
	}
	split = len(o.b) // the next member writes its ',' here (or follows the '{')
	if o.empty {
		split = 0
	}
	o.str("idempotency_key", e.Key, true)
	o.strs("order_ids", e.OrderIDs)
	o.str("outcome", e.Outcome, false)
	o.str("prev", e.Prev, false)
	o.str("principal", e.Principal, false)
	o.uint("seq", e.Seq)
	o.str("session", e.Session, true)
	if err := o.time("time", e.Time); err != nil {
		return nil, 0, fmt.Errorf("audit entry: %w", err)
	}
	o.str("tool", e.Tool, false)
	o.str("transport", e.Transport, true)
	return append(o.b, '}'), split, nil
}

// headCache holds the chain head during one write transaction.
type headCache struct {
	head AuditHead
	ok   bool
}

// chainSums returns the hex SHA-256 and, when a key is configured, the hex
// HMAC-SHA256 of prev followed by body.
func (s *Bolt) chainSums(prev string, body []byte) (sum, mac string) {
	return chainSums(s.auditKey, prev, body)
}

func chainSums(key []byte, prev string, body []byte) (sum, mac string) {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write(body)
	sum = hex.EncodeToString(h.Sum(nil))
	if len(key) > 0 {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(prev))
		m.Write(body)
		mac = hex.EncodeToString(m.Sum(nil))
	}
	return sum, mac
}

// AuditProblem names what VerifyAudit found wrong.
type AuditProblem string

// Audit problems.
const (
	ProblemBadKey       AuditProblem = "bad_key"          // a key that is not an 8-byte sequence number
	ProblemGap          AuditProblem = "gap"              // a sequence number is missing
	ProblemBadJSON      AuditProblem = "bad_json"         // the entry does not decode
	ProblemNonCanonical AuditProblem = "non_canonical"    // the stored bytes are not in canonical form
	ProblemSeqMismatch  AuditProblem = "seq_mismatch"     // the entry's seq differs from its key
	ProblemBrokenLink   AuditProblem = "broken_prev_link" // prev is not the previous entry's hash
	ProblemHashMismatch AuditProblem = "hash_mismatch"    // hash does not match the entry
	ProblemHMACMismatch AuditProblem = "hmac_mismatch"    // the HMAC is missing or wrong for the configured key
	ProblemHeadMismatch AuditProblem = "head_mismatch"    // the chain head does not match the last entry (truncation)
)

// AuditVerification is the result of VerifyAudit.
type AuditVerification struct {
	OK          bool         // the whole chain verified
	Entries     uint64       // entries checked before stopping
	Head        AuditHead    // the stored chain head
	HMACChecked bool         // a key was configured, so HMACs were checked
	BadSeq      uint64       // the first bad entry's seq, when !OK
	Problem     AuditProblem // what is wrong with it, when !OK
	Detail      string       // a human-readable explanation, when !OK
}

// VerifyAudit walks the whole audit chain in one read transaction and returns
// the first bad entry with the reason, or OK. The error is non-nil only when the
// file cannot be read.
func (s *Bolt) VerifyAudit() (AuditVerification, error) {
	var res AuditVerification
	err := s.view(func(tx *bolt.Tx) error {
		res = AuditVerification{HMACChecked: len(s.auditKey) > 0}
		head, err := readHead(tx)
		if err != nil {
			res.Problem, res.Detail, res.BadSeq = ProblemHeadMismatch, err.Error(), 0
			return nil
		}
		res.Head = head
		bad := func(seq uint64, p AuditProblem, format string, args ...any) {
			res.BadSeq, res.Problem, res.Detail = seq, p, fmt.Sprintf(format, args...)
		}
		prev, last := genesisHash, uint64(0)
		c := tx.Bucket([]byte(bucketAudit)).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) != 8 {
				bad(last+1, ProblemBadKey, "key %x is not an 8-byte sequence number", k)
				return nil
			}
			seq := binary.BigEndian.Uint64(k)
			if seq != last+1 {
				bad(last+1, ProblemGap, "entry %d is missing (next key is %d)", last+1, seq)
				return nil
			}
			if p, detail := s.checkEntry(seq, prev, v); p != "" {
				bad(seq, p, "%s", detail)
				return nil
			}
			var e AuditEntry
			_ = json.Unmarshal(v, &e) // checkEntry decoded it already
			prev, last = e.Hash, seq
			res.Entries++
		}
		if head.Seq != last || head.Hash != prev {
			bad(min(head.Seq, last+1), ProblemHeadMismatch, "chain head says seq %d hash %.12s, last entry is seq %d hash %.12s", head.Seq, head.Hash, last, prev)
			return nil
		}
		res.OK = true
		return nil
	})
	return res, err
}

// checkEntry checks one stored entry against its seq and the previous hash.
func (s *Bolt) checkEntry(seq uint64, prev string, v []byte) (AuditProblem, string) {
	return checkEntry(s.auditKey, seq, prev, v)
}

func checkEntry(key []byte, seq uint64, prev string, v []byte) (AuditProblem, string) {
	var e AuditEntry
	if err := json.Unmarshal(v, &e); err != nil {
		return ProblemBadJSON, err.Error()
	}
	canonical := canon.Canonical
	switch e.Format {
	case 0: // FormatLegacy
	case FormatJCS:
		canonical = jcs.Transform
	default:
		return ProblemBadJSON, fmt.Sprintf("unknown entry format %d", e.Format)
	}
	cv, err := canonical(v)
	if err != nil {
		return ProblemBadJSON, err.Error()
	}
	if !bytes.Equal(cv, v) {
		return ProblemNonCanonical, "stored bytes are not canonical JSON"
	}
	if e.Seq != seq {
		return ProblemSeqMismatch, fmt.Sprintf("entry says seq %d", e.Seq)
	}
	if e.Prev != prev {
		return ProblemBrokenLink, fmt.Sprintf("prev is %.12s, previous entry's hash is %.12s", e.Prev, prev)
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return ProblemBadJSON, err.Error()
	}
	delete(m, "hash")
	delete(m, "hmac")
	var body []byte
	if e.Format == FormatJCS {
		body, err = canonicalArgs(m, FormatJCS)
	} else {
		body, err = canon.Append(nil, m)
	}
	if err != nil {
		return ProblemBadJSON, err.Error()
	}
	sum, mac := chainSums(key, e.Prev, body)
	if sum != e.Hash {
		return ProblemHashMismatch, fmt.Sprintf("hash is %.12s, entry hashes to %.12s", e.Hash, sum)
	}
	if mac != "" && !hmac.Equal([]byte(mac), []byte(e.HMAC)) {
		return ProblemHMACMismatch, "HMAC missing or wrong for the configured key"
	}
	return "", ""
}

// VerifyAuditJSONL checks an export made by ExportAudit (from seq 0) away from
// the bbolt file: the same checks as VerifyAudit, with key as the HMAC key (nil
// to skip HMACs), except the chain-head check, which needs the file. Head in
// the result is the last entry read. The error is non-nil only when r fails.
func VerifyAuditJSONL(r io.Reader, key []byte) (AuditVerification, error) {
	res := AuditVerification{HMACChecked: len(key) > 0}
	prev, last := genesisHash, uint64(0)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var probe struct {
			Seq uint64 `json:"seq"`
		}
		if err := json.Unmarshal(line, &probe); err != nil {
			res.BadSeq, res.Problem, res.Detail = last+1, ProblemBadJSON, err.Error()
			return res, nil
		}
		if probe.Seq != last+1 {
			res.BadSeq, res.Problem, res.Detail = last+1, ProblemGap, fmt.Sprintf("entry %d is missing (next line is seq %d)", last+1, probe.Seq)
			return res, nil
		}
		if p, detail := checkEntry(key, probe.Seq, prev, line); p != "" {
			res.BadSeq, res.Problem, res.Detail = probe.Seq, p, detail
			return res, nil
		}
		var e AuditEntry
		_ = json.Unmarshal(line, &e)
		prev, last = e.Hash, e.Seq
		res.Entries++
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("reading audit export: %w", err)
	}
	res.Head = AuditHead{Seq: last, Hash: prev}
	res.OK = true
	return res, nil
}

// AuditHead returns the chain head: the last seq and its hash (seq 0 and 64
// zeros for an empty chain).
func (s *Bolt) AuditHead() (AuditHead, error) {
	var h AuditHead
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		h, err = readHead(tx)
		return err
	})
	return h, err
}

// ReadAudit returns up to limit entries (default 100, at most 10,000) with seq
// greater than afterSeq, oldest first, keeping only those of tool when tool is
// not empty. Pass the last returned seq as afterSeq to read the next page.
func (s *Bolt) ReadAudit(afterSeq uint64, limit int, tool string) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	var out []AuditEntry
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketAudit)).Cursor()
		for k, v := c.Seek(seqKey(afterSeq + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decoding audit entry %x: %w", k, err)
			}
			if tool == "" || e.Tool == tool {
				out = append(out, e)
			}
		}
		return nil
	})
	return out, err
}

// TailAudit returns the last n entries (default 20, at most 10,000), of tool
// when tool is not empty, oldest first.
func (s *Bolt) TailAudit(n int, tool string) ([]AuditEntry, error) {
	if n <= 0 {
		n = 20
	}
	n = min(n, 10000)
	var out []AuditEntry
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketAudit)).Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decoding audit entry %x: %w", k, err)
			}
			if tool == "" || e.Tool == tool {
				out = append(out, e)
			}
		}
		return nil
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// ExportAudit writes the entries with seq greater than afterSeq to w as JSON
// Lines: each line is the stored canonical bytes of one entry, so the export
// can be re-verified elsewhere. It reads in pages and writes outside the read
// transactions. It returns how many entries it wrote.
func (s *Bolt) ExportAudit(w io.Writer, afterSeq uint64) (int, error) {
	n := 0
	for {
		var page [][]byte
		err := s.view(func(tx *bolt.Tx) error {
			c := tx.Bucket([]byte(bucketAudit)).Cursor()
			for k, v := c.Seek(seqKey(afterSeq + 1)); k != nil && len(page) < 1000; k, v = c.Next() {
				page = append(page, bytes.Clone(v))
				afterSeq = binary.BigEndian.Uint64(k)
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		for _, line := range page {
			if _, err := w.Write(append(line, '\n')); err != nil {
				return n, fmt.Errorf("exporting audit log: %w", err)
			}
			n++
		}
		if len(page) < 1000 {
			return n, nil
		}
	}
}

// AuditAsync queues e for the background appender (AuditQueue) and returns
// without waiting for the disk. It blocks while the queue is full (until ctx
// ends) and fails with ErrClosed after Close. Use it for read-only tool calls;
// state-changing calls use Txn.AppendAudit inside their own transaction.
func (s *Bolt) AuditAsync(ctx context.Context, e AuditEntry) error { return s.audit.Send(ctx, e) }

// FlushAudit waits until every entry queued before the call is on disk. It
// returns the first error the appender met since the previous flush.
func (s *Bolt) FlushAudit(ctx context.Context) error { return s.audit.Flush(ctx) }

// writeAudit appends entries to the chain in one write transaction: the
// asynchronous appender's write.
func (s *Bolt) writeAudit(entries []AuditEntry) error {
	return s.updateDB(func(tx *bolt.Tx) error {
		var cache headCache
		for _, e := range entries {
			if _, err := s.appendAudit(tx, e, &cache); err != nil {
				return err
			}
		}
		return nil
	})
}

// Redacted replaces a secret value in the audit log (see package redact).
const Redacted = redact.Redacted

func redactValue(v any) any { return redact.Value(v) }

// AuditEntryHashes returns the stored hash of the entry at each seq, in one
// read transaction, with "" for a seq that has no entry. `sibyl audit verify
// --anchor` compares them with the anchor's checkpoints.
func (s *Bolt) AuditEntryHashes(seqs []uint64) ([]string, error) {
	out := make([]string, len(seqs))
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAudit))
		for i, seq := range seqs {
			v := b.Get(seqKey(seq))
			if v == nil {
				continue
			}
			var e struct {
				Hash string `json:"hash"`
			}
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decoding audit entry %d: %w", seq, err)
			}
			out[i] = e.Hash
		}
		return nil
	})
	return out, err
}

// ReadAuditOf is ReadAudit for one principal: up to limit entries of principal
// (and of tool when not empty) with seq greater than afterSeq, oldest first,
// reading at most scanLimit entries. It returns the entries and the last seq
// read, to continue after. Entries of other principals are skipped without
// being decoded (their stored bytes are searched for the canonical
// "principal" member first), so a key reading its own entries in a long log
// of others' costs a scan, not a decode of every entry.
func (s *Bolt) ReadAuditOf(principal string, afterSeq uint64, limit, scanLimit int, tool string) ([]AuditEntry, uint64, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	// The member as each format writes it (they differ only for <, >, &,
	// U+2028, U+2029 and invalid UTF-8).
	member := append([]byte(`"principal":`), appendJSONString(nil, principal)...)
	memberJCS := append([]byte(`"principal":`), appendJCSString(nil, principal)...)
	var out []AuditEntry
	last := afterSeq
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketAudit)).Cursor()
		scanned := 0
		for k, v := c.Seek(seqKey(afterSeq + 1)); k != nil && len(out) < limit && scanned < scanLimit; k, v = c.Next() {
			scanned++
			if len(k) == 8 {
				last = binary.BigEndian.Uint64(k)
			}
			if !bytes.Contains(v, member) && !bytes.Contains(v, memberJCS) {
				continue
			}
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decoding audit entry %x: %w", k, err)
			}
			if e.Principal == principal && (tool == "" || e.Tool == tool) {
				out = append(out, e)
			}
		}
		return nil
	})
	return out, last, err
}
