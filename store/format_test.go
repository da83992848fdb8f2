package store

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
)

// TestLegacyExportStillVerifies: an export written by sibyl before entries
// carried a format (testdata/audit-v1.jsonl: legacy canonical form, HMAC key
// "fixture-key", strings with <, >, & and U+2028) still verifies, and a
// changed byte in it is still found.
func TestLegacyExportStillVerifies(t *testing.T) {
	data, err := os.ReadFile("testdata/audit-v1.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(`"format"`)) || !bytes.Contains(data, []byte(`\u003c`)) {
		t.Fatal("the fixture is not a legacy export with escaped <")
	}
	res, err := VerifyAuditJSONL(bytes.NewReader(data), []byte("fixture-key"))
	if err != nil || !res.OK || res.Entries != 5 || !res.HMACChecked {
		t.Fatalf("legacy export: got %+v, %v; want 5 entries verified with HMACs", res, err)
	}
	bad := bytes.Replace(data, []byte(`"limit":3`), []byte(`"limit":4`), 1)
	if res, _ := VerifyAuditJSONL(bytes.NewReader(bad), []byte("fixture-key")); res.OK || res.BadSeq != 4 {
		t.Errorf("legacy export with entry 4 changed: got %+v, want entry 4 reported", res)
	}
}

// TestMixedFormatChainVerifies: a data file whose chain starts in the legacy
// format and goes on in the JCS format (an upgraded server) verifies, whole
// and incrementally, and tampering in either part is found.
func TestMixedFormatChainVerifies(t *testing.T) {
	s := mustOpen(t, Options{AuditKey: []byte("k")})
	add := func(format int, note string) {
		err := s.Commit(func(tn Txn) error {
			t := tn.(*boltTxn)
			_, err := s.appendAuditFormat(t.tx, AuditEntry{Principal: "key:<a&b>", Tool: "get_market", Outcome: OutcomeOK,
				Args: json.RawMessage(`{"market":"paper:X","note":"` + note + `","n":1.50}`)}, &t.head, format)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		add(FormatLegacy, "old <&> \u2028")
	}
	for i := 0; i < 3; i++ {
		add(FormatJCS, "new <&> \u2028")
	}
	if raw := rawAudit(t, s, 1); bytes.Contains(raw, []byte(`"format"`)) || !bytes.Contains(raw, []byte(`\u003c`)) {
		t.Fatalf("entry 1 is not legacy: %s", raw)
	}
	if raw := rawAudit(t, s, 4); !bytes.Contains(raw, []byte(`"format":2`)) || !bytes.Contains(raw, []byte(`<&>`)) {
		t.Fatalf("entry 4 is not JCS: %s", raw)
	}
	if res, err := s.VerifyAudit(); err != nil || !res.OK || res.Entries != 6 {
		t.Fatalf("VerifyAudit: got %+v, %v", res, err)
	}
	if res, err := s.VerifyAuditIncremental(0); err != nil || !res.OK || !res.Complete {
		t.Fatalf("VerifyAuditIncremental: got %+v, %v", res, err)
	}
	var buf bytes.Buffer
	if _, err := s.ExportAudit(&buf, 0); err != nil {
		t.Fatal(err)
	}
	if res, _ := VerifyAuditJSONL(bytes.NewReader(buf.Bytes()), []byte("k")); !res.OK {
		t.Fatalf("export: got %+v", res)
	}
	for _, seq := range []uint64{2, 5} {
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		lines[seq-1] = strings.Replace(lines[seq-1], `"n":1.5`, `"n":1.25`, 1)
		if res, _ := VerifyAuditJSONL(strings.NewReader(strings.Join(lines, "\n")), []byte("k")); res.OK || res.BadSeq != seq {
			t.Errorf("export with entry %d changed: got %+v, want entry %d reported", seq, res, seq)
		}
	}
	// A JCS entry re-encoded the legacy way (HTML escapes) is not canonical.
	tamperAudit(t, s, 5, func(v []byte) []byte { return bytes.Replace(v, []byte("<"), []byte(`\u003c`), 1) })
	if res, _ := s.VerifyAudit(); res.OK || res.BadSeq != 5 || res.Problem != ProblemNonCanonical {
		t.Errorf("JCS entry with an escaped <: got %+v, want entry 5 non_canonical", res)
	}
}

// FuzzAuditEntryJCS: whatever the arguments and strings, a current-format
// entry as stored is exactly its RFC 8785 form by the JCS library.
func FuzzAuditEntryJCS(f *testing.F) {
	f.Add([]byte(`{"a":"<x>","b":[1,2.50,1e21,-0,0.000001,1e-7],"é":{"😀":1,"z":null}}`), "key:é\u2028\x01\x7f", "s\xff")
	f.Add([]byte(`[1E+2,"\ud800"]`), "<&>", "")
	f.Fuzz(func(t *testing.T, args []byte, principal, key string) {
		s := mustOpen(t, Options{})
		var stored AuditEntry
		err := s.Commit(func(tx Txn) (err error) {
			stored, err = tx.AppendAudit(AuditEntry{Principal: principal, Key: key, Tool: "t", Outcome: "ok", Args: args,
				Time: time.Unix(1, 0), OrderIDs: []string{principal}})
			return err
		})
		if err != nil {
			return // arguments that cannot be canonicalized are refused, not stored
		}
		raw := rawAudit(t, s, stored.Seq)
		c, err := jcs.Transform(raw)
		if err != nil || !bytes.Equal(c, raw) {
			t.Fatalf("stored entry is not JCS:\n%q\nJCS:\n%q (%v)", raw, c, err)
		}
		if res, _ := s.VerifyAudit(); !res.OK {
			t.Fatalf("VerifyAudit: %+v", res)
		}
	})
}

// FuzzAppendJCSMatchesLibrary: the order path's JCS writer gives the JCS
// library's bytes for any JSON value (decoded as the audit decodes it).
func FuzzAppendJCSMatchesLibrary(f *testing.F) {
	for _, s := range []string{`{"b":[1,2.5,"x<y"],"a":{"z":null,"y":true}}`, `1e21`, `1e-7`, `-0`, `0.000001`, `123456789012345678901234`,
		`"\u2028\ud800"`, `{"\ud83d\ude00":1,"\uffff":2,"\ue000":3,"a":4}`, `[1E+2,-1.5e-10,3.0,5e-324,1.7976931348623157e308]`, `{"":1}`, `1e999`, `"\u0000\u001f\u007f"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		got, gerr := appendJCS(nil, v)
		raw, _ := json.Marshal(v)
		want, werr := jcs.Transform(raw)
		if (gerr == nil) != (werr == nil) || (gerr == nil && !bytes.Equal(got, want)) {
			t.Fatalf("appendJCS(%q) = %q, %v; jcs.Transform %q, %v", data, got, gerr, want, werr)
		}
	})
}
