package polymarket

import (
	"encoding/json"
	"testing"
)

// TestResolutionStates starts from the recorded resolved market and changes the
// fields that decide its state: closed with a price but UMA only "proposed" is
// not resolved; "disputed" is disputed; closed without a price or status is
// closed; open but not accepting orders is paused.
func TestResolutionStates(t *testing.T) {
	raw := readShared(t, recorded+"argos__gamma_market_resolved_842093.json")
	for _, tc := range []struct {
		name       string
		edit       func(m map[string]any)
		want       Resolution
		wantWinner string
	}{
		{"recorded", func(map[string]any) {}, Resolved, "No"},
		{"priced, proposed", func(m map[string]any) {
			m["umaResolutionStatus"] = "proposed"
			m["umaResolutionStatuses"] = `["proposed"]`
		}, Proposed, "No"},
		{"priced, no status", func(m map[string]any) {
			delete(m, "umaResolutionStatus")
			m["umaResolutionStatuses"] = `[]`
		}, Proposed, "No"},
		{"disputed", func(m map[string]any) {
			m["umaResolutionStatus"] = "disputed"
			m["umaResolutionStatuses"] = `["proposed", "disputed"]`
		}, Disputed, "No"},
		{"disputed in history only", func(m map[string]any) {
			delete(m, "umaResolutionStatus")
			m["umaResolutionStatuses"] = `["proposed", "disputed"]`
		}, Disputed, "No"},
		{"closed, unpriced", func(m map[string]any) {
			delete(m, "umaResolutionStatus")
			m["umaResolutionStatuses"] = `[]`
			m["outcomePrices"] = `["0.5", "0.5"]`
		}, ClosedUnpriced, ""},
		{"open", func(m map[string]any) {
			m["closed"], m["acceptingOrders"] = false, true
			delete(m, "umaResolutionStatus")
			m["umaResolutionStatuses"] = `[]`
			m["outcomePrices"] = `["0.4", "0.6"]`
		}, Trading, ""},
		{"paused", func(m map[string]any) {
			m["closed"], m["acceptingOrders"] = false, false
			delete(m, "umaResolutionStatus")
			m["umaResolutionStatuses"] = `[]`
		}, Paused, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var obj map[string]any
			if err := json.Unmarshal(raw, &obj); err != nil {
				t.Fatal(err)
			}
			tc.edit(obj)
			b, _ := json.Marshal(obj)
			var g gammaMarket
			if err := json.Unmarshal(b, &g); err != nil {
				t.Fatal(err)
			}
			m, err := parseMarket(g, nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.Resolution != tc.want || m.Winner != tc.wantWinner {
				t.Errorf("got %s %q, want %s %q", m.Resolution, m.Winner, tc.want, tc.wantWinner)
			}
		})
	}
}

// TestParseMarketRefusesMismatchedArrays: outcomes and prices (or token ids) of
// different lengths are an error, not a silently shifted outcome.
func TestParseMarketRefusesMismatchedArrays(t *testing.T) {
	for _, body := range []string{
		`{"id":"1","conditionId":"0x1","outcomes":"[\"Yes\",\"No\"]","outcomePrices":"[\"0.5\"]"}`,
		`{"id":"1","conditionId":"0x1","outcomes":"[\"Yes\",\"No\"]","clobTokenIds":"[\"1\"]"}`,
		`{"id":"1","conditionId":"0x1","outcomes":"[\"Yes\"]","outcomePrices":"[\"abc\"]"}`,
		`{"id":"1","conditionId":"0x1","outcomes":"[\"Yes\"]","clobTokenIds":"[\"0x12\"]"}`,
		`{"id":"1","conditionId":"0x1","orderPriceMinTickSize":0.02}`,
	} {
		var g gammaMarket
		if err := json.Unmarshal([]byte(body), &g); err != nil {
			t.Fatal(err)
		}
		if _, err := parseMarket(g, nil); err == nil {
			t.Errorf("%s: no error", body)
		}
	}
}
