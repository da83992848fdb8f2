// Package risk holds sibyl's pre-trade risk limits: what they are, how an
// order's notional is computed (exact decimals), and the decision whether an
// order may go to a venue given what is already placed and resting. It is pure
// policy: it keeps no state, does no I/O and never sends anything; the orders
// service feeds it the counters it keeps in the store, in the same transaction
// as the order's claim.
package risk

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
	sibyl "github.com/sibylmcp/sibyl"
)

// Limits are the limits that apply to orders on one venue. A zero value of a
// field turns that limit off, so the zero Limits allows everything.
type Limits struct {
	// MaxOrder caps the notional of one order, in dollars.
	MaxOrder decimal.Decimal
	// MaxDaily caps the notional one principal places per UTC day, in dollars;
	// TotalDaily caps it over every principal together.
	MaxDaily, TotalDaily decimal.Decimal
	// MaxMarket caps one principal's exposure in one market (the notional of
	// its buy orders there, resting ones included, less what was cancelled
	// unfilled and what was sold), in dollars; TotalMarket caps it over every
	// principal together.
	MaxMarket, TotalMarket decimal.Decimal
	// MaxOpen caps one principal's resting orders (every order counts from its
	// claim until sibyl sees it final); TotalOpen caps them over every principal.
	MaxOpen, TotalOpen int
	// Allow, when not empty, lists the only markets that may be traded: market
	// ids or prefixes such as "kalshi:KXBTC" (a bare venue name means all its
	// markets). Deny lists markets that may not be traded; it wins over Allow.
	// Matching ignores case.
	Allow, Deny []string
	// Collar refuses a limit (or worst) price further than this many dollars
	// from the outcome's mid price. Zero: no collar.
	Collar decimal.Decimal
	// RequireWorstPrice refuses market orders that give no worst price.
	RequireWorstPrice bool
}

// Active reports whether any limit is set. When none is, the orders service
// keeps no counters for the venue.
func (l Limits) Active() bool {
	return l.MaxOrder.IsPositive() || l.MaxDaily.IsPositive() || l.TotalDaily.IsPositive() ||
		l.MaxMarket.IsPositive() || l.TotalMarket.IsPositive() || l.MaxOpen > 0 || l.TotalOpen > 0 ||
		len(l.Allow) > 0 || len(l.Deny) > 0 || l.Collar.IsPositive() || l.RequireWorstPrice
}

// Counted reports whether the limits need the placed/resting counters.
func (l Limits) Counted() bool {
	return l.MaxDaily.IsPositive() || l.TotalDaily.IsPositive() || l.MaxMarket.IsPositive() ||
		l.TotalMarket.IsPositive() || l.MaxOpen > 0 || l.TotalOpen > 0
}

// Order is what the limits look at in one order.
type Order struct {
	Market   string     // "venue:native_id"
	Side     sibyl.Side // buy or sell
	IsMarket bool       // a market order
	Quantity decimal.Decimal
	// Price is the limit price, or a market order's worst price; zero for a
	// market order without one.
	Price decimal.Decimal
	// Mid is the outcome's mid price when the collar needs it; zero when unknown.
	Mid decimal.Decimal
}

// One dollar: what a binary contract costs at most.
var one = decimal.NewFromInt(1)

// Notional returns the order's notional in dollars: quantity times its price,
// or times $1 (the most a contract can cost) for a market order without a
// worst price.
func (o Order) Notional() decimal.Decimal {
	p := o.Price
	if p.IsZero() {
		p = one
	}
	return o.Quantity.Mul(p)
}

// Usage is what is already placed and resting, for one principal or for all.
type Usage struct {
	Daily  decimal.Decimal // notional placed today (UTC)
	Market decimal.Decimal // exposure in the order's market
	Open   int             // resting orders
}

