package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
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
	for _, want := range []string{"get_market", "Will ETH close above", "simulated=true", "probability"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// A side with no quote says so; it is never shown as a price of 0.
	for _, bad := range []string{"ask 0.00", "bid 0.00", "p=0.000"} {
		if strings.Contains(out.String(), bad) {
			t.Errorf("output shows %q:\n%s", bad, out.String())
		}
	}
}

func TestOneSidedOutcome(t *testing.T) {
	var o outcome
	if err := json.Unmarshal([]byte(`{"name":"Yes","bid":0.98,"bid_size":120,"last":0.99,"implied_probability":0.99,"probability_source":"last_trade"}`), &o); err != nil {
		t.Fatal(err)
	}
	if got, want := o.String(), "Yes  bid 0.98 ask none  p=0.99 (last_trade)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestClientConfigsNameTheirTransport: every shipped client config entry says
// its transport (a URL entry without "type" is read as something else by some
// clients).
func TestClientConfigsNameTheirTransport(t *testing.T) {
	files, _ := filepath.Glob("../clients/*.json")
	if len(files) == 0 {
		t.Fatal("no client configs")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]map[string]map[string]any
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, servers := range cfg {
			for name, entry := range servers {
				if _, ok := entry["url"]; ok && entry["type"] == nil {
					t.Errorf("%s: %s has a url but no type", f, name)
				}
			}
		}
	}
}
