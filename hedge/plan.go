package hedge

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sibylmcp/sibyl"
)

// DefaultFloorMove is where the ladder stops covering losses unless
// Request.Floor says otherwise: a 60% fall from spot, the bottom of the
// scenario table.
const DefaultFloorMove = -0.60

// Request is a position to protect; it mirrors hedge_position's arguments.
type Request struct {
	Symbol       string    // token symbol, such as "BTC"
	Quantity     float64   // tokens held, > 0
	EntryPrice   float64   // price paid per token; 0 means spot
	ProtectBelow float64   // price level below which losses should stop growing; below spot
	By           time.Time // the hedge must last until this time: no leg expires before it
	// MaxLoss caps the hedged loss in dollars, premium and estimated fees
	// included, at every settlement price from Floor up. nil means protection
	// at ProtectBelow the way a put struck there protects: the loss before
	// premium never exceeds the loss at ProtectBelow,
	// max(0, (EntryPrice-ProtectBelow) x Quantity), and the premium comes on
	// top (Plan.Cap is then that loss plus TotalCost). A premium-inclusive
	// default would often be unreachable: the premium needed to cover the
	// strike gaps down to the floor exceeds the room the cap leaves.
	MaxLoss *float64
	Budget  float64  // most to spend in dollars, fees included; 0 means no budget
	Venues  []string // only markets of these venues (sibyl.Market.Venue); empty means all
	// Floor is the lowest settlement price the ladder covers; below it the
	// hedge pays no more and the loss grows again (a stated residual risk).
	// 0 means spot x (1 + DefaultFloorMove). Must be below ProtectBelow.
	Floor float64
}

// FeeFunc returns the fee in dollars for buying contracts at price (dollars
// per contract). It must be non-negative and non-decreasing in contracts.
type FeeFunc func(price, contracts float64) float64

// ProportionalFee returns Kalshi's (and the paper venue's) taker fee
// schedule: rate x contracts x price x (1-price), rounded up to the cent,
// for one fill of the whole order.
func ProportionalFee(rate float64) FeeFunc {
	return func(p, n float64) float64 {
		if n <= 0 || rate <= 0 {
			return 0
		}
		return math.Ceil(rate*n*p*(1-p)*100-1e-9) / 100
	}
}

// Planner sizes hedges. The zero value is ready to use and assumes no fees.
type Planner struct {
	// Fee estimates the fee of each leg; nil means none. The tool passes the
	// venue's schedule (ProportionalFee(0.07) for the paper venue).
	Fee FeeFunc
	// LimitToAskSize sizes no leg beyond the contracts offered at its best
	// ask (Outcome.AskSize, where it is known), so every order can fill now
	// at its Price; the cap is then often out of reach for large positions
	// and Plan reports the lowest cap the offers reach. Without it every
	// contract is priced at the best ask whatever the size, and the orders
	// may fill partially and rest (a stated risk).
	LimitToAskSize bool
	// Depth holds, by market id, the ask levels (best first) of the outcome
	// that pays below the strike, as the venue's order book shows them. A
	// market in Depth is sized by walking its levels: each level's contracts
	// at its own price, then (unless LimitToAskSize) any further contracts
	// resting at the deepest level's price. A market not in Depth is priced
	// at its best ask (Outcome.Ask/AskSize) as before.
	Depth map[string][]sibyl.PriceLevel
}

// MaxQuantity is the most tokens one hedge protects, and MaxLegContracts the
// most contracts one leg may buy (place_order's own bound): a plan beyond them
// is refused rather than sent as orders no venue would take.
const (
	MaxQuantity     = 1e6
	MaxLegContracts = 1e6
)

// Leg is one order of a hedge: buy Contracts of Outcome in MarketID at up to
// Price. Every leg pays $1 a contract when the price at Expiry is below
// Strike ("Yes" on a "below" market, "No" on an "above" market, which also
// pays at exactly the strike).
type Leg struct {
	MarketID        string    // "venue:native_id"
	Venue           string    // the market's venue
	Question        string    // the market's question
	Outcome         string    // "Yes" or "No": the outcome to buy
	Contracts       float64   // whole contracts to buy
	Price           float64   // the limit price to use: the highest ask level the leg walks to, dollars per contract
	Fee             float64   // estimated fee, dollars
	Cost            float64   // Price x Contracts + Fee
	Strike          float64   // pays when the price at Expiry is below this
	Direction       string    // the market's own direction (Above or Below)
	Expiry          time.Time // when the price is observed
	AskSize         float64   // contracts offered at the best ask (0 when unknown)
	FillNow         float64   // contracts the book offers now at or below Price, up to Contracts
	Rests           float64   // contracts beyond what is offered: they rest at Price until sellers come (FillNow + Rests = Contracts when the offered size is known; both 0 when it is not)
	AvgPrice        float64   // expected average price of the contracts (premium / Contracts), dollars
	FairProbability float64   // the model's probability that this leg pays
	Edge            float64   // FairProbability - Price: positive means cheap against the model
	OrderID         string    // empty in a plan; the tool fills it in after placing the order
}

