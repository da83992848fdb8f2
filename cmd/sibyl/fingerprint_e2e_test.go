package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestRetrySpellingOutDefaultsReplays: a place_order retry that spells out
// the defaults (time_in_force "gtc" on a limit order, cancel_on_disconnect
// false) replays the first call instead of being refused as
// idempotency_key_reused; a retry that changes one is still refused (issue
// 11, item 6). Over HTTP against a real sibyl serve.
func TestRetrySpellingOutDefaultsReplays(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := sdk.NewClient(&sdk.Implementation{Name: "fp", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: startHTTP(t), MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "search_markets", Arguments: map[string]any{"query": "BTC above", "status": "open", "limit": 100}})
	if err != nil || res.IsError {
		t.Fatalf("search_markets: %v %s", err, text(res))
	}
	market := pickMarket(t, res)
	place := func(extra map[string]any) (map[string]any, *sdk.CallToolResult) {
		args := map[string]any{"market": market, "outcome": "No", "side": "buy", "quantity": 2, "limit_price": 0.02, "idempotency_key": "fp-defaults-e2e-1"}
		for k, v := range extra {
			args[k] = v
		}
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "place_order", Arguments: args})
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		_ = json.Unmarshal([]byte(text(res)), &out)
		return out, res
	}
	first, res := place(nil)
	if res.IsError || first["replayed"] != false {
		t.Fatalf("first place_order: %s", text(res))
	}
	for _, tc := range []struct {
		name  string
		extra map[string]any
	}{
		{"time_in_force gtc", map[string]any{"time_in_force": "gtc"}},
		{"cancel_on_disconnect false", map[string]any{"cancel_on_disconnect": false}},
		{"both, quantity 2.0", map[string]any{"time_in_force": "gtc", "cancel_on_disconnect": false, "quantity": 2.0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, res := place(tc.extra)
			if res.IsError || got["replayed"] != true || got["order_id"] != first["order_id"] {
				t.Errorf("got %.300s, want a replay of order %v", text(res), first["order_id"])
			}
		})
	}
	_, res = place(map[string]any{"time_in_force": "ioc"})
	if !res.IsError || !strings.Contains(text(res), "idempotency_key_reused") {
		t.Errorf("retry with time_in_force ioc: got %.300s, want idempotency_key_reused", text(res))
	}
}
