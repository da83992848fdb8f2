package tools

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/feeds"
)

// oldFeed is a real-prices-looking feed whose data ends long ago, like a CSV
// directory nobody refreshed.
type oldFeed struct {
	feeds.Source
	end time.Time
}

func (f oldFeed) Name() string    { return "csv:old" }
func (f oldFeed) Simulated() bool { return false }
func (f oldFeed) Daily(ctx context.Context, sym string, from, to time.Time) ([]sibyl.Candle, error) {
	// Zero bounds mean everything it has, as a CSV directory answers.
	if to.IsZero() || to.After(f.end) {
		to = f.end
	}
	if from.IsZero() {
		from = f.end.AddDate(-2, 0, 0)
	}
	if from.After(to) {
		return nil, nil
	}
	return f.Source.Daily(ctx, sym, from, to)
}

func TestStaleGradesAndPrices(t *testing.T) {
	d := MustDeps(t)
	d.Feeds["old"] = oldFeed{Source: d.Feeds["paper"], end: testNow.AddDate(0, 0, -700).Truncate(24 * time.Hour)}
	ts := All(d)
	fresh := decode[gradeAnswer](t, must(call(t, toolByName(t, ts, "get_token_grade"), `{"symbol":"BTC"}`)))
	if fresh.Stale || fresh.AgeSeconds <= 0 || fresh.AgeSeconds > 2*86400 {
		t.Errorf("paper grade: stale %v age %vs, want fresh (yesterday's close)", fresh.Stale, fresh.AgeSeconds)
	}
	old := decode[gradeAnswer](t, must(call(t, toolByName(t, ts, "get_token_grade"), `{"symbol":"BTC","source":"old"}`)))
	if !old.Stale || old.AgeSeconds < 699*86400 || !strings.Contains(old.StaleReason, "700 days old") {
		t.Errorf("grade from a feed that ended 700 days ago: stale %v age %vs reason %q", old.Stale, old.AgeSeconds, old.StaleReason)
	}
	rank := decode[rankOut](t, must(call(t, toolByName(t, ts, "rank_tokens"), `{"source":"old","limit":3}`)))
	for _, r := range rank.Ranking {
		if !r.Stale {
			t.Errorf("rank_tokens on the old feed: %s not stale", r.Symbol)
		}
	}
	end := d.Feeds["old"].(oldFeed).end.Format("2006-01-02")
	hist := decode[historyOut](t, must(call(t, toolByName(t, ts, "get_price_history"), `{"symbol":"BTC","source":"old","to":"`+end+`"}`)))
	if len(hist.Candles) == 0 || !hist.Stale {
		t.Errorf("old feed history: %d candles, stale %v; want candles marked stale", len(hist.Candles), hist.Stale)
	}
	if h := decode[historyOut](t, must(call(t, toolByName(t, ts, "get_price_history"), `{"symbol":"BTC"}`))); h.Stale {
		t.Errorf("paper history: stale (%s)", h.StaleReason)
	}
	spot := decode[spotOut](t, must(call(t, toolByName(t, ts, "get_spot_price"), `{"symbol":"btc"}`)))
	want, at, _ := d.Spot("BTC")
	if spot.Price != want || !spot.Time.Equal(at) || spot.Stale || !spot.Simulated {
		t.Errorf("spot: %+v, want %v at %v, fresh, simulated", spot, want, at)
	}
	d.Spot = func(string) (float64, time.Time, error) { return 100, testNow.Add(-3 * time.Hour), nil }
	spot = decode[spotOut](t, must(call(t, toolByName(t, All(d), "get_spot_price"), `{"symbol":"BTC"}`)))
	if !spot.Stale || spot.AgeSeconds != 3*3600 {
		t.Errorf("a 3-hour-old spot: stale %v age %v, want stale, 10800 s", spot.Stale, spot.AgeSeconds)
	}
}

func TestMarketHistoryAndFees(t *testing.T) {
	d := MustDeps(t)
	ts := All(d)
	id, ask := openMarket(t, d)
	m := decode[getMarketOut](t, must(call(t, toolByName(t, ts, "get_market"), `{"market":"`+id+`"}`)))
	h := decode[historyProbOut](t, must(call(t, toolByName(t, ts, "get_market_history"), `{"market":"`+id+`","hours":48,"points":25}`)))
	if len(h.Points) != 25 || !h.Simulated {
		t.Fatalf("history: %d points, want 25", len(h.Points))
	}
	for i, p := range h.Points {
		if p.ImpliedProbability == nil || *p.ImpliedProbability <= 0 || *p.ImpliedProbability >= 1 || (i > 0 && !p.Time.After(h.Points[i-1].Time)) {
			t.Fatalf("point %d: %+v", i, p)
		}
	}
	last := h.Points[len(h.Points)-1]
	if !last.Time.Equal(testNow) || *last.ImpliedProbability != *m.Outcomes[0].ImpliedProbability || last.ProbabilitySource != m.Outcomes[0].ProbabilitySource {
		t.Errorf("the last point %v %v %s, want get_market's now: %v %s", last.Time, *last.ImpliedProbability, last.ProbabilitySource, *m.Outcomes[0].ImpliedProbability, m.Outcomes[0].ProbabilitySource)
	}
	// Fees: the schedule in get_market, an estimate in place_order's answer
	// that matches what a full fill at the limit is charged.
	if !m.Fees.Known || m.Fees.Taker == "" || len(m.Fees.Examples) == 0 {
		t.Fatalf("get_market fees: %+v", m.Fees)
	}
	var book getOrderbookOut
	_ = json.Unmarshal(must(call(t, toolByName(t, ts, "get_orderbook"), `{"market":"`+id+`"}`)), &book)
	qty := book.Asks[0].Size
	if qty > 50 {
		qty = 50
	}
	args, _ := json.Marshal(map[string]any{"market": id, "outcome": "Yes", "side": "buy", "quantity": qty, "limit_price": ask, "idempotency_key": "fee-est-0001"})
	o := decode[orderAnswer](t, must(call(t, toolByName(t, ts, "place_order"), string(args))))
	if o.EstimatedFee == nil || o.Status != "filled" || *o.EstimatedFee != o.Fees {
		t.Errorf("place_order: estimated fee %v, status %s, charged %v; want the estimate to be what a full fill at the limit pays", o.EstimatedFee, o.Status, o.Fees)
	}
}
