package tools

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/kalshi"
	"github.com/sibylmcp/sibyl/venues/kalshi/kalshitest"
	"github.com/sibylmcp/sibyl/venues/polymarket"
	"github.com/sibylmcp/sibyl/venues/polymarket/clob"
	"github.com/sibylmcp/sibyl/venues/polymarket/pmtest"
)

// TestCompareMarketsWithPolymarketAdapter runs compare_markets over the paper
// venue and the real Polymarket adapter talking to an httptest Polymarket
// (Gamma and CLOB in their documented shapes): the Polymarket market asking
// the same BTC question in words is found, its Yes is priced from its book
// with no fee, and it ranks by all-in price against paper's (which pays a
// fee); markets on another strike or about touching a level are not matched.
func TestCompareMarketsWithPolymarketAdapter(t *testing.T) {
	d := MustDeps(t)
	ref := quotedBTC(t, d, "above")
	u := ref.Underlying
	yesAsk := ref.Outcomes[0].Ask

	srv := pmtest.New(clob.Credentials{})
	t.Cleanup(srv.Close)
	day := u.Expiry.Format("January 2, 2006")
	add := func(cond, question, yes, no string, end time.Time) {
		srv.AddMarket(pmtest.Market{ConditionID: cond, Question: question, TokenIDs: []string{yes, no}, EndDate: end, Tags: []string{"Crypto"}})
		ask := fmt.Sprintf("%.2f", yesAsk-0.01)
		bid := fmt.Sprintf("%.2f", yesAsk-0.03)
		srv.SetBook(yes, []pmtest.Level{{Price: bid, Size: "500"}}, []pmtest.Level{{Price: ask, Size: "500"}})
	}
	same := "0x" + strings.Repeat("a1", 32)
	add(same, fmt.Sprintf("Will Bitcoin be above $%s on %s?", humanize(u.Strike), day), "101", "102", u.Expiry.Add(-time.Hour))
	add("0x"+strings.Repeat("b2", 32), fmt.Sprintf("Will Bitcoin be above $%s on %s?", humanize(u.Strike+10000), day), "201", "202", u.Expiry)
	add("0x"+strings.Repeat("c3", 32), fmt.Sprintf("Will Bitcoin reach $%s by %s?", humanize(u.Strike), day), "301", "302", u.Expiry)

	c, err := polymarket.NewClient(polymarket.Config{GammaURL: srv.URL, ClobURL: srv.URL, DataURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	pv, err := polymarket.New(polymarket.Options{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	d.Venues["polymarket"] = pv

	raw, err := call(t, toolByName(t, All(d), "compare_markets"), `{"market":"`+ref.ID+`","quantity":100}`)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Markets []struct {
			Market, Outcome, Match string
			Score, Price, Fee      float64
			AllIn                  float64 `json:"all_in"`
		} `json:"markets"`
		Best string `json:"best"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	var poly []string
	for i, m := range out.Markets {
		if i > 0 && m.AllIn < out.Markets[i-1].AllIn {
			t.Errorf("not ranked by all-in price: %+v", out.Markets)
		}
		if strings.HasPrefix(m.Market, "polymarket:") {
			poly = append(poly, m.Market)
			if m.Market != "polymarket:"+same || m.Outcome != "Yes" || m.Match != "price" || m.Score != 0.8 || m.Fee != 0 {
				t.Errorf("polymarket row %+v: want the same question's Yes, a price match at 0.8, no fee", m)
			}
		}
	}
	if len(poly) != 1 {
		t.Fatalf("polymarket matches %v among %+v: want exactly the same BTC question", poly, out.Markets)
	}
	// Polymarket's ask is a cent under paper's and pays no fee: best all-in.
	if out.Best != "polymarket:"+same {
		t.Errorf("best %s, want the polymarket market (%+v)", out.Best, out.Markets)
	}
}

// quotedBTC returns an open paper BTC market in direction dir whose Yes has an ask.
func quotedBTC(t *testing.T, d *Deps, dir string) sibyl.Market {
	t.Helper()
	page, err := d.Venues["paper"].SearchMarkets(t.Context(), sibyl.MarketQuery{Text: "BTC", Status: sibyl.StatusOpen, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Markets {
		if m.Underlying != nil && m.Underlying.Direction == dir && m.Outcomes[0].Ask > 0.1 && m.Outcomes[0].Ask < 0.9 {
			return m
		}
	}
	t.Fatal("no quoted paper BTC market")
	return sibyl.Market{}
}

// TestCompareMarketsAcrossThreeVenues: the paper venue, the real Kalshi
// adapter over its httptest Kalshi (a KXBTCD market: strike_type greater,
// floor_strike a cent under the level, as Kalshi writes "or above") and the
// real Polymarket adapter over its httptest Polymarket (the question in
// words). compare_markets finds the same BTC contract on all three and ranks
// them by price plus each venue's fee: Polymarket (a cent cheaper, no fee),
// then Kalshi (two cents cheaper, Kalshi's fee), then paper (paper's fee).
func TestCompareMarketsAcrossThreeVenues(t *testing.T) {
	d := MustDeps(t)
	ref := quotedBTC(t, d, "above")
	u := ref.Underlying
	yesAsk := ref.Outcomes[0].Ask
	cents := func(x float64) string { return fmt.Sprintf("%.2f", x) }

	ks := kalshitest.New(kalshitest.Options{Markets: []kalshitest.MarketSpec{{
		Ticker: fmt.Sprintf("KXBTCD-TEST-T%.2f", u.Strike-0.01), EventTicker: "KXBTCD-TEST",
		Title: "Bitcoin price?", YesSubTitle: "$" + humanize(u.Strike) + " or above",
		StrikeType: "greater", FloorStrike: fmt.Sprintf("%.2f", u.Strike-0.01), CloseTime: u.Expiry,
		YesBids: [][2]string{{cents(yesAsk - 0.04), "500.00"}},
		NoBids:  [][2]string{{cents(1 - (yesAsk - 0.02)), "500.00"}}, // a NO bid at 1-p is a YES ask at p
	}}})
	t.Cleanup(ks.Close)
	kc, err := kalshi.NewClient(kalshi.Config{BaseURL: ks.URL(), HTTPClient: ks.Client()})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := kalshi.New(kalshi.Options{Client: kc})
	if err != nil {
		t.Fatal(err)
	}
	d.Venues["kalshi"] = kv

	srv := pmtest.New(clob.Credentials{})
	t.Cleanup(srv.Close)
	srv.AddMarket(pmtest.Market{ConditionID: "0x" + strings.Repeat("d4", 32), TokenIDs: []string{"401", "402"}, EndDate: u.Expiry.Add(-time.Hour),
		Question: fmt.Sprintf("Will Bitcoin be above $%s on %s?", humanize(u.Strike), u.Expiry.Format("January 2, 2006"))})
	srv.SetBook("401", []pmtest.Level{{Price: cents(yesAsk - 0.03), Size: "500"}}, []pmtest.Level{{Price: cents(yesAsk - 0.01), Size: "500"}})
	pc, err := polymarket.NewClient(polymarket.Config{GammaURL: srv.URL, ClobURL: srv.URL, DataURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	pv, err := polymarket.New(polymarket.Options{Client: pc})
	if err != nil {
		t.Fatal(err)
	}
	d.Venues["polymarket"] = pv

	raw, err := call(t, toolByName(t, All(d), "compare_markets"), `{"market":"`+ref.ID+`","quantity":100}`)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Markets []struct {
			Market, Venue, Outcome, Match string
			Score, Price, Fee             float64
			AllIn                         float64 `json:"all_in"`
		} `json:"markets"`
		Best string `json:"best"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	rank := map[string]int{}
	for i, m := range out.Markets {
		t.Logf("%d. %-10s %-45s %-3s price %.4f fee %.2f all-in %.4f (%s %.1f)", i+1, m.Venue, m.Market, m.Outcome, m.Price, m.Fee, m.AllIn, m.Match, m.Score)
		if m.Outcome == "Yes" {
			rank[m.Venue] = i + 1
		}
	}
	if !(rank["polymarket"] > 0 && rank["kalshi"] > rank["polymarket"] && rank[ref.Venue] > rank["kalshi"]) {
		t.Errorf("ranks %v: want polymarket, then kalshi, then paper (by all-in price)", rank)
	}
	for _, m := range out.Markets {
		if m.Venue == "kalshi" && (m.Match != "price" || m.Score != 1 || m.Fee <= 0) {
			t.Errorf("kalshi row %+v: want a structured price match (score 1) with Kalshi's fee", m)
		}
	}
}
