package search

import (
	"testing"
	"time"

	"github.com/sibylmcp/sibyl"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want string // Describe()
	}{
		{"Bitcoin", "bitcoin (btc, xbt)"},
		{"BTC 150k december", "btc (bitcoin, xbt) + amount 150,000 + dates December (any year)"},
		{"$150,000", "amount 150,000"},
		{"1.5m", "amount 1,500,000"},
		{"cpi above 3%", "cpi (inflation) + above (over, exceed, higher) + amount 3"},
		{"2026-12-31", "dates 2026-12-31..2026-12-31"},
		{"dec 31 2026", "dates 2026-12-31..2026-12-31"},
		{"31st december", "dates Dec 31 (any year)"},
		{"q4 2026", "dates 2026-10-01..2026-12-31"},
		{"q1", "dates 2027-01-01..2027-03-31"}, // Q1 2026 is over: the next one
		{"end of the year", "dates 2026-12-31..2026-12-31"},
		{"next month", "dates 2026-12-01..2026-12-31"},
		{"2027", "dates 2027-01-01..2027-12-31 or amount 2,027"},
		{"Will the Fed cut rates?", "fed (fomc, federal, powell) + cut (lower, ease) + rate"},
		{"super bowl", "superbowl (nfl)"},
		{"year-end", "dates 2026-12-31..2026-12-31"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := Parse(tc.in, now).Describe(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func market(id, q string, close time.Time, vol float64) sibyl.Market {
	return sibyl.Market{ID: "v:" + id, NativeID: id, Question: q, Status: sibyl.StatusOpen, CloseTime: close, Volume: vol}
}

func TestRankOrder(t *testing.T) {
	dec4 := time.Date(2026, 12, 4, 23, 59, 59, 0, time.UTC)
	dec31 := time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)
	ms := []sibyl.Market{
		market("A", "Will BTC close above $150,000 on 2026-12-31?", dec31, 10),
		market("B", "Will BTC close above $150,000 on 2026-12-04?", dec4, 5),
		market("C", "Will BTC close above $150,000 on 2026-12-04?", dec4, 50),
		market("D", "Will ETH close above $3,000 on 2026-12-04?", dec4, 500),
		market("E", "Will BTC close above $100,000 on 2026-12-04?", dec4, 500),
	}
	res := Rank(ms, Parse("bitcoin 150k december", now))
	var got []string
	for _, m := range res.Markets {
		got = append(got, m.NativeID)
	}
	// Same relevance: the nearest close first, then the larger volume.
	if want := []string{"C", "B", "A"}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("got %v, want %v", got, want)
	}
	// A word in no market is ignored and said; an amount in none empties the result.
	res = Rank(ms, Parse("gimme bitcoin", now))
	if len(res.Markets) != 4 || len(res.Ignored) != 1 || res.Ignored[0].Raw != "gimme" {
		t.Errorf("gimme bitcoin: %d markets, ignored %v", len(res.Markets), res.Ignored)
	}
	if res := Rank(ms, Parse("bitcoin 400k", now)); len(res.Markets) != 0 {
		t.Errorf("bitcoin 400k: %d markets, want none", len(res.Markets))
	}
	sug := Suggest(ms, Parse("bitcoin 400k", now), now, 3)
	if len(sug) == 0 || sug[0].Query != "bitcoin 150,000" && sug[0].Query != "bitcoin" {
		t.Errorf("suggestions %+v", sug)
	}
}
