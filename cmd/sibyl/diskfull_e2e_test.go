package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fillDisk writes a file in dir until the file system is full and returns its
// path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// Fill the last partial block too.
	small := make([]byte, 512)
	for {
		if _, err := f.Write(small); err != nil {
			break
		}
	}
	return path
}

// TestDiskFullRefusesOrdersAsUnavailable: with the data file's disk full, an
// order answered `internal`, retryable false, and the server logged one line
// per call. Now: unavailable, retryable, nothing sent to the venue, one log
// line per interval; after space is freed the same idempotency_key places the
// order once. A real server process on a small tmpfs (root only: skipped
// otherwise).
func TestDiskFullRefusesOrdersAsUnavailable(t *testing.T) {
	dir := mountTmpfs(t, 64<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := mustLaunchHTTP(t, dir, nil)
	s, err := dialRawHTTP(ctx, newCTHTTPClient(), p.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := findOpenMarkets(ctx, s, 1)
	if err != nil || len(ms) == 0 {
		t.Fatalf("finding a market: %v", err)
	}
	place := func(i int) (toolAnswer, error) {
		return s.callTool(ctx, "place_order", map[string]any{"market": ms[0].ID, "outcome": "Yes", "side": "buy",
			"quantity": 1 + i, "limit_price": 0.01, "idempotency_key": fmt.Sprintf("diskfull-%04d", i)})
	}
	if a, err := place(0); err != nil || a.IsError {
		t.Fatalf("first order: %v %v", a, err)
	}
	before, err := listAllOrders(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	filler := fillDisk(t, dir)

	const calls = 40
	var refused []int
	for i := 1; i <= calls; i++ {
		a, err := place(i)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if !a.IsError {
			continue // bbolt reused pages freed by earlier transactions
		}
		if a.Code != "unavailable" || !a.Retryable {
			t.Errorf("call %d with the disk full: got %s, want unavailable, retryable", i, a)
		}
		refused = append(refused, i)
	}
	if len(refused) < calls/2 {
		t.Fatalf("%d of %d orders refused with the disk full, want most (is the disk full?)", len(refused), calls)
	}
	after, err := listAllOrders(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(after), len(before)+calls-len(refused); got != want {
		t.Errorf("the venue has %d orders, want %d: a refused order reached the venue", got, want)
	}
	if n := strings.Count(p.stderr.String(), "disk is full"); n != 1 {
		t.Errorf("the server logged the full disk %d times for %d refusals within a minute, want once:\n%s", n, len(refused), p.stderr)
	}
	if n := strings.Count(p.stderr.String(), "\n"); n > 20 {
		t.Errorf("the server wrote %d log lines for %d refusals, want a handful:\n%.3000s", n, len(refused), p.stderr)
	}

	// Space freed: the same key places the order, once.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if a, err := place(refused[0]); err != nil || a.IsError {
		t.Fatalf("retry of call %d after freeing space: %v %v", refused[0], a, err)
	}
	final, err := listAllOrders(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(final) != len(after)+1 {
		t.Errorf("after the retry the venue has %d orders, want %d", len(final), len(after)+1)
	}
	t.Logf("disk full: %d of %d orders refused as unavailable (retryable), none sent; %d log line(s) about it", len(refused), calls, strings.Count(p.stderr.String(), "disk is full"))
}
