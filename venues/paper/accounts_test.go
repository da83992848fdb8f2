package paper

import (
	"testing"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
)

func TestFundAndReset(t *testing.T) {
	v, _ := MustNew(t, Options{Seed: 11}, t0)
	if _, err := v.Fund(ctx, "alice", 0.001); sibyl.ErrorField(err) != "amount" {
		t.Fatalf("fund of a tenth of a cent: %v, want invalid amount", err)
	}
	a, err := v.Fund(ctx, "alice", 250.5)
	if err != nil || !a.Exists || a.Cash != 10250.5 {
		t.Fatalf("fund: %+v %v, want 10250.50 on a new account", a, err)
	}
	// A resting buy reserves cash; reset cancels it and sets the cash.
	id := openMarket(t, v, 0.45).id
	o := mustPlace(t, v, sibyl.OrderRequest{Principal: "alice", ClientOrderID: "r1", NativeMarketID: id, Outcome: "Yes", Side: sibyl.Buy,
		Quantity: decimal.NewFromInt(10), LimitPrice: decimal.RequireFromString("0.02"), TimeInForce: sibyl.GTC})
	if o.Status != sibyl.OrderOpen {
		t.Fatalf("order %s, want open", o.Status)
	}
	a, err = v.Reset(ctx, "alice", 500)
	if err != nil || a.Cash != 500 || a.Reserved != 0 || a.OpenOrders != 0 {
		t.Fatalf("reset: %+v %v", a, err)
	}
	got, err := v.GetOrder(ctx, "alice", o.NativeID)
	if err != nil || got.Status != sibyl.OrderCancelled {
		t.Fatalf("the resting order after a reset: %s %v, want cancelled", got.Status, err)
	}
	pf := mustPortfolio(t, v, "alice")
	if pf.Cash != 500 || pf.Reserved != 0 || len(pf.Positions) != 0 {
		t.Fatalf("portfolio after reset: %+v", pf)
	}
	accts, err := v.Accounts(ctx)
	if err != nil || len(accts) != 1 || accts[0].Principal != "alice" {
		t.Fatalf("accounts: %+v %v", accts, err)
	}
}
