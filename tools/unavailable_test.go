package tools

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl/risk"
)

func TestListVenuesNamesUnavailableVenues(t *testing.T) {
	d := MustDeps(t)
	raw, err := call(t, toolByName(t, All(d), "list_venues"), `{}`)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Venues []struct {
			Name, Mode string
		} `json:"venues"`
		Unavailable []struct {
			Name, Title, Reason string
		} `json:"unavailable"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Venues) != 1 || out.Venues[0].Name != "paper" || out.Venues[0].Mode != "paper" || strings.Contains(string(raw), "risk_limits") {
		t.Errorf("configured venues: got %+v, want paper in mode paper", out.Venues)
	}
	want := []string{"Drift BET", "Augur", "Gnosis (Omen / Azuro)", "Robinhood prediction markets", "Crypto.com prediction markets"}
	if len(out.Unavailable) != len(want) {
		t.Fatalf("unavailable: got %+v, want %v", out.Unavailable, want)
	}
	for i, u := range out.Unavailable {
		if u.Title != want[i] || u.Reason == "" || u.Name == "" {
			t.Errorf("unavailable %d: got %+v, want %s with a reason", i, u, want[i])
		}
		for _, v := range out.Venues {
			if v.Name == u.Name {
				t.Errorf("%s is both configured and unavailable", u.Name)
			}
		}
	}
}

func TestListVenuesShowsRiskLimits(t *testing.T) {
	d := MustDeps(t)
	d.Limits = map[string]risk.Limits{"paper": {MaxOrder: decimal.NewFromInt(100), MaxOpen: 20, Deny: []string{"paper:ETH"}}}
	d.ConfirmAbove = map[string]decimal.Decimal{"paper": decimal.RequireFromString("50.5")}
	raw, err := call(t, toolByName(t, All(d), "list_venues"), `{}`)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Venues []struct {
			RiskLimits map[string]any `json:"risk_limits"`
		} `json:"venues"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	got := out.Venues[0].RiskLimits
	if got["max_order"] != 100.0 || got["max_open"] != 20.0 || got["confirm_above"] != 50.5 || got["max_daily"] != nil {
		t.Errorf("risk_limits %v: want max_order 100, max_open 20, confirm_above 50.5 and nothing else limited but the deny list", got)
	}
}
