package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWalkthrough runs the example's -demo against the sibyl built from this
// tree and the etcd binary on PATH: one order for 30 concurrent calls with
// one key, orders go on with an instance and an etcd member down, refused
// with the quorum lost, placed once after, and the audit chain verifies.
func TestWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and three sibyl instances; skipped with -short")
	}
	if _, err := exec.LookPath("etcd"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no etcd binary on PATH; under CI=true that is a failure (scripts/install-tools.sh installs etcd-server)")
		}
		t.Skip("no etcd binary on PATH (Debian: apt-get install etcd-server)")
	}
	bin := filepath.Join(t.TempDir(), "sibyl")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/sibyl").CombinedOutput(); err != nil {
		t.Fatalf("building sibyl: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, config{sibyl: bin, listen: "127.0.0.1:0", dir: t.TempDir(), demo: true}, &out)
	if err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	for _, want := range []string{
		"distinct orders: 1 ",
		"-one: order PO-00000001 (replayed=true)",
		"-two: order PO-00000002 (replayed=false)",
		"-three: order PO-00000003 (replayed=false)",
		"-four: order PO-00000004 (replayed=false)",
		"audit chain intact",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// With the quorum lost: refused as unavailable, at the API key check
	// (HTTP 503, error.data.code) or by place_order itself.
	if !strings.Contains(out.String(), `"code":"unavailable"`) && !strings.Contains(out.String(), "-four: refused: unavailable (retryable true)") {
		t.Errorf("output shows no unavailable refusal with the quorum lost:\n%s", out.String())
	}
}
