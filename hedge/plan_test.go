package hedge

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl"
)

var testNow = time.Date(2026, 11, 27, 4, 30, 0, 0, time.UTC)

// ladderMarkets lists "above" and "below" markets at each strike for one
// expiry, quoted at the model's probability plus a half spread, rounded to
// the cent within [0.01, 0.99].
func ladderMarkets(r *rand.Rand, sym string, spot, vol float64, strikes []float64, expiry time.Time) []sibyl.Market {
	tau := YearFraction(testNow, expiry)
	var out []sibyl.Market
	for _, k := range strikes {
		for _, dir := range []string{Above, Below} {
			fair := FairProbability(spot, k, vol*(0.8+0.4*r.Float64()), tau, dir)
			half := 0.01 + 0.03*r.Float64()
			bid := math.Max(0, math.Round((fair-half)*100)/100)
			ask := math.Min(0.99, math.Max(0.01, math.Round((fair+half)*100)/100))
			if r.IntN(10) == 0 {
				ask = 0 // no offer
			}
			id := fmt.Sprintf("%s-%s-%g-%s", sym, dir, k, expiry.Format(time.DateOnly))
			yes := sibyl.Outcome{Name: "Yes", Bid: bid, BidSize: 100, Ask: ask, AskSize: 100}
			no := sibyl.Outcome{Name: "No", AskSize: 100, BidSize: 100}
			if bid > 0 {
				no.Ask = math.Round((1-bid)*100) / 100
			}
			if ask > 0 {
				no.Bid = math.Round((1-ask)*100) / 100
			}
			if r.IntN(8) == 0 {
				no = sibyl.Outcome{Name: "No"} // No book missing: use 1 - Yes bid
			}
			out = append(out, sibyl.Market{
				ID: "test:" + id, Venue: "test", NativeID: id, Status: sibyl.StatusOpen,
				Question:   fmt.Sprintf("Will %s close %s $%g on %s?", sym, dir, k, expiry.Format(time.DateOnly)),
				Outcomes:   []sibyl.Outcome{yes, no},
				Underlying: &sibyl.PriceCondition{Symbol: sym, Strike: k, Direction: dir, Expiry: expiry},
			})
		}
	}
	return out
}

type world struct {
	req     Request
	markets []sibyl.Market
	spot    float64
	vol     float64
	fee     FeeFunc
	limit   bool // Planner.LimitToAskSize
}

func randomWorld(r *rand.Rand) world {
	spot := math.Exp(r.Float64()*16 - 4) // $0.02 .. $160k
	vol := 0.2 + r.Float64()
	var ms []sibyl.Market
	// Three expiries with their own ladders; one before By.
	by := testNow.AddDate(0, 0, 5+r.IntN(60))
	for _, days := range []int{-3, 2, 40} {
		exp := by.AddDate(0, 0, days)
		if !exp.After(testNow) {
			continue
		}
		n := 3 + r.IntN(20)
		step := spot * (0.02 + 0.1*r.Float64())
		var ks []float64
		for i := range n {
			k := spot + step*float64(i-n*2/3)
			if k > 0 {
				ks = append(ks, k)
			}
		}
		ms = append(ms, ladderMarkets(r, "BTC", spot, vol, ks, exp)...)
	}
	ms = append(ms, ladderMarkets(r, "ETH", 3000, 0.7, []float64{2500, 3000}, by)...)
	req := Request{
		Symbol: "BTC", Quantity: math.Exp(r.Float64()*8 - 2), ProtectBelow: spot * (0.5 + 0.49*r.Float64()),
		By: by,
	}
	if r.IntN(3) == 0 {
		req.EntryPrice = spot * (0.7 + 0.6*r.Float64())
	}
	if r.IntN(2) == 0 {
		c := req.Quantity * spot * 0.6 * r.Float64()
		req.MaxLoss = &c
	}
	if r.IntN(3) == 0 {
		req.Budget = req.Quantity * spot * 0.1 * r.Float64()
	}
	if r.IntN(4) == 0 {
		req.Floor = req.ProtectBelow * r.Float64()
	}
	w := world{req: req, markets: ms, spot: spot, vol: vol}
	if r.IntN(2) == 0 {
		w.fee = ProportionalFee(0.07)
	}
	if r.IntN(4) == 0 {
		w.limit = true
		for i := range w.markets {
			for j := range w.markets[i].Outcomes {
				w.markets[i].Outcomes[j].AskSize = math.Round(req.Quantity * spot * r.Float64() / 2)
			}
		}
	}
	return w
}

