package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
)

// TestAuditExportRecomputedWithJCS: every entry of `sibyl audit export
// --jsonl` carries "format":2, and its hash (and HMAC) are recomputed here
// with nothing of sibyl's: decode the line, drop "hash" and "hmac",
// canonicalize with an RFC 8785 library, SHA-256 over the previous hash (64
// hex characters; 64 zeros for the first) followed by those bytes. The
// arguments hold what the legacy encoder wrote differently from JCS: <, >, &,
// U+2028, non-ASCII keys, 1.50, 1e1.
func TestAuditExportRecomputedWithJCS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	const key = "jcs-test-key"
	p := mustLaunchHTTP(t, dir, []string{"SIBYL_AUDIT_KEY=" + key})
	s, err := dialRawHTTP(ctx, newCTHTTPClient(), p.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.callTool(ctx, "search_markets", map[string]any{"query": "BTC <above> & \u2028 é 😀", "limit": 2})
	_, _ = s.callTool(ctx, "get_market", map[string]any{"market": "paper:NOPE", "depth": json.Number("1.50")})
	_, _ = s.callTool(ctx, "place_order", map[string]any{"market": "paper:NOPE", "outcome": "Yes", "side": "buy",
		"quantity": json.Number("1e1"), "limit_price": json.Number("0.50"), "idempotency_key": "jcs-e2e-0001"})
	_, _ = s.callTool(ctx, "get_token_grade", map[string]any{"symbol": "ETH", "émoji😀": "x"})
	if err := p.stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	code, out, err := runSibylStdout(ctx, "audit", "export", "--jsonl", "--data-dir", dir)
	if err != nil || code != 0 {
		t.Fatalf("export: exit %d, %v", code, err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 4 {
		t.Fatalf("export has %d lines, want at least 4", len(lines))
	}
	prev := strings.Repeat("0", 64)
	for i, line := range lines {
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if m["format"] != json.Number("2") {
			t.Errorf("line %d: format %v, want 2", i+1, m["format"])
		}
		hash, mac := m["hash"], m["hmac"]
		delete(m, "hash")
		delete(m, "hmac")
		raw, _ := json.Marshal(m)
		body, err := jcs.Transform(raw)
		if err != nil {
			t.Fatalf("line %d: jcs: %v", i+1, err)
		}
		if canon, _ := jcs.Transform([]byte(line)); !bytes.Equal(canon, []byte(line)) {
			t.Errorf("line %d is not in JCS form:\n%s\n%s", i+1, line, canon)
		}
		sum := sha256.Sum256(append([]byte(prev), body...))
		if got := hex.EncodeToString(sum[:]); got != hash {
			t.Errorf("line %d: recomputed hash %s, entry says %v", i+1, got, hash)
		}
		h := hmac.New(sha256.New, []byte(key))
		h.Write([]byte(prev))
		h.Write(body)
		if got := hex.EncodeToString(h.Sum(nil)); got != mac {
			t.Errorf("line %d: recomputed HMAC %s, entry says %v", i+1, got, mac)
		}
		if m["prev"] != prev {
			t.Errorf("line %d: prev %v, want %s", i+1, m["prev"], prev)
		}
		prev, _ = hash.(string)
	}
	if !strings.Contains(out, "BTC <above> & \u2028") {
		t.Errorf("the export escapes < > & or U+2028, which JCS writes as they are:\n%.600s", out)
	}
}
