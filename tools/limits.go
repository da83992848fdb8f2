package tools

import (
	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl/risk"
)

// VenueLimitsOut is a venue's risk limits as list_venues shows them, so an
// agent can size orders to fit. Absent fields are not limited.
type VenueLimitsOut struct {
	MaxOrder     float64  `json:"max_order,omitempty" jsonschema_description:"Most notional (quantity x price) of one order, dollars."`
	MaxDaily     float64  `json:"max_daily,omitempty" jsonschema_description:"Most notional you may place per UTC day, dollars."`
	MaxMarket    float64  `json:"max_market,omitempty" jsonschema_description:"Most exposure (buys, resting included) you may hold in one market, dollars."`
	MaxOpen      int      `json:"max_open,omitempty" jsonschema_description:"Most resting orders you may have."`
	TotalDaily   float64  `json:"total_max_daily,omitempty" jsonschema_description:"As max_daily, for every caller of this server together."`
	TotalMarket  float64  `json:"total_max_market,omitempty" jsonschema_description:"As max_market, for every caller together."`
	TotalOpen    int      `json:"total_max_open,omitempty" jsonschema_description:"As max_open, for every caller together."`
	AllowMarkets []string `json:"allow_markets,omitempty" jsonschema_description:"Only markets whose id starts with one of these may be traded."`
	DenyMarkets  []string `json:"deny_markets,omitempty" jsonschema_description:"Markets whose id starts with one of these may not be traded."`
	PriceCollar  float64  `json:"price_collar,omitempty" jsonschema_description:"Largest distance of a limit price from the outcome's mid, dollars; market orders must then give worst_price."`
	ConfirmAbove float64  `json:"confirm_above,omitempty" jsonschema_description:"Orders and hedges over this notional (dollars) are confirmed by the person first (MCP elicitation)."`
}

// limitsOut describes l and the confirmation threshold; nil when nothing is limited.
func limitsOut(l risk.Limits, confirm decimal.Decimal) *VenueLimitsOut {
	if !l.Active() && !confirm.IsPositive() {
		return nil
	}
	f := func(d decimal.Decimal) float64 { return d.InexactFloat64() }
	return &VenueLimitsOut{MaxOrder: f(l.MaxOrder), MaxDaily: f(l.MaxDaily), MaxMarket: f(l.MaxMarket), MaxOpen: l.MaxOpen,
		TotalDaily: f(l.TotalDaily), TotalMarket: f(l.TotalMarket), TotalOpen: l.TotalOpen,
		AllowMarkets: l.Allow, DenyMarkets: l.Deny, PriceCollar: f(l.Collar), ConfirmAbove: f(confirm)}
}