// TestPlanProperties checks, over many random positions and ladders, that the
// plan's guarantees hold at every scenario price and on a fine grid.
func TestPlanProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var planned, met, budgeted, refused, limited int
	for i := range 3000 {
		w := randomWorld(r)
		p, err := Planner{Fee: w.fee, LimitToAskSize: w.limit}.Plan(w.req, w.markets, w.spot, w.vol, testNow)
		if err != nil {
			var e *sibyl.Error
			if code := sibyl.ErrorCode(err); code != sibyl.Invalid && code != sibyl.NotFound || !asError(err, &e) || e.Field == "" {
				t.Fatalf("world %d: error %v is not an Invalid/NotFound *sibyl.Error with a field", i, err)
			}
			refused++
			continue
		}
		planned++
		if w.limit {
			limited++
		}
		checkPlan(t, fmt.Sprintf("world %d", i), w, p)
		if p.MeetsCap {
			met++
		} else {
			budgeted++
		}
	}
	t.Logf("%d plans (%d meet the cap, %d budget-limited, %d sized within the ask size), %d refused with an error", planned, met, budgeted, limited, refused)
	if planned < 1000 || budgeted == 0 || met < 500 || limited < 100 {
		t.Errorf("generator too narrow: %d planned, %d met, %d budget-limited", planned, met, budgeted)
	}
}

func asError(err error, e **sibyl.Error) bool {
	var x *sibyl.Error
	ok := false
	if x, ok = err.(*sibyl.Error); ok {
		*e = x
	}
	return ok
}

func checkPlan(t *testing.T, name string, w world, p Plan) {
	t.Helper()
	const tol = 0.005 // half a cent: the cost is rounded to cents
	// Total cost is the sum of the legs, each price x contracts + fee.
	var sum float64
	for _, l := range p.Legs {
		fee := 0.0
		if w.fee != nil {
			fee = w.fee(l.Price, l.Contracts)
		}
		if want := math.Round((l.Price*l.Contracts+fee)*100) / 100; math.Abs(l.Cost-want) > 1e-9 || l.Fee != fee {
			t.Fatalf("%s: leg %s cost %v fee %v, want %v fee %v", name, l.MarketID, l.Cost, l.Fee, want, fee)
		}
		if w.limit && l.AskSize > 0 && l.Contracts > l.AskSize {
			t.Fatalf("%s: leg %s has %v contracts, %v offered", name, l.MarketID, l.Contracts, l.AskSize)
		}
		if l.Contracts != math.Trunc(l.Contracts) || l.Contracts <= 0 {
			t.Fatalf("%s: leg %s has %v contracts, want a positive whole number", name, l.MarketID, l.Contracts)
		}
		if l.Expiry.Before(w.req.By) || !l.Expiry.Equal(p.Expiry) {
			t.Fatalf("%s: leg %s expires %v, by %v, plan expiry %v", name, l.MarketID, l.Expiry, w.req.By, p.Expiry)
		}
		if !(l.Price > 0 && l.Price < 1) {
			t.Fatalf("%s: leg %s price %v", name, l.MarketID, l.Price)
		}
		sum += l.Cost
	}
	if math.Abs(sum-p.TotalCost) > 1e-6 {
		t.Fatalf("%s: total cost %v, want Σ legs %v", name, p.TotalCost, sum)
	}
	if w.req.Budget == 0 && !p.MeetsCap {
		t.Fatalf("%s: no budget, yet the plan misses the cap: MaxLoss %v, cap %v", name, p.MaxLoss, p.Cap)
	}
	if w.req.Budget > 0 && p.TotalCost > w.req.Budget+1e-9 {
		t.Fatalf("%s: cost %v over budget %v", name, p.TotalCost, w.req.Budget)
	}
	// Scenario rows agree with PnL.
	for _, s := range p.Scenarios {
		if math.Abs(s.HedgedPnL-(s.UnhedgedPnL+s.HedgePayoff-p.TotalCost)) > 1e-6 {
			t.Fatalf("%s: scenario %+v does not add up", name, s)
		}
	}
	// The cap (when met) and MaxLoss hold on a fine grid from the floor up,
	// including just either side of every strike.
	prices := []float64{p.Floor}
	for i := 0; i <= 2000; i++ {
		prices = append(prices, p.Floor+(2*p.Spot-p.Floor)*float64(i)/2000)
	}
	for _, l := range p.Legs {
		prices = append(prices, l.Strike, math.Nextafter(l.Strike, math.Inf(1)), l.Strike*(1+1e-12), math.Nextafter(l.Strike, 0))
	}
	for _, s := range p.Scenarios {
		prices = append(prices, s.Price)
	}
	worst := math.Inf(1)
	for _, s := range prices {
		if s < p.Floor {
			continue
		}
		_, _, h := p.PnL(s)
		worst = math.Min(worst, h)
		if h < -p.MaxLoss-1e-6 {
			t.Fatalf("%s: hedged P&L %v at %v below -MaxLoss %v", name, h, s, p.MaxLoss)
		}
		if p.MeetsCap && h < -p.Cap-tol {
			t.Fatalf("%s: hedged P&L %v at %v breaks the cap %v", name, h, s, p.Cap)
		}
	}
	// MaxLoss is attained (in the limit): the grid comes within a cent of it.
	if gw := math.Max(0, -worst); math.Abs(gw-p.MaxLoss) > 1e-6+1e-9*p.Quantity*p.Spot {
		t.Fatalf("%s: grid worst %v, MaxLoss %v", name, -worst, p.MaxLoss)
	}
	if !p.MeetsCap && math.Abs(p.Shortfall-(p.MaxLoss-p.Cap)) > 1e-9 {
		t.Fatalf("%s: shortfall %v, want %v", name, p.Shortfall, p.MaxLoss-p.Cap)
	}
}

