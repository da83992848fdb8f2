package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gowebpki/jcs"
	"github.com/sibylmcp/sibyl/canon"
	"github.com/sibylmcp/sibyl/redact"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
)

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s", "<a&b>", "\x00\x01\x1f\x7f", "\b\f\n\r\t", "é日本😀", "\u2028\u2029", "\xff\xfe", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendJSONString(%q) = %s, encoding/json: %s", s, got, want)
		}
	})
}

// The stored form of an audit entry is what encoding/json writes for it
// (legacy format) or its RFC 8785 form by the JCS library (current format),
// for every combination of empty and set optional members.
func TestAuditEncodingMatchesEncodingJSON(t *testing.T) {
	for _, format := range []int{FormatLegacy, FormatJCS} {
		t.Run(fmt.Sprint("format=", format), func(t *testing.T) { testAuditEncoding(t, format) })
	}
}

func testAuditEncoding(t *testing.T, format int) {
	// want is what the stored (or hashed) bytes must be for e.
	want := func(e AuditEntry) []byte {
		b, _ := json.Marshal(e)
		if format == FormatJCS {
			c, err := jcs.Transform(b)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		return b
	}
	full := AuditEntry{Args: json.RawMessage(`{"a":"<x>\u2028\u0001","b":[1,2.50,1e21],"é":{"\ud83d\ude00":1,"z":2}}`), Error: "invalid", Fingerprint: "fp\u2028", Key: "k-1\x7f\x01",
		OrderIDs: []string{"o-1", "o&2"}, Outcome: "placed", Prev: genesisHash, Principal: "key:abc", Seq: 42, Session: "s",
		Time: time.Date(2026, 11, 27, 8, 0, 0, 123000, time.UTC), Tool: "place_order", Transport: "http"}
	optional := []func(*AuditEntry){
		func(e *AuditEntry) { e.Args = nil },
		func(e *AuditEntry) { e.Error = "" },
		func(e *AuditEntry) { e.Fingerprint = "" },
		func(e *AuditEntry) { e.Key = "" },
		func(e *AuditEntry) { e.OrderIDs = nil },
		func(e *AuditEntry) { e.OrderIDs = []string{} },
		func(e *AuditEntry) { e.Session = "" },
		func(e *AuditEntry) { e.Transport = "" },
	}
	for mask := 0; mask < 1<<len(optional); mask++ {
		e := full
		for i, clear := range optional {
			if mask&(1<<i) != 0 {
				clear(&e)
			}
		}
		e, err := prepareAudit(e, format) // canonical Args, as AppendAudit stores them
		if err != nil {
			t.Fatal(err)
		}
		if format == FormatJCS {
			e.Format = FormatJCS
		}
		for _, hmac := range []string{"", "m"} {
			body, split, err := encodeAuditBody(&e)
			if err != nil {
				t.Fatal(err)
			}
			e.Hash, e.HMAC = "h", hmac
			stored := append([]byte{}, body[:split+1]...)
			stored = append(stored, `"hash":"h"`...)
			if hmac != "" {
				stored = append(stored, `,"hmac":"m"`...)
			}
			stored = append(append(stored, ','), body[split+1:]...)
			if w := want(e); !bytes.Equal(stored, w) {
				t.Fatalf("mask %b: stored\n%s\nwant\n%s", mask, stored, w)
			}
			e.Hash, e.HMAC = "", ""
			if w := want(e); !bytes.Equal(body, w) {
				t.Fatalf("mask %b: body\n%s\nwant\n%s", mask, body, w)
			}
		}
	}
	if _, _, err := encodeAuditBody(&AuditEntry{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("year 10000 encoded; encoding/json refuses it")
	}
}

func TestRecordEncoding(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 8, 0, 0, 5, time.UTC)
	recs := []Record{
		{},
		{State: Pending, Fingerprint: "f", ClientOrderID: "c", Owner: "o<&>", Attempt: 3, LeaseUntil: t0, Created: t0, Updated: t0, DupIndexed: true},
		{State: Done, Fingerprint: "f", Venue: "paper", Error: &RecordError{Code: "invalid", Message: "bad \"x\"", Field: "limit_price"},
			OrderID: "PO-1", OrderFinal: true, Created: t0.In(time.FixedZone("X", -3600))},
		{State: Done, Error: &RecordError{Code: "market_closed", Message: "closed"}, Result: json.RawMessage(`{"id":"x"}`)},
		{State: Pending, NativeMarketID: "KXBTC-26DEC31", Prepared: &sibyl.PreparedOrder{NativeOrderID: "0xabc", Payload: []byte(`{"salt":1}`)}},
	}
	for i, rec := range recs {
		got, err := encodeRecord(&rec)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(rec)
		if !bytes.Equal(got, want) {
			t.Errorf("record %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// referenceCanonical is Canonical as first written, on encoding/json for every
// scalar: the hand-written encoder must agree with it byte for byte.
func referenceCanonical(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data")
	}
	var write func(v any) error
	var buf bytes.Buffer
	write = func(v any) error {
		switch v := v.(type) {
		case json.Number:
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				return err
			}
			b, _ := json.Marshal(f)
			buf.Write(b)
		case []any:
			buf.WriteByte('[')
			for i, e := range v {
				if i > 0 {
					buf.WriteByte(',')
				}
				if err := write(e); err != nil {
					return err
				}
			}
			buf.WriteByte(']')
		case map[string]any:
			keys := slices.Sorted(maps.Keys(v))
			buf.WriteByte('{')
			for i, k := range keys {
				if i > 0 {
					buf.WriteByte(',')
				}
				b, _ := json.Marshal(k)
				buf.Write(append(b, ':'))
				if err := write(v[k]); err != nil {
					return err
				}
			}
			buf.WriteByte('}')
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return err
			}
			buf.Write(b)
		}
		return nil
	}
	err := write(v)
	return buf.Bytes(), err
}

func FuzzCanonicalMatchesReference(f *testing.F) {
	for _, s := range []string{`{"b":[1,2.5,"x<y"],"a":{"z":null,"y":true}}`, `1e21`, `1e-7`, `-0`, `0.000001`, `123456789012345678901234`,
		`"\u2028\ud800"`, `{"api_key":"s","nested":{"token":"t"},"pem":"-----BEGIN PRIVATE KEY-----"}`, `[1E+2,-1.5e-10,3.0]`, `{"":1}`, `1e999`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr := referenceCanonical(data)
		got, gerr := canon.Canonical(data)
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("canon.Canonical(%q) = %s, %v; reference %s, %v", data, got, gerr, want, werr)
		}
		// PrepareAudit's single-decode path equals the two-step one.
		ref, rerr := canon.Canonical(redact.JSON(data))
		c, cerr := canonicalRedacted(data, FormatLegacy)
		if (rerr == nil) != (cerr == nil) || (rerr == nil && !bytes.Equal(c, ref)) {
			t.Fatalf("canonicalRedacted(%q) = %s, %v; canon.Canonical(RedactArgs) %s, %v", data, c, cerr, ref, rerr)
		}
	})
}

func FuzzPrepareFingerprinted(f *testing.F) {
	for _, s := range []string{`{"market":"M","idempotency_key":"k-1","allow_duplicate":true,"api_key":"s"}`, `{}`, ``, `  `, `[]`, `"x"`,
		`{"a":1e999}`, `{"idempotency_key":null}`, `{"a":1} trailing`, `not json`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, args []byte) {
		e := AuditEntry{Principal: "p", Tool: "place_order", Args: args, Time: time.Unix(1, 0)}
		got, gerr := PrepareFingerprinted(e, "idempotency_key", "allow_duplicate")
		fp, ferr := canon.Fingerprint(args, "idempotency_key", "allow_duplicate")
		var want AuditEntry
		werr := ferr
		if werr == nil {
			e.Fingerprint = fp
			want, werr = PrepareAudit(e)
		}
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("%q: PrepareFingerprinted error %v, Fingerprint+PrepareAudit %v", args, gerr, werr)
		}
		if gerr == nil && (got.Fingerprint != want.Fingerprint || !bytes.Equal(got.Args, want.Args) || !got.Time.Equal(want.Time)) {
			t.Fatalf("%q: got %+v, want %+v", args, got, want)
		}
	})
}
