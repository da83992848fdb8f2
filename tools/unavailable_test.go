package tools

import (
	"encoding/json"
	"testing"
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
	if len(out.Venues) != 1 || out.Venues[0].Name != "paper" || out.Venues[0].Mode != "paper" {
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