// pays reports whether the leg pays at settlement price s.
func (l Leg) pays(s float64) bool {
	if l.Direction == Above { // No on "above K" wins when s <= K
		return s <= l.Strike
	}
	return s < l.Strike
}

// Scenario is the position's P&L if the token settles at Price at expiry.
type Scenario struct {
	Price       float64 // settlement price of the token
	Move        float64 // Price/Spot - 1
	UnhedgedPnL float64 // (Price - EntryPrice) x Quantity
	HedgePayoff float64 // what the legs pay at Price
	HedgedPnL   float64 // UnhedgedPnL + HedgePayoff - TotalCost
	Label       string  // why this row is here, when it is not a grid row ("protection level", "worst case")
}

// Unhedged summarises the position without the hedge.
type Unhedged struct {
	Value         float64 // Quantity x Spot
	LossAtProtect float64 // loss from entry at ProtectBelow (0 when that is a gain)
	LossAtFloor   float64 // loss from entry at Floor
}

// Plan is a sized hedge with its scenarios and residual risks.
type Plan struct {
	Symbol       string
	Quantity     float64
	Spot         float64
	EntryPrice   float64
	ProtectBelow float64
	Floor        float64 // lowest price the ladder covers
	By           time.Time
	Expiry       time.Time // the legs' expiry: the first listed on or after By
	Vol          float64   // annualised volatility used for FairProbability
	Legs         []Leg     // highest strike first
	TotalCost    float64   // Σ Leg.Cost (premium plus estimated fees)
	Fees         float64   // Σ Leg.Fee
	FairValue    float64   // Σ FairProbability x Contracts: what the model says the ladder is worth
	// Cap is the hedged-loss cap, premium included: MaxLoss when given, else
	// the loss at ProtectBelow plus TotalCost (PremiumOnTop).
	Cap          float64
	PremiumOnTop bool // true when MaxLoss was not given: the ladder caps the loss before premium
	// MaxLoss is the true worst hedged loss (premium and fees included) over
	// every settlement price from Floor up, not just the scenario rows: the
	// hedged P&L rises between strikes, so the worst case is at Floor or
	// just above a strike. WorstPrice is where.
	MaxLoss    float64
	WorstPrice float64
	MeetsCap   bool    // MaxLoss <= Cap (within a cent)
	Shortfall  float64 // MaxLoss - Cap when the budget cannot meet the cap, else 0
	// CostToMeetCap is what the cheapest ladder meeting Cap would cost, when
	// the budget bought less (0 otherwise).
	CostToMeetCap float64
	Unhedged      Unhedged
	Scenarios     []Scenario // settlement prices from -60% to +30% of spot, plus labelled rows
	Risks         []string   // residual risks in words
	Simulated     bool       // true when any leg is on a simulated venue
}

// PnL returns the unhedged P&L, the hedge payoff and the hedged P&L (net of
// TotalCost) if the token settles at price.
func (p Plan) PnL(price float64) (unhedged, payoff, hedged float64) {
	unhedged = (price - p.EntryPrice) * p.Quantity
	for _, l := range p.Legs {
		if l.pays(price) {
			payoff += l.Contracts
		}
	}
	return unhedged, payoff, unhedged + payoff - p.TotalCost
}

// pnlJustAbove is PnL in the limit as the settlement price falls to s from
// above: legs struck at s do not pay yet. Between strikes the hedged P&L
// rises with the price, so this is where it is lowest.
func (p Plan) pnlJustAbove(s float64) (unhedged, payoff, hedged float64) {
	unhedged = (s - p.EntryPrice) * p.Quantity
	for _, l := range p.Legs {
		if l.Strike > s {
			payoff += l.Contracts
		}
	}
	return unhedged, payoff, unhedged + payoff - p.TotalCost
}

// WorstCase returns the largest hedged loss over all settlement prices from
// p.Floor up and the price where it occurs. Between strikes the hedged P&L
// rises with the price, so the infimum is at Floor or in the limit just above
// a strike (where that strike's legs stop paying); it is computed there, so
// the answer holds for the continuum, not only for a grid.
func (p Plan) WorstCase() (loss, price float64) {
	worst, at := math.Inf(1), p.Floor
	consider := func(s float64) {
		_, _, v := p.pnlJustAbove(s)
		if s == p.Floor {
			_, _, v = p.PnL(s)
		}
		if v < worst {
			worst, at = v, s
		}
	}
	consider(p.Floor)
	for _, l := range p.Legs {
		if l.Strike >= p.Floor {
			consider(l.Strike)
		}
	}
	return math.Max(0, -worst), at
}

