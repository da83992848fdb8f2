package store

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sibylmcp/sibyl"
)

// TestPreparedOrderIsStored: a record's market and prepared order (the signed
// order a Preparer venue resends byte for byte) are written with the record and
// read back after the store is reopened, and a later version of the record
// (the lease taken over) keeps them. Without them a resend after an unknown
// outcome would have no stored order to send.
func TestPreparedOrderIsStored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sibyl.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	id := RecordID{"p", "place_order", "key-prepared"}
	prep := &sibyl.PreparedOrder{NativeOrderID: "0xabc", Payload: []byte(`{"order":{"salt":1},"owner":"k"}` + "\x00\xff")}
	rec := Record{ID: id, State: Pending, Fingerprint: "fp", ClientOrderID: "coid", Venue: "polymarket", Created: t0,
		LeaseUntil: t0.Add(time.Minute), NativeMarketID: "0x1234", Prepared: prep}
	put(t, s, rec)
	got := mustRecord(t, s, id)
	if diff := cmp.Diff(rec.LookupHint(), got.LookupHint()); diff != "" {
		t.Fatalf("lookup hint (-want +got):\n%s", diff)
	}
	got.Attempt++ // a takeover writes the record again
	got.LeaseUntil = t0.Add(2 * time.Minute)
	put(t, s, got)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	after := mustRecord(t, s, id)
	if after.NativeMarketID != "0x1234" || after.Prepared == nil || after.Prepared.NativeOrderID != "0xabc" || string(after.Prepared.Payload) != string(prep.Payload) {
		t.Errorf("after reopening: market %q prepared %+v, want 0x1234 and the stored order", after.NativeMarketID, after.Prepared)
	}
}
