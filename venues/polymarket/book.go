package polymarket

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sibylmcp/sibyl/venues/polymarket/clob"
)

// Level is one price level: size shares resting at price.
type Level struct {
	Price decimal.Decimal
	Size  decimal.Decimal
}

// Book is one outcome token's CLOB book, best first on both sides (the wire
// sends bids ascending and asks descending, best last).
type Book struct {
	ConditionID string
	TokenID     string
	Bids        []Level // highest first
	Asks        []Level // lowest first
	TickSize    string
	MinSize     decimal.Decimal
	NegRisk     bool
	LastTrade   decimal.Decimal
	Time        time.Time
	Hash        string
}

// Mid returns (best bid + best ask) / 2, and false when a side is empty.
func (b Book) Mid() (decimal.Decimal, bool) {
	if len(b.Bids) == 0 || len(b.Asks) == 0 {
		return decimal.Decimal{}, false
	}
	return b.Bids[0].Price.Add(b.Asks[0].Price).Div(decimal.NewFromInt(2)), true
}

// parseBook orders the wire book best first. It sorts rather than reverses, so
// a book sent in any order comes out right; levels with a missing price or size
// are an error.
func parseBook(w clobBook) (Book, error) {
	b := Book{ConditionID: w.Market, TokenID: w.AssetID, MinSize: w.MinOrderSize.Decimal, NegRisk: w.NegRisk,
		LastTrade: w.LastTradePrice.Decimal, Hash: w.Hash}
	if w.TickSize.Set {
		b.TickSize = w.TickSize.String()
		if _, err := clob.Rounding(b.TickSize); err != nil {
			return Book{}, fmt.Errorf("book of %s: %w", w.AssetID, err)
		}
	}
	if ms, err := strconv.ParseInt(w.Timestamp, 10, 64); err == nil {
		b.Time = time.UnixMilli(ms).UTC()
	}
	conv := func(side []level) ([]Level, error) {
		out := make([]Level, 0, len(side))
		for _, l := range side {
			if !l.Price.Set || !l.Size.Set {
				return nil, fmt.Errorf("book of %s: a level lacks its price or size", w.AssetID)
			}
			out = append(out, Level{Price: l.Price.Decimal, Size: l.Size.Decimal})
		}
		return out, nil
	}
	var err error
	if b.Bids, err = conv(w.Bids); err != nil {
		return Book{}, err
	}
	if b.Asks, err = conv(w.Asks); err != nil {
		return Book{}, err
	}
	sort.SliceStable(b.Bids, func(i, j int) bool { return b.Bids[i].Price.GreaterThan(b.Bids[j].Price) })
	sort.SliceStable(b.Asks, func(i, j int) bool { return b.Asks[i].Price.LessThan(b.Asks[j].Price) })
	return b, nil
}
