package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/risk"
)

// riskFlags are the risk-limit flags of sibyl serve, as given (empty: the
// default for the venue's mode). Each has an environment twin.
type riskFlags struct {
	maxOrder, maxDaily, maxMarket, maxOpen string
	totalDaily, totalMarket, totalOpen     string
	allow, deny, collar, confirmAbove      string
}

// The defaults for every venue but paper: those that move real money (live),
// trade on a venue's test exchange (demo), or are read-only now (so the
// limits are there the day they trade). Paper venues have no limits unless
// flags set them: their money is simulated. Documented in README.md ("Risk limits").
var liveRiskDefaults = map[string]string{
	"max-order": "100", "max-daily": "1000", "max-market": "250", "max-open": "20",
	"total-max-daily": "2500", "total-max-market": "1000", "total-max-open": "100",
	"price-collar": "0.10", "confirm-above": "50",
}

func (r *riskFlags) register(fs *flag.FlagSet) {
	def := func(p *string, name, env, usage string) {
		fs.StringVar(p, name, envString(env, ""), usage+" ["+env+"]")
	}
	def(&r.maxOrder, "risk-max-order", "SIBYL_RISK_MAX_ORDER", "refuse an order whose notional (quantity x limit or worst price, $1 a contract for a market order without one) is over `USD`; 0 turns it off (default: 100 on every venue but paper, none on paper)")
	def(&r.maxDaily, "risk-max-daily", "SIBYL_RISK_MAX_DAILY", "refuse orders once a principal's notional placed this UTC day would pass `USD` (default: 1000 every venue but paper, none on paper)")
	def(&r.maxMarket, "risk-max-market", "SIBYL_RISK_MAX_MARKET", "refuse buys once a principal's exposure in one market (resting orders included) would pass `USD` (default: 250 every venue but paper, none on paper)")
	def(&r.maxOpen, "risk-max-open", "SIBYL_RISK_MAX_OPEN", "refuse orders once a principal has `N` resting orders (default: 20 every venue but paper, none on paper)")
	def(&r.totalDaily, "risk-total-max-daily", "SIBYL_RISK_TOTAL_MAX_DAILY", "as --risk-max-daily over every principal together, `USD` (default: 2500 every venue but paper, none on paper)")
	def(&r.totalMarket, "risk-total-max-market", "SIBYL_RISK_TOTAL_MAX_MARKET", "as --risk-max-market over every principal together, `USD` (default: 1000 every venue but paper, none on paper)")
	def(&r.totalOpen, "risk-total-max-open", "SIBYL_RISK_TOTAL_MAX_OPEN", "as --risk-max-open over every principal together, `N` (default: 100 every venue but paper, none on paper)")
	def(&r.allow, "risk-allow-markets", "SIBYL_RISK_ALLOW_MARKETS", "only these comma-separated market ids or prefixes may be traded, such as kalshi:KXBTC,paper:BTC (a bare venue name allows all its markets) (`LIST`; default: all)")
	def(&r.deny, "risk-deny-markets", "SIBYL_RISK_DENY_MARKETS", "these comma-separated market ids or prefixes may not be traded; wins over the allow list (`LIST`)")
	def(&r.collar, "risk-price-collar", "SIBYL_RISK_PRICE_COLLAR", "refuse a limit price more than `USD` per contract from the outcome's mid, and market orders without worst_price; 0 turns it off (default: 0.10 every venue but paper, none on paper)")
	def(&r.confirmAbove, "confirm-above", "SIBYL_CONFIRM_ABOVE", "ask the person (MCP elicitation) before an order or hedge whose notional is over `USD`; 0 turns it off (default: 50 on every venue but paper, off on paper)")
}

// value returns the flag's value, or the default for mode.
func riskValue(given, name, mode string) string {
	if given != "" {
		return given
	}
	if mode == sibyl.ModePaper {
		return "" // simulated money: no limits unless set
	}
	return liveRiskDefaults[name] // live, demo, read-only and any other mode
}

