package kalshi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	sibyl "github.com/sibylmcp/sibyl"
)

// The recorded responses live in shared/testdata/venues/recorded/kalshi (see
// SOURCE.md there); they are read in place, never copied into the repository.
const recorded = "recorded/kalshi/"

var stamp = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func decodeFile(t *testing.T, name string, v any) {
	t.Helper()
	if err := json.Unmarshal(readTestdata(t, recorded+name), v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func mustConvert(t *testing.T, m Market) MarketDetail {
	t.Helper()
	md, err := ConvertMarket(m, stamp)
	if err != nil {
		t.Fatalf("%s: %v", m.Ticker, err)
	}
	return md
}

func TestGoldenMarketByTicker(t *testing.T) {
	var env marketEnvelope
	decodeFile(t, "sportsdataverse__markets__ticker.json", &env)
	md := mustConvert(t, env.Market)
	m := md.Market
	want := sibyl.Market{
		ID: "kalshi:KXNFLGAME-26OCT08TBDAL-DAL", Venue: "kalshi", NativeID: "KXNFLGAME-26OCT08TBDAL-DAL",
		Question: "Dallas wins",
		Status:   sibyl.StatusOpen,
		Outcomes: []sibyl.Outcome{
			{Name: "Yes", Bid: 0.80, BidSize: 16529.55, Ask: 0.81, AskSize: 375864.43, Last: 0.81, Mid: 0.805, ImpliedProbability: 0.805},
			{Name: "No", Bid: 0.19, BidSize: 375864.43, Ask: 0.20, AskSize: 16529.55, Last: 0.19, Mid: 0.195, ImpliedProbability: 0.195},
		},
		Volume: 271926.68, Volume24h: 202329.86, OpenInterest: 242310.93,
		OpenTime:  time.Date(2026, 9, 29, 4, 5, 0, 0, time.UTC),
		CloseTime: time.Date(2026, 10, 11, 0, 15, 0, 0, time.UTC),
		TickSize:  0.01,
		OrderRules: sibyl.OrderRules{
			PriceRanges:  []sibyl.PriceRange{{Start: d("0.01"), End: d("0.99"), Step: d("0.01")}},
			QuantityStep: d("0.01"),
		},
		UpdatedAt: stamp,
	}
	m.Rules = "" // checked below
	if diff := cmp.Diff(want, m, decimalEq); diff != "" {
		t.Errorf("market (-want +got):\n%s", diff)
	}
	if md.Market.Rules == "" || md.ExchangeIndex != 0 || !md.Active {
		t.Errorf("rules %q, exchange_index %d, active %v", md.Market.Rules, md.ExchangeIndex, md.Active)
	}
	if got := md.Ranges.Describe(); got != "0.01 from 0.00 to 1.00" {
		t.Errorf("ranges: got %q", got)
	}
}

func TestGoldenMarketsPage(t *testing.T) {
	var page MarketsPage
	decodeFile(t, "sportsdataverse__markets.json", &page)
	if len(page.Markets) != 2 || page.Cursor != "" {
		t.Fatalf("got %d markets, cursor %q; want 2 and the last page", len(page.Markets), page.Cursor)
	}
	tb := mustConvert(t, page.Markets[1]).Market
	if tb.NativeID != "KXNFLGAME-26OCT08TBDAL-TB" {
		t.Fatalf("second market %s", tb.NativeID)
	}
	// The two markets of one game mirror each other: Dallas's YES bid 0.80 is
	// Tampa Bay's YES ask 0.20 (and the sizes are the recorded ones).
	yes := tb.Outcomes[0]
	if yes.Bid != 0.19 || yes.Ask != 0.20 || yes.BidSize != 59664.76 || yes.AskSize != 1481805.59 {
		t.Errorf("TB yes outcome: got %+v", yes)
	}
}

// The dr-manhattan file holds the bare markets array of GET /markets (its
// envelope was stripped): five multivariate combos with no quotes, whose NO
// fields carry the placeholder "1.0000". They parse as markets with no bid and
// no ask on either outcome, on the 0.001 (deci_cent) grid.
func TestGoldenComboMarkets(t *testing.T) {
	var ms []Market
	decodeFile(t, "dr-manhattan__kalshi_markets.json", &ms)
	if len(ms) != 5 {
		t.Fatalf("got %d markets, want 5", len(ms))
	}
	for _, w := range ms {
		md := mustConvert(t, w)
		m := md.Market
		if m.Status != sibyl.StatusOpen || m.TickSize != 0.001 || m.Underlying != nil {
			t.Errorf("%s: status %s tick %v underlying %v", w.Ticker, m.Status, m.TickSize, m.Underlying)
		}
		for _, o := range m.Outcomes {
			if o.Bid != 0 || o.Ask != 0 || o.BidSize != 0 || o.AskSize != 0 {
				t.Errorf("%s %s: got quotes %+v, want none", w.Ticker, o.Name, o)
			}
		}
		if !md.Ranges.Valid(d("0.001")) || md.Ranges.Valid(d("0.0015")) {
			t.Errorf("%s: deci_cent grid not applied", w.Ticker)
		}
		r := m.OrderRules
		if err := r.Valid(); err != nil || len(r.PriceRanges) != 1 || r.PriceRanges[0].String() != "0.001-0.999 step 0.001" || !r.QuantityStep.Equal(d("0.01")) {
			t.Errorf("%s: rules %+v %v", w.Ticker, r, err)
		}
	}
}

// The transitional market carries integer cents next to the dollar strings;
// the dollar strings are read and agree with the cents.
func TestGoldenLegacyCentsMarket(t *testing.T) {
	var env marketEnvelope
	decodeFile(t, "football-kalshi__kalshi_market_legacy_cents.json", &env)
	m := mustConvert(t, env.Market).Market
	yes, no := m.Outcomes[0], m.Outcomes[1]
	if yes.Bid != 0.70 || yes.BidSize != 61957 || yes.Ask != 0.72 || yes.AskSize != 212771 || yes.Last != 0.72 {
		t.Errorf("yes: got %+v", yes)
	}
	if no.Bid != 0.28 || no.Ask != 0.30 {
		t.Errorf("no: got %+v", no)
	}
	if !m.OrderRules.QuantityStep.Equal(d("1")) {
		t.Errorf("fractional_trading_enabled false: quantity step %s, want 1", m.OrderRules.QuantityStep)
	}
	if m.Question != "PSG vs Chelsea Winner? — PSG" || m.Volume != 806080 || m.OpenInterest != 680281 {
		t.Errorf("question %q volume %v oi %v", m.Question, m.Volume, m.OpenInterest)
	}
}

func TestGoldenOrderbookFP(t *testing.T) {
	var w wireBook
	decodeFile(t, "sportsdataverse__markets__ticker__orderbook.json", &w)
	b, err := parseBook(w)
	if err != nil {
		t.Fatal(err)
	}
	yes := ConvertBook("KXNFLGAME-26OCT08TBDAL-DAL", b, true, 0, d("0.01"), stamp)
	want := sibyl.OrderBook{
		MarketID: "kalshi:KXNFLGAME-26OCT08TBDAL-DAL", Outcome: "Yes",
		Bids:     []sibyl.PriceLevel{pl(0.80, 16529.55), pl(0.79, 33328.87), pl(0.78, 45938.68)},
		Asks:     []sibyl.PriceLevel{pl(0.81, 375864.43), pl(0.82, 2630402.87), pl(0.83, 2897298.68)},
		TickSize: 0.01, Time: stamp,
	}
	if diff := cmp.Diff(want, yes); diff != "" {
		t.Errorf("yes book (-want +got):\n%s", diff)
	}
	no := ConvertBook("KXNFLGAME-26OCT08TBDAL-DAL", b, false, 2, d("0.01"), stamp)
	wantNo := []sibyl.PriceLevel{pl(0.19, 375864.43), pl(0.18, 2630402.87)}
	wantNoAsks := []sibyl.PriceLevel{pl(0.20, 16529.55), pl(0.21, 33328.87)}
	if diff := cmp.Diff(wantNo, no.Bids); diff != "" {
		t.Errorf("no bids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantNoAsks, no.Asks); diff != "" {
		t.Errorf("no asks (-want +got):\n%s", diff)
	}
	// The market's recorded top of book is the book's best levels.
	var env marketEnvelope
	decodeFile(t, "sportsdataverse__markets__ticker.json", &env)
	mk := mustConvert(t, env.Market).Market.Outcomes[0]
	if mk.Bid != yes.Bids[0].Price || mk.BidSize != yes.Bids[0].Size || mk.Ask != yes.Asks[0].Price || mk.AskSize != yes.Asks[0].Size {
		t.Errorf("market top %+v does not match book top %+v / %+v", mk, yes.Bids[0], yes.Asks[0])
	}
}

// The transitional book carries the same levels three times: orderbook_fp,
// orderbook.*_dollars (string price, integer count) and orderbook.yes/no
// (integer cents). All three parse to the same exact book, whose top matches
// the paired market file.
func TestGoldenOrderbookLegacyAndFP(t *testing.T) {
	var w wireBook
	decodeFile(t, "football-kalshi__kalshi_orderbook_legacy_and_fp.json", &w)
	fp, err := parseBook(w)
	if err != nil {
		t.Fatal(err)
	}
	dollars, err := parseLegacyBook(w, false)
	if err != nil {
		t.Fatal(err)
	}
	cents, err := parseLegacyBook(w, true)
	if err != nil {
		t.Fatal(err)
	}
	eq := cmp.Comparer(func(a, b Level) bool { return a.Price.Equal(b.Price) && a.Count.Equal(b.Count) })
	if diff := cmp.Diff(fp, dollars, eq); diff != "" {
		t.Errorf("fp vs legacy dollars (-fp +legacy):\n%s", diff)
	}
	if diff := cmp.Diff(fp, cents, eq); diff != "" {
		t.Errorf("fp vs legacy cents (-fp +legacy):\n%s", diff)
	}
	if len(fp.YesBids) != 25 || len(fp.NoBids) != 23 {
		t.Errorf("levels: got %d yes / %d no, want 25 / 23", len(fp.YesBids), len(fp.NoBids))
	}
	bids, asks := fp.Outcome(true, 1)
	if !bids[0].Price.Equal(d("0.70")) || !bids[0].Count.Equal(d("61957")) || !asks[0].Price.Equal(d("0.72")) || !asks[0].Count.Equal(d("212771")) {
		t.Errorf("top: bid %v@%v ask %v@%v, want 61957@0.70 and 212771@0.72", bids[0].Count, bids[0].Price, asks[0].Count, asks[0].Price)
	}
	// Without orderbook_fp, the legacy block is read.
	w.FP = nil
	legacy, err := parseBook(w)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fp, legacy, eq); diff != "" {
		t.Errorf("fallback to legacy (-fp +legacy):\n%s", diff)
	}
}

func TestGoldenEventsAndTrades(t *testing.T) {
	var ev EventsPage
	decodeFile(t, "sportsdataverse__events.json", &ev)
	if len(ev.Events) != 3 || ev.Cursor == "" {
		t.Fatalf("got %d events cursor %q", len(ev.Events), ev.Cursor)
	}
	if e := ev.Events[0]; e.EventTicker != "KXNFLGAME-26OCT08TBDAL" || e.SeriesTicker != "KXNFLGAME" || !e.MutuallyExclusive || e.Title != "TB Buccaneers vs DAL Cowboys" {
		t.Errorf("first event: %+v", e)
	}
	var tr TradesPage
	decodeFile(t, "sportsdataverse__markets__trades.json", &tr)
	if len(tr.Trades) != 3 {
		t.Fatalf("got %d trades", len(tr.Trades))
	}
	c, err := ParseCount(tr.Trades[1].CountFP)
	if err != nil || !c.Equal(d("14.18")) {
		t.Errorf("count: got %v %v", c, err)
	}
	yes, _ := ParseDollars(tr.Trades[1].YesPriceDollars)
	no, _ := ParseDollars(tr.Trades[1].NoPriceDollars)
	if !yes.Add(no).Equal(one) {
		t.Errorf("yes %v + no %v != 1", yes, no)
	}
}

// Kalshi's crypto price markets (KXBTCD-style) fill Underlying so
// hedge_position can use them. No recorded KXBTCD response exists in the
// shared data, so these are synthetic markets with the official model's
// fields (strike_type, floor_strike, cap_strike).
func TestUnderlyingPriceMarkets(t *testing.T) {
	base := `{"ticker":%q,"event_ticker":%q,"status":"active","strike_type":%q,%s
	  "close_time":"2026-12-31T22:00:00Z","expected_expiration_time":"2026-12-31T22:00:00Z",
	  "price_ranges":[{"start":"0.0000","end":"1.0000","step":"0.0100"}]}`
	cases := []struct {
		name, ticker, event, strikeType, strikes string
		want                                     *sibyl.PriceCondition
	}{
		{"btc above", "KXBTCD-26DEC3117-T119999.99", "KXBTCD-26DEC3117", "greater", `"floor_strike":119999.99,`,
			&sibyl.PriceCondition{Symbol: "BTC", Strike: 119999.99, Direction: "above", Expiry: time.Date(2026, 12, 31, 22, 0, 0, 0, time.UTC)}},
		{"eth below", "KXETHD-26DEC3117-T3000", "KXETHD-26DEC3117", "less", `"cap_strike":3000,`,
			&sibyl.PriceCondition{Symbol: "ETH", Strike: 3000, Direction: "below", Expiry: time.Date(2026, 12, 31, 22, 0, 0, 0, time.UTC)}},
		{"btc range", "KXBTC-26DEC3117-B120000", "KXBTC-26DEC3117", "between", `"floor_strike":119750,"cap_strike":120249.99,`, nil},
		{"not crypto", "KXNFLGAME-X-DAL", "KXNFLGAME-X", "greater", `"floor_strike":3,`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m Market
			js := []byte(sprintf(base, c.ticker, c.event, c.strikeType, c.strikes))
			if err := json.Unmarshal(js, &m); err != nil {
				t.Fatal(err)
			}
			got := mustConvert(t, m).Market
			if diff := cmp.Diff(c.want, got.Underlying); diff != "" {
				t.Errorf("underlying (-want +got):\n%s", diff)
			}
			if c.want != nil && got.Category != "crypto" {
				t.Errorf("category: got %q", got.Category)
			}
		})
	}
}

func pl(price, size float64) sibyl.PriceLevel { return sibyl.PriceLevel{Price: price, Size: size} }

var decimalEq = cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })
