package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// DefaultVerifyBatch is how many entries one VerifyAuditIncremental call
// checks at most (about 0.1 s of work on a small machine), so that a caller
// who asks for verification in a loop cannot hold the file for long.
const DefaultVerifyBatch = 2000

// verifiedPrefix remembers how much of the chain this process has verified:
// the chain is append-only, so an entry verified once needs checking again
// only where new entries join it.
type verifiedPrefix struct {
	mu     sync.Mutex
	seq    uint64 // entries 1..seq verified
	hash   string // hash of entry seq
	prev   string // hash of entry seq-1 (entry seq's prev)
	broken *AuditVerification
}

// IncrementalVerification is the result of VerifyAuditIncremental.
type IncrementalVerification struct {
	AuditVerification
	// VerifiedThrough is the last entry verified so far (by this call and
	// earlier ones); the chain is verified whole when Complete.
	VerifiedThrough uint64
	// Complete reports that every entry up to the head was verified and the
	// head matches the last entry. When false and OK, call again to go on.
	Complete bool
	// Checked is how many entries this call checked.
	Checked int
}

// VerifyAuditIncremental verifies the audit chain a batch at a time: it
// remembers the verified prefix, re-checks the entry where it ends (its hash
// is still the one verified), checks at most limit new entries (limit <= 0:
// DefaultVerifyBatch), and, when it reaches the last entry, checks the chain
// head. Calls are serialized. A break, once found, is reported by every later
// call. The whole-chain check from scratch is VerifyAudit (`sibyl audit
// verify`); this is for callers that may call often, such as get_audit_log.
// The error is non-nil only when the file cannot be read.
func (s *Bolt) VerifyAuditIncremental(limit int) (IncrementalVerification, error) {
	if limit <= 0 {
		limit = DefaultVerifyBatch
	}
	v := &s.verified
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.broken != nil {
		return IncrementalVerification{AuditVerification: *v.broken, VerifiedThrough: v.seq}, nil
	}
	if v.hash == "" {
		v.hash = genesisHash
	}
	var res IncrementalVerification
	err := s.view(func(tx *bolt.Tx) error {
		r := AuditVerification{HMACChecked: len(s.auditKey) > 0}
		bad := func(seq uint64, p AuditProblem, format string, args ...any) {
			r.BadSeq, r.Problem, r.Detail = seq, p, fmt.Sprintf(format, args...)
		}
		head, err := readHead(tx)
		if err != nil {
			bad(0, ProblemHeadMismatch, "%s", err.Error())
			res = IncrementalVerification{AuditVerification: r, VerifiedThrough: v.seq}
			return nil
		}
		r.Head = head
		b := tx.Bucket([]byte(bucketAudit))
		prev, last, before := v.hash, v.seq, v.prev
		// The join: the last verified entry is checked again, whole.
		if last > 0 {
			val := b.Get(seqKey(last))
			var e struct {
				Hash string `json:"hash"`
			}
			if val == nil {
				bad(last, ProblemGap, "entry %d, verified earlier, is missing", last)
			} else if p, detail := s.checkEntry(last, before, val); p != "" {
				bad(last, p, "%s", detail)
			} else if err := json.Unmarshal(val, &e); err != nil || e.Hash != prev {
				bad(last, ProblemHashMismatch, "entry %d changed since it was verified", last)
			}
		}
		checked := 0
		complete := false
		if r.Problem == "" {
			c := b.Cursor()
			k, val := c.Seek(seqKey(last + 1))
			for ; k != nil && checked < limit; k, val = c.Next() {
				if len(k) != 8 {
					bad(last+1, ProblemBadKey, "key %x is not an 8-byte sequence number", k)
					break
				}
				seq := binary.BigEndian.Uint64(k)
				if seq != last+1 {
					bad(last+1, ProblemGap, "entry %d is missing (next key is %d)", last+1, seq)
					break
				}
				if p, detail := s.checkEntry(seq, prev, val); p != "" {
					bad(seq, p, "%s", detail)
					break
				}
				var e struct {
					Hash string `json:"hash"`
				}
				_ = json.Unmarshal(val, &e) // checkEntry decoded it already
				before, prev, last = prev, e.Hash, seq
				checked++
			}
			if r.Problem == "" && k == nil {
				if head.Seq != last || head.Hash != prev {
					bad(min(head.Seq, last+1), ProblemHeadMismatch, "chain head says seq %d hash %.12s, last entry is seq %d hash %.12s", head.Seq, head.Hash, last, prev)
				} else {
					complete = true
				}
			}
		}
		r.OK = r.Problem == ""
		r.Entries = last
		v.seq, v.hash, v.prev = last, prev, before
		if !r.OK {
			// An append-only chain stays broken: keep the finding. (A head
			// mismatch may be a writer between our reads only if the head and
			// the entries came from different transactions, which they do not.)
			saved := r
			v.broken = &saved
		}
		res = IncrementalVerification{AuditVerification: r, VerifiedThrough: last, Complete: complete, Checked: checked}
		return nil
	})
	return res, err
}
