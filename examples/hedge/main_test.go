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

func TestWorkedExample(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sibyl")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/sibyl").CombinedOutput(); err != nil {
		t.Fatalf("building sibyl: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	s, err := c.Connect(ctx, &mcp.CommandTransport{Command: exec.Command(bin, "serve", "--paper-cash", "100000", "--data-dir", t.TempDir())}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out bytes.Buffer
	if err := run(ctx, s, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	// Every leg placed: filled in full, or resting where the book is thin.
	if !strings.Contains(out.String(), "Executed (status=filled, complete=true") && !strings.Contains(out.String(), "Executed (status=resting, complete=false") {
		t.Errorf("output lacks an execution with every leg placed:\n%s", out.String())
	}
	for _, want := range []string{"protection level", "fill now", "replayed=true"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "(replayed=false)") {
		t.Errorf("a retried leg was not replayed:\n%s", out.String())
	}
}
