package tools

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sibylmcp/sibyl"
)

func hedgeArgs(t *testing.T, d *Deps, extra string) string {
	t.Helper()
	spot, _, err := d.Spot("BTC")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`{"symbol":"BTC","quantity":0.5,"protect_below":%.0f,"by":"%s"%s}`,
		spot*0.85, testNow.AddDate(0, 1, 0).Format("2006-01-02"), extra)
}

func TestHedgePreviewAndExecute(t *testing.T) {
	d := MustDeps(t)
	ts := All(d)
	tool := toolByName(t, ts, "hedge_position")
	preview := decode[hedgeOut](t, must(call(t, tool, hedgeArgs(t, d, ""))))
	if preview.Executed || len(preview.Legs) == 0 || len(preview.Scenarios) == 0 || len(preview.Risks) == 0 {
		t.Fatalf("preview: got %+v, want legs, scenarios and risks, not executed", preview)
	}
	sum := 0.0
	for _, l := range preview.Legs {
		sum += l.Cost
		if l.OrderID != "" || l.Expiry.Before(testNow.AddDate(0, 1, 0).Truncate(24*60*60*1e9)) {
			t.Errorf("leg %+v: want no order id in a preview and an expiry on or after by", l)
		}
	}
	if math.Abs(sum-preview.TotalCost) > 0.005 || preview.MaxLoss > preview.Cap+0.01 || !preview.MeetsCap {
		t.Errorf("total_cost %v vs Σ legs %v; max_loss %v cap %v meets %v", preview.TotalCost, sum, preview.MaxLoss, preview.Cap, preview.MeetsCap)
	}
	list := decode[listOrdersOut](t, must(call(t, toolByName(t, ts, "list_orders"), `{}`)))
	if len(list.Orders) != 0 {
		t.Fatalf("a preview placed %d orders", len(list.Orders))
	}

	exec := hedgeArgs(t, d, `,"execute":true,"idempotency_key":"hedge-0001"`)
	first := decode[hedgeOut](t, must(call(t, tool, exec)))
	if !first.Executed || (first.Status != "filled" && first.Status != "resting") || first.Complete != (first.Unhedged == 0) {
		for _, l := range first.Legs {
			if l.Error != nil {
				t.Errorf("leg %s: %+v", l.Market, *l.Error)
			}
		}
		t.Fatalf("execute: got executed %v status %s complete %v unhedged %v", first.Executed, first.Status, first.Complete, first.Unhedged)
	}
	again := decode[hedgeOut](t, must(call(t, tool, exec)))
	for i := range first.Legs {
		if first.Legs[i].OrderID == "" || again.Legs[i].OrderID != first.Legs[i].OrderID || !again.Legs[i].Replayed || first.Legs[i].Replayed {
			t.Errorf("leg %d: first %s (replayed %v), again %s (replayed %v); want one order, replayed the second time",
				i, first.Legs[i].OrderID, first.Legs[i].Replayed, again.Legs[i].OrderID, again.Legs[i].Replayed)
		}
	}
	list = decode[listOrdersOut](t, must(call(t, toolByName(t, ts, "list_orders"), `{"limit":200}`)))
	if len(list.Orders) != len(first.Legs) {
		t.Errorf("got %d orders at the venue, want one per leg (%d)", len(list.Orders), len(first.Legs))
	}
	// The key is bound to this hedge.
	_, err := call(t, tool, hedgeArgs(t, d, `,"budget":100,"execute":true,"idempotency_key":"hedge-0001"`))
	wantCode(t, err, sibyl.IdempotencyKeyReused, "idempotency_key")
}

func TestHedgeErrors(t *testing.T) {
	d := MustDeps(t)
	tool := toolByName(t, All(d), "hedge_position")
	spot, _, _ := d.Spot("BTC")
	by := testNow.AddDate(0, 1, 0).Format("2006-01-02")
	tests := []struct {
		name, args string
		code       sibyl.Code
		field      string
		msg        string // a part of the message, when it matters
	}{
		{"unknown token", `{"symbol":"NOPE","quantity":1,"protect_below":1,"by":"` + by + `"}`, sibyl.NotFound, "symbol", ""},
		{"protection above spot", fmt.Sprintf(`{"symbol":"BTC","quantity":1,"protect_below":%.0f,"by":"%s"}`, spot*1.1, by), sibyl.Invalid, "protect_below", ""},
		// The floor (60% under spot) is not an argument: protect_below is at fault.
		{"protection below the floor", fmt.Sprintf(`{"symbol":"BTC","quantity":1,"protect_below":%.0f,"by":"%s"}`, spot*0.3, by), sibyl.Invalid, "protect_below", "use a protect_below above"},
		{"date in the past", fmt.Sprintf(`{"symbol":"BTC","quantity":1,"protect_below":%.0f,"by":"2026-01-01"}`, spot*0.8), sibyl.Invalid, "by", ""},
		{"no markets that late", fmt.Sprintf(`{"symbol":"BTC","quantity":1,"protect_below":%.0f,"by":"2031-01-01"}`, spot*0.8), sibyl.NotFound, "by", ""},
		{"execute without a key", hedgeArgs(t, d, `,"execute":true`), sibyl.Invalid, "idempotency_key", ""},
		// Cents, not "$0 buys no protection".
		{"budget too small", hedgeArgs(t, d, `,"budget":0.01`), sibyl.Invalid, "budget", "$0.01 buys no protection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := call(t, tool, tt.args)
			wantCode(t, err, tt.code, tt.field)
			if msg := sibyl.ErrorMessage(err); len(msg) < 30 || !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not say what would work instead (want it to contain %q)", msg, tt.msg)
			}
		})
	}
}
