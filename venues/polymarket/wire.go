package polymarket

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// num is a JSON value Polymarket writes as a number or as a string holding a
// number ("0.01", 0.01, "697171.31"); it is read exactly, never through float64.
type num struct {
	decimal.Decimal
	Set bool // false when the field was absent, null or ""
}

func (n *num) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" || s == `""` {
		*n = num{}
		return nil
	}
	s = strings.Trim(s, `"`)
	d, err := decimal.NewFromString(s)
	if err != nil {
		return fmt.Errorf("%s is not a number", b)
	}
	*n = num{Decimal: d, Set: true}
	return nil
}

// stringList is one of Gamma's JSON-encoded string arrays: the field's value is
// a string holding a JSON array ("[\"Yes\", \"No\"]").
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		// Some Gamma views send a real array; accept it too.
		var arr []string
		if err2 := json.Unmarshal(b, &arr); err2 != nil {
			return fmt.Errorf("want a JSON-encoded string array: %w", err)
		}
		*l = arr
		return nil
	}
	if s == nil || *s == "" {
		*l = nil
		return nil
	}
	var arr []string
	if err := json.Unmarshal([]byte(*s), &arr); err != nil {
		return fmt.Errorf("JSON-encoded string array %q: %w", *s, err)
	}
	*l = arr
	return nil
}

// gammaMarket is the part of a Gamma market sibyl reads.
type gammaMarket struct {
	ID                    string       `json:"id"`
	Question              string       `json:"question"`
	ConditionID           string       `json:"conditionId"`
	Slug                  string       `json:"slug"`
	Description           string       `json:"description"`
	StartDate             string       `json:"startDate"`
	EndDate               string       `json:"endDate"`
	ClosedTime            string       `json:"closedTime"`
	UpdatedAt             string       `json:"updatedAt"`
	Active                bool         `json:"active"`
	Closed                bool         `json:"closed"`
	Archived              bool         `json:"archived"`
	AcceptingOrders       bool         `json:"acceptingOrders"`
	EnableOrderBook       bool         `json:"enableOrderBook"`
	NegRisk               bool         `json:"negRisk"`
	OrderPriceMinTickSize num          `json:"orderPriceMinTickSize"`
	OrderMinSize          num          `json:"orderMinSize"`
	Outcomes              stringList   `json:"outcomes"`
	OutcomePrices         stringList   `json:"outcomePrices"`
	ClobTokenIDs          stringList   `json:"clobTokenIds"`
	UMAResolutionStatus   string       `json:"umaResolutionStatus"`
	UMAResolutionStatuses stringList   `json:"umaResolutionStatuses"`
	BestBid               num          `json:"bestBid"`
	BestAsk               num          `json:"bestAsk"`
	LastTradePrice        num          `json:"lastTradePrice"`
	VolumeNum             num          `json:"volumeNum"`
	Volume24hr            num          `json:"volume24hr"`
	LiquidityNum          num          `json:"liquidityNum"`
	Version               string       `json:"version"`
	Category              string       `json:"category"`
	Events                []gammaEvent `json:"events"`
}

// gammaEvent is the part of a Gamma event sibyl reads.
type gammaEvent struct {
	ID       string        `json:"id"`
	Title    string        `json:"title"`
	Slug     string        `json:"slug"`
	Category string        `json:"category"`
	Tags     []gammaTag    `json:"tags"`
	Markets  []gammaMarket `json:"markets"`
}

type gammaTag struct {
	Label string `json:"label"`
	Slug  string `json:"slug"`
}

// gammaSearch is GET /public-search's answer.
type gammaSearch struct {
	Events     []gammaEvent `json:"events"`
	Pagination struct {
		HasMore      bool `json:"hasMore"`
		TotalResults int  `json:"totalResults"`
	} `json:"pagination"`
}

// level is one price level of a CLOB book.
type level struct {
	Price num `json:"price"`
	Size  num `json:"size"`
}

// clobBook is GET /book's answer: bids ascending and asks descending (best last).
type clobBook struct {
	Market         string  `json:"market"`
	AssetID        string  `json:"asset_id"`
	Timestamp      string  `json:"timestamp"`
	Hash           string  `json:"hash"`
	Bids           []level `json:"bids"`
	Asks           []level `json:"asks"`
	MinOrderSize   num     `json:"min_order_size"`
	TickSize       num     `json:"tick_size"`
	NegRisk        bool    `json:"neg_risk"`
	LastTradePrice num     `json:"last_trade_price"`
}

// parseTime reads Gamma's time formats ("2027-12-31T00:00:00Z", with fractions,
// or "2026-06-12 20:41:49+00"); the zero time when s is empty or unreadable.
func parseTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05-07", "2006-01-02 15:04:05Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
