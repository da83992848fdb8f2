package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// appendBulk appends n entries, a thousand per transaction.
func appendBulk(tb testing.TB, s *Bolt, n int) {
	tb.Helper()
	for done := 0; done < n; {
		batch := min(1000, n-done)
		err := s.Commit(func(t Txn) error {
			for i := done; i < done+batch; i++ {
				if _, err := t.AppendAudit(AuditEntry{
					Time: time.Date(2026, 11, 27, 4, 0, 0, i, time.UTC), Principal: "key:abc", Session: "s1", Transport: "http",
					Tool: "get_market", Outcome: OutcomeOK, Args: json.RawMessage(fmt.Sprintf(`{"market":"paper:BTC-ABOVE-%d","depth":5}`, i)),
				}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("append: %v", err)
		}
		done += batch
	}
}

// TestVerifyAuditIncremental: each call checks at most its batch of entries
// not verified before, reaches the head, then checks only what was appended
// since; a change where the verified prefix joins the new entries, or in the
// new entries, is found and stays reported.
func TestVerifyAuditIncremental(t *testing.T) {
	s := mustOpen(t, Options{AuditKey: []byte("k")})
	appendBulk(t, s, 4500)
	for i, want := range []struct {
		through  uint64
		complete bool
		checked  int
	}{{2000, false, 2000}, {4000, false, 2000}, {4500, true, 500}, {4500, true, 0}} {
		v, err := s.VerifyAuditIncremental(2000)
		if err != nil {
			t.Fatal(err)
		}
		if !v.OK || v.VerifiedThrough != want.through || v.Complete != want.complete || v.Checked != want.checked {
			t.Fatalf("call %d: got ok %v through %d complete %v checked %d, want ok through %d complete %v checked %d (%s)",
				i+1, v.OK, v.VerifiedThrough, v.Complete, v.Checked, want.through, want.complete, want.checked, v.Detail)
		}
	}
	appendBulk(t, s, 7)
	if v, _ := s.VerifyAuditIncremental(2000); !v.OK || !v.Complete || v.Checked != 7 || v.VerifiedThrough != 4507 {
		t.Fatalf("after 7 appends: got %+v, want 7 checked, complete through 4507", v)
	}

	// The entry at the join changed: found.
	tamperAudit(t, s, 4507, func(b []byte) []byte { return []byte(strings.Replace(string(b), "get_market", "get_marker", 1)) })
	v, _ := s.VerifyAuditIncremental(2000)
	if v.OK || v.BadSeq != 4507 {
		t.Fatalf("join entry tampered: got ok %v bad %d, want entry 4507 reported", v.OK, v.BadSeq)
	}
	if again, _ := s.VerifyAuditIncremental(2000); again.OK || again.BadSeq != 4507 {
		t.Errorf("next call: got ok %v bad %d, want the break still reported", again.OK, again.BadSeq)
	}
	if full, _ := s.VerifyAudit(); full.OK || full.BadSeq != 4507 {
		t.Errorf("VerifyAudit: got ok %v bad %d, want 4507", full.OK, full.BadSeq)
	}
}

// TestVerifyAuditIncrementalFindsNewBadEntry: a bad entry among those
// appended after the last call is named.
func TestVerifyAuditIncrementalFindsNewBadEntry(t *testing.T) {
	s := mustOpen(t, Options{})
	appendBulk(t, s, 50)
	if v, _ := s.VerifyAuditIncremental(0); !v.OK || !v.Complete {
		t.Fatalf("got %+v, want complete", v)
	}
	appendBulk(t, s, 50)
	tamperAudit(t, s, 77, func(b []byte) []byte { return []byte(strings.Replace(string(b), `"depth":5`, `"depth":6`, 1)) })
	if v, _ := s.VerifyAuditIncremental(0); v.OK || v.BadSeq != 77 || v.Problem != ProblemHashMismatch {
		t.Fatalf("got ok %v bad %d %s, want entry 77 hash_mismatch", v.OK, v.BadSeq, v.Problem)
	}
}

// BenchmarkVerifyAudit is the cost of one get_audit_log {verify:true} at a
// chain of 17,000 entries (the security probe's size): the whole walk it did
// before, against the incremental check it does now, with one entry appended
// between calls (the caller's own audited call). Run both in one invocation:
// go test ./store -run '^$' -bench VerifyAudit -benchtime 20x
func BenchmarkVerifyAudit(b *testing.B) {
	s := mustOpen(b, Options{AuditKey: []byte("k")})
	appendBulk(b, s, 17000)
	b.Run("full_walk", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			appendBulk(b, s, 1)
			b.StartTimer()
			if v, err := s.VerifyAudit(); err != nil || !v.OK {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("incremental", func(b *testing.B) {
		for v, _ := s.VerifyAuditIncremental(0); !v.Complete; v, _ = s.VerifyAuditIncremental(0) {
		}
		for b.Loop() {
			b.StopTimer()
			appendBulk(b, s, 1)
			b.StartTimer()
			if v, err := s.VerifyAuditIncremental(0); err != nil || !v.OK || !v.Complete {
				b.Fatal(v, err)
			}
		}
	})
}
