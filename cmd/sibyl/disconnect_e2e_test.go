package main

import (
	"context"
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// placeWatched places two resting orders, one with cancel_on_disconnect, and
// returns their ids (watched, unwatched).
func placeWatched(ctx context.Context, t *testing.T, cs *sdk.ClientSession, tag string) (string, string) {
	t.Helper()
	var found struct {
		Markets []quotedMarket `json:"markets"`
	}
	if e := callJSON(ctx, t, cs, "search_markets", map[string]any{"query": "BTC", "status": "open", "limit": 1}, &found); e != nil || len(found.Markets) == 0 {
		t.Fatalf("search_markets: %+v", e)
	}
	var ids [2]string
	for i, watch := range []bool{true, false} {
		var o struct {
			OrderID string `json:"order_id"`
			Status  string `json:"status"`
		}
		args := map[string]any{"market": found.Markets[0].ID, "outcome": "Yes", "side": "buy", "quantity": i + 1, "limit_price": 0.01,
			"idempotency_key": fmt.Sprintf("%s-order-%d", tag, i), "cancel_on_disconnect": watch}
		if e := callJSON(ctx, t, cs, "place_order", args, &o); e != nil || o.Status != "open" {
			t.Fatalf("place_order: %+v %+v", e, o)
		}
		ids[i] = o.OrderID
	}
	return ids[0], ids[1]
}

// connectSession connects the official SDK client over HTTP on the
// 2025-11-25 revision, which has sessions (its default, 2026-07-28, is
// stateless: there is no session to end).
func connectSession(ctx context.Context, t *testing.T, url, name string) *sdk.ClientSession {
	t.Helper()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: name, Version: "1"}, nil).Connect(ctx,
		&sdk.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, &sdk.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// statusOf polls get_order until the order's status is want or 10s pass.
func statusOf(ctx context.Context, t *testing.T, cs *sdk.ClientSession, id, want string) string {
	t.Helper()
	var o struct {
		Status string `json:"status"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if e := callJSON(ctx, t, cs, "get_order", map[string]any{"order_id": id}, &o); e != nil {
			t.Fatalf("get_order %s: %+v", id, e)
		}
		if o.Status == want || time.Now().After(deadline) {
			return o.Status
		}
	}
}

// TestCancelOnDisconnect: an order placed with cancel_on_disconnect is
// cancelled when its session ends (HTTP DELETE from the official SDK client's
// Close; stdio's input closing), and, when the server was killed with the
// session open, when the next server starts; an order without it keeps
// resting.
func TestCancelOnDisconnect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("http session ends", func(t *testing.T) {
		url, _ := startServer(t, t.TempDir(), nil)
		a := connectSession(ctx, t, url, "agent-a")
		watched, kept := placeWatched(ctx, t, a, "http")
		a.Close() // DELETE: the session ends
		b := connectHTTP(ctx, t, url, "agent-b")
		defer b.Close()
		if got := statusOf(ctx, t, b, watched, "cancelled"); got != "cancelled" {
			t.Errorf("watched order after its session ended: %s, want cancelled", got)
		}
		if got := statusOf(ctx, t, b, kept, "open"); got != "open" {
			t.Errorf("unwatched order: %s, want open", got)
		}
	})

	t.Run("stdio input closes", func(t *testing.T) {
		dir := t.TempDir()
		stdio := func() *sdk.ClientSession {
			cmd := exec.Command(sibylBin, "serve", "--data-dir", dir)
			cmd.Env = ctEnv(nil)
			cs, err := sdk.NewClient(&sdk.Implementation{Name: "stdio-agent", Version: "1"}, nil).Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return cs
		}
		a := stdio()
		watched, kept := placeWatched(ctx, t, a, "stdio")
		a.Close() // closes the server's stdin; it cancels, then exits
		b := stdio()
		defer b.Close()
		if got := statusOf(ctx, t, b, watched, "cancelled"); got != "cancelled" {
			t.Errorf("watched order after stdio closed: %s, want cancelled", got)
		}
		if got := statusOf(ctx, t, b, kept, "open"); got != "open" {
			t.Errorf("unwatched order: %s, want open", got)
		}
	})

	t.Run("server killed", func(t *testing.T) {
		dir := t.TempDir()
		url, proc := startServer(t, dir, nil)
		a := connectSession(ctx, t, url, "agent-a")
		watched, kept := placeWatched(ctx, t, a, "killed")
		_ = proc.Process.Signal(syscall.SIGKILL)
		_ = proc.Wait()
		a.Close()
		url, _ = startServer(t, dir, nil)
		b := connectHTTP(ctx, t, url, "agent-b")
		defer b.Close()
		if got := statusOf(ctx, t, b, watched, "cancelled"); got != "cancelled" {
			t.Errorf("watched order after the server died: %s, want cancelled at the next start", got)
		}
		if got := statusOf(ctx, t, b, kept, "open"); got != "open" {
			t.Errorf("unwatched order: %s, want open", got)
		}
	})
}
