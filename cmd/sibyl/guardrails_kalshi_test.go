package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/venues/kalshi/kalshitest"
)

// TestGuardrailDefaultsOnKalshiDemo runs 'sibyl serve --venues paper,kalshi'
// with demo credentials against an httptest Kalshi and no risk flags: Kalshi
// (demo mode) gets the documented default limits and confirmation threshold,
// paper none; orders breaking them are refused before any create reaches
// Kalshi; one within them rests there; 'sibyl halt --cancel-open' cancels it
// at Kalshi and refuses new orders; 'sibyl resume' restores.
func TestGuardrailDefaultsOnKalshiDemo(t *testing.T) {
	key, keyPath := kalshiKeyFile(t)
	srv := kalshitest.New(kalshitest.Options{KeyID: "guard-key", PublicKey: &key.PublicKey, Balance: "100000"})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	p := mustLaunchHTTP(t, dir, []string{"SIBYL_VENUES=paper,kalshi", "SIBYL_KALSHI_URL=" + srv.URL(),
		"KALSHI_API_KEY_ID=guard-key", "KALSHI_PRIVATE_KEY_PATH=" + keyPath})
	s := dialE2E(ctx, t, p)

	a, err := s.callTool(ctx, "list_venues", map[string]any{})
	if err != nil || a.IsError {
		t.Fatalf("list_venues: %v %v", a, err)
	}
	var lv struct {
		Venues []struct {
			Name, Mode string
			Limits     map[string]any `json:"risk_limits"`
		} `json:"venues"`
	}
	if err := a.decode(&lv); err != nil {
		t.Fatal(err)
	}
	for _, v := range lv.Venues {
		switch v.Name {
		case "kalshi":
			if v.Mode != "demo" || v.Limits["max_order"] != 100.0 || v.Limits["confirm_above"] != 50.0 || v.Limits["price_collar"] != 0.1 {
				t.Errorf("kalshi: mode %s limits %v, want demo with the defaults", v.Mode, v.Limits)
			}
		case "paper":
			if v.Limits != nil {
				t.Errorf("paper limits %v, want none", v.Limits)
			}
		}
	}

	const mkt = "kalshi:KXBTCD-26DEC3117-T119999.99" // Yes bid 0.42, ask 0.43
	creates := func() int { return srv.Requests("POST /portfolio/events/orders") }
	for i, tc := range []struct {
		name  string
		args  map[string]any
		limit string
	}{
		{"over $100", map[string]any{"quantity": 300, "limit_price": 0.43}, "risk-max-order"},
		{"far from the mid", map[string]any{"quantity": 1, "limit_price": 0.10}, "risk-price-collar"},
		{"market order without worst_price", map[string]any{"quantity": 1, "time_in_force": "ioc"}, "worst-price"},
		{"over $50, client cannot confirm", map[string]any{"quantity": 150, "limit_price": 0.43}, "confirm-above"},
	} {
		args := map[string]any{"market": mkt, "outcome": "Yes", "side": "buy", "idempotency_key": fmt.Sprintf("guard-refused-%d", i)}
		for k, v := range tc.args {
			args[k] = v
		}
		before := creates()
		a, err := s.callTool(ctx, "place_order", args)
		if err != nil || !a.IsError || a.Code != "risk_limit" || !strings.Contains(a.Message, "risk limit "+tc.limit+":") {
			t.Errorf("%s: %v %v, want risk_limit %s", tc.name, a, err, tc.limit)
		}
		if n := creates() - before; n != 0 {
			t.Errorf("%s: %d creates reached Kalshi, want 0", tc.name, n)
		}
	}

	a, err = s.callTool(ctx, "place_order", map[string]any{"market": mkt, "outcome": "Yes", "side": "buy", "quantity": 10, "limit_price": 0.35,
		"idempotency_key": "guard-resting-1"})
	if err != nil || a.IsError {
		t.Fatalf("an order within the limits: %v %v", a, err)
	}
	if n := len(srv.Orders()); n != 1 || srv.Orders()[0].Status != "resting" {
		t.Fatalf("orders at Kalshi: %+v, want one resting", srv.Orders())
	}

	code, out, err := runSibylStdout(ctx, "halt", "--cancel-open", "--data-dir", dir)
	if err != nil || code != 0 || !strings.Contains(out, "cancelled 1 resting orders (0 were already final, 0 failed)") {
		t.Fatalf("sibyl halt --cancel-open: exit %d %v\n%s", code, err, out)
	}
	if o := srv.Orders()[0]; o.Status == "resting" {
		t.Errorf("the Kalshi order after the halt: %+v, want cancelled at Kalshi", o)
	}
	a, err = s.callTool(ctx, "place_order", map[string]any{"market": mkt, "outcome": "Yes", "side": "buy", "quantity": 1, "limit_price": 0.35,
		"idempotency_key": "guard-halted-1"})
	if err != nil || !a.IsError || a.Code != "risk_limit" || !strings.Contains(a.Message, "halted") {
		t.Errorf("place_order while halted: %v %v", a, err)
	}
	if code, out, _ := runSibylStdout(ctx, "resume", "--data-dir", dir); code != 0 {
		t.Fatalf("sibyl resume: %d %s", code, out)
	}
	a, err = s.callTool(ctx, "place_order", map[string]any{"market": mkt, "outcome": "Yes", "side": "buy", "quantity": 1, "limit_price": 0.35,
		"idempotency_key": "guard-halted-1"})
	if err != nil || a.IsError {
		t.Errorf("the same key after resume: %v %v", a, err)
	}
	if n := len(srv.Orders()); n != 2 {
		t.Errorf("orders at Kalshi: %d, want 2 (the cancelled one and the one after resume)", n)
	}
}
