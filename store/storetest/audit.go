package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/store"
)

var genesis = strings.Repeat("0", 64)

func entry(i int, principal, tool, outcome string) store.AuditEntry {
	return store.AuditEntry{
		Time: t0.Add(time.Duration(i) * time.Second), Principal: principal, Session: "sess-1", Transport: "stdio",
		Tool: tool, Outcome: outcome, Key: fmt.Sprintf("audit-key-%04d", i),
		Args: json.RawMessage(fmt.Sprintf(`{"quantity":%d,"note":"a<b & c>d é"}`, i+1)),
	}
}

// appendMixed appends n entries through concurrent Commits and n through
// AuditAsync, then flushes. It returns the entries AppendAudit returned.
func appendMixed(t *testing.T, st store.Store, n int, principal string) []store.AuditEntry {
	t.Helper()
	var mu sync.Mutex
	var stored []store.AuditEntry
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var e store.AuditEntry
			err := st.Commit(func(tx store.Txn) error {
				var err error
				e, err = tx.AppendAudit(entry(i, principal, "place_order", store.OutcomeIntent))
				return err
			})
			if err != nil {
				t.Errorf("Commit with AppendAudit: %v", err)
				return
			}
			mu.Lock()
			stored = append(stored, e)
			mu.Unlock()
		}()
		if err := st.AuditAsync(ctx(t), entry(i, principal, "get_market", store.OutcomeOK)); err != nil {
			t.Fatalf("AuditAsync: %v", err)
		}
	}
	wg.Wait()
	if err := st.FlushAudit(ctx(t)); err != nil {
		t.Fatalf("FlushAudit: %v", err)
	}
	return stored
}

// checkChain reads the whole chain and checks its links: seqs 1..n, each
// prev the previous hash, the head the last entry.
func checkChain(t *testing.T, st store.Store, n int) []store.AuditEntry {
	t.Helper()
	all, err := st.ReadAudit(0, 10000, "")
	if err != nil {
		t.Fatalf("ReadAudit: %v", err)
	}
	if len(all) != n {
		t.Fatalf("ReadAudit: got %d entries, want %d", len(all), n)
	}
	prev := genesis
	for i, e := range all {
		if e.Seq != uint64(i+1) || e.Prev != prev || e.Hash == "" || e.Hash == prev {
			t.Fatalf("entry %d: seq %d prev %.12s hash %.12s; want seq %d linked to %.12s", i, e.Seq, e.Prev, e.Hash, i+1, prev)
		}
		prev = e.Hash
	}
	head, err := st.AuditHead()
	if err != nil || head.Seq != uint64(n) || head.Hash != prev {
		t.Errorf("AuditHead: got %+v, %v; want seq %d hash %.12s", head, err, n, prev)
	}
	v, err := st.VerifyAudit()
	if err != nil || !v.OK || v.Entries != uint64(n) || v.Head != head {
		t.Errorf("VerifyAudit: got %+v, %v; want OK over %d entries", v, err, n)
	}
	return all
}