// option is the cheapest way to buy "below K" at one strike.
type option struct {
	m       *sibyl.Market
	cond    sibyl.PriceCondition
	outcome string
	price   float64
	size    float64
	unit    float64 // price plus the fee of one contract
	// capped limits the option to size contracts: one visible book level.
	// rest marks the option that rests beyond the visible depth.
	capped, rest bool
}

// Plan sizes the cheapest ladder of "below K at expiry" contracts among
// markets that keeps req's hedged loss within its cap, given the token's spot
// price, its annualised volatility vol (for FairProbability and Edge only;
// the sizing uses market asks) and the time now.
//
// Markets are those of req.Symbol (per Condition) that are open, observed on
// or after req.By, and have an ask on the outcome that pays below the
// strike; of those, only the nearest expiry is used. When req.Budget cannot
// buy a ladder that meets the cap, the plan is the one with the lowest cap
// the budget buys, with MeetsCap false and Shortfall set.
//
// Errors are *sibyl.Error: Invalid with Field for bad arguments (quantity,
// protect_below, by, max_loss, budget, entry_price, and floor when Request.Floor
// is set; a protect_below under the default floor is protect_below's fault) and for a cap no
// listed ladder can meet (the message names the lowest reachable cap and its
// cost); NotFound (Field "symbol" or "by") when no usable markets exist, with
// the symbols or expiries that do.
func (pl Planner) Plan(req Request, markets []sibyl.Market, spot, vol float64, now time.Time) (Plan, error) {
	sym := strings.ToUpper(strings.TrimSpace(req.Symbol))
	switch {
	case sym == "":
		return Plan{}, sibyl.FieldErrorf(sibyl.Invalid, "symbol", "a token symbol such as BTC is required")
	case !(req.Quantity > 0) || math.IsInf(req.Quantity, 0):
		return Plan{}, sibyl.FieldErrorf(sibyl.Invalid, "quantity", "must be a positive number of tokens held, got %v", req.Quantity)
	case req.Quantity > MaxQuantity:
		return Plan{}, sibyl.FieldErrorf(sibyl.Invalid, "quantity", "at most %.0f tokens per hedge, got %v; hedge a large position in parts", float64(MaxQuantity), req.Quantity)
	case !(spot > 0):
		return Plan{}, sibyl.Errorf(sibyl.Invalid, "no spot price for %s", sym)
	case req.EntryPrice < 0 || math.IsNaN(req.EntryPrice):
		return Plan{}, sibyl.FieldErrorf(sibyl.Invalid, "entry_price", "must be positive (or omitted to use spot %s), got %v", usd(spot), req.EntryPrice)
	case !(req.ProtectBelow > 0) || req.ProtectBelow >= spot:
		return Plan{}, sibyl.FieldErrorf(sibyl.Invalid, "protect_below",
			"must be a price above 0 and below spot %s (got %v); to protect against a 15%% fall use %s", usd(spot), req.ProtectBelow, usd(spot*0.85))
	case req.By.IsZero():
		return Plan{}, sibyl.FieldErrorf(sibyl.Invalid, "by", "a date the protection must last until is required, such as %s", now.AddDate(0, 1, 0).Format(time.DateOnly))
	case req.By.Before(startOfDay(now)):
		return Plan{}, sibyl.FieldErrorf(sibyl.Invalid, "by", "%s is in the past; use today (%s) or a later date", req.By.Format(time.DateOnly), now.Format(time.DateOnly))
	case req.MaxLoss != nil && (*req.MaxLoss < 0 || math.IsNaN(*req.MaxLoss)):
		return Plan{}, sibyl.FieldErrorf(sibyl.Invalid, "max_loss", "must be a dollar amount of at least 0, got %v", *req.MaxLoss)
	case req.Budget < 0 || math.IsNaN(req.Budget):
		return Plan{}, sibyl.FieldErrorf(sibyl.Invalid, "budget", "must be a positive dollar amount (or omitted for no budget), got %v", req.Budget)
	}
	entry := req.EntryPrice
	if entry == 0 {
		entry = spot
	}
	floor := req.Floor
	if floor == 0 {
		floor = spot * (1 + DefaultFloorMove)
		if floor >= req.ProtectBelow {
			// The caller did not choose this floor: the protection level is at fault.
			return Plan{}, sibyl.FieldErrorf(sibyl.Invalid, "protect_below",
				"protect_below %s is not above %s, the lowest price the hedge covers (%.0f%% under spot %s); use a protect_below above %s and below spot",
				usd(req.ProtectBelow), usd(math.Ceil(floor)), -DefaultFloorMove*100, usd(spot), usd(math.Ceil(floor)))
		}
	}
	if floor < 0 || math.IsNaN(floor) || floor >= req.ProtectBelow {
		return Plan{}, sibyl.FieldErrorf(sibyl.Invalid, "floor", "must be at least 0 and below protect_below %s, got %v", usd(req.ProtectBelow), floor)
	}
	capv := math.Max(0, (entry-req.ProtectBelow)*req.Quantity)
	if req.MaxLoss != nil {
		capv = *req.MaxLoss
	}
	if !(vol >= 0) || math.IsInf(vol, 0) {
		vol = 0 // no usable volatility: FairProbability must not be NaN (it is encoded as JSON)
	}

	expiry, opts, err := pl.candidates(sym, req, markets, floor)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{
		Symbol: sym, Quantity: req.Quantity, Spot: spot, EntryPrice: entry, ProtectBelow: req.ProtectBelow,
		Floor: floor, By: req.By, Expiry: expiry, Vol: vol, Cap: capv,
		Unhedged: Unhedged{
			Value:         req.Quantity * spot,
			LossAtProtect: math.Max(0, (entry-req.ProtectBelow)*req.Quantity),
			LossAtFloor:   math.Max(0, (entry-floor)*req.Quantity),
		},
	}
	p.PremiumOnTop = req.MaxLoss == nil
	s := sizer{opts: opts, q: req.Quantity, entry: entry, floor: floor, fee: pl.Fee, withPremium: !p.PremiumOnTop, limit: pl.LimitToAskSize}
	unhedgedWorst := math.Max(0, (entry-floor)*req.Quantity)

	counts, cost, ok := s.solve(capv)
	if !ok {
		best, _, bcost := s.lowestCap(unhedgedWorst)
		if pl.LimitToAskSize && best > capv {
			field, what := "max_loss", "the hedged loss"
			if p.PremiumOnTop {
				field, what = "protect_below", "the loss before premium"
			}
			unlimited := s
			unlimited.limit = false
			if _, _, ok := unlimited.solve(capv); ok {
				return Plan{}, sibyl.FieldErrorf(sibyl.Invalid, field,
					"the %s contracts offered at the best ask for %s are too few to keep %s within %s; the lowest they reach is %s, costing %s; accept that cap, hedge fewer tokens, or let orders rest beyond the offered size",
					sym, expiry.Format(time.DateOnly), what, usd(capv), usd(math.Ceil(best)), usd(bcost))
			}
		}
		if p.PremiumOnTop {
			return Plan{}, sibyl.FieldErrorf(sibyl.Invalid, "protect_below",
				"the highest %s strike listed for %s is %s (strikes %s), so nothing pays between it and the price; use protect_below at most %s, or set max_loss to at least %s",
				sym, expiry.Format(time.DateOnly), usd(opts[0].cond.Strike), strikeList(opts), usd(opts[0].cond.Strike), usd(math.Ceil(best)))
		}
		return Plan{}, sibyl.FieldErrorf(sibyl.Invalid, "max_loss",
			"a hedged loss (premium included) of at most %s cannot be reached with the %s strikes listed for %s (%s): the premium needed to cover the gaps between strikes leaves no room under it; the lowest reachable is %s, costing %s; set max_loss to at least %s, or omit it to cap the loss before premium at protect_below",
			usd(capv), sym, expiry.Format(time.DateOnly), strikeList(opts), usd(best), usd(bcost), usd(math.Ceil(best)))
	}
	if req.Budget > 0 && cost > req.Budget+1e-9 {
		p.CostToMeetCap = cost
		bcounts, found := s.capForBudget(capv, unhedgedWorst, req.Budget)
		if !found {
			cheapest := s.cheapestLeg()
			return Plan{}, sibyl.FieldErrorf(sibyl.Invalid, "budget",
				"%s buys no protection: the cheapest ladder that meets the %s cap costs %s, and the cheapest contract that helps costs %s; raise the budget or the cap",
				usd2(req.Budget), usd(capv), usd(cost), usd2(cheapest))
		}
		counts = bcounts
	}
	pl.fill(&p, opts, counts, vol, now)
	for _, l := range p.Legs {
		if l.Contracts > MaxLegContracts {
			return Plan{}, sibyl.FieldErrorf(sibyl.Invalid, "quantity",
				"the hedge needs %.0f contracts of %s, over the %.0f one order may buy; hedge fewer tokens", l.Contracts, l.MarketID, float64(MaxLegContracts))
		}
	}
	p.MaxLoss, p.WorstPrice = p.WorstCase()
	if p.PremiumOnTop {
		p.Cap = capv + p.TotalCost
	}
	p.MeetsCap = p.MaxLoss <= p.Cap+0.005
	if !p.MeetsCap {
		p.Shortfall = p.MaxLoss - p.Cap
	}
	p.Scenarios = p.scenarios()
	p.Risks = p.risks(req.Budget)
	return p, nil
}

