package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gowebpki/jcs"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sibyl "github.com/sibylmcp/sibyl"
	bolt "go.etcd.io/bbolt"
)

// mustOpen opens a store in a fresh temp dir and checks the file's consistency
// in cleanup.
func mustOpen(tb testing.TB, opts Options) *Bolt {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "sibyl.db")
	s, err := OpenOptions(path, opts)
	if err != nil {
		tb.Fatalf("OpenOptions: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Check(); err != nil && !errors.Is(err, bolt.ErrDatabaseNotOpen) {
			tb.Errorf("bbolt check: %v", err)
		}
		s.Close()
	})
	return s
}

// tamperAudit overwrites the stored bytes of audit entry seq, bypassing the
// chain, as an attacker with the file would.
func tamperAudit(tb testing.TB, s *Bolt, seq uint64, edit func([]byte) []byte) {
	tb.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAudit))
		v := bytes.Clone(b.Get(seqKey(seq)))
		if v == nil {
			return fmt.Errorf("no entry %d", seq)
		}
		return b.Put(seqKey(seq), edit(v))
	})
	if err != nil {
		tb.Fatalf("tampering with entry %d: %v", seq, err)
	}
}

func rawAudit(tb testing.TB, s *Bolt, seq uint64) []byte {
	tb.Helper()
	var v []byte
	s.db.View(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket([]byte(bucketAudit)).Get(seqKey(seq)))
		return nil
	})
	return v
}

func appendN(tb testing.TB, s *Bolt, n int) {
	tb.Helper()
	for i := 0; i < n; i++ {
		err := s.Commit(func(t Txn) error {
			_, err := t.AppendAudit(AuditEntry{
				Time: time.Date(2026, 11, 27, 4, 0, i, 0, time.UTC), Principal: "local", Session: "s1", Transport: "stdio",
				Tool: "place_order", Outcome: OutcomeIntent, Key: fmt.Sprintf("key-%08d", i),
				Args:        json.RawMessage(fmt.Sprintf(`{"api_key":"sk-live-123","quantity":%d.0,"note":"a<b & c>d é"}`, i+1)),
				Fingerprint: strings.Repeat("ab", 32), OrderIDs: []string{fmt.Sprintf("o-%d", i)},
			})
			return err
		})
		if err != nil {
			tb.Fatalf("append: %v", err)
		}
	}
}

