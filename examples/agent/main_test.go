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
