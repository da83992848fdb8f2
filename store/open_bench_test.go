package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkOpenRebuildsIndex measures Open on a file holding 100,000
// idempotency records, each written twice as an order writes its claim and
// its completion (the writer deletes superseded versions as it goes, up to
// garbagePerTxn per transaction; versions/record reports what is left): the
// record index is rebuilt from the log.
//
//	go test ./store -run '^$' -bench OpenRebuildsIndex -benchtime 5x
func BenchmarkOpenRebuildsIndex(b *testing.B) {
	const n = 100000
	path := filepath.Join(b.TempDir(), "sibyl.db")
	s, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := 0; i < n; i += 1000 {
		err := s.Commit(func(t Txn) error {
			for j := i; j < i+1000; j++ {
				rec := Record{ID: RecordID{"key:3f9a2b7c", "place_order", fmt.Sprintf("0b6f2c1e-9c1a-4b7e-8f00-%012d", j)},
					State: Pending, Fingerprint: fmt.Sprintf("%064x", j), ClientOrderID: "04c299f0-0d92-5cc5-8f9c-cce3f68d02ea",
					Owner: "d3952c93-8e49-4e4e-9059-553846155a8a", Attempt: 1, LeaseUntil: now, Created: now, Updated: now, DupIndexed: true}
				if err := t.PutRecord(rec); err != nil {
					return err
				}
				rec.State, rec.OrderID, rec.Venue, rec.Result = Done, fmt.Sprintf("PO-%08d", j), "paper", []byte(`{"ID":"PO-1","Status":"filled"}`)
				if err := t.PutRecord(rec); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	versions := s.IdemStats().Versions
	s.Close()
	b.ResetTimer()
	for range b.N {
		s, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if got := s.IdemStats(); got.Records != n {
			b.Fatalf("IdemStats %+v", got)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(n)*1000, "ns/record")
	b.ReportMetric(float64(versions)/n, "versions/record")
}
