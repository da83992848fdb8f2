package match

import (
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