func TestAuditChainVerifies(t *testing.T) {
	for _, key := range [][]byte{nil, []byte("test-audit-key")} {
		t.Run(fmt.Sprintf("hmac=%v", key != nil), func(t *testing.T) {
			s := mustOpen(t, Options{AuditKey: key})
			appendN(t, s, 5)
			res, err := s.VerifyAudit()
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK || res.Entries != 5 || res.HMACChecked != (key != nil) {
				t.Fatalf("got %+v, want OK with 5 entries", res)
			}
			entries, err := s.ReadAudit(0, 10, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 5 || entries[0].Prev != genesisHash || entries[1].Prev != entries[0].Hash {
				t.Fatalf("got %d entries with broken links: %+v", len(entries), entries)
			}
			for _, e := range entries {
				if strings.Contains(string(e.Args), "sk-live") {
					t.Errorf("entry %d: secret in args: %s", e.Seq, e.Args)
				}
				if (e.HMAC != "") != (key != nil) {
					t.Errorf("entry %d: hmac %q with key %v", e.Seq, e.HMAC, key != nil)
				}
			}
			// Stored form is canonical.
			for seq := uint64(1); seq <= 5; seq++ {
				raw := rawAudit(t, s, seq)
				c, _ := jcs.Transform(raw)
				if !bytes.Equal(c, raw) {
					t.Errorf("entry %d stored non-canonical:\n%s\n%s", seq, raw, c)
				}
			}
		})
	}
}

func TestAuditTamperEveryByte(t *testing.T) {
	s := mustOpen(t, Options{AuditKey: []byte("k")})
	const n = 4
	appendN(t, s, n)
	s.db.NoSync = true // thousands of tampering writes; durability is not under test here
	for seq := uint64(1); seq <= n; seq++ {
		orig := rawAudit(t, s, seq)
		positions := []int{0, 1, len(orig) / 3, len(orig) / 2, len(orig) - 2, len(orig) - 1}
		// Every byte of the first entry; sampled positions of the others.
		if seq == 1 {
			positions = positions[:0]
			for i := range orig {
				positions = append(positions, i)
			}
		}
		for _, pos := range positions {
			for _, flip := range []byte{0x01, 0x20, 0x80} {
				tamperAudit(t, s, seq, func(v []byte) []byte { v[pos] ^= flip; return v })
				res, err := s.VerifyAudit()
				if err != nil {
					t.Fatal(err)
				}
				if res.OK || res.BadSeq != seq {
					t.Fatalf("seq %d byte %d ^%#x (%q): got %+v, want failure at seq %d", seq, pos, flip, orig[pos], res, seq)
				}
				tamperAudit(t, s, seq, func([]byte) []byte { return bytes.Clone(orig) })
			}
		}
	}
	if res, _ := s.VerifyAudit(); !res.OK {
		t.Fatalf("after restoring: got %+v, want OK", res)
	}
}

func TestAuditStructuralTampering(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(tb testing.TB, s *Bolt)
		seq     uint64
		problem AuditProblem
	}{
		{"delete middle entry", func(tb testing.TB, s *Bolt) {
			s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucketAudit)).Delete(seqKey(2)) })
		}, 2, ProblemGap},
		{"truncate last entry", func(tb testing.TB, s *Bolt) {
			s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucketAudit)).Delete(seqKey(3)) })
		}, 3, ProblemHeadMismatch},
		{"rewrite entry with a recomputed hash", func(tb testing.TB, s *Bolt) {
			// An attacker without the HMAC key recomputes the SHA-256 but not the HMAC.
			tamperAudit(tb, s, 2, func(v []byte) []byte {
				var m map[string]any
				json.Unmarshal(v, &m)
				m["outcome"] = "replay"
				delete(m, "hash")
				delete(m, "hmac")
				body, _ := marshalCanonical(m)
				sum, _ := (&Bolt{}).chainSums(m["prev"].(string), body)
				m["hash"] = sum
				m["hmac"] = strings.Repeat("0", 64)
				out, _ := marshalCanonical(m)
				return out
			})
		}, 2, ProblemHMACMismatch},
		{"non-canonical whitespace", func(tb testing.TB, s *Bolt) {
			tamperAudit(tb, s, 1, func(v []byte) []byte { return append(v, ' ') })
		}, 1, ProblemNonCanonical},
		{"not JSON", func(tb testing.TB, s *Bolt) {
			tamperAudit(tb, s, 3, func(v []byte) []byte { return []byte("garbage") })
		}, 3, ProblemBadJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpen(t, Options{AuditKey: []byte("k")})
			appendN(t, s, 3)
			tt.tamper(t, s)
			res, err := s.VerifyAudit()
			if err != nil {
				t.Fatal(err)
			}
			if res.OK || res.BadSeq != tt.seq || res.Problem != tt.problem {
				t.Errorf("got %+v, want seq %d problem %s", res, tt.seq, tt.problem)
			}
		})
	}
}