// The chain of entries appended in Commits and by AuditAsync, and every way
// of reading it.
func testAuditChain(t *testing.T, s *suite) {
	st := s.fresh(t)
	if h, err := st.AuditHead(); err != nil || h.Seq != 0 {
		t.Errorf("AuditHead of an empty store: %+v, %v", h, err)
	}
	if v, err := st.VerifyAudit(); err != nil || !v.OK || v.Entries != 0 {
		t.Errorf("VerifyAudit of an empty store: %+v, %v", v, err)
	}
	const n = 40
	stored := appendMixed(t, st, n, "local")
	// Sequential commits are in commit order.
	var a, b store.AuditEntry
	mustCommit(t, st, func(tx store.Txn) (err error) {
		a, err = tx.AppendAudit(entry(100, "key:abc", "cancel_order", store.OutcomeCancelled))
		return
	})
	mustCommit(t, st, func(tx store.Txn) (err error) {
		b, err = tx.AppendAudit(entry(101, "key:abc", "cancel_order", store.OutcomeCancelled))
		return
	})
	if b.Seq <= a.Seq || b.Prev != a.Hash {
		t.Errorf("two sequential commits: entries %d and %d, second's prev %.12s; want the second after and linked to the first (%.12s)", a.Seq, b.Seq, b.Prev, a.Hash)
	}
	total := 2*n + 2
	all := checkChain(t, st, total)
	bySeq := map[uint64]store.AuditEntry{}
	for _, e := range all {
		bySeq[e.Seq] = e
	}
	// What AppendAudit returned is what was stored.
	for _, e := range append(stored, a, b) {
		got := bySeq[e.Seq]
		if got.Hash != e.Hash || got.Prev != e.Prev || got.Key != e.Key || got.Tool != e.Tool || !got.Time.Equal(e.Time) {
			t.Errorf("entry %d: AppendAudit returned %+v, stored %+v", e.Seq, e, got)
		}
	}
	// A couple of fields round-trip.
	e1 := bySeq[a.Seq]
	if e1.Principal != "key:abc" || e1.Session != "sess-1" || e1.Transport != "stdio" || e1.Outcome != store.OutcomeCancelled || !e1.Time.Equal(t0.Add(100*time.Second)) {
		t.Errorf("stored entry: %+v", e1)
	}
	if !strings.Contains(string(e1.Args), `"quantity":101`) || !strings.Contains(string(e1.Args), "a<b & c>d é") {
		t.Errorf("stored args: %s", e1.Args)
	}

	// ReadAudit: paging and the tool filter.
	page, err := st.ReadAudit(10, 5, "")
	if err != nil || len(page) != 5 || page[0].Seq != 11 || page[4].Seq != 15 {
		t.Errorf("ReadAudit(10, 5): got %d entries from %v, %v; want seqs 11-15", len(page), seqs(page), err)
	}
	placed, err := st.ReadAudit(0, 10000, "place_order")
	if err != nil || len(placed) != n {
		t.Errorf("ReadAudit(place_order): got %d, %v; want %d", len(placed), err, n)
	}
	for _, e := range placed {
		if e.Tool != "place_order" {
			t.Errorf("ReadAudit(place_order) returned a %s entry", e.Tool)
		}
	}
	if rest, err := st.ReadAudit(uint64(total), 10, ""); err != nil || len(rest) != 0 {
		t.Errorf("ReadAudit after the head: %v, %v; want none", seqs(rest), err)
	}

	// ReadAuditOf: one principal, with the scan bound and the seq to go on from.
	mine, last, err := st.ReadAuditOf("key:abc", 0, 10, 10000, "")
	if err != nil || len(mine) != 2 || mine[0].Seq != a.Seq || mine[1].Seq != b.Seq || last < b.Seq {
		t.Errorf("ReadAuditOf(key:abc): got %v last %d, %v; want %d and %d", seqs(mine), last, err, a.Seq, b.Seq)
	}
	mine, last, err = st.ReadAuditOf("key:abc", 0, 10, 5, "")
	if err != nil || len(mine) != 0 || last != 5 {
		t.Errorf("ReadAuditOf(key:abc) scanning 5: got %v last %d, %v; want nothing, last 5", seqs(mine), last, err)
	}
	mine, _, err = st.ReadAuditOf("local", 0, 3, 10000, "get_market")
	if err != nil || len(mine) != 3 {
		t.Errorf("ReadAuditOf(local, get_market) limit 3: got %v, %v", seqs(mine), err)
	}
	for _, e := range mine {
		if e.Principal != "local" || e.Tool != "get_market" {
			t.Errorf("ReadAuditOf(local, get_market) returned %s/%s", e.Principal, e.Tool)
		}
	}

	// TailAudit: the last n, oldest first, of a tool.
	tail, err := st.TailAudit(3, "")
	if err != nil || len(tail) != 3 || tail[2].Seq != uint64(total) || tail[0].Seq != uint64(total-2) {
		t.Errorf("TailAudit(3): got %v, %v; want the last three, oldest first", seqs(tail), err)
	}
	tail, err = st.TailAudit(2, "get_market")
	if err != nil || len(tail) != 2 || tail[0].Tool != "get_market" || tail[0].Seq >= tail[1].Seq {
		t.Errorf("TailAudit(2, get_market): got %v, %v", seqs(tail), err)
	}

	// AuditEntryHashes.
	hashes, err := st.AuditEntryHashes([]uint64{1, uint64(total), uint64(total + 5), 0})
	if err != nil || len(hashes) != 4 || hashes[0] != bySeq[1].Hash || hashes[1] != bySeq[uint64(total)].Hash || hashes[2] != "" || hashes[3] != "" {
		t.Errorf("AuditEntryHashes: got %q, %v", hashes, err)
	}

	// ExportAudit, re-verified away from the store.
	var buf bytes.Buffer
	nw, err := st.ExportAudit(&buf, 0)
	if err != nil || nw != total {
		t.Fatalf("ExportAudit: wrote %d, %v; want %d", nw, err, total)
	}
	v, err := store.VerifyAuditJSONL(bytes.NewReader(buf.Bytes()), nil)
	if err != nil || !v.OK || v.Entries != uint64(total) || v.Head.Hash != bySeq[uint64(total)].Hash {
		t.Errorf("VerifyAuditJSONL of the export: %+v, %v", v, err)
	}
	lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	var e7 store.AuditEntry
	if err := json.Unmarshal(lines[6], &e7); err != nil || e7.Seq != 7 || e7.Hash != bySeq[7].Hash {
		t.Errorf("export line 7: %s (%v)", lines[6], err)
	}
	// A changed line is caught.
	tampered := bytes.Replace(buf.Bytes(), []byte(`"quantity":3`), []byte(`"quantity":4`), 1)
	if v, err := store.VerifyAuditJSONL(bytes.NewReader(tampered), nil); err != nil || v.OK {
		t.Errorf("VerifyAuditJSONL of a tampered export: %+v, %v; want a failure", v, err)
	}
	buf.Reset()
	if nw, err := st.ExportAudit(&buf, uint64(total-3)); err != nil || nw != 3 || bytes.Count(buf.Bytes(), []byte("\n")) != 3 {
		t.Errorf("ExportAudit after seq %d: wrote %d, %v; want 3 lines", total-3, nw, err)
	}

	// VerifyAuditIncremental gets through the chain a batch at a time.
	var inc store.IncrementalVerification
	for i := 0; i < 100 && !inc.Complete; i++ {
		if inc, err = st.VerifyAuditIncremental(7); err != nil || !inc.OK {
			t.Fatalf("VerifyAuditIncremental: %+v, %v", inc, err)
		}
	}
	if !inc.Complete || inc.VerifiedThrough != uint64(total) {
		t.Errorf("VerifyAuditIncremental: got %+v, want complete through %d", inc, total)
	}
}