func parseUSD(s, name string) (decimal.Decimal, error) {
	if s == "" || s == "off" {
		return decimal.Zero, nil
	}
	d, err := decimal.NewFromString(strings.TrimPrefix(s, "$"))
	if err != nil || d.IsNegative() {
		return decimal.Zero, fmt.Errorf("--%s %q: want a number of dollars, 0 or more (0 turns it off)", name, s)
	}
	return d, nil
}

func parseCount(s, name string) (int, error) {
	if s == "" || s == "off" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("--%s %q: want a whole number, 0 or more (0 turns it off)", name, s)
	}
	return n, nil
}

// limits returns the limits for a venue in mode.
func (r *riskFlags) limits(mode string) (risk.Limits, error) {
	var l risk.Limits
	var err error
	usd := func(dst *decimal.Decimal, given, name string) {
		if err == nil {
			*dst, err = parseUSD(riskValue(given, name, mode), "risk-"+name)
		}
	}
	count := func(dst *int, given, name string) {
		if err == nil {
			*dst, err = parseCount(riskValue(given, name, mode), "risk-"+name)
		}
	}
	usd(&l.MaxOrder, r.maxOrder, "max-order")
	usd(&l.MaxDaily, r.maxDaily, "max-daily")
	usd(&l.MaxMarket, r.maxMarket, "max-market")
	count(&l.MaxOpen, r.maxOpen, "max-open")
	usd(&l.TotalDaily, r.totalDaily, "total-max-daily")
	usd(&l.TotalMarket, r.totalMarket, "total-max-market")
	count(&l.TotalOpen, r.totalOpen, "total-max-open")
	usd(&l.Collar, r.collar, "price-collar")
	if err != nil {
		return risk.Limits{}, err
	}
	if l.Collar.GreaterThanOrEqual(decimal.NewFromInt(1)) {
		return risk.Limits{}, fmt.Errorf("--risk-price-collar %s: want less than $1 (prices are 0-1)", l.Collar)
	}
	l.RequireWorstPrice = l.Collar.IsPositive()
	l.Allow, l.Deny = risk.ParseList(r.allow), risk.ParseList(r.deny)
	return l, nil
}

// confirmAboveFor returns the --confirm-above threshold for a venue in mode
// (zero: no confirmation).
func (r *riskFlags) confirmAboveFor(mode string) (decimal.Decimal, error) {
	return parseUSD(riskValue(r.confirmAbove, "confirm-above", mode), "confirm-above")
}

// modeOf is the mode whose defaults apply to a venue: live for any venue that
// moves real money, whatever it calls its mode.
func modeOf(info sibyl.VenueInfo) string {
	if info.RealMoney {
		return sibyl.ModeLive
	}
	return info.Mode
}

// limitsFor returns every venue's limits, by name, from its mode.
func (r *riskFlags) limitsFor(venues map[string]sibyl.Venue) (map[string]risk.Limits, error) {
	out := make(map[string]risk.Limits, len(venues))
	for name, v := range venues {
		l, err := r.limits(modeOf(v.Info()))
		if err != nil {
			return nil, err
		}
		out[name] = l
	}
	return out, nil
}

// confirmFor returns every venue's --confirm-above threshold, by name.
func (r *riskFlags) confirmFor(venues map[string]sibyl.Venue) (map[string]decimal.Decimal, error) {
	out := make(map[string]decimal.Decimal, len(venues))
	for name, v := range venues {
		t, err := r.confirmAboveFor(modeOf(v.Info()))
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// check parses every flag once for each mode, so a bad value fails at start.
func (r *riskFlags) check() error {
	for _, mode := range []string{sibyl.ModePaper, sibyl.ModeLive} {
		if _, err := r.limits(mode); err != nil {
			return err
		}
		if _, err := r.confirmAboveFor(mode); err != nil {
			return err
		}
	}
	return nil
}
