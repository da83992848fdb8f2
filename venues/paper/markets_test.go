package paper

import (
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sibylmcp/sibyl"
)

func TestMarketsDeterministic(t *testing.T) {
	a, _ := MustNew(t, Options{Seed: 42}, t0)
	b, _ := MustNew(t, Options{Seed: 42}, t0)
	c, _ := MustNew(t, Options{Seed: 43}, t0)
	q := sibyl.MarketQuery{Limit: 100}
	pa, err := a.SearchMarkets(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := b.SearchMarkets(ctx, q)
	if diff := cmp.Diff(pa, pb); diff != "" {
		t.Fatalf("same seed and clock, different markets (-a +b):\n%s", diff)
	}
	id := openMarket(t, a, 0.5).id
	ba, _ := a.OrderBook(ctx, id, "Yes", 0)
	bb, _ := b.OrderBook(ctx, id, "Yes", 0)
	if diff := cmp.Diff(ba, bb); diff != "" {
		t.Fatalf("same seed and clock, different books (-a +b):\n%s", diff)
	}
	pc, _ := c.SearchMarkets(ctx, q)
	if cmp.Equal(pa, pc) {
		t.Error("seeds 42 and 43 gave identical markets")
	}
}

func TestMarketFields(t *testing.T) {
	v, _ := MustNew(t, Options{Seed: 1}, t0)
	p, err := v.SearchMarkets(ctx, sibyl.MarketQuery{Text: "BTC above", Status: sibyl.StatusOpen, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	pick := p.Markets[0]
	for _, m := range p.Markets {
		if abs(m.Outcomes[0].ImpliedProbability-0.5) < abs(pick.Outcomes[0].ImpliedProbability-0.5) {
			pick = m
		}
	}
	m, err := v.Market(ctx, pick.NativeID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Underlying == nil || m.Category != "crypto" || !m.Simulated || m.TickSize != 0.01 || !m.UpdatedAt.Equal(t0) || m.Status != sibyl.StatusOpen {
		t.Fatalf("bad market %+v", m)
	}
	if !strings.HasPrefix(m.Question, "Will BTC close above $") || !strings.Contains(m.Rules, "23:59:59 UTC") {
		t.Errorf("question %q rules %q", m.Question, m.Rules)
	}
	if m.ID != "paper:"+m.NativeID || len(m.Outcomes) != 2 || m.Outcomes[0].Name != "Yes" || m.Outcomes[1].Name != "No" {
		t.Errorf("ids/outcomes: %+v", m)
	}
	y, n := m.Outcomes[0], m.Outcomes[1]
	if !(y.Bid > 0 && y.Ask > y.Bid && y.BidSize > 0 && y.AskSize > 0) {
		t.Errorf("Yes top of book %+v", y)
	}
	if math.Abs(y.ImpliedProbability+n.ImpliedProbability-1) > 1e-9 || math.Abs(y.Bid+n.Ask-1) > 1e-9 || math.Abs(y.Ask+n.Bid-1) > 1e-9 {
		t.Errorf("Yes %+v and No %+v do not mirror", y, n)
	}
	if !(m.Volume >= m.Volume24h && m.Volume24h > 0 && m.OpenInterest > 0) {
		t.Errorf("volumes %v %v %v", m.Volume, m.Volume24h, m.OpenInterest)
	}
	// With the "paper:" prefix too.
	if _, err := v.Market(ctx, m.ID); err != nil {
		t.Errorf("Market(%q): %v", m.ID, err)
	}
	_, err = v.Market(ctx, "BTC-ABOVE-1-2030-01-01")
	e := wantCode(t, err, sibyl.NotFound, "")
	if !strings.Contains(e.Message, "search_markets") {
		t.Errorf("NotFound message %q does not point to search_markets", e.Message)
	}
}

func TestLaddersCoherent(t *testing.T) {
	v, _ := MustNew(t, Options{Seed: 3}, t0)
	now := v.now()
	type key struct {
		sym   string
		close time.Time
	}
	above := map[key][]*marketDef{}
	below := map[string]*marketDef{}
	for _, m := range v.catalogue(now).defs {
		if m.tok == nil || m.status(now) != sibyl.StatusOpen || now.Before(m.open) {
			continue
		}
		if m.above {
			k := key{m.tok.spec.Symbol, m.close}
			above[k] = append(above[k], m)
		} else {
			below[m.id] = m
		}
	}
	if len(above) < 6*4 {
		t.Fatalf("got %d open ladders, want several expiries for 6 tokens", len(above))
	}
	for k, ms := range above {
		sort.Slice(ms, func(i, j int) bool { return ms[i].strike < ms[j].strike })
		if len(ms) < 6 {
			t.Errorf("%v: only %d strikes", k, len(ms))
		}
		prevFair, prevMid := 2.0, 2.0
		for _, m := range ms {
			f := m.fair(now)
			if f > prevFair {
				t.Errorf("%s: P(above) %v > %v at a lower strike", m.id, f, prevFair)
			}
			prevFair = f
			mk, err := v.Market(ctx, m.id)
			if err != nil {
				t.Fatal(err)
			}
			mid := mk.Outcomes[0].ImpliedProbability
			if mid > prevMid+0.011 { // rounding to the tick
				t.Errorf("%s: Yes mid %v above %v at a lower strike", m.id, mid, prevMid)
			}
			prevMid = mid
			if math.Abs(mid-f) > 0.06 {
				t.Errorf("%s: mid %v far from model %v", m.id, mid, f)
			}
			b := below[strings.Replace(m.id, "-ABOVE-", "-BELOW-", 1)]
			if b == nil || math.Abs(b.fair(now)+f-1) > 1e-9 {
				t.Errorf("%s: no coherent BELOW twin", m.id)
			}
		}
	}
}

func TestMarketsRotateAndSettle(t *testing.T) {
	v, clk := MustNew(t, Options{Seed: 5}, t0)
	open0, _ := v.SearchMarkets(ctx, sibyl.MarketQuery{Text: "btc", Status: sibyl.StatusOpen, Limit: 1})
	first := open0.Markets[0]
	clk.Set(first.CloseTime.Add(time.Minute))
	m, err := v.Market(ctx, first.NativeID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != sibyl.StatusClosed || m.Result != "" || m.Outcomes[0].Bid != 0 {
		t.Errorf("just after close: %+v", m)
	}
	clk.Set(first.CloseTime.Add(time.Hour))
	m, _ = v.Market(ctx, first.NativeID)
	if m.Status != sibyl.StatusSettled || (m.Result != "Yes" && m.Result != "No") {
		t.Fatalf("after settlement: status %s result %q", m.Status, m.Result)
	}
	px, _ := v.PriceAt("BTC", first.CloseTime)
	wantYes := (px > first.Underlying.Strike) == (first.Underlying.Direction == "above")
	if (m.Result == "Yes") != wantYes {
		t.Errorf("result %s, but BTC was %v vs strike %v (%s)", m.Result, px, first.Underlying.Strike, first.Underlying.Direction)
	}
	// Sixty days on, old expiries are gone and new ones are listed.
	clk.Set(t0.Add(60 * 24 * time.Hour))
	if _, err := v.Market(ctx, first.NativeID); sibyl.ErrorCode(err) != sibyl.NotFound {
		t.Errorf("old market still listed: %v", err)
	}
	later, _ := v.SearchMarkets(ctx, sibyl.MarketQuery{Text: "btc", Status: sibyl.StatusOpen, Limit: 1})
	if !later.Markets[0].CloseTime.After(first.CloseTime.Add(50 * 24 * time.Hour)) {
		t.Errorf("no new expiries: first open market closes %v", later.Markets[0].CloseTime)
	}
	ev, _ := v.SearchMarkets(ctx, sibyl.MarketQuery{Category: "sports", Limit: 100})
	if len(ev.Markets) == 0 {
		t.Error("no sports markets 60 days on")
	}
}

func TestEventMarkets(t *testing.T) {
	v, clk := MustNew(t, Options{Seed: 9}, t0)
	cats := map[string]int{}
	p, err := v.SearchMarkets(ctx, sibyl.MarketQuery{Limit: 100, Text: "will"})
	if err != nil {
		t.Fatal(err)
	}
	for {
		for _, m := range p.Markets {
			if m.Category != "crypto" {
				cats[m.Category]++
				if m.Underlying != nil {
					t.Errorf("%s has an Underlying", m.ID)
				}
			}
		}
		if p.NextCursor == "" {
			break
		}
		p, _ = v.SearchMarkets(ctx, sibyl.MarketQuery{Limit: 100, Text: "will", Cursor: p.NextCursor})
	}
	if cats["macro"]+cats["sports"]+cats["politics"] < 15 || cats["macro"] == 0 || cats["sports"] == 0 || cats["politics"] == 0 {
		t.Errorf("event markets by category: %v", cats)
	}
	fed, _ := v.SearchMarkets(ctx, sibyl.MarketQuery{Text: "fed cut december 2026"})
	if len(fed.Markets) != 1 {
		t.Fatalf("got %d markets for the December 2026 Fed cut, want 1", len(fed.Markets))
	}
	id := fed.Markets[0].NativeID
	p1 := fed.Markets[0].Outcomes[0].ImpliedProbability
	clk.Add(5 * 24 * time.Hour)
	m, _ := v.Market(ctx, id)
	if m.Outcomes[0].ImpliedProbability == p1 {
		t.Errorf("event probability did not drift in 5 days: %v", p1)
	}
}

func TestSearchMarkets(t *testing.T) {
	v, clk := MustNew(t, Options{Seed: 1}, t0)
	all := func(q sibyl.MarketQuery) []string {
		var ids []string
		for {
			p, err := v.SearchMarkets(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Markets) > q.Limit && q.Limit > 0 {
				t.Fatalf("page of %d, limit %d", len(p.Markets), q.Limit)
			}
			for _, m := range p.Markets {
				ids = append(ids, m.NativeID)
			}
			if p.NextCursor == "" {
				return ids
			}
			q.Cursor = p.NextCursor
		}
	}
	big := all(sibyl.MarketQuery{Text: "ETH", Limit: 100})
	small := all(sibyl.MarketQuery{Text: "eth", Limit: 7})
	if len(big) < 50 {
		t.Fatalf("got %d ETH markets", len(big))
	}
	if diff := cmp.Diff(big, small); diff != "" {
		t.Errorf("paging with limit 7 differs from limit 100:\n%s", diff)
	}
	for _, id := range big {
		if !strings.Contains(id, "ETH") {
			t.Errorf("%s matched ETH", id)
		}
	}
	tests := []struct {
		name  string
		q     sibyl.MarketQuery
		check func(m sibyl.Market) bool
	}{
		{"status open", sibyl.MarketQuery{Status: sibyl.StatusOpen, Limit: 100}, func(m sibyl.Market) bool { return m.Status == sibyl.StatusOpen }},
		{"status settled", sibyl.MarketQuery{Status: sibyl.StatusSettled, Limit: 100}, func(m sibyl.Market) bool { return m.Status == sibyl.StatusSettled && m.Result != "" }},
		{"category", sibyl.MarketQuery{Category: "Politics"}, func(m sibyl.Market) bool { return m.Category == "politics" }},
		{"all words", sibyl.MarketQuery{Text: "SOL below"}, func(m sibyl.Market) bool { return strings.HasPrefix(m.NativeID, "SOL-BELOW-") }},
		{"rules text", sibyl.MarketQuery{Text: "federal funds", Limit: 100}, func(m sibyl.Market) bool { return strings.HasPrefix(m.NativeID, "FED-") }},
		{"dollar strike", sibyl.MarketQuery{Text: "BTC $125,000", Limit: 100}, func(m sibyl.Market) bool { return strings.Contains(m.NativeID, "-125000-") }},
		{"id fragment", sibyl.MarketQuery{Text: "paper:btc-above-125000", Limit: 100}, func(m sibyl.Market) bool { return strings.HasPrefix(m.NativeID, "BTC-ABOVE-125000-") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.SearchMarkets(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Markets) == 0 {
				t.Fatal("no markets")
			}
			for _, m := range p.Markets {
				if !tc.check(m) {
					t.Errorf("unexpected %s (%s, %s)", m.ID, m.Status, m.Category)
				}
			}
		})
	}
	// A cursor stays valid while the clock moves: no repeats, no gaps.
	first, _ := v.SearchMarkets(ctx, sibyl.MarketQuery{Text: "btc", Limit: 10})
	clk.Add(2 * time.Hour)
	second, err := v.SearchMarkets(ctx, sibyl.MarketQuery{Text: "btc", Limit: 10, Cursor: first.NextCursor})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := first.Markets[9], second.Markets[0]; !(a.CloseTime.Before(b.CloseTime) || a.CloseTime.Equal(b.CloseTime) && (a.Underlying.Direction < b.Underlying.Direction || a.Underlying.Direction == b.Underlying.Direction && a.Underlying.Strike < b.Underlying.Strike)) {
		t.Errorf("page 2 starts at %s, not after %s", b.NativeID, a.NativeID)
	}
	p, _ := v.SearchMarkets(ctx, sibyl.MarketQuery{})
	if len(p.Markets) != 20 || p.NextCursor == "" {
		t.Errorf("default limit: got %d markets", len(p.Markets))
	}
	p, _ = v.SearchMarkets(ctx, sibyl.MarketQuery{Limit: 1000})
	if len(p.Markets) != 100 {
		t.Errorf("limit 1000: got %d markets, want the cap of 100", len(p.Markets))
	}
	p, _ = v.SearchMarkets(ctx, sibyl.MarketQuery{Text: "zzzz nothing"})
	if len(p.Markets) != 0 || p.NextCursor != "" {
		t.Errorf("no match: %+v", p)
	}
	for _, bad := range []string{"garbage!", "bTE", encodeCursor("m1|x|y"), encodeCursor("o1|5")} {
		_, err := v.SearchMarkets(ctx, sibyl.MarketQuery{Cursor: bad})
		wantCode(t, err, sibyl.Invalid, "cursor")
	}
	_, err = v.SearchMarkets(ctx, sibyl.MarketQuery{Status: "pending"})
	wantCode(t, err, sibyl.Invalid, "status")
}

func TestOrderBookView(t *testing.T) {
	v, _ := MustNew(t, Options{Seed: 1}, t0)
	id := openMarket(t, v, 0.4).id
	yes, err := v.OrderBook(ctx, id, "yes", 0)
	if err != nil {
		t.Fatal(err)
	}
	no, err := v.OrderBook(ctx, id, "No", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(yes.Bids) < 3 || len(yes.Asks) < 3 || len(no.Bids) != 3 || len(no.Asks) != 3 {
		t.Fatalf("depths: yes %d/%d no %d/%d", len(yes.Bids), len(yes.Asks), len(no.Bids), len(no.Asks))
	}
	if yes.Bids[0].Price >= yes.Asks[0].Price {
		t.Errorf("crossed book: bid %v ask %v", yes.Bids[0].Price, yes.Asks[0].Price)
	}
	for i := 1; i < len(yes.Bids); i++ {
		if yes.Bids[i].Price >= yes.Bids[i-1].Price {
			t.Errorf("bids not best first: %+v", yes.Bids)
		}
	}
	for i := 1; i < len(yes.Asks); i++ {
		if yes.Asks[i].Price <= yes.Asks[i-1].Price {
			t.Errorf("asks not best first: %+v", yes.Asks)
		}
	}
	for i := 0; i < 3; i++ {
		if math.Abs(no.Bids[i].Price-(1-yes.Asks[i].Price)) > 1e-9 || no.Bids[i].Size != yes.Asks[i].Size {
			t.Errorf("No bid %+v does not mirror Yes ask %+v", no.Bids[i], yes.Asks[i])
		}
		if math.Abs(no.Asks[i].Price-(1-yes.Bids[i].Price)) > 1e-9 || no.Asks[i].Size != yes.Bids[i].Size {
			t.Errorf("No ask %+v does not mirror Yes bid %+v", no.Asks[i], yes.Bids[i])
		}
	}
	if !yes.Simulated || yes.TickSize != 0.01 || yes.MarketID != "paper:"+id || yes.Outcome != "Yes" {
		t.Errorf("book header %+v", yes)
	}
	_, err = v.OrderBook(ctx, id, "maybe", 0)
	e := wantCode(t, err, sibyl.Invalid, "outcome")
	if !strings.Contains(e.Message, "Yes, No") {
		t.Errorf("message %q does not list the valid outcomes", e.Message)
	}
	_, err = v.OrderBook(ctx, "NOPE", "Yes", 0)
	wantCode(t, err, sibyl.NotFound, "")
}