func seqs(es []store.AuditEntry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

// An entry appended in a Commit whose function fails is not in the chain,
// and the next entry takes its place.
func testAuditAtomic(t *testing.T, s *suite) {
	st := s.fresh(t)
	mustCommit(t, st, func(tx store.Txn) error {
		_, err := tx.AppendAudit(entry(1, "local", "place_order", store.OutcomeIntent))
		return err
	})
	st.Commit(func(tx store.Txn) error {
		if _, err := tx.AppendAudit(entry(2, "local", "place_order", "must-not-be-stored")); err != nil {
			return err
		}
		return errTest
	})
	var e store.AuditEntry
	mustCommit(t, st, func(tx store.Txn) (err error) {
		e, err = tx.AppendAudit(entry(3, "local", "place_order", store.OutcomePlaced))
		return
	})
	if e.Seq != 2 {
		t.Errorf("entry after a failed commit: seq %d, want 2", e.Seq)
	}
	all := checkChain(t, st, 2)
	for _, x := range all {
		if x.Outcome == "must-not-be-stored" {
			t.Errorf("the failed commit's entry is in the chain: %+v", x)
		}
	}
	// Several appends in one function are consecutive.
	mustCommit(t, st, func(tx store.Txn) error {
		x, err := tx.AppendAudit(entry(4, "local", "place_order", store.OutcomeIntent))
		if err != nil {
			return err
		}
		y, err := tx.AppendAudit(entry(5, "local", "place_order", store.OutcomePlaced))
		if err == nil && (y.Seq != x.Seq+1 || y.Prev != x.Hash) {
			t.Errorf("two appends in one function: %d then %d (prev %.12s, want %.12s)", x.Seq, y.Seq, y.Prev, x.Hash)
		}
		return err
	})
	checkChain(t, st, 4)
}

// Secret arguments never reach the stored chain, whichever way they are
// appended.
func testAuditRedacts(t *testing.T, s *suite) {
	st := s.fresh(t)
	const secret = "sk-live-4f1c9a2b7d"
	e := entry(1, "local", "place_order", store.OutcomeIntent)
	e.Args = json.RawMessage(`{"api_key":"` + secret + `","password":"` + secret + `","quantity":1}`)
	mustCommit(t, st, func(tx store.Txn) error { _, err := tx.AppendAudit(e); return err })
	if err := st.AuditAsync(ctx(t), e); err != nil {
		t.Fatal(err)
	}
	prepared, err := store.PrepareAudit(e)
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, st, func(tx store.Txn) error { _, err := tx.AppendAudit(prepared); return err })
	if err := st.FlushAudit(ctx(t)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if n, err := st.ExportAudit(&buf, 0); err != nil || n != 3 {
		t.Fatalf("ExportAudit: %d, %v", n, err)
	}
	if bytes.Contains(buf.Bytes(), []byte(secret)) {
		t.Errorf("a secret reached the audit chain:\n%s", buf.Bytes())
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"quantity":1`)) {
		t.Errorf("the non-secret argument is missing:\n%s", buf.Bytes())
	}
	checkChain(t, st, 3)
}

// With an audit key, every entry carries an HMAC that VerifyAudit checks,
// and an export verifies with that key and not with another.
func testAuditHMAC(t *testing.T, s *suite) {
	if s.cfg.keyed == nil {
		t.Skip("the backend gave no keyed opener (WithAuditKey)")
	}
	key := []byte("storetest-audit-key")
	st := s.cfg.keyed(t, key)
	s.closeLater(t, st)
	appendMixed(t, st, 5, "local")
	all := checkChain(t, st, 10)
	for _, e := range all {
		if len(e.HMAC) != 64 {
			t.Errorf("entry %d: HMAC %q, want 64 hex characters", e.Seq, e.HMAC)
		}
	}
	if v, err := st.VerifyAudit(); err != nil || !v.OK || !v.HMACChecked {
		t.Errorf("VerifyAudit: %+v, %v; want OK with the HMACs checked", v, err)
	}
	if strings.Contains(st.Describe(), string(key)) {
		t.Errorf("Describe shows the audit key: %q", st.Describe())
	}
	var buf bytes.Buffer
	if _, err := st.ExportAudit(&buf, 0); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), key) {
		t.Error("the export contains the audit key")
	}
	if v, err := store.VerifyAuditJSONL(bytes.NewReader(buf.Bytes()), key); err != nil || !v.OK || !v.HMACChecked {
		t.Errorf("VerifyAuditJSONL with the key: %+v, %v", v, err)
	}
	if v, err := store.VerifyAuditJSONL(bytes.NewReader(buf.Bytes()), []byte("another key")); err != nil || v.OK || v.Problem != store.ProblemHMACMismatch {
		t.Errorf("VerifyAuditJSONL with another key: %+v, %v; want %s", v, err, store.ProblemHMACMismatch)
	}

	// Without a key, entries carry no HMAC.
	plain := s.fresh(t)
	appendMixed(t, plain, 1, "local")
	for _, e := range checkChain(t, plain, 2) {
		if e.HMAC != "" {
			t.Errorf("entry %d of a store without a key: HMAC %q", e.Seq, e.HMAC)
		}
	}
	if v, err := plain.VerifyAudit(); err != nil || !v.OK || v.HMACChecked {
		t.Errorf("VerifyAudit without a key: %+v, %v; want OK, HMACs not checked", v, err)
	}
}
