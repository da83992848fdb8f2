package polymarket

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sibylmcp/sibyl/venues/polymarket/clob"
)

// Resolution is where a market is between trading and payout.
type Resolution string

// Resolution states.
const (
	// Trading: open, accepting orders.
	Trading Resolution = "trading"
	// Paused: not closed, but not accepting orders now.
	Paused Resolution = "paused"
	// ClosedUnpriced: trading ended, no result proposed yet.
	ClosedUnpriced Resolution = "closed"
	// Proposed: closed with a price (a result proposed through UMA) but not
	// resolved: it can still be disputed and change.
	Proposed Resolution = "proposed"
	// Disputed: the proposed result was disputed and awaits a vote.
	Disputed Resolution = "disputed"
	// Resolved: the result is final; winning tokens redeem for $1.
	Resolved Resolution = "resolved"
)

// Outcome is one outcome token of a market.
type Outcome struct {
	Name    string          // such as "Yes"
	TokenID string          // the CLOB token id (ERC-1155 position id)
	Price   decimal.Decimal // Gamma's outcome price (the last or mid price; 1 or 0 once resolved)
}

// Market is a Polymarket market as read from Gamma.
type Market struct {
	ConditionID     string // the native id: polymarket:<conditionId>
	GammaID         string
	Slug            string
	Question        string
	Description     string // the resolution rules
	Category        string // the first event tag's label, or Gamma's category
	Tags            []string
	Outcomes        []Outcome
	Active          bool
	Closed          bool
	AcceptingOrders bool
	EnableOrderBook bool
	NegRisk         bool
	TickSize        string          // as Polymarket writes it: "0.01"
	MinSize         decimal.Decimal // minimum order size in shares
	Version         string          // Gamma's version: "v1", or "v2" for markets that trade through ExchangeV3
	BestBid         decimal.Decimal // first outcome's best bid (zero when none)
	BestAsk         decimal.Decimal // first outcome's best ask (zero when none)
	LastTrade       decimal.Decimal // first outcome's last trade
	VolumeUSD       decimal.Decimal // dollars traded since listing
	Volume24hUSD    decimal.Decimal
	LiquidityUSD    decimal.Decimal
	StartTime       time.Time
	EndTime         time.Time
	ClosedTime      time.Time
	UpdatedAt       time.Time
	Resolution      Resolution
	Winner          string // the winning outcome once Resolved (or the proposed one when Proposed/Disputed)
}

// OrderVersion returns the EIP-712 order version the market trades with: 3
// (ExchangeV3) for Gamma version "v2" markets, else defaultVersion (the CLOB's
// GET /version answer, 2 since April 2026).
func (m Market) OrderVersion(defaultVersion int) int {
	if m.Version == "v2" {
		return 3
	}
	return defaultVersion
}

// Outcome returns the named outcome, case-insensitively.
func (m Market) Outcome(name string) (Outcome, bool) {
	for _, o := range m.Outcomes {
		if strings.EqualFold(o.Name, name) {
			return o, true
		}
	}
	return Outcome{}, false
}

// parseMarket turns a Gamma market into a Market. It fails when the
// JSON-encoded outcome arrays disagree in length or a price or token id is not
// a number.
func parseMarket(g gammaMarket, tags []string) (Market, error) {
	if g.ConditionID == "" {
		return Market{}, fmt.Errorf("gamma market %s has no conditionId", g.ID)
	}
	if len(g.OutcomePrices) != 0 && len(g.OutcomePrices) != len(g.Outcomes) {
		return Market{}, fmt.Errorf("gamma market %s: %d outcomes but %d prices", g.ID, len(g.Outcomes), len(g.OutcomePrices))
	}
	if len(g.ClobTokenIDs) != 0 && len(g.ClobTokenIDs) != len(g.Outcomes) {
		return Market{}, fmt.Errorf("gamma market %s: %d outcomes but %d token ids", g.ID, len(g.Outcomes), len(g.ClobTokenIDs))
	}
	m := Market{
		ConditionID: g.ConditionID, GammaID: g.ID, Slug: g.Slug, Question: g.Question, Description: g.Description,
		Active: g.Active, Closed: g.Closed, AcceptingOrders: g.AcceptingOrders, EnableOrderBook: g.EnableOrderBook,
		NegRisk: g.NegRisk, Version: g.Version, MinSize: g.OrderMinSize.Decimal,
		BestBid: g.BestBid.Decimal, BestAsk: g.BestAsk.Decimal, LastTrade: g.LastTradePrice.Decimal,
		VolumeUSD: g.VolumeNum.Decimal, Volume24hUSD: g.Volume24hr.Decimal, LiquidityUSD: g.LiquidityNum.Decimal,
		StartTime: parseTime(g.StartDate), EndTime: parseTime(g.EndDate), ClosedTime: parseTime(g.ClosedTime),
		UpdatedAt: parseTime(g.UpdatedAt), Category: g.Category, Tags: tags,
	}
	if g.OrderPriceMinTickSize.Set {
		m.TickSize = g.OrderPriceMinTickSize.String()
		if _, err := clob.Rounding(m.TickSize); err != nil {
			return Market{}, fmt.Errorf("gamma market %s: %w", g.ID, err)
		}
	}
	if len(m.Tags) == 0 {
		for _, e := range g.Events {
			for _, t := range e.Tags {
				m.Tags = append(m.Tags, t.Label)
			}
		}
	}
	if m.Category == "" && len(m.Tags) > 0 {
		m.Category = m.Tags[0]
	}
	for i, name := range g.Outcomes {
		o := Outcome{Name: name}
		if i < len(g.ClobTokenIDs) {
			if _, err := clob.ParseTokenID(g.ClobTokenIDs[i]); err != nil {
				return Market{}, fmt.Errorf("gamma market %s: %w", g.ID, err)
			}
			o.TokenID = g.ClobTokenIDs[i]
		}
		if i < len(g.OutcomePrices) {
			p, err := decimal.NewFromString(g.OutcomePrices[i])
			if err != nil {
				return Market{}, fmt.Errorf("gamma market %s: outcome price %q is not a number", g.ID, g.OutcomePrices[i])
			}
			o.Price = p
		}
		m.Outcomes = append(m.Outcomes, o)
	}
	m.Resolution, m.Winner = resolution(g, m.Outcomes)
	return m, nil
}

// resolution reads the market's state from closed/acceptingOrders, UMA's
// resolution status and the outcome prices: a closed market whose prices are
// 1 and 0 is priced, but it is resolved only when UMA says so.
func resolution(g gammaMarket, outs []Outcome) (Resolution, string) {
	winner := ""
	one := decimal.NewFromInt(1)
	for _, o := range outs {
		if o.Price.Equal(one) {
			winner = o.Name
		}
	}
	status := strings.ToLower(g.UMAResolutionStatus)
	if status == "" && len(g.UMAResolutionStatuses) > 0 {
		status = strings.ToLower(g.UMAResolutionStatuses[len(g.UMAResolutionStatuses)-1])
	}
	switch {
	case status == "resolved" && g.Closed:
		return Resolved, winner
	case strings.Contains(status, "disput"):
		return Disputed, winner
	case !g.Closed && g.Active && g.AcceptingOrders:
		return Trading, ""
	case !g.Closed:
		return Paused, ""
	case status == "proposed" || winner != "":
		return Proposed, winner
	}
	return ClosedUnpriced, ""
}