// candidates picks the nearest usable expiry and, per strike above floor,
// the cheapest way to buy "below K" there, highest strike first.
func (pl Planner) candidates(sym string, req Request, markets []sibyl.Market, floor float64) (time.Time, []option, error) {
	type cand struct {
		m    *sibyl.Market
		cond sibyl.PriceCondition
	}
	mine := make([]cand, 0, len(markets))
	others := map[string]bool{}
	for i := range markets {
		m := &markets[i]
		if len(req.Venues) > 0 && !slices.Contains(req.Venues, m.Venue) {
			continue
		}
		c, ok := Condition(*m)
		if !ok {
			continue
		}
		if c.Symbol != sym {
			others[c.Symbol] = true
			continue
		}
		mine = append(mine, cand{m, c})
	}
	if len(mine) == 0 {
		syms := sortedKeys(others)
		msg := fmt.Sprintf("no price markets on %s", sym)
		if len(req.Venues) > 0 {
			msg += " at " + strings.Join(req.Venues, ", ")
		}
		if len(syms) > 0 {
			msg += "; price markets exist for " + strings.Join(syms, ", ")
		} else {
			msg += "; no venue lists token price markets"
		}
		return time.Time{}, nil, sibyl.FieldErrorf(sibyl.NotFound, "symbol", "%s", msg)
	}
	// Usable: open, observed on or after By, with an ask on the "below" side.
	var latest time.Time
	byExp := map[time.Time][]option{}
	for _, c := range mine {
		if c.cond.Expiry.After(latest) && c.m.Status == sibyl.StatusOpen {
			latest = c.cond.Expiry
		}
		if c.m.Status != sibyl.StatusOpen || c.cond.Expiry.Before(req.By) {
			continue
		}
		o, ok := pl.belowOption(c.m, c.cond)
		if !ok {
			continue
		}
		byExp[c.cond.Expiry] = append(byExp[c.cond.Expiry], pl.levelOptions(o)...)
	}
	if len(byExp) == 0 {
		msg := fmt.Sprintf("no open %s price markets with an offer expire on or after %s", sym, req.By.Format(time.DateOnly))
		if !latest.IsZero() {
			msg += "; the latest listed expiry is " + latest.Format(time.DateOnly) + ": use a by date on or before it"
		}
		return time.Time{}, nil, sibyl.FieldErrorf(sibyl.NotFound, "by", "%s", msg)
	}
	exps := make([]time.Time, 0, len(byExp))
	for e := range byExp {
		exps = append(exps, e)
	}
	slices.SortFunc(exps, func(a, b time.Time) int { return a.Compare(b) })
	expiry := exps[0]
	// Every way to buy "below K" above the floor: highest strike first, then
	// cheapest first.
	var opts []option
	for _, o := range byExp[expiry] {
		if o.cond.Strike > floor {
			opts = append(opts, o)
		}
	}
	if len(opts) == 0 {
		return time.Time{}, nil, sibyl.FieldErrorf(sibyl.NotFound, "floor",
			"no %s strikes for %s lie above the floor %s; raise floor", sym, expiry.Format(time.DateOnly), usd(floor))
	}
	slices.SortStableFunc(opts, func(a, b option) int {
		if c := -cmpF(a.cond.Strike, b.cond.Strike); c != 0 {
			return c
		}
		if c := cmpF(a.unit, b.unit); c != 0 {
			return c
		}
		if a.rest != b.rest { // at one price, what is offered now before resting
			if b.rest {
				return -1
			}
			return 1
		}
		return strings.Compare(a.m.ID, b.m.ID)
	})
	return expiry, opts, nil
}