// TestPlanOptimal compares the ladder with an exhaustive search over every
// integer ladder on small instances, with the premium in the cap and on top:
// nothing that meets the cap is cheaper.
func TestPlanOptimal(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	checked := 0
	want, limitedChecked := 150, 0
	if testing.Short() {
		want = 30
	}
	for i := 0; checked < want && i < 5000; i++ {
		spot := 100.0
		exp := testNow.AddDate(0, 1, 0)
		ks := []float64{105, 95, 85, 75}[r.IntN(2):][:2+r.IntN(2)]
		ms := ladderMarkets(r, "BTC", spot, 0.3+r.Float64(), ks, exp)
		q := 0.1 + 0.4*r.Float64()
		req := Request{Symbol: "BTC", Quantity: q, ProtectBelow: 90, By: exp, Floor: 60}
		withPremium := i%2 == 0
		limit := i%3 == 0 // sizes limited: only "below" markets, so one option per strike
		if limit {
			var below []sibyl.Market
			for _, m := range ms {
				if m.Underlying.Direction == Below {
					for j := range m.Outcomes {
						m.Outcomes[j].AskSize = float64(3 + r.IntN(30))
					}
					below = append(below, m)
				}
			}
			ms = below
		}
		capv := q * 10 // the loss at 90, before premium
		if withPremium {
			c := q * 100 * (0.05 + 0.3*r.Float64())
			req.MaxLoss, capv = &c, c
		}
		p, err := Planner{LimitToAskSize: limit}.Plan(req, ms, spot, 0.6, testNow)
		if err != nil {
			continue
		}
		// The options the planner saw, reduced to the cheapest per strike:
		// options at one strike pay alike, so a cheaper ladder never needs
		// the dearer one (without size limits).
		_, all, _ := Planner{}.candidates("BTC", req, ms, 60)
		var opts []option
		for _, o := range all {
			if len(opts) == 0 || opts[len(opts)-1].cond.Strike != o.cond.Strike {
				opts = append(opts, o) // sorted cheapest first within a strike
			}
		}
		best := math.Inf(1)
		n := make([]float64, len(opts))
		// worst is an independent evaluation of the hedged loss: at the floor
		// and just above every strike, premium included or not.
		worst := func(cost float64) float64 {
			w := math.Inf(-1)
			for _, s := range append([]float64{60}, ks...) {
				var pay float64
				for j, o := range opts {
					if o.cond.Strike > s {
						pay += n[j]
					}
				}
				w = math.Max(w, q*(spot-s)-pay+cost)
			}
			return w
		}
		var rec func(i int)
		rec = func(i int) {
			if i == len(opts) {
				var cost float64
				for j, o := range opts {
					cost += roundCent(o.price * n[j])
				}
				inCap := cost
				if !withPremium {
					inCap = 0 // the cap bounds the loss before premium
				}
				if cost < best && worst(inCap) <= capv+1e-9 {
					best = cost
				}
				return
			}
			top := 35.0
			if limit {
				top = math.Min(top, opts[i].size)
			}
			for k := 0.0; k <= top; k++ {
				n[i] = k
				rec(i + 1)
			}
		}
		rec(0)
		if !p.MeetsCap {
			t.Fatalf("instance %d: plan misses the cap: MaxLoss %v, cap %v", i, p.MaxLoss, p.Cap)
		}
		if p.TotalCost > best+1e-9 {
			t.Fatalf("instance %d (premium in cap %v, size-limited %v): plan costs %v, exhaustive search found %v", i, withPremium, limit, p.TotalCost, best)
		}
		checked++
		if limit {
			limitedChecked++
		}
	}
	t.Logf("%d instances checked, %d with sizes limited", checked, limitedChecked)
	if limitedChecked < want/5 {
		t.Fatalf("only %d size-limited instances checked", limitedChecked)
	}
	if checked < want {
		t.Fatalf("only %d instances checked", checked)
	}
}

func TestPlanErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	exp := time.Date(2027, 3, 31, 23, 59, 59, 0, time.UTC)
	ms := ladderMarkets(r, "BTC", 100000, 0.6, []float64{70000, 80000, 90000, 100000, 110000}, exp)
	ms = append(ms, ladderMarkets(r, "ETH", 3000, 0.7, []float64{2500}, exp)...)
	ok := Request{Symbol: "BTC", Quantity: 1, ProtectBelow: 90000, By: exp.AddDate(0, 0, -30)}
	neg := -1.0
	tests := []struct {
		name  string
		edit  func(*Request)
		code  sibyl.Code
		field string
	}{
		{"no symbol", func(r *Request) { r.Symbol = "" }, sibyl.Invalid, "symbol"},
		{"zero quantity", func(r *Request) { r.Quantity = 0 }, sibyl.Invalid, "quantity"},
		{"protect above spot", func(r *Request) { r.ProtectBelow = 120000 }, sibyl.Invalid, "protect_below"},
		{"by in the past", func(r *Request) { r.By = testNow.AddDate(0, 0, -2) }, sibyl.Invalid, "by"},
		{"no by", func(r *Request) { r.By = time.Time{} }, sibyl.Invalid, "by"},
		{"negative cap", func(r *Request) { r.MaxLoss = &neg }, sibyl.Invalid, "max_loss"},
		{"negative budget", func(r *Request) { r.Budget = -5 }, sibyl.Invalid, "budget"},
		{"floor above protection", func(r *Request) { r.Floor = 95000 }, sibyl.Invalid, "floor"},
		{"unknown token", func(r *Request) { r.Symbol = "DOGE" }, sibyl.NotFound, "symbol"},
		{"other venue only", func(r *Request) { r.Venues = []string{"kalshi"} }, sibyl.NotFound, "symbol"},
		{"expiry too late", func(r *Request) { r.By = exp.AddDate(0, 3, 0) }, sibyl.NotFound, "by"},
		{"cap unreachable", func(r *Request) { z := 0.0; r.MaxLoss = &z; r.ProtectBelow = 60000 }, sibyl.Invalid, "max_loss"},
		{"budget buys nothing", func(r *Request) { r.Budget = 0.001 }, sibyl.Invalid, "budget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := ok
			tt.edit(&req)
			_, err := Planner{}.Plan(req, ms, 100000, 0.6, testNow)
			if sibyl.ErrorCode(err) != tt.code || sibyl.ErrorField(err) != tt.field {
				t.Fatalf("got %v (code %q field %q), want code %q field %q", err, sibyl.ErrorCode(err), sibyl.ErrorField(err), tt.code, tt.field)
			}
			t.Logf("%s", sibyl.ErrorMessage(err))
		})
	}
	if _, err := (Planner{}).Plan(ok, ms, 100000, 0.6, testNow); err != nil {
		t.Fatalf("baseline request: %v", err)
	}
}

// TestPlanBadVol checks that a volatility the model cannot use (NaN, Inf,
// negative) still gives a plan that encodes as JSON: no NaN fair probability.
func TestPlanBadVol(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	exp := time.Date(2027, 3, 31, 23, 59, 59, 0, time.UTC)
	ms := ladderMarkets(r, "BTC", 100000, 0.6, []float64{70000, 80000, 90000, 100000}, exp)
	req := Request{Symbol: "BTC", Quantity: 1, ProtectBelow: 90000, By: exp.AddDate(0, 0, -30)}
	for _, vol := range []float64{math.NaN(), math.Inf(1), -0.5} {
		t.Run(fmt.Sprint(vol), func(t *testing.T) {
			p, err := Planner{}.Plan(req, ms, 100000, vol, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Legs) == 0 {
				t.Fatal("got no legs, want a ladder")
			}
			if _, err := json.Marshal(p); err != nil {
				t.Errorf("got %v encoding the plan, want nil", err)
			}
		})
	}
}
