package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestWalkthrough runs the example against a real sibyl process; every
// reconnect starts a new process on the same data dir.
func TestWalkthrough(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sibyl")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/sibyl").CombinedOutput(); err != nil {
		t.Fatalf("building sibyl: %v\n%s", err, out)
	}
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	connect := func() (*mcp.ClientSession, error) {
		c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
		return c.Connect(ctx, &mcp.CommandTransport{Command: exec.Command(bin, "serve", "--data-dir", data)}, nil)
	}
	var out bytes.Buffer
	if err := run(ctx, connect, &out); err != nil {
		t.Fatalf("%v\noutput so far:\n%s", err, out.String())
	}
	for _, want := range []string{"replayed=true", "idempotency_key_reused", "chain intact: true"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// The log is on disk and verifies from the command line too.
	if out, err := exec.Command(bin, "audit", "verify", "--data-dir", data).CombinedOutput(); err != nil {
		t.Errorf("sibyl audit verify: %v\n%s", err, out)
	}
}

// TestRunsTwiceInAMinute runs the example program twice in a row with its
// default data dir: each run gets a fresh one, so the second is not refused as
// a possible duplicate of the first run's order.
func TestRunsTwiceInAMinute(t *testing.T) {
	dir := t.TempDir()
	bin, agent := filepath.Join(dir, "sibyl"), filepath.Join(dir, "agent")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/sibyl").CombinedOutput(); err != nil {
		t.Fatalf("building sibyl: %v\n%s", err, out)
	}
	if out, err := exec.Command("go", "build", "-o", agent, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the example: %v\n%s", err, out)
	}
	for i := 1; i <= 2; i++ {
		out, err := exec.Command(agent, "-cmd", bin+" serve").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "chain intact: true") {
			t.Fatalf("run %d: %v\n%s", i, err, out)
		}
	}
}
