package store

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Pure helpers shared by the backends: the record encoding, the audit chain's
// linking and checks, and API key tokens. Nothing here touches bbolt, so the
// etcd backend (package store/etcdstore) stores and checks exactly the bytes
// Bolt does, and `sibyl audit verify` gives the same answers on both.

// Valid returns an error unless every part of id is non-empty and free of NUL.
func (id RecordID) Valid() error { return id.valid() }

// Bytes returns the id as one key: principal NUL tool NUL key.
func (id RecordID) Bytes() []byte { return id.bytes() }

// ParseRecordID is the inverse of RecordID.Bytes.
func ParseRecordID(b []byte) (RecordID, error) { return parseRecordID(b) }

// JoinKey joins parts with NUL separators, as the record indexes key their
// entries (principal NUL tool NUL fingerprint; principal NUL venue NUL order
// id). Callers make sure parts hold no NUL.
func JoinKey(parts ...string) []byte { return joinKey(parts...) }

// Encoded returns the prepared record's stored form, which DecodeRecord reads
// back. It is nil for a zero PreparedRecord.
func (p PreparedRecord) Encoded() []byte { return p.value }

// DecodeRecord decodes a record's stored form (PreparedRecord.Encoded), copying
// what it keeps.
func DecodeRecord(v []byte) (Record, error) { return decodeVersion(v) }

// KeepsOrderOpen reports whether the retention sweep must keep the record: its
// order may still trade, or its outcome is unknown.
func (r Record) KeepsOrderOpen() bool { return r.keepsOrderOpen() }

// RecordSummary is what the indexes and scans need of a stored record, decoded
// without its result and prepared order.
type RecordSummary struct {
	ID          RecordID
	State       RecordState `json:"state"`
	Fingerprint string      `json:"fingerprint"`
	Venue       string      `json:"venue"`
	Created     time.Time   `json:"created"`
	OrderID     string      `json:"order_id"`
	OrderFinal  bool        `json:"order_final"`
	DupIndexed  bool        `json:"dup_indexed"`
}

// KeepsOrderOpen is Record.KeepsOrderOpen for the summary.
func (r RecordSummary) KeepsOrderOpen() bool {
	return Record{State: r.State, OrderID: r.OrderID, OrderFinal: r.OrderFinal}.keepsOrderOpen()
}

// DecodeRecordSummary decodes the summary of a record's stored form.
func DecodeRecordSummary(v []byte) (RecordSummary, error) {
	idb, recJSON, _, err := splitVersion(v)
	if err != nil {
		return RecordSummary{}, err
	}
	id, err := parseRecordID(idb)
	if err != nil {
		return RecordSummary{}, err
	}
	var r RecordSummary
	if err := json.Unmarshal(recJSON, &r); err != nil {
		return RecordSummary{}, fmt.Errorf("decoding idempotency record: %w", err)
	}
	r.ID = id
	return r, nil
}

// AuditGenesis is the Prev of the first audit entry, and the hash of the head
// of an empty chain.
const AuditGenesis = "0000000000000000000000000000000000000000000000000000000000000000"

// LinkAudit links e to the chain whose head is head, as every backend's
// AppendAudit does: it prepares e (see PrepareAudit), sets Seq, Prev, Format,
// Hash and HMAC (with key, when not empty), and returns the linked entry and
// its stored canonical bytes. The new head is {e.Seq, e.Hash}.
func LinkAudit(e AuditEntry, head AuditHead, key []byte) (AuditEntry, []byte, error) {
	return linkAudit(e, head, key, auditFormat)
}

func linkAudit(e AuditEntry, head AuditHead, key []byte, format int) (AuditEntry, []byte, error) {
	var err error
	if e, err = prepareAudit(e, format); err != nil {
		return AuditEntry{}, nil, err
	}
	e.Seq = head.Seq + 1
	e.Prev = head.Hash
	e.Hash, e.HMAC = "", ""
	e.Format = 0
	if format != FormatLegacy {
		e.Format = format
	}
	body, split, err := encodeAuditBody(&e)
	if err != nil {
		return AuditEntry{}, nil, err
	}
	e.Hash, e.HMAC = chainSums(key, e.Prev, body)

	// The stored form is the body with the "hash" (and "hmac") members put in
	// their sorted place, at split.
	stored := make([]byte, 0, len(body)+160)
	stored = append(stored, body[:split+1]...) // through the '{' or ','
	stored = append(append(append(stored, `"hash":"`...), e.Hash...), '"')
	if e.HMAC != "" {
		stored = append(append(append(stored, `,"hmac":"`...), e.HMAC...), '"')
	}
	stored = append(append(stored, ','), body[split+1:]...)
	return e, stored, nil
}

// EncodeAuditHead encodes the chain head as it is stored (as json.Marshal
// writes it).
func EncodeAuditHead(h AuditHead) []byte {
	hv := append(strconv.AppendUint([]byte(`{"seq":`), h.Seq, 10), `,"hash":"`...)
	return append(append(hv, h.Hash...), `"}`...)
}

// DecodeAuditHead decodes a stored chain head; nil is the empty chain's head
// (seq 0, AuditGenesis).
func DecodeAuditHead(v []byte) (AuditHead, error) {
	if v == nil {
		return AuditHead{Hash: AuditGenesis}, nil
	}
	var h AuditHead
	if err := json.Unmarshal(v, &h); err != nil {
		return AuditHead{}, fmt.Errorf("decoding audit head: %w", err)
	}
	return h, nil
}

