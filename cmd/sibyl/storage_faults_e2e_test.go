package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// makeDataFile runs a real server on a new data dir, makes a few calls (an
// order among them) so that the file holds records, balances and audit
// entries, stops it and returns the dir.
func makeDataFile(ctx context.Context, t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	p := mustLaunchHTTP(t, dir, nil)
	s, err := dialRawHTTP(ctx, newCTHTTPClient(), p.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := findOpenMarkets(ctx, s, 1)
	if err != nil || len(ms) == 0 {
		t.Fatalf("finding a market: %v", err)
	}
	for i := 0; i < 20; i++ {
		a, err := s.callTool(ctx, "place_order", map[string]any{"market": ms[0].ID, "outcome": "Yes", "side": "buy",
			"quantity": 1 + i, "limit_price": 0.01, "idempotency_key": fmt.Sprintf("fault-%03d", i)})
		if err != nil || a.IsError {
			t.Fatalf("place_order: %v %v", a, err)
		}
	}
	if err := p.stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyDataDir copies dir's sibyl.db into a new dir and returns it.
func copyDataDir(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	copyFile(t, filepath.Join(dir, "sibyl.db"), filepath.Join(dst, "sibyl.db"))
	return dst
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// runSibylIn runs the binary with stdin closed and returns its exit code and
// combined output; a death by signal is reported as the signal.
func runSibylIn(ctx context.Context, t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, sibylBin, args...)
	cmd.Env = ctEnv(nil)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal()), string(out)
		}
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestDamagedDataFile: a truncated sibyl.db crashed serve and audit verify
// with a Go runtime fault (SIGBUS inside bbolt), and a zero-length one was
// silently started as a new store. Both now exit 1 with a message naming the
// file and what to do, and the file is left as it was.
func TestDamagedDataFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	good := makeDataFile(ctx, t)
	used := usedBytes(t, filepath.Join(good, "sibyl.db"))
	for _, tc := range []struct {
		name    string
		size    int64
		message string
	}{
		{"truncated to half its pages", used / 2, "is truncated"},
		{"truncated after the meta pages", 3 * 4096, "is truncated"},
		{"zero length", 0, "is empty (0 bytes)"},
	} {
		for _, args := range [][]string{{"serve"}, {"audit", "verify"}, {"audit", "export", "--jsonl"}} {
			t.Run(tc.name+"/"+strings.Join(args, " "), func(t *testing.T) {
				dir := copyDataDir(t, good)
				path := filepath.Join(dir, "sibyl.db")
				if err := os.Truncate(path, tc.size); err != nil {
					t.Fatal(err)
				}
				code, out := runSibylIn(ctx, t, append(args, "--data-dir", dir)...)
				if code != 1 || !strings.Contains(out, path) || !strings.Contains(out, tc.message) || !strings.Contains(out, "backup") {
					t.Errorf("sibyl %s on a file %s: exit %d, output:\n%.1500s\nwant exit 1 naming %s, saying %q and what to do", strings.Join(args, " "), tc.name, code, out, path, tc.message)
				}
				for _, crash := range []string{"SIGBUS", "goroutine ", "panic"} {
					if strings.Contains(out, crash) {
						t.Errorf("output has %q: a crash, not a message", crash)
					}
				}
				if got := fileSize(t, path); got != tc.size {
					t.Errorf("the file is %d bytes after the refusal, want it left at %d", got, tc.size)
				}
			})
		}
	}
}

// usedBytes returns the bytes of the file bbolt's header says are in use
// (pages up to the high-water mark); the file itself may be longer.
func usedBytes(t *testing.T, path string) int64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	_ = db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	if n <= 3*4096 {
		t.Fatalf("the data file uses %d bytes, want more than 3 pages for the truncation cases", n)
	}
	return n
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory and unmounts it
// in cleanup. It skips the test, saying why, unless the test runs as root
// (CI's .ci/run does) and mount works.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs (CI runs the tests as root); skipped")
	}
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount -t tmpfs failed (%v: %s); skipped", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestAuditCommandsOnReadOnlyCopy: sibyl audit verify, tail and export read a
// copy of the data file that cannot be written: on a read-only mount when the
// test runs as root (root ignores file modes), else a 0444 file in a 0555
// directory.
func TestAuditCommandsOnReadOnlyCopy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	good := makeDataFile(ctx, t)
	var dir string
	if os.Geteuid() == 0 {
		dir = mountTmpfs(t, 64<<20)
		copyFile(t, filepath.Join(good, "sibyl.db"), filepath.Join(dir, "sibyl.db"))
		if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
			t.Fatalf("remount ro: %v: %s", err, out)
		}
		if f, err := os.OpenFile(filepath.Join(dir, "sibyl.db"), os.O_RDWR, 0); err == nil {
			f.Close()
			t.Fatal("the copy is writable after remount,ro")
		}
	} else {
		dir = copyDataDir(t, good)
		if err := os.Chmod(filepath.Join(dir, "sibyl.db"), 0o444); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
	}
	before := fileSize(t, filepath.Join(dir, "sibyl.db"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"audit", "verify"}, "audit chain intact"},
		{[]string{"audit", "tail", "-n", "3"}, `"tool":"place_order"`},
		{[]string{"audit", "export", "--jsonl"}, `"seq":1,`},
	} {
		code, out := runSibylIn(ctx, t, append(tc.args, "--data-dir", dir)...)
		if code != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("sibyl %s on a read-only copy: exit %d, output %.600q; want 0 and %q", strings.Join(tc.args, " "), code, out, tc.want)
		}
	}
	if after := fileSize(t, filepath.Join(dir, "sibyl.db")); after != before {
		t.Errorf("the read-only copy changed size: %d -> %d", before, after)
	}
}
