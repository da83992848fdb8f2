package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestClientOverStdio(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sibyl")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/sibyl").CombinedOutput(); err != nil {
		t.Fatalf("building sibyl: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, transport(bin+" serve --data-dir "+t.TempDir(), ""), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"get_market", "Will ETH close above", "simulated=true"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
