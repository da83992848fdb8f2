package match

import (
	"fmt"
	"testing"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
)

var yesNo2 = []sibyl.Outcome{{Name: "Yes"}, {Name: "No"}}

func pm(id, sym string, strike float64, dir string, exp time.Time) sibyl.Market {
	return sibyl.Market{ID: id, Outcomes: yesNo2, Underlying: &sibyl.PriceCondition{Symbol: sym, Strike: strike, Direction: dir, Expiry: exp}}
}

func ev(id, q string) sibyl.Market { return sibyl.Market{ID: id, Question: q, Outcomes: yesNo2} }

func TestEquivalent(t *testing.T) {
	exp := time.Date(2026, 12, 31, 21, 0, 0, 0, time.UTC)
	ref := pm("paper:BTC-ABOVE-120000", "BTC", 120000, "above", exp)
	tests := []struct {
		name   string
		ref, c sibyl.Market
		ok     bool
		kind   string
		score  float64
		yesMap string
	}{
		{"same contract", ref, pm("kalshi:KXBTC-T120000", "btc", 120000, "above", exp), true, KindPrice, 1, "Yes"},
		{"same day, later hour", ref, pm("polymarket:1", "BTC", 120000, "above", exp.Add(3*time.Hour)), true, KindPrice, 0.9, "Yes"},
		{"opposite direction", ref, pm("kalshi:B", "BTC", 120000, "below", exp), true, KindPrice, 1, "No"},
		{"a cent below (Kalshi's 'or above')", ref, pm("kalshi:KXBTCD-T119999.99", "BTC", 119999.99, "above", exp), true, KindPrice, 1, "Yes"},
		{"two cents apart", ref, pm("kalshi:X", "BTC", 119999.98, "above", exp), false, "", 0, ""},
		{"other strike", ref, pm("kalshi:C", "BTC", 125000, "above", exp), false, "", 0, ""},
		{"other token", ref, pm("kalshi:D", "ETH", 120000, "above", exp), false, "", 0, ""},
		{"a day apart", ref, pm("kalshi:E", "BTC", 120000, "above", exp.Add(24*time.Hour)), false, "", 0, ""},
		{"price vs event", ref, ev("kalshi:F", "Will BTC be above 120000?"), false, "", 0, ""},
		{"itself", ref, ref, false, "", 0, ""},
		{"same question reworded", ev("paper:FED", "Will the Fed cut rates in December 2026?"), ev("kalshi:FED", "Fed cuts rates in December 2026"), true, KindEvent, 1, "Yes"},
		{"different question", ev("paper:FED", "Will the Fed cut rates in December 2026?"), ev("kalshi:ECB", "Will the ECB hike rates in March 2027?"), false, "", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := Equivalent(tc.ref, tc.c)
			if ok != tc.ok {
				t.Fatalf("match: got %v (%+v), want %v", ok, m, tc.ok)
			}
			if !ok {
				return
			}
			if m.Kind != tc.kind || m.Score != tc.score || m.Outcomes["Yes"] != tc.yesMap {
				t.Errorf("got %+v, want kind %s score %v Yes->%s", m, tc.kind, tc.score, tc.yesMap)
			}
		})
	}
}

func TestSimilarityNormalisesNumbers(t *testing.T) {
	if s := Similarity("BTC above $120,000 on Dec 31?", "btc above 120000 dec 31"); s != 1 {
		t.Errorf("got %v, want 1", s)
	}
}

func TestParsePriceQuestion(t *testing.T) {
	close := time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC)
	tests := []struct {
		q    string
		want string // "SYM dir strike", or "" for none
	}{
		{"Will Bitcoin be above $120,000 on December 31?", "BTC above 120000"},
		{"BTC above 120k on Dec 31", "BTC above 120000"},
		{"Will the price of Ethereum be less than $3,500 on December 31, 2026?", "ETH below 3500"},
		{"Will Solana close over $250.50 on Dec 31?", "SOL above 250.5"},
		{"Will Bitcoin reach $150,000 in 2026?", ""},
		{"Will Bitcoin dip to $80,000 by December?", ""},
		{"Will the Fed cut rates above expectations?", ""},
		{"Will Bitcoin be above a record?", ""},
	}
	for _, tc := range tests {
		got := ""
		if pc := ParsePriceQuestion(tc.q, close); pc != nil {
			got = fmt.Sprintf("%s %s %g", pc.Symbol, pc.Direction, pc.Strike)
			if !pc.Expiry.Equal(close) {
				t.Errorf("%q: expiry %v, want the close", tc.q, pc.Expiry)
			}
		}
		if got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.q, got, tc.want)
		}
	}
}

func TestPriceMatchFromQuestion(t *testing.T) {
	exp := time.Date(2026, 12, 31, 21, 0, 0, 0, time.UTC)
	ref := pm("paper:BTC-ABOVE-120000", "BTC", 120000, "above", exp)
	poly := sibyl.Market{ID: "polymarket:0x1", Question: "Will Bitcoin be above $120,000 on December 31?", CloseTime: exp.Add(-4 * time.Hour), Outcomes: yesNo2}
	m, ok := Equivalent(ref, poly)
	if !ok || m.Kind != KindPrice || m.Score != 0.8 || m.Outcomes["Yes"] != "Yes" {
		t.Errorf("got %+v %v, want a price match read from the question, score 0.8", m, ok)
	}
}
