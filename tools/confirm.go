package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/mcp"
	"github.com/sibylmcp/sibyl/orders"
)

// confirmLine is one order as the person is asked about it.
type confirmLine struct {
	Market   string `json:"market"`
	Outcome  string `json:"outcome"`
	Side     string `json:"side"`
	Type     string `json:"type"`
	Price    string `json:"price"`    // limit (or worst) price in dollars; "market" for a market order without one
	Quantity string `json:"quantity"` // contracts
	Cost     string `json:"cost"`     // notional in dollars
	Fees     string `json:"fees"`     // estimated taker fee in dollars, or "unknown"
}

// confirmThreshold returns the lowest --confirm-above of the legs' venues
// (ok false when none asks for confirmation).
func (d *Deps) confirmThreshold(legs []orders.Leg) (decimal.Decimal, bool) {
	var min decimal.Decimal
	found := false
	for _, l := range legs {
		v, _, _ := sibyl.SplitMarketID(l.MarketID)
		t, ok := d.ConfirmAbove[v]
		if ok && t.IsPositive() && (!found || t.LessThan(min)) {
			min, found = t, true
		}
	}
	return min, found
}

// confirm asks the person, through MCP elicitation, to confirm legs (one
// order, or a hedge's legs not placed yet) whose notional together is over
// the confirmation threshold of their venues. It returns nil when no
// question is needed (under the threshold, or the risk limits refuse the
// legs anyway: Place stores that refusal), or the answer for Place, which
// audits it and stores a decline. Errors, none stored (the same key may be
// retried): risk_limit when the client cannot be asked (no elicitation
// support), telling the operator how to raise the threshold; unavailable
// when the question could not be put or answered; mcp.ErrInputRequired on a
// stateless request, which the handler must return unchanged.
func (d *Deps) confirm(ctx context.Context, c *Call, what string, legs []orders.Leg) (*orders.Confirmation, error) {
	threshold, ok := d.confirmThreshold(legs)
	if !ok || len(legs) == 0 {
		return nil, nil
	}
	total := decimal.Zero
	lines := make([]confirmLine, len(legs))
	var fees decimal.Decimal
	feesKnown := true
	for i, l := range legs {
		n := orders.Notional(l.Order)
		total = total.Add(n)
		price := "market (up to $1.00)"
		px := decimal.NewFromInt(1)
		if l.Order.Type == sibyl.LimitOrder {
			px = l.Order.LimitPrice
			price = px.StringFixed(2)
		}
		qty := l.Order.Quantity
		venue, _, _ := sibyl.SplitMarketID(l.MarketID)
		fee, known := takerFee(venue, px, qty)
		feeText := "unknown"
		if known {
			feeText = fee.StringFixed(2)
			fees = fees.Add(fee)
		} else {
			feesKnown = false
		}
		lines[i] = confirmLine{Market: l.MarketID, Outcome: l.Order.Outcome, Side: string(l.Order.Side), Type: string(l.Order.Type),
			Price: price, Quantity: qty.String(), Cost: n.StringFixed(2), Fees: feeText}
	}
	if !total.GreaterThan(threshold) {
		return nil, nil
	}
	if err := d.Orders.CheckRisk(ctx, c.Principal, legs); err != nil {
		return nil, nil // refused anyway: no question; Place stores the refusal
	}
	if !c.canElicit() {
		return nil, sibyl.Errorf(sibyl.RiskLimit,
			"risk limit confirm-above: this %s costs $%s, over the $%s above which the person must confirm it, and this MCP client cannot ask them (it does not support elicitation). Nothing was recorded or sent. The operator can raise the threshold with --confirm-above USD or SIBYL_CONFIRM_ABOVE (0 turns it off) on 'sibyl serve', or connect a client that supports elicitation; the same idempotency_key may then be retried",
			what, total.StringFixed(2), threshold.StringFixed(2))
	}
	var msg strings.Builder
	fmt.Fprintf(&msg, "An agent asks to place this %s (total $%s, over your confirmation threshold of $%s):\n", what, total.StringFixed(2), threshold.StringFixed(2))
	for _, l := range lines {
		fmt.Fprintf(&msg, "- %s %s contracts of %q in %s at %s: cost $%s, fees $%s\n", l.Side, l.Quantity, l.Outcome, l.Market, l.Price, l.Cost, l.Fees)
	}
	feeTotal := fees.StringFixed(2)
	if !feesKnown {
		feeTotal += " (some unknown)"
	}
	fmt.Fprintf(&msg, "Total fees (estimated): $%s. Place it?", feeTotal)
	asked, err := json.Marshal(map[string]any{"orders": lines, "total_cost": total.StringFixed(2), "total_fees": feeTotal, "threshold": threshold.StringFixed(2)})
	if err != nil {
		return nil, sibyl.WrapError(sibyl.Internal, err, "internal error")
	}
	params, err := json.Marshal(map[string]any{
		"message": msg.String(),
		"requestedSchema": map[string]any{
			"type": "object",
			"properties": map[string]any{
				"confirm": map[string]any{"type": "boolean", "title": "Place it", "description": "true to place it, false to refuse it"},
			},
			"required": []string{"confirm"},
		},
	})
	if err != nil {
		return nil, sibyl.WrapError(sibyl.Internal, err, "internal error")
	}
	raw, err := c.req.Session.Elicit(ctx, params)
	if errors.Is(err, mcp.ErrInputRequired) {
		return nil, err
	}
	if err != nil {
		return nil, sibyl.WrapError(sibyl.Unavailable, err, "could not ask the person to confirm this order (elicitation failed); nothing was recorded or sent; retry with the same idempotency_key")
	}
	var ans struct {
		Action  string         `json:"action"`
		Content map[string]any `json:"content"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return nil, sibyl.WrapError(sibyl.Unavailable, err, "the client's answer to the confirmation was not understood; nothing was recorded or sent; retry with the same idempotency_key")
	}
	accepted := ans.Action == "accept" && ans.Content["confirm"] == true
	ci := c.req.Session.ClientInfo()
	by := fmt.Sprintf("the person at MCP client %s %s (session %s, principal %s, %s)", ci.Name, ci.Version, c.SessionID, c.Principal, c.Transport)
	return &orders.Confirmation{Accepted: accepted, Action: ans.Action, By: by, Asked: asked}, nil
}

// canElicit reports whether the caller's client declared the elicitation
// capability.
func (c *Call) canElicit() bool {
	if c.req == nil || c.req.Session == nil {
		return false
	}
	var caps map[string]json.RawMessage
	if json.Unmarshal(c.req.Session.ClientCapabilities(), &caps) != nil {
		return false
	}
	v, ok := caps["elicitation"]
	return ok && string(v) != "null"
}