// CheckAuditEntry checks one stored entry against its seq and the previous
// entry's hash (AuditGenesis for seq 1), with key as the HMAC key (nil to
// skip HMACs): the checks VerifyAudit makes of each entry. It returns "" when
// the entry is good.
func CheckAuditEntry(key []byte, seq uint64, prev string, v []byte) (AuditProblem, string) {
	return checkEntry(key, seq, prev, v)
}

// AuditEntryHash returns the hash member of a stored entry.
func AuditEntryHash(v []byte) (string, error) {
	var e struct {
		Hash string `json:"hash"`
	}
	if err := json.Unmarshal(v, &e); err != nil {
		return "", fmt.Errorf("decoding audit entry: %w", err)
	}
	return e.Hash, nil
}

// AuditMayMention reports whether the stored entry v may be one of
// principal's: false only when its bytes hold no "principal" member with that
// value in either format's escaping, so that a reader of one principal's
// entries decodes only those.
func AuditMayMention(v []byte, principal string) bool {
	member := append([]byte(`"principal":`), appendJSONString(nil, principal)...)
	if bytes.Contains(v, member) {
		return true
	}
	memberJCS := append([]byte(`"principal":`), appendJCSString(nil, principal)...)
	return bytes.Contains(v, memberJCS)
}

// ChainVerifier walks an audit chain entry by entry, in seq order, with
// VerifyAudit's checks, for a backend that reads its entries in pages.
type ChainVerifier struct {
	key  []byte
	res  AuditVerification
	prev string
	last uint64
	done bool
}

// NewChainVerifier starts a walk from the first entry, with key as the HMAC
// key (nil: HMACs are not checked).
func NewChainVerifier(key []byte) *ChainVerifier {
	return &ChainVerifier{key: key, prev: AuditGenesis, res: AuditVerification{HMACChecked: len(key) > 0}}
}

// BadKey records a stored key that is no sequence number; the walk stops.
func (c *ChainVerifier) BadKey(detail string) {
	if c.done {
		return
	}
	c.res.BadSeq, c.res.Problem, c.res.Detail = c.last+1, ProblemBadKey, detail
	c.done = true
}

// Entry checks the entry stored under seq and reports whether the walk goes
// on (false once a bad entry was found).
func (c *ChainVerifier) Entry(seq uint64, v []byte) bool {
	if c.done {
		return false
	}
	if seq != c.last+1 {
		c.res.BadSeq, c.res.Problem, c.res.Detail = c.last+1, ProblemGap, fmt.Sprintf("entry %d is missing (next key is %d)", c.last+1, seq)
		c.done = true
		return false
	}
	if p, detail := checkEntry(c.key, seq, c.prev, v); p != "" {
		c.res.BadSeq, c.res.Problem, c.res.Detail = seq, p, detail
		c.done = true
		return false
	}
	h, _ := AuditEntryHash(v) // checkEntry decoded it already
	c.prev, c.last = h, seq
	c.res.Entries++
	return true
}

// Result ends the walk: it checks the stored chain head against the last
// entry (unless a bad entry was found) and returns the verification.
func (c *ChainVerifier) Result(head AuditHead) AuditVerification {
	res := c.res
	res.Head = head
	if !c.done {
		if head.Seq != c.last || head.Hash != c.prev {
			res.BadSeq, res.Problem = min(head.Seq, c.last+1), ProblemHeadMismatch
			res.Detail = fmt.Sprintf("chain head says seq %d hash %.12s, last entry is seq %d hash %.12s", head.Seq, head.Hash, c.last, c.prev)
		} else {
			res.OK = true
		}
	}
	return res
}

// NewAPIKey makes a new key with the given name and scopes: a random id and
// secret. It returns the token (the only place the secret appears; only its
// hash is stored) and the key to store.
func NewAPIKey(name string, scopes []string, now time.Time) (token string, key APIKey, err error) {
	idb := make([]byte, 6)
	secret := make([]byte, 32)
	if _, err := rand.Read(idb); err != nil {
		return "", APIKey{}, err
	}
	if _, err := rand.Read(secret); err != nil {
		return "", APIKey{}, err
	}
	sec := base64.RawURLEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(sec))
	key = APIKey{ID: hex.EncodeToString(idb), Name: name, Scopes: scopes, Created: now.UTC(), Hash: hex.EncodeToString(sum[:])}
	return tokenPrefix + key.ID + "_" + sec, key, nil
}

// ParseAPIToken splits a token into the key id and the secret; ok is false
// for a malformed token.
func ParseAPIToken(token string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	id, sec, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || len(id) != 12 || sec == "" {
		return "", "", false
	}
	return id, sec, true
}

// Live reports whether k is not revoked and secret is its secret; the
// comparison of the hashes takes constant time.
func (k APIKey) Live(secret string) bool {
	sum := sha256.Sum256([]byte(secret))
	want, _ := hex.DecodeString(k.Hash)
	return k.Revoked.IsZero() && subtle.ConstantTimeCompare(sum[:], want) == 1
}

// NoAPIKeyError is RevokeAPIKey's error for an unknown key id.
func NoAPIKeyError(id string) error {
	return fmt.Errorf("no API key with id %q (sibyl keys list shows them)", id)
}