// Check decides whether o may be sent, given mine (the principal's usage) and
// all (every principal's). It returns nil or a *sibyl.Error with code
// risk_limit whose message names the limit, the value the order would reach
// and the headroom left; its Field is the argument to change (quantity,
// limit_price, worst_price or market).
func (l Limits) Check(o Order, mine, all Usage) error {
	if matchAny(l.Deny, o.Market) {
		return refuse("market", "risk-deny-markets", "market %s is on the deny list (%s); headroom none: no order in it is allowed", o.Market, strings.Join(l.Deny, ","))
	}
	if len(l.Allow) > 0 && !matchAny(l.Allow, o.Market) {
		return refuse("market", "risk-allow-markets", "market %s is not on the allow list (%s); headroom none: only markets on the list may be traded", o.Market, strings.Join(l.Allow, ","))
	}
	if o.IsMarket && o.Price.IsZero() && l.RequireWorstPrice {
		return refuse("worst_price", "worst-price", "a market order must give worst_price (the worst price per contract you accept); it is sent as an immediate-or-cancel limit at that price")
	}
	if l.Collar.IsPositive() && !o.Price.IsZero() {
		field := "limit_price"
		if o.IsMarket {
			field = "worst_price"
		}
		if !o.Mid.IsPositive() {
			return refuse(field, "risk-price-collar", "the outcome has no mid price to check the price collar of %s against; headroom none until the market is quoted", usd(l.Collar))
		}
		lo, hi := o.Mid.Sub(l.Collar), o.Mid.Add(l.Collar)
		if o.Price.LessThan(lo) || o.Price.GreaterThan(hi) {
			return refuse(field, "risk-price-collar", "price %s is %s from the mid %s, more than the collar of %s; headroom: prices from %s to %s",
				usd(o.Price), usd(o.Price.Sub(o.Mid).Abs()), usd(o.Mid), usd(l.Collar), usd(decimal.Max(lo, decimal.Zero)), usd(decimal.Min(hi, one)))
		}
	}
	n := o.Notional()
	if l.MaxOrder.IsPositive() && n.GreaterThan(l.MaxOrder) {
		return refuse("quantity", "risk-max-order", "this order's notional is %s, over the limit of %s per order; headroom %s", usd(n), usd(l.MaxOrder), usd(l.MaxOrder))
	}
	if err := capCheck("risk-max-daily", "placed today (UTC) by you", l.MaxDaily, mine.Daily, n); err != nil {
		return err
	}
	if err := capCheck("risk-total-max-daily", "placed today (UTC) by every principal", l.TotalDaily, all.Daily, n); err != nil {
		return err
	}
	if o.Side == sibyl.Buy {
		if err := capCheck("risk-max-market", "your exposure in "+o.Market, l.MaxMarket, mine.Market, n); err != nil {
			return err
		}
		if err := capCheck("risk-total-max-market", "the exposure of every principal in "+o.Market, l.TotalMarket, all.Market, n); err != nil {
			return err
		}
	}
	if l.MaxOpen > 0 && mine.Open+1 > l.MaxOpen {
		return refuse("quantity", "risk-max-open", "you have %d open orders, the limit is %d; headroom 0 orders: cancel one or wait for fills", mine.Open, l.MaxOpen)
	}
	if l.TotalOpen > 0 && all.Open+1 > l.TotalOpen {
		return refuse("quantity", "risk-total-max-open", "every principal together has %d open orders, the limit is %d; headroom 0 orders", all.Open, l.TotalOpen)
	}
	return nil
}

func capCheck(name, what string, limit, used, n decimal.Decimal) error {
	if !limit.IsPositive() {
		return nil
	}
	if after := used.Add(n); after.GreaterThan(limit) {
		head := decimal.Max(limit.Sub(used), decimal.Zero)
		return refuse("quantity", name, "%s would reach %s with this order's %s, over the limit of %s; headroom %s", what, usd(after), usd(n), usd(limit), usd(head))
	}
	return nil
}

// refuse builds the risk_limit error: "risk limit NAME: ... headroom ...".
func refuse(field, name, format string, args ...any) error {
	msg := fmt.Sprintf("risk limit %s: %s.", name, fmt.Sprintf(format, args...))
	return &sibyl.Error{Code: sibyl.RiskLimit, Field: field, Message: msg}
}

// usd formats dollars with cents, or with every digit when smaller units matter.
func usd(d decimal.Decimal) string {
	if d.Equal(d.Round(2)) {
		return "$" + d.StringFixed(2)
	}
	return "$" + d.String()
}

// Match reports whether market (venue:native_id) matches pattern: an exact id,
// a prefix of it, or a bare venue name. Case is ignored.
func Match(pattern, market string) bool {
	p, m := strings.ToLower(strings.TrimSpace(pattern)), strings.ToLower(market)
	if p == "" {
		return false
	}
	if !strings.Contains(p, ":") {
		p += ":"
	}
	return strings.HasPrefix(m, p)
}

func matchAny(patterns []string, market string) bool {
	for _, p := range patterns {
		if Match(p, market) {
			return true
		}
	}
	return false
}

// ParseList splits a comma-separated list of market ids or prefixes.
func ParseList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
