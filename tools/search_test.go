package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sibylmcp/sibyl"
)

// naturalQueries are searches in people's words, with what the first result
// (or, when nothing is open, the answer) must show. The test logs a table of
// what the old search (the venue's all-words match, every status) returned
// for each, and what search_markets returns now.
var naturalQueries = []struct {
	q    string
	want string // a substring of the first result's id; "" when nothing open should match
	hint string // with want "": a substring the answer's suggestions or note must hold
}{
	{"bitcoin", "BTC-", ""},
	{"Bitcoin", "BTC-", ""},
	{"BTC 150k december", "BTC-ABOVE-150000-2026-12", ""},
	{"$150,000 bitcoin", "-150000-", ""},
	{"bitcoin below 100k", "BTC-BELOW-100000-", ""},
	{"btc 2026-12-31", "BTC-", ""},
	{"will bitcoin go above 150k by end of year", "BTC-ABOVE-150000-2026-12-31", ""},
	{"bitcon", "", "bitcoin"},
	{"ether", "ETH-", ""},
	{"ethereum 3k", "ETH-", ""},
	{"ethereum above 2500 dec 31", "ETH-ABOVE-2500-2026-12-31", ""},
	{"eth above 3000 dec 31", "", "2,500"},
	{"solana", "SOL-", ""},
	{"doge", "DOGE-", ""},
	{"ripple", "XRP-", ""},
	{"bnb", "BNB-", ""},
	{"crypto this week", "-2026-11-27", ""},
	{"fed rate cut", "FED-CUT-", ""},
	{"will the fed cut rates in december", "FED-CUT-2026-12", ""},
	{"interest rates", "FED-", ""},
	{"fomc hike", "FED-HIKE-", ""},
	{"ecb", "ECB-CUT-", ""},
	{"inflation", "CPI-ABOVE-3-", ""},
	{"cpi above 3%", "CPI-ABOVE-3-", ""},
	{"unemployment", "UNEMPLOYMENT-", ""},
	{"jobs report", "UNEMPLOYMENT-", ""},
	{"gdp growth q4", "GDP-ABOVE-2-2026-Q4", ""},
	{"recession", "US-RECESSION-", ""},
	{"trump", "APPROVAL-45-", ""},
	{"president approval", "APPROVAL-45-", ""},
	{"government shutdown", "SHUTDOWN-", ""},
	{"starmer", "UK-PM-STARMER-", ""},
	{"election", "", "politics"},
	{"super bowl", "SUPERBOWL-KC-", ""},
	{"chiefs", "SUPERBOWL-KC-", ""},
	{"celtics nba finals", "NBA-CELTICS-", ""},
	{"real madrid champions league", "UCL-REALMADRID-", ""},
	{"arsenal premier league", "EPL-ARSENAL-", ""},
	{"wimbledon", "", "categor"},
	{"taylor swift", "", "categor"},
}

func TestSearchNaturalQueries(t *testing.T) {
	d := MustDeps(t)
	tool := toolByName(t, All(d), "search_markets")
	var table strings.Builder
	table.WriteString("| query | before: results (first) | after: results (first) |\n|---|---|---|\n")
	for _, nq := range naturalQueries {
		before, err := d.Venues["paper"].SearchMarkets(context.Background(), sibyl.MarketQuery{Text: nq.q, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		args, _ := json.Marshal(map[string]any{"query": nq.q, "limit": 5})
		out := decode[searchMarketsOut](t, must(call(t, tool, string(args))))
		first := func(ms []sibyl.Market) string {
			if len(ms) == 0 {
				return "-"
			}
			return ms[0].NativeID + " (" + string(ms[0].Status) + ")"
		}
		after := "-"
		if len(out.Markets) > 0 {
			after = strings.TrimPrefix(out.Markets[0].ID, "paper:")
		} else {
			var s []string
			for _, x := range out.Suggestions {
				s = append(s, fmt.Sprintf("%q: %d", x.Query, x.Count))
			}
			after = "none; suggests " + strings.Join(s, ", ")
			if out.Note != "" {
				after += "; " + out.Note
			}
		}
		beforeN := fmt.Sprint(len(before.Markets))
		if before.NextCursor != "" {
			beforeN = "100+"
		}
		fmt.Fprintf(&table, "| %s | %s (%s) | %d (%s) |\n", nq.q, beforeN, first(before.Markets), out.Total, after)
		switch {
		case nq.want != "" && (len(out.Markets) == 0 || !strings.Contains(out.Markets[0].ID, nq.want)):
			t.Errorf("%q: first %s, want an id with %q (interpreted %q, ignored %v)", nq.q, after, nq.want, out.Interpreted, out.Ignored)
		case nq.want == "" && len(out.Markets) > 0:
			t.Errorf("%q: found %d markets (first %s), want none open", nq.q, out.Total, after)
		case nq.want == "" && nq.hint != "" && !strings.Contains(strings.ToLower(fmt.Sprint(out.Suggestions, out.Note, out.Categories)), nq.hint):
			t.Errorf("%q: suggestions %v note %q categories %v, want a hint with %q", nq.q, out.Suggestions, out.Note, out.Categories, nq.hint)
		}
		for _, m := range out.Markets {
			if m.Status != "open" {
				t.Errorf("%q: %s is %s; the default is open markets", nq.q, m.ID, m.Status)
			}
		}
	}
	t.Logf("natural queries (paper venue, seed 1, %s):\n%s", testNow.Format("2006-01-02 15:04 MST"), table.String())
}
