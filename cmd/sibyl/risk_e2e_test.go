package main

import (
	"context"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// riskFlagsForTest are the limits of TestRiskLimitsOverStdioAndHTTP.
var riskFlagsForTest = []string{"--risk-max-order", "5", "--risk-max-daily", "8", "--risk-max-market", "6", "--risk-max-open", "3",
	"--risk-deny-markets", "paper:ETH", "--risk-price-collar", "0.5"}

// TestRiskLimitsOverStdioAndHTTP runs 'sibyl serve' with risk limits, over
// stdio and over HTTP, and drives the official SDK client through every
// limit on the paper venue: each order that breaks one is refused with
// risk_limit naming it and the headroom, nothing reaches the venue, and a
// retry with the same key gets the same refusal; an executed hedge whose
// legs break a limit is refused whole.
func TestRiskLimitsOverStdioAndHTTP(t *testing.T) {
	transports := map[string]func(t *testing.T) sdk.Transport{
		"stdio": func(t *testing.T) sdk.Transport {
			cmd := exec.Command(sibylBin, append([]string{"serve", "--data-dir", t.TempDir()}, riskFlagsForTest...)...)
			cmd.Env = ctEnv(nil)
			return &sdk.CommandTransport{Command: cmd}
		},
		"http": func(t *testing.T) sdk.Transport {
			url, _ := startServer(t, t.TempDir(), nil, riskFlagsForTest...)
			return &sdk.StreamableClientTransport{Endpoint: url, MaxRetries: -1}
		},
	}
	for name, transport := range transports {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cs, err := sdk.NewClient(&sdk.Implementation{Name: "risk-e2e", Version: "1"}, nil).Connect(ctx, transport(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			exerciseRiskLimits(ctx, t, cs)
		})
	}
}

type quotedMarket struct {
	ID       string `json:"id"`
	Outcomes []struct {
		Name string  `json:"name"`
		Mid  float64 `json:"mid"`
		Ask  float64 `json:"ask"`
	} `json:"outcomes"`
}

func exerciseRiskLimits(ctx context.Context, t *testing.T, cs *sdk.ClientSession) {
	var found struct {
		Markets []quotedMarket `json:"markets"`
	}
	if e := callJSON(ctx, t, cs, "search_markets", map[string]any{"query": "BTC", "status": "open", "limit": 100}, &found); e != nil {
		t.Fatal(e)
	}
	// Two markets whose Yes mid is 0.25-0.48: a bid $0.10 under it rests,
	// $0.01 is inside the $0.50 collar and $0.99 is outside it.
	var picked []quotedMarket
	for _, m := range found.Markets {
		if len(picked) < 2 && len(m.Outcomes) > 0 && m.Outcomes[0].Name == "Yes" && m.Outcomes[0].Mid >= 0.25 && m.Outcomes[0].Mid <= 0.48 {
			picked = append(picked, m)
		}
	}
	if len(picked) < 2 {
		t.Fatalf("no two BTC markets quoted 0.25-0.48 among %d", len(found.Markets))
	}
	// Prices and notionals are whole cents, in integers: the limits are
	// checked in exact decimals, and float arithmetic here once sized the
	// "over the daily limit" order to exactly the limit (placed, rightly),
	// e.g. at 20c and 20c, where 8-nA-nC is one contract's price but
	// floor((8-nA-nC)/p) comes out 0.
	cents := func(m quotedMarket) int { return int(math.Round(m.Outcomes[0].Mid*100)) - 10 }
	m1, m2 := picked[0], picked[1]
	c1, c2 := cents(m1), cents(m2)
	n := 0
	order := func(m string, qty, priceCents int) map[string]any {
		n++
		return map[string]any{"market": m, "outcome": "Yes", "side": "buy", "quantity": qty,
			"limit_price": float64(priceCents) / 100, "idempotency_key": fmt.Sprintf("risk-e2e-%03d", n)}
	}
	placed := 0
	mustPlace := func(args map[string]any) int {
		t.Helper()
		var o struct {
			Status string `json:"status"`
		}
		if e := callJSON(ctx, t, cs, "place_order", args, &o); e != nil {
			t.Fatalf("place_order %v within the limits: %+v", args, e)
		}
		placed++
		return args["quantity"].(int) * int(math.Round(args["limit_price"].(float64)*100))
	}
	refused := func(args map[string]any, limit string) {
		t.Helper()
		e := callJSON(ctx, t, cs, "place_order", args, nil)
		if e == nil || e.Code != "risk_limit" || !strings.Contains(e.Message, "risk limit "+limit+":") || !strings.Contains(e.Message, "headroom") || e.Retryable {
			t.Fatalf("place_order %v: got %+v, want risk_limit %s with the headroom", args, e, limit)
		}
		again := callJSON(ctx, t, cs, "place_order", args, nil)
		if again == nil || again.Message != e.Message {
			t.Errorf("retry of %s: got %+v, want the stored refusal %q", args["idempotency_key"], again, e.Message)
		}
		t.Logf("%s: %s", limit, e.Message)
	}

	// Each refused order is one contract more than what fits: (room/price)+1
	// contracts cost more than room, in whole cents.
	refused(order(m1.ID, 500/c1+1, c1), "risk-max-order")
	refused(order(m1.ID, 1, 99), "risk-price-collar")
	var eth struct {
		Markets []quotedMarket `json:"markets"`
	}
	if e := callJSON(ctx, t, cs, "search_markets", map[string]any{"query": "ETH", "status": "open", "limit": 1}, &eth); e != nil || len(eth.Markets) == 0 {
		t.Fatalf("search ETH: %+v", e)
	}
	refused(order(eth.Markets[0].ID, 1, 1), "risk-deny-markets")
	mkt := map[string]any{"market": m1.ID, "outcome": "Yes", "side": "buy", "quantity": 1, "idempotency_key": "risk-e2e-market-1"}
	if e := callJSON(ctx, t, cs, "place_order", mkt, nil); e == nil || e.Code != "risk_limit" || e.Field != "worst_price" {
		t.Errorf("market order without worst_price: %+v, want risk_limit on worst_price", e)
	}

	nA := mustPlace(order(m1.ID, 400/c1, c1))                   // about $4 in market 1
	refused(order(m1.ID, (600-nA)/c1+1, c1), "risk-max-market") // market 1 over $6
	nC := mustPlace(order(m2.ID, (790-nA)/c2, c2))              // $7.52-7.90 placed today
	refused(order(m2.ID, (800-nA-nC)/c2+1, c2), "risk-max-daily")
	mustPlace(order(m2.ID, 1, 1)) // the third resting order
	refused(order(m2.ID, 2, 1), "risk-max-open")

	var list struct {
		Orders []struct{ Status string } `json:"orders"`
	}
	if e := callJSON(ctx, t, cs, "list_orders", map[string]any{"limit": 200}, &list); e != nil || len(list.Orders) != placed {
		t.Errorf("orders at the venue: %d (%+v), want %d: nothing refused was sent", len(list.Orders), e, placed)
	}

	// A hedge whose legs would pass today's limit is refused whole.
	hedge := map[string]any{"symbol": "BTC", "quantity": 1, "protect_below": 1, "execute": true, "idempotency_key": "risk-e2e-hedge-1",
		"by": time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)}
	var spot struct {
		Candles []struct{ Close float64 } `json:"candles"`
	}
	if e := callJSON(ctx, t, cs, "get_price_history", map[string]any{"symbol": "BTC"}, &spot); e != nil || len(spot.Candles) == 0 {
		t.Fatalf("get_price_history: %+v", e)
	}
	hedge["protect_below"] = math.Floor(spot.Candles[len(spot.Candles)-1].Close * 0.9)
	e := callJSON(ctx, t, cs, "hedge_position", hedge, nil)
	if e == nil || e.Code != "risk_limit" || !strings.HasPrefix(e.Message, "leg ") {
		t.Errorf("hedge_position over the limits: %+v, want risk_limit naming a leg", e)
	} else {
		t.Logf("hedge: %s", e.Message)
	}
	if e := callJSON(ctx, t, cs, "list_orders", map[string]any{"limit": 200}, &list); e != nil || len(list.Orders) != placed {
		t.Errorf("orders at the venue after the hedge: %d, want %d", len(list.Orders), placed)
	}
}