// belowOption returns how to buy "price below the strike" in m: Yes on a
// "below" market, No on an "above" market (its ask, or 1 - the Yes bid when
// the No side is not quoted).
func (pl Planner) belowOption(m *sibyl.Market, c sibyl.PriceCondition) (option, bool) {
	want := "Yes"
	if c.Direction == Above {
		want = "No"
	}
	var price, size float64
	for _, o := range m.Outcomes {
		if strings.EqualFold(o.Name, want) && o.Ask > 0 {
			price, size = o.Ask, o.AskSize
		}
	}
	if price == 0 && want == "No" {
		for _, o := range m.Outcomes {
			if strings.EqualFold(o.Name, "Yes") && o.Bid > 0 {
				price, size = 1-o.Bid, o.BidSize
			}
		}
	}
	if !(price > 0) || price >= 1 {
		return option{}, false
	}
	unit := price
	if pl.Fee != nil {
		unit += pl.Fee(price, 1)
	}
	if unit >= 1 {
		return option{}, false
	}
	return option{m: m, cond: c, outcome: want, price: price, size: size, unit: unit}, true
}

// levelOptions splits o into one option per ask level of its book when
// Planner.Depth has the book: each level capped at its size, then (unless
// LimitToAskSize) an uncapped option resting at the deepest level's price.
// Without a book o is returned as it is.
func (pl Planner) levelOptions(o option) []option {
	levels := pl.Depth[o.m.ID]
	var out []option
	for _, l := range levels {
		if !(l.Price > 0 && l.Price < 1) || !(l.Size >= 1) {
			continue
		}
		lo := o
		lo.price, lo.size, lo.capped = l.Price, math.Floor(l.Size), true
		lo.unit = l.Price
		if pl.Fee != nil {
			lo.unit += pl.Fee(l.Price, 1)
		}
		if lo.unit >= 1 {
			break
		}
		out = append(out, lo)
	}
	if len(out) == 0 {
		return []option{o}
	}
	if !pl.LimitToAskSize {
		r := out[len(out)-1]
		r.capped, r.rest, r.size = false, true, 0
		out = append(out, r)
	}
	return out
}

