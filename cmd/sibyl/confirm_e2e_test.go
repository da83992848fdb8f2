package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestConfirmAboveWithOfficialClient runs 'sibyl serve --confirm-above 1'
// over stdio and HTTP and connects the official Go SDK client three ways: a
// person who accepts (the order is placed), one who declines (a stored
// risk_limit refusal, replayed without asking again), and a client without
// elicitation support (a refusal telling the operator how to raise the
// threshold, not stored). The audit log holds the answers and who gave them.
func TestConfirmAboveWithOfficialClient(t *testing.T) {
	flags := []string{"--confirm-above", "1"}
	start := map[string]func(t *testing.T) func() sdk.Transport{
		"stdio": func(t *testing.T) func() sdk.Transport {
			dir := t.TempDir()
			return func() sdk.Transport {
				// One data dir, one server process at a time: each client gets
				// its own process on the same file, in turn.
				cmd := exec.Command(sibylBin, append([]string{"serve", "--data-dir", dir}, flags...)...)
				cmd.Env = ctEnv(nil)
				return &sdk.CommandTransport{Command: cmd}
			}
		},
		// The SDK's default revision over HTTP is the stateless 2026-07-28: the
		// question travels as an input_required round trip.
		"http": func(t *testing.T) func() sdk.Transport {
			url, _ := startServer(t, t.TempDir(), nil, flags...)
			return func() sdk.Transport { return &sdk.StreamableClientTransport{Endpoint: url, MaxRetries: -1} }
		},
		// A handshake revision: the question is a server-to-client request on
		// the POST's SSE stream.
		"http-2025-11-25": func(t *testing.T) func() sdk.Transport {
			url, _ := startServer(t, t.TempDir(), nil, flags...)
			return func() sdk.Transport { return &sdk.StreamableClientTransport{Endpoint: url, MaxRetries: -1} }
		},
	}
	for name, mk := range start {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			transport := mk(t)
			var asked atomic.Int32
			var lastMessage atomic.Value
			connect := func(answer string) *sdk.ClientSession {
				var opts *sdk.ClientOptions
				if answer != "" {
					opts = &sdk.ClientOptions{ElicitationHandler: func(_ context.Context, r *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
						asked.Add(1)
						lastMessage.Store(r.Params.Message)
						if answer == "accept" {
							return &sdk.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}, nil
						}
						return &sdk.ElicitResult{Action: "decline"}, nil
					}}
				}
				var sopts *sdk.ClientSessionOptions
				if strings.HasSuffix(name, "2025-11-25") {
					sopts = &sdk.ClientSessionOptions{ProtocolVersion: "2025-11-25"}
				}
				cs, err := sdk.NewClient(&sdk.Implementation{Name: "confirm-" + answer, Version: "1"}, opts).Connect(ctx, transport(), sopts)
				if err != nil {
					t.Fatal(err)
				}
				return cs
			}
			var found struct {
				Markets []quotedMarket `json:"markets"`
			}
			cs := connect("accept")
			if e := callJSON(ctx, t, cs, "search_markets", map[string]any{"query": "BTC", "status": "open", "limit": 1}, &found); e != nil || len(found.Markets) == 0 {
				t.Fatalf("search_markets: %+v", e)
			}
			market := found.Markets[0].ID
			order := func(key string, qty int) map[string]any {
				return map[string]any{"market": market, "outcome": "Yes", "side": "buy", "quantity": qty, "limit_price": 0.05, "idempotency_key": key}
			}

			// Under the threshold ($0.50): no question.
			var o struct {
				OrderID string `json:"order_id"`
			}
			if e := callJSON(ctx, t, cs, "place_order", order("small-order-1", 10), &o); e != nil || asked.Load() != 0 {
				t.Fatalf("order under the threshold: %+v, asked %d times, want placed without a question", e, asked.Load())
			}
			// Over it ($2.00): asked, accepted, placed.
			if e := callJSON(ctx, t, cs, "place_order", order("big-accepted-1", 40), &o); e != nil || o.OrderID == "" || asked.Load() != 1 {
				t.Fatalf("accepted order: %+v %+v, asked %d times", e, o, asked.Load())
			}
			msg, _ := lastMessage.Load().(string)
			for _, want := range []string{market, "buy 40 contracts", "at 0.05", "cost $2.00", "fees $"} {
				if !strings.Contains(msg, want) {
					t.Errorf("question %q: want %q in it", msg, want)
				}
			}
			cs.Close()

			cs = connect("decline")
			e := callJSON(ctx, t, cs, "place_order", order("big-declined-1", 41), nil)
			if e == nil || e.Code != "risk_limit" || !strings.Contains(e.Message, "declined") {
				t.Fatalf("declined order: %+v, want risk_limit saying the person declined", e)
			}
			again := callJSON(ctx, t, cs, "place_order", order("big-declined-1", 41), nil)
			if again == nil || again.Message != e.Message || asked.Load() != 2 {
				t.Errorf("retry of the declined order: %+v, asked %d times; want the stored refusal without a second question", again, asked.Load())
			}
			cs.Close()

			cs = connect("")
			e = callJSON(ctx, t, cs, "place_order", order("big-no-elicit-1", 42), nil)
			if e == nil || e.Code != "risk_limit" || !strings.Contains(e.Message, "--confirm-above") || !strings.Contains(e.Message, "elicitation") {
				t.Fatalf("client without elicitation: %+v, want risk_limit telling the operator about --confirm-above", e)
			}
			var log struct {
				Entries []struct {
					Tool, Outcome, Error string
					Key                  string          `json:"idempotency_key"`
					Args                 json.RawMessage `json:"args"`
				} `json:"entries"`
			}
			if e := callJSON(ctx, t, cs, "get_audit_log", map[string]any{"tool": "place_order", "limit": 200}, &log); e != nil {
				t.Fatal(e)
			}
			got := map[string][]string{}
			for _, en := range log.Entries {
				key := en.Key
				if key == "" && strings.Contains(string(en.Args), "big-no-elicit-1") {
					key = "big-no-elicit-1" // refused before the orders service: audited by the registry, key in the arguments
				}
				out := en.Outcome
				if out == "error" {
					out += ":" + en.Error
				}
				got[key] = append(got[key], out)
				if en.Outcome == "confirmed" || en.Outcome == "declined" {
					if !strings.Contains(string(en.Args), "confirm-accept") && !strings.Contains(string(en.Args), "confirm-decline") {
						t.Errorf("%s entry args %s: want who answered (the client)", en.Outcome, en.Args)
					}
				}
			}
			want := map[string]string{
				"small-order-1":   "intent placed",
				"big-accepted-1":  "confirmed intent placed",
				"big-declined-1":  "declined rejected replay",
				"big-no-elicit-1": "error:risk_limit",
			}
			for k, w := range want {
				if g := strings.Join(got[k], " "); g != w {
					t.Errorf("audit of %s: got %q, want %q", k, g, w)
				}
			}
			cs.Close()
		})
	}
}
