package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
)

// listVenue is a read-only sibyl.Venue serving a fixed list of markets, for
// tests that need a second or third venue beside paper.
type listVenue struct {
	name    string
	markets []sibyl.Market
}

var _ sibyl.Venue = (*listVenue)(nil)

func (v *listVenue) Info() sibyl.VenueInfo {
	return sibyl.VenueInfo{Name: v.name, Title: v.name, Mode: sibyl.ModeDemo, Available: true, Capabilities: []string{"markets"}}
}
func (v *listVenue) SearchMarkets(_ context.Context, q sibyl.MarketQuery) (sibyl.MarketPage, error) {
	var out []sibyl.Market
	for _, m := range v.markets {
		if q.Text == "" || strings.Contains(strings.ToLower(m.Question+" "+m.ID), strings.ToLower(q.Text)) {
			out = append(out, m)
		}
	}
	return sibyl.MarketPage{Markets: out}, nil
}
func (v *listVenue) Market(_ context.Context, id string) (sibyl.Market, error) {
	for _, m := range v.markets {
		if m.NativeID == id {
			return m, nil
		}
	}
	return sibyl.Market{}, sibyl.Errorf(sibyl.NotFound, "no market %s", id)
}
func (v *listVenue) OrderBook(context.Context, string, string, int) (sibyl.OrderBook, error) {
	return sibyl.OrderBook{}, sibyl.Errorf(sibyl.Unavailable, "no books")
}
func (v *listVenue) PlaceOrder(context.Context, sibyl.OrderRequest) (sibyl.Order, error) {
	return sibyl.Order{}, sibyl.Errorf(sibyl.Unauthorized, "read-only")
}
func (v *listVenue) CancelOrder(context.Context, string, string) (sibyl.Order, error) {
	return sibyl.Order{}, sibyl.Errorf(sibyl.Unauthorized, "read-only")
}
func (v *listVenue) GetOrder(context.Context, string, string) (sibyl.Order, error) {
	return sibyl.Order{}, sibyl.Errorf(sibyl.NotFound, "none")
}
func (v *listVenue) OrderByClientID(context.Context, string, string, sibyl.LookupHint) (sibyl.Order, error) {
	return sibyl.Order{}, sibyl.Errorf(sibyl.NotFound, "none")
}
func (v *listVenue) ListOrders(context.Context, string, sibyl.OrderQuery) (sibyl.OrderPage, error) {
	return sibyl.OrderPage{}, nil
}
func (v *listVenue) Portfolio(context.Context, string) (sibyl.Portfolio, error) {
	return sibyl.Portfolio{}, nil
}

// priceMarket is a Yes/No market on sym's price.
func priceMarket(venue, id, sym string, strike float64, dir string, expiry time.Time, yesAsk, noAsk float64) sibyl.Market {
	return sibyl.Market{ID: venue + ":" + id, Venue: venue, NativeID: id, Question: "Will " + sym + " be " + dir + " " + time.Now().Format("2006") + "?",
		Status: sibyl.StatusOpen, Category: "crypto", CloseTime: expiry,
		Outcomes:   []sibyl.Outcome{{Name: "Yes", Ask: yesAsk, Bid: yesAsk - 0.02}, {Name: "No", Ask: noAsk, Bid: noAsk - 0.02}},
		Underlying: &sibyl.PriceCondition{Symbol: sym, Strike: strike, Direction: dir, Expiry: expiry}}
}

