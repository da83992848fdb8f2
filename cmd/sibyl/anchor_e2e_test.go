package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/anchor"
	bolt "go.etcd.io/bbolt"
)

// runSibylEnv runs a sibyl subcommand with extra environment variables and
// returns its exit code and combined output.
func runSibylEnv(ctx context.Context, t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, sibylBin, args...)
	cmd.Env = ctEnv(env)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// serveAndCall runs a server on dir with env, makes n read calls and stops it.
func serveAndCall(ctx context.Context, t *testing.T, dir string, env []string, n int) {
	t.Helper()
	p := mustLaunchHTTP(t, dir, env)
	s, err := dialRawHTTP(ctx, newCTHTTPClient(), p.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := s.callTool(ctx, "search_markets", map[string]any{"query": "BTC", "limit": 1 + i%5}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// cutChain rewrites the data file as an attacker with write access would:
// every audit entry after keep is deleted and the chain head rewritten to
// entry keep (keep 0: the chain wiped), so the chain alone still verifies.
func cutChain(t *testing.T, path string, keep uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		var del [][]byte
		hash := strings.Repeat("0", 64)
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if binary.BigEndian.Uint64(k) > keep {
				del = append(del, append([]byte(nil), k...))
			} else {
				var e struct{ Hash string }
				if err := json.Unmarshal(v, &e); err != nil {
					return err
				}
				hash = e.Hash
			}
		}
		for _, k := range del {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		meta := tx.Bucket([]byte("meta"))
		if keep == 0 {
			return meta.Delete([]byte("audit_head"))
		}
		return meta.Put([]byte("audit_head"), []byte(fmt.Sprintf(`{"seq":%d,"hash":"%s"}`, keep, hash)))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAuditAnchorDetectsTruncationWipeRollback: a hash chain inside the data
// file cannot tell a truncation with a rewritten head, a wipe or a rollback to
// an older copy from an honest shorter chain (plain `audit verify` passes all
// three, HMAC on). With `serve --audit-anchor FILE`, `audit verify --anchor
// FILE` exits non-zero naming the checkpoint's sequence number. Real server
// processes, a real bbolt file.
func TestAuditAnchorDetectsTruncationWipeRollback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	anchorPath := filepath.Join(t.TempDir(), "audit.anchor")
	env := []string{"SIBYL_AUDIT_KEY=test-audit-key", "SIBYL_AUDIT_ANCHOR=" + anchorPath}
	keyOnly := env[:1]

	serveAndCall(ctx, t, dir, env, 8)
	older := copyDataDir(t, dir) // a backup an attacker could restore later
	serveAndCall(ctx, t, dir, env, 12)

	cps, err := anchor.Read(anchorPath)
	if err != nil {
		t.Fatal(err)
	}
	last := cps[len(cps)-1]
	if len(cps) < 3 || last.Seq < 20 || last.HMAC == "" {
		t.Fatalf("anchor has %d checkpoints, last %+v; want start and shutdown checkpoints of both runs, signed", len(cps), last)
	}
	code, out := runSibylEnv(ctx, t, keyOnly, "audit", "verify", "--data-dir", dir, "--anchor", anchorPath)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("the latest at seq %d", last.Seq)) {
		t.Fatalf("verify --anchor on the intact file: exit %d: %s", code, out)
	}
	// firstAfter is the first checkpoint beyond a chain cut back to seq.
	firstAfter := func(seq uint64) uint64 {
		for _, c := range cps {
			if c.Seq > seq {
				return c.Seq
			}
		}
		t.Fatalf("no checkpoint after seq %d", seq)
		return 0
	}

	truncated := copyDataDir(t, dir)
	cutChain(t, filepath.Join(truncated, "sibyl.db"), last.Seq-5)
	wiped := copyDataDir(t, dir)
	cutChain(t, filepath.Join(wiped, "sibyl.db"), 0)
	var olderHead uint64
	{
		code, out := runSibylEnv(ctx, t, keyOnly, "audit", "verify", "--data-dir", older)
		if _, err := fmt.Sscanf(out, "audit chain intact: %d entries", &olderHead); code != 0 || err != nil {
			t.Fatalf("verify of the older copy: exit %d: %s", code, out)
		}
	}
	for _, tc := range []struct {
		name string
		dir  string
		want uint64 // the checkpoint named
	}{
		{"truncation with a rewritten head", truncated, firstAfter(last.Seq - 5)},
		{"wipe", wiped, firstAfter(0)},
		{"rollback to an older copy", older, firstAfter(olderHead)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runSibylEnv(ctx, t, keyOnly, "audit", "verify", "--data-dir", tc.dir)
			if code != 0 {
				t.Fatalf("plain verify: exit %d: %s (the chain alone should still look intact)", code, out)
			}
			code, out = runSibylEnv(ctx, t, keyOnly, "audit", "verify", "--data-dir", tc.dir, "--anchor", anchorPath)
			want := fmt.Sprintf("anchor checkpoint at seq %d:", tc.want)
			if code == 0 || !strings.Contains(out, want) {
				t.Errorf("verify --anchor: exit %d, output %q; want non-zero and %q", code, out, want)
			}
			t.Logf("%s: %s", tc.name, strings.TrimSpace(out))
		})
	}

	// A server started on the rolled-back copy with the same anchor refuses to
	// serve it (it would forget idempotency records).
	if p, err := launchHTTPServer(older, env); err == nil {
		p.kill()
		t.Error("serve on the rolled-back copy with its anchor: started, want a refusal")
	} else if want := fmt.Sprintf("anchor checkpoint at seq %d:", firstAfter(olderHead)); !strings.Contains(err.Error(), want) {
		t.Errorf("serve on the rolled-back copy: %v; want a refusal naming %q", err, want)
	}

	// A checkpoint appended by someone without the key is refused as such.
	w, err := anchor.Open(anchorPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(last.Seq, last.Hash, time.Now()); err != nil {
		t.Fatal(err)
	}
	w.Close()
	code, out = runSibylEnv(ctx, t, keyOnly, "audit", "verify", "--data-dir", dir, "--anchor", anchorPath)
	if want := fmt.Sprintf("anchor checkpoint at seq %d (line %d", last.Seq, len(cps)+1); code == 0 || !strings.Contains(out, want) || !strings.Contains(out, "wrong HMAC") {
		t.Errorf("verify --anchor with an unsigned checkpoint appended: exit %d: %s; want a wrong-HMAC failure naming %q", code, out, want)
	}
}
