package risk

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	sibyl "github.com/sibylmcp/sibyl"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestNotionalIsExact(t *testing.T) {
	// 0.1 + 0.2 style float error must not appear: 3 x 0.1 is 0.3 exactly.
	o := Order{Quantity: d("3"), Price: d("0.1")}
	if got := o.Notional(); !got.Equal(d("0.3")) {
		t.Errorf("notional: got %s, want 0.3", got)
	}
	if got := (Order{Quantity: d("7"), IsMarket: true}).Notional(); !got.Equal(d("7")) {
		t.Errorf("market order without worst price: got %s, want 7 ($1 a contract)", got)
	}
}

func TestCheck(t *testing.T) {
	buy := func(q, p string) Order {
		return Order{Market: "kalshi:KXBTC-26DEC31-T120000", Side: sibyl.Buy, Quantity: d(q), Price: d(p), Mid: d("0.50")}
	}
	tests := []struct {
		name      string
		l         Limits
		o         Order
		mine, all Usage
		want      string // "" passes; else the limit named
		headroom  string
	}{
		{"under max order", Limits{MaxOrder: d("10")}, buy("20", "0.50"), Usage{}, Usage{}, "", ""},
		{"max order", Limits{MaxOrder: d("10")}, buy("21", "0.50"), Usage{}, Usage{}, "risk-max-order", "headroom $10.00"},
		{"daily at the limit passes", Limits{MaxDaily: d("10")}, buy("10", "0.50"), Usage{Daily: d("5")}, Usage{}, "", ""},
		{"daily", Limits{MaxDaily: d("10")}, buy("10", "0.51"), Usage{Daily: d("5")}, Usage{}, "risk-max-daily", "headroom $5.00"},
		{"total daily", Limits{TotalDaily: d("100")}, buy("2", "0.5"), Usage{}, Usage{Daily: d("99.5")}, "risk-total-max-daily", "headroom $0.50"},
		{"market", Limits{MaxMarket: d("3")}, buy("2", "0.5"), Usage{Market: d("2.5")}, Usage{}, "risk-max-market", "headroom $0.50"},
		{"sells add no exposure", Limits{MaxMarket: d("3")}, Order{Market: "x:y", Side: sibyl.Sell, Quantity: d("9"), Price: d("0.5")}, Usage{Market: d("3")}, Usage{}, "", ""},
		{"open", Limits{MaxOpen: 2}, buy("1", "0.5"), Usage{Open: 2}, Usage{}, "risk-max-open", "headroom 0"},
		{"deny prefix", Limits{Deny: []string{"kalshi:KXBTC"}}, buy("1", "0.5"), Usage{}, Usage{}, "risk-deny-markets", "headroom none"},
		{"deny venue", Limits{Deny: []string{"kalshi"}}, buy("1", "0.5"), Usage{}, Usage{}, "risk-deny-markets", "headroom none"},
		{"allow other", Limits{Allow: []string{"polymarket"}}, buy("1", "0.5"), Usage{}, Usage{}, "risk-allow-markets", "headroom none"},
		{"allow case-insensitive", Limits{Allow: []string{"KALSHI:kxbtc"}}, buy("1", "0.5"), Usage{}, Usage{}, "", ""},
		{"collar edge passes", Limits{Collar: d("0.10")}, buy("1", "0.60"), Usage{}, Usage{}, "", ""},
		{"collar", Limits{Collar: d("0.10")}, buy("1", "0.61"), Usage{}, Usage{}, "risk-price-collar", "headroom: prices from $0.40 to $0.60"},
		{"collar without mid", Limits{Collar: d("0.10")}, Order{Market: "x:y", Side: sibyl.Buy, Quantity: d("1"), Price: d("0.5")}, Usage{}, Usage{}, "risk-price-collar", "headroom none"},
		{"worst price", Limits{RequireWorstPrice: true}, Order{Market: "x:y", Side: sibyl.Buy, IsMarket: true, Quantity: d("1")}, Usage{}, Usage{}, "worst-price", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.l.Check(tc.o, tc.mine, tc.all)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no refusal", err)
				}
				return
			}
			if sibyl.ErrorCode(err) != sibyl.RiskLimit {
				t.Fatalf("got %v, want risk_limit", err)
			}
			msg := sibyl.ErrorMessage(err)
			if !strings.HasPrefix(msg, "risk limit "+tc.want+":") || !strings.Contains(msg, tc.headroom) {
				t.Errorf("message %q: want limit %s and %q", msg, tc.want, tc.headroom)
			}
		})
	}
}