// fill turns contract counts into legs and totals: the options of one market
// (its book levels) become one leg whose limit price is the highest level used.
func (pl Planner) fill(p *Plan, opts []option, counts []float64, vol float64, now time.Time) {
	p.Legs, p.TotalCost, p.Fees, p.FairValue, p.Simulated = nil, 0, 0, 0, false
	at := map[string]int{} // leg index by market id
	premium := map[string]float64{}
	for i, n := range counts {
		if n <= 0 {
			continue
		}
		o := opts[i]
		j, seen := at[o.m.ID]
		if !seen {
			j = len(p.Legs)
			at[o.m.ID] = j
			l := Leg{
				MarketID: o.m.ID, Venue: o.m.Venue, Question: o.m.Question, Outcome: o.outcome,
				Strike: o.cond.Strike, Direction: o.cond.Direction, Expiry: o.cond.Expiry, AskSize: o.size,
			}
			if lv := pl.Depth[o.m.ID]; len(lv) > 0 {
				l.AskSize = lv[0].Size
			}
			l.FairProbability = FairProbability(p.Spot, o.cond.Strike, vol, YearFraction(now, o.cond.Expiry), Below)
			if o.cond.Direction == Above { // No on "above K" also wins at exactly K; same probability in a continuous model
				l.FairProbability = 1 - FairProbability(p.Spot, o.cond.Strike, vol, YearFraction(now, o.cond.Expiry), Above)
			}
			p.Legs = append(p.Legs, l)
		}
		l := &p.Legs[j]
		l.Contracts += n
		l.Price = math.Max(l.Price, o.price)
		switch {
		case o.capped:
			l.FillNow += n
		case o.rest:
			l.Rests += n
		case o.size > 0: // top of book only: what is offered there fills now, the rest rests
			now := math.Min(n, math.Floor(o.size))
			l.FillNow += now
			l.Rests += n - now
		}
		var fee float64
		if pl.Fee != nil {
			fee = pl.Fee(o.price, n)
		}
		l.Fee += fee
		l.Cost += roundCent(o.price*n + fee)
		premium[o.m.ID] += o.price * n
		p.Simulated = p.Simulated || o.m.Simulated
	}
	for i := range p.Legs {
		l := &p.Legs[i]
		l.Fee, l.Cost = roundCent(l.Fee), roundCent(l.Cost)
		l.AvgPrice = math.Round(premium[l.MarketID]/l.Contracts*1e4) / 1e4
		l.Edge = l.FairProbability - l.AvgPrice
		p.TotalCost += l.Cost
		p.Fees += l.Fee
		p.FairValue += l.FairProbability * l.Contracts
	}
	p.TotalCost = roundCent(p.TotalCost)
	p.Fees = roundCent(p.Fees)
}

// scenarios is the table: -60% to +30% of spot in 10% steps, the protection
// level and the worst case.
func (p Plan) scenarios() []Scenario {
	var out []Scenario
	add := func(price float64, label string, above bool) {
		u, pay, h := p.PnL(price)
		if above {
			u, pay, h = p.pnlJustAbove(price)
		}
		out = append(out, Scenario{Price: price, Move: price/p.Spot - 1, UnhedgedPnL: u, HedgePayoff: pay, HedgedPnL: h, Label: label})
	}
	for m := -6; m <= 3; m++ {
		add(p.Spot*(1+float64(m)/10), "", false)
	}
	add(p.ProtectBelow, "protection level", false)
	if p.WorstPrice != p.Floor {
		add(p.WorstPrice, "worst case: just above this strike", true)
	} else {
		out[0].Label = "floor: worst case"
		if p.Floor != p.Spot*(1+DefaultFloorMove) {
			add(p.Floor, "floor: worst case", false)
		}
	}
	slices.SortStableFunc(out, func(a, b Scenario) int { return cmpF(a.Price, b.Price) })
	return out
}

// risks states what the ladder does not cover.
func (p Plan) risks(budget float64) []string {
	var r []string
	if p.PremiumOnTop {
		r = append(r, fmt.Sprintf("Premium on top: with no max_loss the ladder keeps the loss before premium within the loss at the protection level, %s, like a put struck there; the %s paid comes on top, so the hedged loss can reach %s.",
			usd(p.Unhedged.LossAtProtect), usd(p.TotalCost), usd(p.Cap)))
	}
	if !p.MeetsCap {
		what := "the hedged loss within " + usd(p.Cap)
		if p.PremiumOnTop {
			what = "the loss before premium within " + usd(p.Unhedged.LossAtProtect)
		}
		r = append(r, fmt.Sprintf("Budget: the cheapest ladder that keeps %s costs %s; the budget of %s buys this one, whose worst hedged loss is %s, %s more than the cap.",
			what, usd(p.CostToMeetCap), usd(budget), usd(p.MaxLoss), usd(p.Shortfall)))
	}
	if len(p.Legs) == 0 {
		r = append(r, "No contracts are needed: the unhedged loss never exceeds the cap above the floor.")
	} else {
		gaps := make([]string, 0, len(p.Legs))
		for i, l := range p.Legs {
			if i > 0 && p.Legs[i-1].Strike == l.Strike {
				continue
			}
			_, _, h := p.pnlJustAbove(l.Strike)
			gaps = append(gaps, fmt.Sprintf("%s (%s)", usd(l.Strike), usdSigned(h)))
		}
		r = append(r, fmt.Sprintf("Strike gaps: each leg pays a fixed $1 a contract, so between strikes the loss grows with the price; the hedged P&L just above each strike is %s, and the worst, %s, is at %s.",
			strings.Join(gaps, ", "), usd(p.MaxLoss), usd(p.WorstPrice)))
	}
	_, _, atZero := p.PnL(0)
	r = append(r, fmt.Sprintf("Below the floor %s (%+.0f%% of spot) the ladder pays no more and the loss grows again: at a price of $0 the hedged loss would be %s.",
		usd(p.Floor), 100*(p.Floor/p.Spot-1), usd(math.Max(0, -atZero))))
	days := p.Expiry.Sub(p.By).Hours() / 24
	r = append(r, fmt.Sprintf("Expiry mismatch: the contracts observe the price at %s, %.1f days after the requested date %s. A fall that recovers by then is not paid; if the tokens are sold earlier the contracts are worth their market price then, not their payoff.",
		p.Expiry.UTC().Format("2006-01-02 15:04 MST"), days, p.By.Format(time.DateOnly)))
	venues := map[string]bool{}
	for _, l := range p.Legs {
		venues[l.Venue] = true
	}
	basis := "Settlement basis: each contract settles on its venue's own price source and time"
	if len(venues) > 0 {
		basis += " (" + strings.Join(sortedKeys(venues), ", ") + ")"
	}
	basis += ", which can differ from the price the tokens are sold at; a settlement just on the wrong side of a strike pays nothing. Venue and counterparty risk are not hedged."
	r = append(r, basis)
	var thin []string
	for _, l := range p.Legs {
		if l.Rests > 0 {
			thin = append(thin, fmt.Sprintf("%s: %.0f of %.0f fill now at up to %s, %.0f rest at %s", l.MarketID, l.FillNow, l.Contracts, usd2(l.Price), l.Rests, usd2(l.Price)))
		}
	}
	if len(thin) > 0 {
		r = append(r, "Liquidity: the book does not offer every contract now ("+strings.Join(thin, "; ")+
			"). Resting contracts fill only when sellers come; until they fill the protection is incomplete.")
	}
	if p.Fees > 0 {
		r = append(r, fmt.Sprintf("Fees of %s are an estimate from the venue's schedule and are included in the cost and the loss.", usd(p.Fees)))
	}
	if len(p.Legs) > 0 {
		r = append(r, fmt.Sprintf("Model: at volatility %.0f%% the lognormal model values the ladder at %s against a cost of %s (edge %s).",
			100*p.Vol, usd(p.FairValue), usd(p.TotalCost), usdSigned(p.FairValue-(p.TotalCost-p.Fees))))
	}
	if p.Simulated {
		r = append(r, "Simulated: these are paper-venue markets; they protect nothing real.")
	}
	return r
}

// sizer solves the ladder for a cap.
//
// With strikes K1 > K2 > ... > Km above the floor F (K(m+1) = F) and n_i
// contracts paying below K_i, the hedged P&L just above K_j is
// Q(K_j - E) + N(j-1) - C, where N(j) = n_1+...+n_j and C is the total cost,
// and it only rises between strikes. So the cap holds on [F, ∞) exactly when
//
//	N(j-1) >= Q(E - K_j) - cap + C   for j = 1..m+1   (N(0) = 0).
//
// For a fixed C the requirements r_j = ceil(max(0, ...)) rise with j, and the
// cheapest integer ladder meeting them buys each increment r_(j+1) - r_j at
// the cheapest strike among K_1..K_j (a contract at K_i counts towards every
// constraint below it, so the cheapest eligible strike is never a worse
// choice; the constraint matrix is an interval matrix, so integer increments
// are optimal). Its cost g(C) is non-decreasing in C, so iterating
// C <- g(C) from 0 climbs to the least C with g(C) <= C; any feasible ladder
// with cost C' has g(C') <= C', so the ladder found costs no more than any
// ladder that meets the cap (exactly so with linear fees; rounding fees up to
// the cent per leg can add up to a cent a leg).
type sizer struct {
	opts  []option
	q     float64
	entry float64
	floor float64
	fee   FeeFunc
	// withPremium includes the ladder's cost in the loss the cap bounds;
	// without it the cap bounds the loss before premium and one pass solves it.
	withPremium bool
	// limit caps each option at its ask size.
	limit bool
}