func TestCompareMarketsFindsEquivalentsAndRanksAllIn(t *testing.T) {
	d := MustDeps(t)
	ctx := context.Background()
	// A paper BTC market with quotes on both outcomes.
	page, err := d.Venues["paper"].SearchMarkets(ctx, sibyl.MarketQuery{Text: "BTC", Status: sibyl.StatusOpen, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ref sibyl.Market
	for _, m := range page.Markets {
		if m.Underlying != nil && m.Outcomes[0].Ask > 0.2 && m.Outcomes[0].Ask < 0.8 {
			ref = m
			break
		}
	}
	if ref.ID == "" {
		t.Fatal("no quoted paper BTC market")
	}
	u := *ref.Underlying
	yes := ref.Outcomes[0].Ask
	other := "below"
	if u.Direction == "below" {
		other = "above"
	}
	d.Venues["kalshi"] = &listVenue{name: "kalshi", markets: []sibyl.Market{
		// the same contract, 3 cents cheaper
		priceMarket("kalshi", "KXBTC-SAME", "BTC", u.Strike, u.Direction, u.Expiry, yes-0.03, 1-yes+0.01),
		// another strike: no match
		priceMarket("kalshi", "KXBTC-OTHER", "BTC", u.Strike+5000, u.Direction, u.Expiry, 0.10, 0.92),
		// another day: no match
		priceMarket("kalshi", "KXBTC-LATER", "BTC", u.Strike, u.Direction, u.Expiry.Add(48*time.Hour), 0.10, 0.92),
	}}
	d.Venues["polymarket"] = &listVenue{name: "polymarket", markets: []sibyl.Market{
		// the opposite direction, observed three hours later: its No is our Yes
		priceMarket("polymarket", "0xabc", "BTC", u.Strike, other, u.Expiry.Add(3*time.Hour), 1-yes+0.05, yes-0.02),
		priceMarket("polymarket", "0xeth", "ETH", u.Strike, u.Direction, u.Expiry, 0.01, 0.99),
	}}
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
	// The paper venue lists both directions of each strike, so the opposite
	// paper market matches too.
	if len(out.Markets) != 4 {
		t.Fatalf("got %d markets %+v, want the reference, its opposite on paper and two equivalents", len(out.Markets), out.Markets)
	}
	got := map[string]string{}
	for i, m := range out.Markets {
		got[m.Market] = m.Outcome + "/" + m.Match
		if i > 0 && m.AllIn < out.Markets[i-1].AllIn {
			t.Errorf("not ranked by all-in price: %+v", out.Markets)
		}
		// Kalshi's and paper's fee: 0.07 x 100 x p x (1-p), rounded up to the cent.
		if m.Market != "polymarket:0xabc" && m.Fee <= 0 {
			t.Errorf("%s: fee %v, want the venue's fee", m.Market, m.Fee)
		}
	}
	for _, absent := range []string{"kalshi:KXBTC-OTHER", "kalshi:KXBTC-LATER", "polymarket:0xeth"} {
		if _, ok := got[absent]; ok {
			t.Errorf("%s matched; it is another strike, day or token", absent)
		}
	}
	if got["kalshi:KXBTC-SAME"] != "Yes/price" || got["polymarket:0xabc"] != "No/price" || got[ref.ID] != "Yes/reference" {
		t.Errorf("matches %v: want kalshi Yes, polymarket No (opposite direction), the reference Yes", got)
	}
	// Polymarket's No at yes-0.02 with no fee beats Kalshi's yes-0.03 plus about 2 cents of fee.
	if out.Best != "polymarket:0xabc" || out.Markets[0].Market != "polymarket:0xabc" {
		t.Errorf("best %s (%+v), want polymarket:0xabc first", out.Best, out.Markets)
	}
}

// With a second venue listing the same strikes cheaper, hedge_position buys
// each leg where it costs least all-in and says so.
func TestHedgePicksCheaperVenue(t *testing.T) {
	d := MustDeps(t)
	tool := toolByName(t, All(d), "hedge_position")
	preview := decode[hedgeOut](t, must(call(t, tool, hedgeArgs(t, d, ""))))
	if len(preview.Legs) == 0 {
		t.Fatal("no legs on paper alone")
	}
	// Kalshi lists each leg's strike as "below K" with Yes 5 cents under paper's price.
	var ks []sibyl.Market
	for i, l := range preview.Legs {
		m, err := d.Venues["paper"].Market(context.Background(), strings.TrimPrefix(l.Market, "paper:"))
		if err != nil {
			t.Fatal(err)
		}
		u := m.Underlying
		ks = append(ks, priceMarket("kalshi", fmt.Sprintf("KXBTC-%d", i), "BTC", u.Strike, "below", u.Expiry, l.Price-0.05, 1-l.Price+0.07))
	}
	d.Venues["kalshi"] = &listVenue{name: "kalshi", markets: ks}
	both := decode[hedgeOut](t, must(call(t, tool, hedgeArgs(t, d, ""))))
	onKalshi, said := 0, 0
	for _, l := range both.Legs {
		if strings.HasPrefix(l.Market, "kalshi:") {
			onKalshi++
		}
	}
	for _, r := range both.Risks {
		if strings.HasPrefix(r, "Venue choice") && strings.Contains(r, "kalshi:") {
			said++
		}
	}
	if onKalshi == 0 || said != onKalshi {
		t.Errorf("legs %+v; risks %q: want the legs on kalshi, each choice said", both.Legs, both.Risks)
	}
	if !(both.TotalCost < preview.TotalCost) {
		t.Errorf("total cost %v with kalshi, %v on paper alone: want lower", both.TotalCost, preview.TotalCost)
	}
}

// Over --confirm-above, an executed hedge needs the person's answer: a caller
// whose client cannot be asked is refused before any leg is recorded or sent,
// with a message telling the operator how to raise the threshold.
func TestHedgeOverConfirmThresholdNeedsElicitation(t *testing.T) {
	d := MustDeps(t)
	d.ConfirmAbove = map[string]decimal.Decimal{"paper": decimal.NewFromInt(1)}
	ts := All(d)
	_, err := call(t, toolByName(t, ts, "hedge_position"), hedgeArgs(t, d, `,"execute":true,"idempotency_key":"hedge-confirm-1"`))
	if sibyl.ErrorCode(err) != sibyl.RiskLimit || !strings.Contains(sibyl.ErrorMessage(err), "--confirm-above") {
		t.Fatalf("got %v, want risk_limit naming --confirm-above", err)
	}
	list := decode[listOrdersOut](t, must(call(t, toolByName(t, ts, "list_orders"), `{"limit":200}`)))
	if len(list.Orders) != 0 {
		t.Errorf("%d orders at the venue, want none", len(list.Orders))
	}
	// Under the threshold nothing is asked.
	d.ConfirmAbove["paper"] = decimal.NewFromInt(1_000_000)
	if _, err := call(t, toolByName(t, ts, "hedge_position"), hedgeArgs(t, d, `,"execute":true,"idempotency_key":"hedge-confirm-1"`)); err != nil {
		t.Errorf("under the threshold: %v", err)
	}
}

// Without a venue, search_markets searches every venue at once, merges and
// ranks the results, and pages through all of them once.
func TestSearchMarketsMergesVenues(t *testing.T) {
	d := MustDeps(t)
	exp := testNow.Add(72 * time.Hour)
	d.Venues["kalshi"] = &listVenue{name: "kalshi", markets: []sibyl.Market{
		priceMarket("kalshi", "KXBTC-A", "BTC", 120000, "above", exp, 0.4, 0.6),
		priceMarket("kalshi", "KXBTC-B", "BTC", 130000, "above", exp, 0.3, 0.7),
	}}
	ts := All(d)
	seen := map[string]int{}
	venues := map[string]int{}
	cursor := ""
	for page := 0; page < 100; page++ {
		args := `{"query":"BTC","status":"open","limit":50}`
		if cursor != "" {
			args = `{"query":"BTC","status":"open","limit":50,"cursor":"` + cursor + `"}`
		}
		out := decode[searchMarketsOut](t, must(call(t, toolByName(t, ts, "search_markets"), args)))
		if page == 0 && out.Venue != "paper,kalshi" {
			t.Errorf("answer venue %q, want paper,kalshi", out.Venue)
		}
		for _, m := range out.Markets {
			seen[m.ID]++
			venues[m.Venue]++
		}
		if cursor = out.NextCursor; cursor == "" {
			break
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", id, n)
		}
	}
	if venues["kalshi"] != 2 || venues["paper"] == 0 {
		t.Errorf("results by venue %v: want both kalshi markets and paper's", venues)
	}
	// The kalshi markets close sooner than most paper ones, but ranking is
	// by the query first: every result names BTC, so open, nearest close wins.
	first := decode[searchMarketsOut](t, must(call(t, toolByName(t, ts, "search_markets"), `{"query":"BTC","status":"open","limit":100}`)))
	for i := 1; i < len(first.Markets); i++ {
		if first.Markets[i].CloseTime.Before(first.Markets[i-1].CloseTime) {
			t.Fatalf("not ranked by nearest close: %s (%v) after %s (%v)", first.Markets[i].ID, first.Markets[i].CloseTime, first.Markets[i-1].ID, first.Markets[i-1].CloseTime)
		}
	}
}

// A venue that states the condition only in words ("Will Bitcoin be above
// $X on ...?", no structured strike) is searched by the token's name and
// matched from its question, with a lower score.
func TestCompareMarketsReadsQuestions(t *testing.T) {
	d := MustDeps(t)
	page, err := d.Venues["paper"].SearchMarkets(context.Background(), sibyl.MarketQuery{Text: "BTC", Status: sibyl.StatusOpen, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ref sibyl.Market
	for _, m := range page.Markets {
		if m.Underlying != nil && m.Underlying.Direction == "above" && m.Outcomes[0].Ask > 0 {
			ref = m
			break
		}
	}
	u := ref.Underlying
	q := fmt.Sprintf("Will Bitcoin be above $%s on %s?", humanize(u.Strike), u.Expiry.Format("January 2, 2006"))
	d.Venues["polymarket"] = &listVenue{name: "polymarket", markets: []sibyl.Market{{
		ID: "polymarket:0xbtc", Venue: "polymarket", NativeID: "0xbtc", Question: q, Status: sibyl.StatusOpen, CloseTime: u.Expiry.Add(-2 * time.Hour),
		Outcomes: []sibyl.Outcome{{Name: "Yes", Ask: 0.5, Bid: 0.48}, {Name: "No", Ask: 0.52, Bid: 0.5}}}}}
	raw, err := call(t, toolByName(t, All(d), "compare_markets"), `{"market":"`+ref.ID+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Markets []struct {
			Market, Outcome, Match string
			Score                  float64
		} `json:"markets"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	for _, m := range out.Markets {
		if m.Market == "polymarket:0xbtc" {
			if m.Match != "price" || m.Score != 0.8 || m.Outcome != "Yes" {
				t.Errorf("got %+v, want a price match read from the question (score 0.8, Yes)", m)
			}
			return
		}
	}
	t.Errorf("%q not found among %+v", q, out.Markets)
}

// humanize writes 120000 as 120,000.
func humanize(x float64) string {
	s := fmt.Sprintf("%.0f", x)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
