package store

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkAuditAppend is the CPU cost of one audit entry on the order path:
// preparing it (redact and canonicalize a place_order's arguments, outside the
// shared transaction) and appending it (encode, hash, HMAC, put), in the
// legacy format and in the current JCS format, in one run. Appends share
// transactions of 500 on a file with NoSync, so the fsync (paid once per group
// commit, shared by every order in it) is left out.
//
//	go test ./store -run '^$' -bench AuditAppend -benchtime 50000x -count 3
func BenchmarkAuditAppend(b *testing.B) {
	args := json.RawMessage(`{"market":"paper:BTC-ABOVE-120000-2026-12-31","outcome":"Yes","side":"buy","quantity":25,"limit_price":0.42,"time_in_force":"gtc","idempotency_key":"3f1c9a2e-5b7d-4c1e-9a0f-2d6b8e4c7a11"}`)
	for _, f := range []struct {
		name   string
		format int
	}{{"format=legacy", FormatLegacy}, {"format=jcs", FormatJCS}} {
		b.Run(f.name, func(b *testing.B) {
			s := mustOpen(b, Options{AuditKey: []byte("k")})
			s.db.NoSync = true
			now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
			i := 0
			var tx *bolt.Tx
			var cache headCache
			for b.Loop() {
				if tx == nil {
					var err error
					if tx, err = s.db.Begin(true); err != nil {
						b.Fatal(err)
					}
					cache = headCache{}
				}
				e, err := prepareAudit(AuditEntry{Principal: "key:abc", Session: "s1", Transport: "http", Tool: "place_order",
					Outcome: OutcomeIntent, Key: fmt.Sprintf("k-%d", i), Args: args, Fingerprint: genesisHash, Time: now}, f.format)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.appendAuditFormat(tx, e, &cache, f.format); err != nil {
					b.Fatal(err)
				}
				i++
				if i%500 == 0 {
					if err := tx.Commit(); err != nil {
						b.Fatal(err)
					}
					tx = nil
				}
			}
			if tx != nil {
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuditPrepare is the part of BenchmarkAuditAppend that the format
// changes: redacting and canonicalizing a place_order's arguments (run on the
// caller's goroutine, outside the shared transaction).
//
//	go test ./store -run '^$' -bench AuditPrepare -count 5
func BenchmarkAuditPrepare(b *testing.B) {
	args := json.RawMessage(`{"market":"paper:BTC-ABOVE-120000-2026-12-31","outcome":"Yes","side":"buy","quantity":25,"limit_price":0.42,"time_in_force":"gtc","idempotency_key":"3f1c9a2e-5b7d-4c1e-9a0f-2d6b8e4c7a11"}`)
	for _, f := range []struct {
		name   string
		format int
	}{{"format=legacy", FormatLegacy}, {"format=jcs", FormatJCS}} {
		b.Run(f.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := prepareAudit(AuditEntry{Principal: "key:abc", Tool: "place_order", Args: args}, f.format); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