const maxIter = 10000

// solve returns the cheapest contract counts (per option) meeting capv, their
// cost, and whether any ladder meets it.
func (s sizer) solve(capv float64) ([]float64, float64, bool) {
	counts := make([]float64, len(s.opts))
	c := 0.0
	for range maxIter {
		if !s.withPremium {
			c = 0
		}
		if s.q*(s.entry-s.opts[0].cond.Strike)-capv+c > 1e-9 {
			return nil, 0, false // nothing pays just above the highest strike
		}
		clear(counts)
		n := 0.0
		for j := range s.opts {
			if j+1 < len(s.opts) && s.opts[j+1].cond.Strike == s.opts[j].cond.Strike {
				continue // the constraint is just above the next lower strike
			}
			next := s.floor
			if j+1 < len(s.opts) {
				next = s.opts[j+1].cond.Strike
			}
			r := math.Ceil(s.q*(s.entry-next) - capv + c - 1e-9)
			for r > n {
				// The cheapest option with room among strikes 0..j.
				best := -1
				for i := 0; i <= j; i++ {
					if s.room(i, counts[i]) > 0 && (best < 0 || s.opts[i].unit < s.opts[best].unit) {
						best = i
					}
				}
				if best < 0 {
					return nil, 0, false // the offered size runs out
				}
				add := math.Min(r-n, s.room(best, counts[best]))
				counts[best] += add
				n += add
			}
		}
		cost := s.cost(counts)
		if cost <= c+1e-9 || !s.withPremium {
			return counts, cost, true
		}
		c = cost
	}
	return nil, 0, false
}

// room returns how many more contracts option i can take.
func (s sizer) room(i int, have float64) float64 {
	if s.opts[i].capped {
		return s.opts[i].size - have
	}
	if !s.limit || !(s.opts[i].size > 0) {
		return math.Inf(1)
	}
	return math.Floor(s.opts[i].size) - have
}

func (s sizer) cost(counts []float64) float64 {
	var c float64
	for i, n := range counts {
		if n > 0 {
			c += roundCent(s.opts[i].price*n + s.fees(i, n))
		}
	}
	return c
}

func (s sizer) fees(i int, n float64) float64 {
	if s.fee == nil {
		return 0
	}
	return s.fee(s.opts[i].price, n)
}

// lowestCap returns the lowest cap (to the cent) that some ladder meets,
// searching up to hi (where no contracts are needed), with its ladder.
func (s sizer) lowestCap(hi float64) (float64, []float64, float64) {
	lo := 0.0
	if c, cost, ok := s.solve(lo); ok {
		return lo, c, cost
	}
	for hi-lo > 0.01 {
		mid := (lo + hi) / 2
		if _, _, ok := s.solve(mid); ok {
			hi = mid
		} else {
			lo = mid
		}
	}
	c, cost, _ := s.solve(hi)
	return hi, c, cost
}

// capForBudget returns the cheapest ladder of the lowest cap in [capv, hi]
// that costs at most budget; found is false when the budget improves nothing
// on the unhedged position.
func (s sizer) capForBudget(capv, hi, budget float64) (counts []float64, found bool) {
	fits := func(c float64) bool {
		_, cost, ok := s.solve(c)
		return ok && cost <= budget+1e-9
	}
	if !fits(hi) {
		return nil, false
	}
	lo := capv
	for hi-lo > 0.01 {
		mid := (lo + hi) / 2
		if fits(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	counts, _, _ = s.solve(hi)
	if !slices.ContainsFunc(counts, func(n float64) bool { return n > 0 }) {
		return nil, false
	}
	return counts, true
}

func (s sizer) cheapestLeg() float64 {
	best := math.Inf(1)
	for _, o := range s.opts {
		best = math.Min(best, o.unit)
	}
	return best
}

func strikeList(opts []option) string {
	ks := make([]string, 0, len(opts))
	for i := len(opts) - 1; i >= 0; i-- {
		ks = append(ks, usd(opts[i].cond.Strike))
	}
	return strings.Join(ks, ", ")
}

func startOfDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func roundCent(x float64) float64 { return math.Round(x*100) / 100 }

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func sortedKeys(m map[string]bool) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
