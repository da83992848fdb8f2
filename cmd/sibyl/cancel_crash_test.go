package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestCancelCrashAtEachPoint cancels a resting order on a server that dies at
// one of the cancel's crash points (its claim on disk; the venue has cancelled;
// its completion on disk), restarts the server on the same data file and
// retries the cancel with the same key, twice: the order is cancelled, every
// answer names it with the same status, the first retry says replayed unless
// the cancel had not reached the venue, the second always does, and the audit
// log holds exactly one completion for the cancel's key and verifies. The
// crash harness kills servers under place_order load; this covers cancel_order.
func TestCancelCrashAtEachPoint(t *testing.T) {
	for _, tt := range []struct {
		point        string
		firstReplays bool // the first retry finds the cancel done or at the venue
	}{
		{"after-claim", false}, // nothing reached the venue: the retry cancels
		{"after-send", true},   // the venue cancelled: the retry reconciles
		{"after-complete", true},
	} {
		t.Run(tt.point, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			data := t.TempDir()
			connect := func(url string) *sdk.ClientSession { return connectHTTP(ctx, t, url, "cancel-crash") }
			call := func(cs *sdk.ClientSession, tool string, args map[string]any, out any) error {
				res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: args})
				if err != nil {
					return err
				}
				if res.IsError {
					t.Fatalf("%s: %s", tool, text(res))
				}
				raw, _ := json.Marshal(res.StructuredContent)
				if err := json.Unmarshal(raw, out); err != nil {
					t.Fatalf("%s: %v", tool, err)
				}
				return nil
			}
			type orderAnswer struct {
				OrderID  string `json:"order_id"`
				Status   string `json:"status"`
				Replayed bool   `json:"replayed"`
			}

			// A calm server: a bid far under the market, which rests.
			url, proc := startServer(t, data, nil)
			cs := connect(url)
			var found struct {
				Markets []struct {
					ID string `json:"id"`
				} `json:"markets"`
			}
			if err := call(cs, "search_markets", map[string]any{"query": "BTC", "status": "open", "limit": 1}, &found); err != nil || len(found.Markets) == 0 {
				t.Fatalf("search_markets: %v %+v", err, found)
			}
			var placed orderAnswer
			err := call(cs, "place_order", map[string]any{"market": found.Markets[0].ID, "outcome": "Yes", "side": "buy",
				"quantity": 3, "limit_price": 0.01, "idempotency_key": "rest-order-01"}, &placed)
			if err != nil || placed.Status != "open" {
				t.Fatalf("place_order: %v %+v, want a resting order", err, placed)
			}
			cs.Close()
			stopServer(t, proc)

			// A server that dies at the crash point of the cancel. Before the
			// completion nobody hears an answer; the completion of an accepted
			// cancel is written after the answer may have left (as for orders),
			// so at after-complete the caller may have heard it.
			cancelArgs := map[string]any{"order_id": placed.OrderID, "idempotency_key": "cancel-key-01"}
			url, proc = startServer(t, data, []string{"SIBYL_TEST_CRASH=" + tt.point + ":1"})
			cs = connect(url)
			var heard orderAnswer
			if err := call(cs, "cancel_order", cancelArgs, &heard); err == nil {
				if tt.point != "after-complete" {
					t.Fatalf("cancel_order answered (%+v); want the server to die at %s first", heard, tt.point)
				}
				if heard.OrderID != placed.OrderID || heard.Status != "cancelled" || heard.Replayed {
					t.Errorf("the answer heard before the crash: %+v, want order %s cancelled, not replayed", heard, placed.OrderID)
				}
			}
			if err := proc.Wait(); err == nil || proc.ProcessState.ExitCode() != 137 {
				t.Fatalf("server exit: %v, want status 137 from the crash hook", err)
			}
			cs.Close()

			// Restarted: the retries.
			url, _ = startServer(t, data, nil)
			cs = connect(url)
			defer cs.Close()
			var first, second, got orderAnswer
			if err := call(cs, "cancel_order", cancelArgs, &first); err != nil {
				t.Fatal(err)
			}
			if err := call(cs, "cancel_order", cancelArgs, &second); err != nil {
				t.Fatal(err)
			}
			for i, a := range []orderAnswer{first, second} {
				if a.OrderID != placed.OrderID || a.Status != "cancelled" {
					t.Errorf("retry %d: %+v, want order %s cancelled", i+1, a, placed.OrderID)
				}
			}
			if first.Replayed != tt.firstReplays || !second.Replayed {
				t.Errorf("replayed: first retry %v (want %v), second %v (want true)", first.Replayed, tt.firstReplays, second.Replayed)
			}
			if err := call(cs, "get_order", map[string]any{"order_id": placed.OrderID}, &got); err != nil || got.Status != "cancelled" {
				t.Errorf("get_order: %v %+v, want cancelled", err, got)
			}

			var log struct {
				Entries []struct {
					Outcome string `json:"outcome"`
					Key     string `json:"idempotency_key"`
				} `json:"entries"`
				Verified bool   `json:"verified"`
				ChainOK  bool   `json:"chain_ok"`
				Problem  string `json:"problem"`
			}
			if err := call(cs, "get_audit_log", map[string]any{"tool": "cancel_order", "limit": 500, "verify": true}, &log); err != nil {
				t.Fatal(err)
			}
			if !log.Verified || !log.ChainOK {
				t.Errorf("audit chain: verified %v ok %v (%s)", log.Verified, log.ChainOK, log.Problem)
			}
			completions := map[string]int{}
			for _, e := range log.Entries {
				if e.Key == "cancel-key-01" {
					completions[e.Outcome]++
				}
			}
			if n := completions["cancelled"] + completions["reconciled"]; n != 1 {
				t.Errorf("the cancel key's audit entries %v: %d completions, want exactly 1", completions, n)
			}
		})
	}
}

// stopServer interrupts a server started by startServer and waits for it to
// exit, so another may open its data file.
func stopServer(t *testing.T, proc *exec.Cmd) {
	t.Helper()
	_ = proc.Process.Signal(os.Interrupt)
	if err := proc.Wait(); err != nil {
		t.Fatalf("stopping the server: %v", err)
	}
}
