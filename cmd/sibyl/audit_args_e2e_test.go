package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAuditArgumentsBoundedAndRedacted is the security probe's finding through
// the real server over HTTP: ten calls refused for a 3 MB undeclared argument
// grew the data file by 39 MB, and secrets sent under names such as
// clientsecret or as sibyl tokens in ordinary fields were stored in the clear.
// Now only declared arguments are audited, oversized values as their length
// and hash, and the broad redaction rule applies to every audited call.
func TestAuditArgumentsBoundedAndRedacted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	p := mustLaunchHTTP(t, dir, nil)
	s, err := dialRawHTTP(ctx, newCTHTTPClient(), p.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	// A first call so the file exists at its working size.
	if _, err := s.callTool(ctx, "list_venues", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	_ = p.stop(30 * time.Second)
	before := fileSize(t, filepath.Join(dir, "sibyl.db"))

	p = mustLaunchHTTP(t, dir, nil)
	s, err = dialRawHTTP(ctx, newCTHTTPClient(), p.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	junk := strings.Repeat("J", 3<<20)
	for i := 0; i < 10; i++ {
		_, _ = s.callTool(ctx, "get_market", map[string]any{"market": "paper:NOPE", "junk_argument": junk})
	}
	// A declared argument far over its limit: kept as a marker.
	_, _ = s.callTool(ctx, "search_markets", map[string]any{"query": junk[:1<<20]})
	// Secrets in names the old rule missed, and token shapes in ordinary fields.
	secrets := map[string]any{
		"query": "sibyl_0a1b2c3d4e5f_Zm9vYmFyYmF6cXV4cXV1eGNvcmdl", "category": "0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d",
		"clientsecret": "CS-LEAK", "secretkey": "SK-LEAK", "apitoken": "AT-LEAK", "authtoken": "AU-LEAK", "accesstoken": "AC-LEAK",
		"privkey": "PK-LEAK", "signingkey": "SG-LEAK", "seed_phrase": "SP-LEAK", "bearer": "BR-LEAK", "jwt": "JW-LEAK",
		"pwd": "PW-LEAK", "otp": "OT-LEAK",
	}
	_, _ = s.callTool(ctx, "search_markets", secrets)
	_, _ = s.callTool(ctx, "search_markets", map[string]any{"query": "Bearer c2VjcmV0LXRva2VuLXZhbHVl", "limit": 1})
	if err := p.stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	after := fileSize(t, filepath.Join(dir, "sibyl.db"))
	if grew := after - before; grew > 1<<20 {
		t.Errorf("the data file grew by %d bytes for 12 refused calls, want under 1 MiB (only declared arguments, oversized ones as a marker)", grew)
	}
	code, out, err := runSibylStdout(ctx, "audit", "tail", "-n", "20", "--data-dir", dir)
	if err != nil || code != 0 {
		t.Fatalf("audit tail: exit %d, %v", code, err)
	}
	for _, leak := range []string{"junk_argument", "JJJJJJJJ", "Zm9vYmFy", "4f3edf983ac6", "-LEAK", "c2VjcmV0"} {
		if strings.Contains(out, leak) {
			t.Errorf("the audit log holds %q", leak)
		}
	}
	if !strings.Contains(out, "[oversized: 1048576 bytes, sha256 ") {
		t.Errorf("the audit log does not keep the oversized query as its length and hash:\n%.2000s", out)
	}
	t.Logf("data file: %d bytes before, %d after 12 refused calls with 3 MB and 1 MB arguments", before, after)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
