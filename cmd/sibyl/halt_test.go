package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// callJSON calls a tool and decodes its structured result into out; it
// returns the result's error object when it is an isError result.
func callJSON(ctx context.Context, t *testing.T, cs *sdk.ClientSession, tool string, args map[string]any, out any) *struct {
	Code, Message, Field string
	Retryable            bool
} {
	t.Helper()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	raw, _ := json.Marshal(res.StructuredContent)
	if res.IsError {
		var e struct {
			Error struct {
				Code, Message, Field string
				Retryable            bool
			} `json:"error"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		return &e.Error
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
	}
	return nil
}

// TestHaltAndResumeOnRunningServer runs 'sibyl halt --cancel-open' and 'sibyl
// resume' as separate processes against a running 'sibyl serve --http': the
// server refuses new orders and hedges once halted, cancels each resting
// order exactly once (checked at the venue with get_order), audits both
// commands, and trades again after resume with the key it refused. A halt
// given while no server runs applies at the next start.
func TestHaltAndResumeOnRunningServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	data := t.TempDir()
	url, proc := startServer(t, data, nil)
	cs := connectHTTP(ctx, t, url, "halt-test")

	var found struct {
		Markets []struct {
			ID string `json:"id"`
		} `json:"markets"`
	}
	if e := callJSON(ctx, t, cs, "search_markets", map[string]any{"query": "BTC", "status": "open", "limit": 1}, &found); e != nil || len(found.Markets) == 0 {
		t.Fatalf("search_markets: %+v %+v", e, found)
	}
	market := found.Markets[0].ID
	type order struct {
		OrderID string `json:"order_id"`
		Status  string `json:"status"`
	}
	var resting []string
	for i := range 3 {
		var o order
		if e := callJSON(ctx, t, cs, "place_order", map[string]any{"market": market, "outcome": "Yes", "side": "buy",
			"quantity": i + 1, "limit_price": 0.01, "idempotency_key": fmt.Sprintf("resting-%02d", i)}, &o); e != nil || o.Status != "open" {
			t.Fatalf("place_order: %+v %+v, want a resting order", e, o)
		}
		resting = append(resting, o.OrderID)
	}

	code, out, err := runSibylStdout(ctx, "halt", "--cancel-open", "--reason", "drill", "--data-dir", data)
	if err != nil || code != 0 {
		t.Fatalf("sibyl halt: exit %d %v\n%s", code, err, out)
	}
	m := regexp.MustCompile(`applied by the running server (\d+) ms`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "cancelled 3 resting orders (0 were already final, 0 failed)") {
		t.Fatalf("sibyl halt output:\n%s\nwant the running server's ack and 3 cancels", out)
	}
	ms, _ := strconv.Atoi(m[1])
	t.Logf("halt applied %d ms after the command (poll interval %v)", ms, controlPoll)

	for _, id := range resting {
		var o order
		if e := callJSON(ctx, t, cs, "get_order", map[string]any{"order_id": id}, &o); e != nil || o.Status != "cancelled" {
			t.Errorf("get_order %s after the halt: %+v %+v, want cancelled at the venue", id, e, o)
		}
	}
	newOrder := map[string]any{"market": market, "outcome": "Yes", "side": "buy", "quantity": 7, "limit_price": 0.01, "idempotency_key": "after-halt-01"}
	if e := callJSON(ctx, t, cs, "place_order", newOrder, nil); e == nil || e.Code != "risk_limit" || !strings.Contains(e.Message, "halted") || !strings.Contains(e.Message, "drill") {
		t.Errorf("place_order while halted: %+v, want risk_limit naming the halt", e)
	}
	hedge := map[string]any{"symbol": "BTC", "quantity": 0.1, "protect_below": 1, "execute": true, "idempotency_key": "hedge-halted-01",
		"by": time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)}
	if e := callJSON(ctx, t, cs, "hedge_position", hedge, nil); e == nil || e.Code != "risk_limit" {
		t.Errorf("hedge_position execute while halted: %+v, want risk_limit", e)
	}

	// The same halt seen again (a second run of the command) cancels nothing twice.
	code, out, _ = runSibylStdout(ctx, "halt", "--cancel-open", "--data-dir", data)
	if code != 0 || !strings.Contains(out, "cancelled 0 resting orders") {
		t.Errorf("second halt --cancel-open: exit %d\n%s\nwant nothing left to cancel", code, out)
	}

	if code, out, _ = runSibylStdout(ctx, "resume", "--data-dir", data); code != 0 || !strings.Contains(out, "resume applied by the running server") {
		t.Fatalf("sibyl resume: exit %d\n%s", code, out)
	}
	var o order
	if e := callJSON(ctx, t, cs, "place_order", newOrder, &o); e != nil {
		t.Errorf("place_order after resume with the key refused while halted: %+v", e)
	}

	cs.Close()
	stopServer(t, proc)

	// Every principal's entries: the operator's halt and resume, the cancels.
	code, out, err = runSibylStdout(ctx, "audit", "export", "--jsonl", "--data-dir", data)
	if err != nil || code != 0 {
		t.Fatalf("audit export: exit %d %v", code, err)
	}
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct{ Tool, Outcome, Principal string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		counts[e.Tool+"/"+e.Outcome]++
		if e.Tool == "halt" && e.Principal != "operator" {
			t.Errorf("halt audited for %q, want operator", e.Principal)
		}
	}
	if counts["halt/halted"] != 2 || counts["resume/resumed"] != 1 || counts["cancel_order/cancelled"] != 3 || counts["place_order/halted"] != 1 {
		t.Errorf("audit counts %v: want 2 halts, 1 resume, 3 cancels, 1 order refused as halted", counts)
	}
	if code, out, _ := runSibylStdout(ctx, "audit", "verify", "--data-dir", data); code != 0 {
		t.Errorf("audit verify: exit %d\n%s", code, out)
	}

	// No server running: the halt waits in the data dir for the next start.
	code, out, _ = runSibylStdout(ctx, "halt", "--wait", "300ms", "--data-dir", data)
	if code != 0 || !strings.Contains(out, "applies when 'sibyl serve' next starts") {
		t.Fatalf("halt with no server: exit %d\n%s", code, out)
	}
	url, _ = startServer(t, data, nil)
	cs = connectHTTP(ctx, t, url, "halt-test-2")
	defer cs.Close()
	newOrder["idempotency_key"] = "after-restart-01"
	if e := callJSON(ctx, t, cs, "place_order", newOrder, nil); e == nil || e.Code != "risk_limit" {
		t.Errorf("place_order on a server started while halted: %+v, want risk_limit", e)
	}
}
