package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/store"
)

// TestGetAuditLogVerifyIsBounded: get_audit_log {verify:true} walked the
// whole chain on every call (1.2 s at 17k entries, and 16 loops of it from a
// read key slowed other keys' calls a hundredfold). Now each call checks at
// most store.DefaultVerifyBatch entries not verified before and says how far
// it got; calls after that check only what was appended. A real server over
// HTTP on a data file with 5,000 entries.
func TestGetAuditLogVerifyIsBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "sibyl.db"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	for done := 0; done < n; done += 1000 {
		err := st.Commit(func(tx store.Txn) error {
			for i := done; i < done+1000; i++ {
				if _, err := tx.AppendAudit(store.AuditEntry{Principal: "key:abc", Transport: "http", Tool: "get_market",
					Outcome: store.OutcomeOK, Args: json.RawMessage(fmt.Sprintf(`{"market":"paper:M-%d"}`, i))}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	p := mustLaunchHTTP(t, dir, nil)
	s, err := dialRawHTTP(ctx, newCTHTTPClient(), p.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	type out struct {
		ChainLength     int    `json:"chain_length"`
		Verified        bool   `json:"verified"`
		ChainOK         bool   `json:"chain_ok"`
		VerifiedThrough int    `json:"verified_through"`
		Problem         string `json:"problem"`
	}
	call := func() out {
		t.Helper()
		a, err := s.callTool(ctx, "get_audit_log", map[string]any{"verify": true, "limit": 1})
		if err != nil || a.IsError {
			t.Fatalf("get_audit_log: %v %v", a, err)
		}
		var o out
		if err := a.decode(&o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	first := call()
	if first.VerifiedThrough != store.DefaultVerifyBatch || first.ChainOK || first.Problem != "" || first.ChainLength < n {
		t.Fatalf("first call on a %d-entry chain: got %+v, want %d entries verified, chain_ok false with no problem", first.ChainLength, first, store.DefaultVerifyBatch)
	}
	var last out
	for i := 0; i < 5; i++ {
		if last = call(); last.ChainOK {
			break
		}
	}
	if !last.ChainOK || last.VerifiedThrough < n {
		t.Fatalf("after more calls: got %+v, want the whole chain verified", last)
	}
	t.Logf("first call verified %d of %d entries; then %+v", first.VerifiedThrough, first.ChainLength, last)
}