func TestAuditReadTailExport(t *testing.T) {
	s := mustOpen(t, Options{})
	appendN(t, s, 3)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := s.AuditAsync(ctx, AuditEntry{Principal: "local", Tool: "get_market", Outcome: OutcomeOK}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.FlushAudit(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadAudit(2, 10, "get_market")
	if err != nil || len(got) != 3 || got[0].Seq != 4 {
		t.Fatalf("ReadAudit: got %d entries (err %v), want 3 from seq 4", len(got), err)
	}
	tail, _ := s.TailAudit(2, "place_order")
	if len(tail) != 2 || tail[0].Seq != 2 || tail[1].Seq != 3 {
		t.Fatalf("TailAudit: got %+v, want seqs 2,3", tail)
	}
	var buf bytes.Buffer
	n, err := s.ExportAudit(&buf, 0)
	if err != nil || n != 6 {
		t.Fatalf("ExportAudit: got %d (err %v), want 6", n, err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 6 || lines[5] != string(rawAudit(t, s, 6)) {
		t.Errorf("export lines: got %d, last %q", len(lines), lines[len(lines)-1])
	}
	if res, _ := s.VerifyAudit(); !res.OK || res.Entries != 6 {
		t.Errorf("VerifyAudit: got %+v, want OK with 6", res)
	}
	// The export verifies on its own, and names a tampered line.
	if res, err := VerifyAuditJSONL(strings.NewReader(buf.String()), nil); err != nil || !res.OK || res.Entries != 6 {
		t.Errorf("VerifyAuditJSONL: got %+v, %v; want OK with 6", res, err)
	}
	tampered := strings.Replace(buf.String(), `"outcome":"ok"`, `"outcome":"no"`, 1)
	if res, _ := VerifyAuditJSONL(strings.NewReader(tampered), nil); res.OK || res.BadSeq != 4 || res.Problem != ProblemHashMismatch {
		t.Errorf("tampered export: got %+v, want hash mismatch at 4", res)
	}
	dropped := strings.Join(append(lines[:2:2], lines[3:]...), "\n")
	if res, _ := VerifyAuditJSONL(strings.NewReader(dropped), nil); res.OK || res.BadSeq != 3 || res.Problem != ProblemGap {
		t.Errorf("export with a line dropped: got %+v, want gap at 3", res)
	}
}

func TestAuditAsyncFlushedOnClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sibyl.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 250; i++ {
				s.AuditAsync(context.Background(), AuditEntry{Principal: "p", Tool: "search_markets", Outcome: OutcomeOK})
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.AuditAsync(context.Background(), AuditEntry{}); !errors.Is(err, ErrClosed) {
		t.Errorf("AuditAsync after Close: got %v, want ErrClosed", err)
	}
	s = mustOpenPath(t, path)
	res, err := s.VerifyAudit()
	if err != nil || !res.OK || res.Entries != 2000 {
		t.Errorf("got %+v (err %v), want OK with 2000 entries", res, err)
	}
}

func mustOpenPath(tb testing.TB, path string) *Bolt {
	tb.Helper()
	s, err := Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Check(); err != nil {
			tb.Errorf("bbolt check: %v", err)
		}
		s.Close()
	})
	return s
}

func TestCommitBatchIsolatesFailures(t *testing.T) {
	s := mustOpen(t, Options{})
	id := func(i int) RecordID { return RecordID{"p", "place_order", fmt.Sprintf("key-%04d", i)} }
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Commit(func(t Txn) error {
				if err := t.PutRecord(Record{ID: id(i), State: Pending}); err != nil {
					return err
				}
				if i%10 == 0 {
					return fmt.Errorf("fail %d", i)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		_, ok, rerr := s.Record(id(i))
		if rerr != nil {
			t.Fatal(rerr)
		}
		if wantFail := i%10 == 0; (err != nil) != wantFail || ok == wantFail {
			t.Errorf("commit %d: got err %v, record %v; want failure %v", i, err, ok, wantFail)
		}
	}
}

func TestSweepKeepsOpenOrders(t *testing.T) {
	s := mustOpen(t, Options{})
	old := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	now := old.Add(48 * time.Hour)
	recs := []Record{
		{ID: RecordID{"p", "place_order", "done-final"}, State: Done, Created: old, OrderID: "o1", Venue: "paper", OrderFinal: true,
			Fingerprint: "fp-old", DupIndexed: true},
		{ID: RecordID{"p", "place_order", "done-open"}, State: Done, Created: old, OrderID: "o2", Venue: "paper"},
		{ID: RecordID{"p", "place_order", "rejected"}, State: Done, Created: old, Error: &RecordError{Code: sibyl.InsufficientFunds}},
		{ID: RecordID{"p", "place_order", "pending-old"}, State: Pending, Created: old},
		{ID: RecordID{"p", "place_order", "recent"}, State: Done, Created: now.Add(-time.Hour), OrderID: "o3", Venue: "paper", OrderFinal: true,
			Fingerprint: "fp-new", DupIndexed: true},
	}
	err := s.Commit(func(t Txn) error {
		for _, r := range recs {
			if err := t.PutRecord(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Of the old records, only done-open names an order that may still be open
	// (pending-old's outcome is unknown: that is for the next retry of its key).
	want := []OpenOrder{{Principal: "p", Venue: "paper", OrderID: "o2", Created: old}}
	if diff := cmp.Diff(want, s.OpenOrders(now.Add(-24*time.Hour), 0)); diff != "" {
		t.Errorf("OpenOrders (-want +got):\n%s", diff)
	}
	res, err := s.Sweep(now.Add(-24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(SweepResult{Deleted: 2, KeptOpen: 1, KeptPending: 1, Index: 1}, res); diff != "" {
		t.Errorf("Sweep (-want +got):\n%s", diff)
	}
	exists := func(key string) bool {
		_, ok, _ := s.Record(RecordID{"p", "place_order", key})
		return ok
	}
	for key, want := range map[string]bool{"done-final": false, "done-open": true, "rejected": false, "pending-old": true, "recent": true} {
		if got := exists(key); got != want {
			t.Errorf("record %s exists: got %v, want %v", key, got, want)
		}
	}
	// The order closes: the next sweep drops its record.
	err = s.Commit(func(t Txn) error {
		ok, err := t.MarkOrderFinal("p", "paper", "o2", now)
		if !ok {
			return fmt.Errorf("order o2 not indexed")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The version MarkOrderFinal superseded goes with the next transaction
	// (the sweep's own), before the sweep looks.
	if res, _ := s.Sweep(now.Add(-24 * time.Hour)); res.Deleted != 1 || res.Superseded != 0 || exists("done-open") {
		t.Errorf("second sweep: got %+v, want the closed order's record deleted", res)
	}
	fpUsed := func(fp string) bool {
		var ok bool
		s.View(func(t Txn) (err error) { _, ok, err = t.FingerprintUse("p", "place_order", fp); return err })
		return ok
	}
	if fpUsed("fp-old") || !fpUsed("fp-new") {
		t.Errorf("duplicate index after sweeps: fp-old %v (want false), fp-new %v (want true)", fpUsed("fp-old"), fpUsed("fp-new"))
	}
	if got := s.IdemStats(); got != (IdemStats{Records: 2, Versions: 2}) {
		t.Errorf("IdemStats after sweeps: %+v, want 2 records (pending-old, recent) in 2 versions", got)
	}
}

func TestSweeperStops(t *testing.T) {
	s := mustOpen(t, Options{})
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	swept := make(chan struct{}, 10)
	var before atomic.Int64 // BeforeSweep calls not yet followed by their sweep
	sw := s.StartSweeper(SweeperOptions{Interval: time.Millisecond, Retention: time.Hour, Now: func() time.Time { return now },
		BeforeSweep: func(ctx context.Context, cutoff time.Time) {
			if !cutoff.Equal(now.Add(-time.Hour)) {
				t.Errorf("BeforeSweep cutoff %v, want now - Retention", cutoff)
			}
			before.Add(1)
		},
		OnSweep: func(SweepResult, error) {
			if before.Add(-1) != 0 {
				t.Error("a sweep ran without its BeforeSweep call")
			}
			select {
			case swept <- struct{}{}:
			default:
			}
		}})
	<-swept
	sw.Stop()
	sw.Stop()
}

func TestAuditEntryEncodingIsCanonical(t *testing.T) {
	entries := []AuditEntry{
		{},
		{Args: json.RawMessage(`{"b":[1,2.5,"x<y"],"a":{"z":null,"y":true}}`), Error: "invalid", Fingerprint: "f", Key: "k/leg-1",
			OrderIDs: []string{"o-1", "o&2"}, Outcome: "placed", Prev: genesisHash, Principal: "p\"q", Seq: 1<<53 - 1,
			Session: "s", Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600)), Tool: "place_order", Transport: "http",
			Hash: "h", HMAC: "m"},
		{Principal: "é\u2028\x01", Outcome: "ok", Seq: 1234567, Time: time.Now()},
	}
	for _, key := range [][]byte{nil, []byte("k")} {
		s := mustOpen(t, Options{AuditKey: key})
		for i, e := range entries {
			p, err := PrepareAudit(e)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jcs.Transform(b); err != nil {
				t.Fatal(err)
			}
			// The stored form (encoded in two parts) is canonical and decodes to the entry.
			var stored AuditEntry
			if err := s.Commit(func(t Txn) (err error) { stored, err = t.AppendAudit(e); return err }); err != nil {
				t.Fatal(err)
			}
			raw := rawAudit(t, s, stored.Seq)
			if c, _ := jcs.Transform(raw); !bytes.Equal(c, raw) {
				t.Errorf("entry %d stored non-canonical:\n%s\nJCS:\n%s", i, raw, c)
			}
			var back AuditEntry
			json.Unmarshal(raw, &back)
			stored.prepared = 0
			if diff := cmp.Diff(stored, back, cmp.AllowUnexported(AuditEntry{})); diff != "" {
				t.Errorf("entry %d round trip (-stored +decoded):\n%s", i, diff)
			}
		}
		if res, err := s.VerifyAudit(); err != nil || !res.OK {
			t.Errorf("VerifyAudit: got %+v, %v", res, err)
		}
	}
}

// TestCommitKeepsQueueOrderOnFailure: when a function fails inside a shared
// transaction but succeeds when re-run alone, the functions queued before it
// still commit before it (a caller writing the same key in order keeps the
// last value).
func TestCommitKeepsQueueOrderOnFailure(t *testing.T) {
	s := mustOpen(t, Options{})
	release := make(chan struct{})
	blocked := make(chan struct{})
	go s.Commit(func(t Txn) error { // holds the committer while the rest queue
		close(blocked)
		<-release
		return nil
	})
	<-blocked
	var wg sync.WaitGroup
	write := func(val string, failFirst bool) {
		ran := false
		wg.Add(1)
		err := s.CommitBucketAsync("order_test", func(b Bucket) error {
			if failFirst && !ran {
				ran = true
				return errors.New("first run fails")
			}
			return b.Put([]byte("k"), []byte(val))
		}, func(err error) {
			if err != nil {
				t.Errorf("write %s: %v", val, err)
			}
			wg.Done()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 4; i++ {
		write(fmt.Sprint(i), false)
	}
	write("5", true)
	close(release)
	wg.Wait()
	var got []byte
	if err := s.ViewBucket("order_test", func(b Bucket) error { got = b.Get([]byte("k")); return nil }); err != nil {
		t.Fatal(err)
	}
	if string(got) != "5" {
		t.Errorf("k = %q, want the last queued value 5", got)
	}
}

// marshalCanonical is the canonical JSON of any Go value, for tests that build
// audit entries by hand.
func marshalCanonical(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jcs.Transform(b) // the current format's canonical form
}
