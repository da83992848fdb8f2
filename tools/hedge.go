package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/sibylmcp/sibyl/canon"
	"math"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/feeds"
	"github.com/sibylmcp/sibyl/hedge"
	"github.com/sibylmcp/sibyl/orders"
	"github.com/sibylmcp/sibyl/store"
)

// HedgeTools returns plan_hedge (read-only preview) and hedge_position. They
// are left out without a spot price source, price feeds, or the order service.
//
// The preview is its own read-only tool so that a client that asks the person
// before destructive tools does not ask about a preview; hedge_position keeps
// previewing with execute=false for clients that already use it.
func HedgeTools(d *Deps) []Tool {
	if d.Spot == nil || len(d.Feeds) == 0 || d.Orders == nil || d.Store == nil {
		return nil
	}
	const what = "a hedge of a long token position with prediction-market contracts: a ladder of 'price below K at expiry' contracts " +
		"(buying No on 'above K' markets) at the first expiry on or after 'by', sized so the hedged loss stays within a cap, the cheapest such ladder " +
		"(or the best the budget buys, with the shortfall stated). Each leg is sized against the market's order book: it walks the ask levels, " +
		"says how many contracts fill now and how many rest at its limit price. The answer has each leg, the total cost, the cash available, the worst hedged loss, " +
		"a scenario table from -60% to +30% of spot, and the residual risks."
	plan := New("plan_hedge", "Plan a hedge (preview)",
		"Preview "+what+" Read-only: places nothing. Execute the same arguments with hedge_position (execute=true).",
		readOnly, ScopeRead, d.planHedgeTool)
	t := New("hedge_position", "Hedge a token position",
		"Place "+what+" With execute=true every leg is placed exactly once under '<idempotency_key>/leg-<n>', "+
			"after the whole hedge is checked against your available cash (refused whole with the shortfall, or sized to the cash with size_to_cash=true) "+
			"and the risk limits: nothing is half placed for lack of funds. A retry with the same key never doubles a leg: placed legs are replayed "+
			"with their current state, and legs the venue refused are tried again under a fresh leg key. Without execute it previews, like plan_hedge "+
			"(prefer plan_hedge, which is read-only).",
		writeTool, ScopeRead, d.hedgePosition)
	// The registry audits the call itself; executed legs are audited again, each in
	// its own transaction, by the order path.
	return []Tool{plan, t}
}

// hedgeParams are the arguments plan_hedge and hedge_position share.
type hedgeParams struct {
	Symbol       string   `json:"symbol" jsonschema:"minLength=1,maxLength=20" jsonschema_description:"Token held, such as BTC."`
	Quantity     float64  `json:"quantity" jsonschema:"exclusiveMinimum=0,maximum=1000000" jsonschema_description:"Tokens held (the long position to protect), at most 1,000,000."`
	EntryPrice   float64  `json:"entry_price,omitempty" jsonschema:"minimum=0" jsonschema_description:"Price paid per token in USD; omit to use spot (protecting today's value)."`
	ProtectBelow float64  `json:"protect_below" jsonschema:"exclusiveMinimum=0" jsonschema_description:"Price level in USD, below spot, under which losses should stop growing."`
	By           string   `json:"by" jsonschema:"pattern=^[0-9]{4}-[0-9]{2}-[0-9]{2}$" jsonschema_description:"The hedge must last until this UTC day (YYYY-MM-DD): legs expire on the first listed expiry on or after it."`
	MaxLoss      *float64 `json:"max_loss,omitempty" jsonschema:"minimum=0" jsonschema_description:"Cap in USD on the hedged loss, premium and fees included, at any settlement price down to the floor (-60%). Omit for put-like protection: the loss before premium stays within the loss at protect_below."`
	Budget       float64  `json:"budget,omitempty" jsonschema:"minimum=0" jsonschema_description:"Most to spend in USD, fees included. When the cap costs more, the plan is the best the budget buys and states the shortfall."`
	Venues       []string `json:"venues,omitempty" jsonschema:"maxItems=10,maxLength=40" jsonschema_description:"Only markets of these venues; omit for all."`
	SizeToCash   bool     `json:"size_to_cash,omitempty" jsonschema_description:"When your available cash cannot pay for the hedge: false (default) refuses it whole, naming the shortfall, and places nothing; true sizes it to what the cash buys (like a budget equal to the cash) and states the shortfall against the cap."`
}

type planHedgeIn struct {
	hedgeParams
}

type hedgeIn struct {
	hedgeParams
	Execute        bool   `json:"execute,omitempty" jsonschema_description:"false (default): preview only (plan_hedge does the same, read-only). true: place every leg (needs idempotency_key and the trade scope)."`
	IdempotencyKey string `json:"idempotency_key,omitempty" jsonschema:"maxLength=118,pattern=^[A-Za-z0-9_.:/-]{8\\,118}$" jsonschema_description:"Required with execute: your unique id for this one hedge, 8-118 characters of A-Z a-z 0-9 _ . : / - (a UUID is fine). Reuse it verbatim on every retry: legs already placed are replayed, refused or missing ones placed once."`
}

// HedgeLegOut is one leg of a hedge.
type HedgeLegOut struct {
	Market          string       `json:"market" jsonschema_description:"Market id."`
	Question        string       `json:"question" jsonschema_description:"The market's question."`
	Outcome         string       `json:"outcome" jsonschema_description:"Outcome bought: pays $1 a contract when the price at expiry is below the strike."`
	Contracts       float64      `json:"contracts" jsonschema_description:"Contracts to buy."`
	Price           float64      `json:"price" jsonschema_description:"Limit price, dollars per contract: the highest ask level the leg walks to."`
	AveragePrice    float64      `json:"average_price" jsonschema_description:"Expected average price of the contracts over the levels walked (resting ones at the limit), dollars."`
	FillNow         float64      `json:"fill_now" jsonschema_description:"Contracts the book offers now at or below the limit price: they fill when the order is placed."`
	Rests           float64      `json:"rests" jsonschema_description:"Contracts beyond what the book offers now: they rest at the limit price until sellers come, and protect nothing until then."`
	Cost            float64      `json:"cost" jsonschema_description:"The levels' price x contracts plus the estimated fee, dollars (to the cent)."`
	Strike          float64      `json:"strike" jsonschema_description:"Pays when the token settles below this price."`
	Expiry          time.Time    `json:"expiry" jsonschema_description:"When the price is observed (RFC 3339, UTC)."`
	FairProbability float64      `json:"fair_probability" jsonschema_description:"Lognormal model probability that this leg pays, from realised volatility (4 decimals)."`
	Edge            float64      `json:"edge" jsonschema_description:"fair_probability minus average_price: positive means cheap against the model."`
	LegKey          string       `json:"leg_key,omitempty" jsonschema_description:"With execute: the idempotency key this leg was placed under (get_order takes it)."`
	OrderID         string       `json:"order_id,omitempty" jsonschema_description:"With execute: the placed order's id; absent in a preview or when the leg failed."`
	Status          string       `json:"status,omitempty" jsonschema_description:"With execute: the order's status now (filled, open or partially_filled = resting at the limit, cancelled, ...), or failed."`
	Filled          float64      `json:"filled,omitempty" jsonschema_description:"With execute: contracts filled so far."`
	Replayed        bool         `json:"replayed,omitempty" jsonschema_description:"With execute: the leg was placed by an earlier call with the same key (status and filled are as of now)."`
	Error           *ErrorObject `json:"error,omitempty" jsonschema_description:"With execute: why this leg failed. Calling hedge_position again with the same key and arguments tries it again (a refused leg under a fresh leg key), once the cause is fixed."`
}

// HedgeScenarioOut is one settlement price of the scenario table.
type HedgeScenarioOut struct {
	Price       float64 `json:"price" jsonschema_description:"Token settlement price, USD."`
	Move        float64 `json:"move" jsonschema_description:"price / spot - 1 (4 decimals)."`
	UnhedgedPnL float64 `json:"unhedged_pnl" jsonschema_description:"Position P&L without the hedge, USD."`
	HedgePayoff float64 `json:"hedge_payoff" jsonschema_description:"What the legs pay, USD."`
	HedgedPnL   float64 `json:"hedged_pnl" jsonschema_description:"unhedged_pnl + hedge_payoff - total_cost, USD."`
	Label       string  `json:"label,omitempty" jsonschema_description:"Why this row is here, when it is not a grid row."`
}

type hedgeOut struct {
	Symbol        string             `json:"symbol" jsonschema_description:"Token."`
	Quantity      float64            `json:"quantity" jsonschema_description:"Tokens protected."`
	Spot          float64            `json:"spot" jsonschema_description:"Spot price used, USD."`
	EntryPrice    float64            `json:"entry_price" jsonschema_description:"Entry price used, USD."`
	ProtectBelow  float64            `json:"protect_below" jsonschema_description:"Protection level, USD."`
	Floor         float64            `json:"floor" jsonschema_description:"Lowest settlement price the ladder covers, USD."`
	Expiry        time.Time          `json:"expiry" jsonschema_description:"The legs' expiry (RFC 3339, UTC)."`
	Vol           float64            `json:"vol" jsonschema_description:"Annualised realised volatility used for fair probabilities."`
	Legs          []HedgeLegOut      `json:"legs" jsonschema_description:"The orders, highest strike first."`
	TotalCost     float64            `json:"total_cost" jsonschema_description:"Sum of the legs' cost (premium plus estimated fees), USD."`
	CashAvailable *float64           `json:"cash_available,omitempty" jsonschema_description:"Your available cash at the legs' venues, USD (absent when it could not be read)."`
	CashNeeded    float64            `json:"cash_needed" jsonschema_description:"What the legs not placed yet cost, USD: what executing this answer would spend now."`
	SizedToCash   bool               `json:"sized_to_cash,omitempty" jsonschema_description:"True when size_to_cash cut the hedge to what your cash buys."`
	MaxLoss       float64            `json:"max_loss" jsonschema_description:"Worst hedged loss over every settlement price from the floor up, premium included, USD, when every leg fills in full."`
	WorstPrice    float64            `json:"worst_price" jsonschema_description:"Where that worst loss occurs."`
	Cap           float64            `json:"cap" jsonschema_description:"The loss cap the ladder was sized for, premium included, USD."`
	MeetsCap      bool               `json:"meets_cap" jsonschema_description:"Preview: true when the plan, filled in full, keeps max_loss within the cap. With execute: true only when it does AND every leg has filled in full (complete)."`
	Shortfall     float64            `json:"shortfall" jsonschema_description:"How far max_loss exceeds the cap when the budget (or the cash) could not buy it, USD."`
	CostToMeet    float64            `json:"cost_to_meet_cap,omitempty" jsonschema_description:"What the cheapest ladder meeting the cap would cost, when the budget or the cash bought less."`
	Scenarios     []HedgeScenarioOut `json:"scenarios" jsonschema_description:"Settlement prices from -60% to +30% of spot with the unhedged and hedged P&L."`
	Risks         []string           `json:"risks" jsonschema_description:"Residual risks in words."`
	Executed      bool               `json:"executed" jsonschema_description:"True when the legs were sent (see status)."`
	Status        string             `json:"status" jsonschema:"enum=preview,enum=filled,enum=resting,enum=partial" jsonschema_description:"preview: nothing placed. filled: every leg placed and filled in full, the protection is in force. resting: every leg placed, some contracts still rest on the book (see unhedged_contracts). partial: some legs failed (see their error and next_step); the others stand. (When every leg fails the call is an error.)"`
	Complete      bool               `json:"complete" jsonschema_description:"With execute: true only when every leg is placed AND filled in full, so the protection the plan describes is in force now. False otherwise (see status and next_step)."`
	Unhedged      float64            `json:"unhedged_contracts" jsonschema_description:"With execute: planned contracts not filled yet (resting or failed legs)."`
	NextStep      string             `json:"next_step,omitempty" jsonschema_description:"What to do now, when the hedge is not complete."`
	Simulated     bool               `json:"simulated" jsonschema_description:"True when the legs are on a simulated venue."`
	Timestamp     time.Time          `json:"timestamp" jsonschema_description:"When this answer was made (RFC 3339, UTC)."`
}

const bucketHedgePlans = "hedge_plans"

// maxLegAttempts bounds how often one leg is tried again after a refusal.
const maxLegAttempts = 9

// storedPlan is the plan an executed hedge committed to, kept under its key so
// that a retry places the same legs even when prices moved since. Attempts
// counts, per leg, the refused attempts tried again since (0: the leg's key
// is '<key>/leg-<n>').
type storedPlan struct {
	Fingerprint string     `json:"fingerprint"`
	Plan        hedge.Plan `json:"plan"`
	Attempts    []int      `json:"attempts,omitempty"`
	SizedToCash bool       `json:"sized_to_cash,omitempty"`
}

// legKey is the idempotency key of leg i (from 0) at attempt a: the first
// attempt keeps '<key>/leg-<n>', later ones '<key>/leg-<a*100+n>', so the key
// stays within 128 characters.
func legKey(key string, i, a int) string {
	if a == 0 {
		return orders.LegKey(key, i+1)
	}
	return orders.LegKey(key, a*100+i+1)
}

func (d *Deps) planHedgeTool(ctx context.Context, c *Call, in planHedgeIn) (hedgeOut, error) {
	by, err := parseDay(in.By, "by")
	if err != nil {
		return hedgeOut{}, err
	}
	plan, cash, sized, err := d.planToCash(ctx, c.Principal, in.hedgeParams, by, nil)
	if err != nil {
		return hedgeOut{}, err
	}
	out := hedgeResult(plan, d.now())
	out.CashAvailable, out.SizedToCash, out.CashNeeded = cash, sized, plan.TotalCost
	out.Status = "preview"
	return out, nil
}

func (d *Deps) hedgePosition(ctx context.Context, c *Call, in hedgeIn) (hedgeOut, error) {
	if in.Execute {
		if !c.Allowed(ScopeTrade) {
			return hedgeOut{}, sibyl.FieldErrorf(sibyl.Unauthorized, "execute", "placing a hedge needs an API key with the trade scope; plan_hedge (or execute=false) previews it")
		}
		if in.IdempotencyKey == "" {
			return hedgeOut{}, sibyl.FieldErrorf(sibyl.Invalid, "idempotency_key", "execute=true needs an idempotency_key (a UUID is fine); reuse it on every retry of this hedge")
		}
		if err := orders.ValidateKey(in.IdempotencyKey); err != nil {
			return hedgeOut{}, err
		}
	}
	if in.Execute && d.Orders != nil {
		if err := d.Orders.Halted(); err != nil {
			return hedgeOut{}, err // the kill switch: no hedge is executed
		}
	}
	if !in.Execute {
		return d.planHedgeTool(ctx, c, planHedgeIn{in.hedgeParams})
	}
	by, err := parseDay(in.By, "by")
	if err != nil {
		return hedgeOut{}, err
	}
	fp, err := canon.Fingerprint(c.Args, "idempotency_key")
	if err != nil {
		return hedgeOut{}, sibyl.WrapError(sibyl.Invalid, err, "the arguments are not canonical JSON")
	}
	k := hedgeKey(c.Principal, in.IdempotencyKey)
	// A retry must place the legs of the plan the first call committed to, even
	// when prices moved since.
	sp, found, err := d.storedHedge(k, fp)
	if err != nil {
		return hedgeOut{}, err
	}
	if !found {
		// The whole hedge against the cash before anything is stored or sent:
		// refused whole (nothing recorded, so the same key works once the
		// cash is there), or sized to the cash when asked.
		plan, _, sized, err := d.planToCash(ctx, c.Principal, in.hedgeParams, by, func(p hedge.Plan) error {
			return d.Orders.CheckRisk(ctx, c.Principal, hedgeLegs(in.IdempotencyKey, p, nil))
		})
		if err != nil {
			return hedgeOut{}, err
		}
		if sp, err = d.commitHedge(k, storedPlan{Fingerprint: fp, Plan: plan, SizedToCash: sized}); err != nil {
			return hedgeOut{}, err
		}
	}
	plan := sp.Plan
	// Legs an earlier call had refused by the venue or the limits are tried
	// again under a fresh leg key: the refusal is stored under the old one.
	if sp, err = d.retryRefusedLegs(ctx, c.Principal, in.IdempotencyKey, k, sp); err != nil {
		return hedgeOut{}, err
	}
	legs := hedgeLegs(in.IdempotencyKey, plan, sp.Attempts)
	var fresh []orders.Leg
	var freshLegs []hedge.Leg
	for i, l := range legs {
		if _, used, err := d.Orders.Record(ctx, c.Principal, orders.ToolPlaceOrder, l.Key); err == nil && !used {
			fresh = append(fresh, l)
			freshLegs = append(freshLegs, plan.Legs[i])
		}
	}
	// The legs still to send, together, against the cash: a retry after a
	// refusal is refused whole too while the cash is short.
	cash, err := d.checkCash(ctx, c.Principal, freshLegs, in.SizeToCash && found)
	if err != nil {
		return hedgeOut{}, err
	}
	// The risk limits of every leg together, before any leg is sent, so that
	// a hedge the limits would cut short is refused whole. Each leg is checked
	// (and its refusal stored) again when it is placed. Guardrails' limits
	// live in orders; this is the seam.
	if err := d.Orders.CheckRisk(ctx, c.Principal, legs); err != nil {
		return hedgeOut{}, err
	}
	// Over the confirmation threshold, the person confirms the legs not
	// placed yet, once for the whole hedge; a decline is stored on each leg.
	conf, err := d.confirm(ctx, c, "hedge", fresh)
	if err != nil {
		return hedgeOut{}, err
	}
	out := hedgeResult(plan, d.now())
	out.CashAvailable, out.SizedToCash = cash, sp.SizedToCash
	for _, l := range freshLegs {
		out.CashNeeded += l.Cost
	}
	out.CashNeeded = sibyl.RoundMoney(out.CashNeeded)
	d.executeHedge(ctx, c, legs, plan, conf, &out)
	if out.Status == "failed" {
		return hedgeOut{}, allLegsFailed(out)
	}
	return out, nil
}

// planToCash plans the hedge and checks it against the principal's available
// cash at the legs' venues. risk is nil for a preview; for an execution it
// checks the risk limits of a plan's legs together and runs first (a hedge
// over the limits is refused as such). When the cash is short, an execution
// without SizeToCash is refused whole (insufficient_funds naming the
// shortfall); with SizeToCash the plan is made again with the cash as its
// budget. A preview is never refused for cash: it says what the cash is.
func (d *Deps) planToCash(ctx context.Context, principal string, in hedgeParams, by time.Time, risk func(hedge.Plan) error) (hedge.Plan, *float64, bool, error) {
	execute := risk != nil
	plan, err := d.planHedge(ctx, in, by)
	if err != nil {
		return plan, nil, false, err
	}
	if execute {
		if err := risk(plan); err != nil {
			return plan, nil, false, err
		}
	}
	avail, ok := d.cashAt(ctx, principal, plan.Legs)
	if !ok {
		return plan, nil, false, nil // the venues could not tell: the legs find out
	}
	cash := sibyl.RoundMoney(avail)
	if plan.TotalCost <= cash+0.005 {
		return plan, &cash, false, nil
	}
	if !in.SizeToCash {
		if execute {
			return plan, &cash, false, shortOfCash(plan.TotalCost, cash, len(plan.Legs))
		}
		plan.Risks = append(plan.Risks, fmt.Sprintf("Cash: this hedge costs %s and you have %s available; executed as it is it would be refused whole (nothing placed). Set size_to_cash=true for the best protection %s buys, hedge fewer tokens, or add cash.",
			money(plan.TotalCost), money(cash), money(cash)))
		return plan, &cash, false, nil
	}
	sized := in
	sized.Budget = cash
	if in.Budget > 0 && in.Budget < cash {
		sized.Budget = in.Budget
	}
	full := plan.TotalCost
	plan, err = d.planHedge(ctx, sized, by)
	if err != nil {
		if sibyl.ErrorField(err) == "budget" {
			return plan, &cash, false, sibyl.FieldErrorf(sibyl.InsufficientFunds, "size_to_cash",
				"your available cash, %s, buys no protection for this hedge (it costs %s): %s Nothing was placed.", money(cash), money(full), sibyl.ErrorMessage(err))
		}
		return plan, &cash, false, err
	}
	if plan.CostToMeetCap == 0 {
		plan.CostToMeetCap = full
	}
	plan.Risks = append(plan.Risks, fmt.Sprintf("Sized to cash: the hedge as asked costs %s; size_to_cash cut it to %s, what your %s of cash buys.", money(full), money(plan.TotalCost), money(cash)))
	return plan, &cash, true, nil
}

// shortOfCash is the whole-hedge refusal for lack of cash.
func shortOfCash(cost, cash float64, legs int) error {
	return sibyl.FieldErrorf(sibyl.InsufficientFunds, "quantity",
		"this hedge's %d legs cost %s (premium and estimated fees) and your available cash is %s: %s short. Nothing was placed or recorded. "+
			"Set size_to_cash=true to buy the best protection %s buys, hedge fewer tokens, raise max_loss or set a budget, or add cash (paper: sibyl paper fund); then call again (the same idempotency_key works)",
		legs, money(cost), money(cash), money(cost-cash), money(cash))
}

// cashAt returns the principal's available cash summed over the venues of
// legs; ok is false when a venue could not tell.
func (d *Deps) cashAt(ctx context.Context, principal string, legs []hedge.Leg) (float64, bool) {
	seen := map[string]bool{}
	total := 0.0
	for _, l := range legs {
		if seen[l.Venue] {
			continue
		}
		seen[l.Venue] = true
		v, ok := d.Venues[l.Venue]
		if !ok {
			return 0, false
		}
		p, err := v.Portfolio(ctx, principal)
		if err != nil {
			return 0, false
		}
		total += p.Cash
	}
	return total, len(seen) > 0
}

// checkCash refuses legs whose cost at a venue exceeds the principal's cash
// there. It returns the cash available over the legs' venues (nil when
// unknown or no legs remain).
func (d *Deps) checkCash(ctx context.Context, principal string, legs []hedge.Leg, askedToSize bool) (*float64, error) {
	if len(legs) == 0 {
		return nil, nil
	}
	need := map[string]float64{}
	for _, l := range legs {
		need[l.Venue] += l.Cost
	}
	total, totalNeed := 0.0, 0.0
	short := false
	for venue, n := range need {
		v, ok := d.Venues[venue]
		if !ok {
			return nil, nil
		}
		p, err := v.Portfolio(ctx, principal)
		if err != nil {
			return nil, nil // the venue refuses each leg itself
		}
		total += p.Cash
		totalNeed += n
		if sibyl.RoundMoney(n) > sibyl.RoundMoney(p.Cash)+0.005 {
			short = true
		}
	}
	cash := sibyl.RoundMoney(total)
	if short {
		err := shortOfCash(totalNeed, cash, len(legs))
		if askedToSize {
			err = sibyl.FieldErrorf(sibyl.InsufficientFunds, "quantity", "%s. This key's hedge was sized when it was first executed; size_to_cash cannot shrink it now: add cash, or plan a new hedge under a new key", sibyl.ErrorMessage(err))
		}
		return &cash, err
	}
	return &cash, nil
}

// retryRefusedLegs moves every leg whose current key holds a refusal (a
// deterministic rejection stored as done) to its next attempt key, and stores
// the attempts with the plan.
func (d *Deps) retryRefusedLegs(ctx context.Context, principal, key string, k []byte, sp storedPlan) (storedPlan, error) {
	if len(sp.Attempts) != len(sp.Plan.Legs) {
		sp.Attempts = make([]int, len(sp.Plan.Legs))
	}
	changed := false
	for i := range sp.Plan.Legs {
		rec, used, err := d.Orders.Record(ctx, principal, orders.ToolPlaceOrder, legKey(key, i, sp.Attempts[i]))
		if err != nil || !used || rec.State != store.Done || rec.Error == nil || rec.OrderID != "" {
			continue
		}
		if sp.Attempts[i] >= maxLegAttempts {
			return sp, sibyl.FieldErrorf(sibyl.Conflict, "idempotency_key",
				"leg %d of this hedge was refused %d times (last: %s: %s); plan a new hedge under a new idempotency_key", i+1, maxLegAttempts+1, rec.Error.Code, rec.Error.Message)
		}
		sp.Attempts[i]++
		changed = true
	}
	if !changed {
		return sp, nil
	}
	err := d.Store.UpdateBucket(bucketHedgePlans, func(b store.Bucket) error {
		raw, err := json.Marshal(sp)
		if err != nil {
			return err
		}
		return b.Put(k, raw)
	})
	if err != nil {
		return sp, sibyl.WrapError(sibyl.Internal, err, "storing the hedge's leg attempts")
	}
	return sp, nil
}

// allLegsFailed is the error of a hedge none of whose legs stands.
func allLegsFailed(out hedgeOut) error {
	code := sibyl.Code("")
	var parts []string
	for i, l := range out.Legs {
		if l.Error == nil {
			continue
		}
		if code == "" {
			code = sibyl.Code(l.Error.Code)
		} else if code != sibyl.Code(l.Error.Code) && sibyl.Code(l.Error.Code).Retryable() {
			code = sibyl.Code(l.Error.Code) // an unknown outcome matters most: retry reconciles it
		}
		parts = append(parts, fmt.Sprintf("leg %d (%s, %.0f contracts): %s: %s", i+1, l.Market, l.Contracts, l.Error.Code, l.Error.Message))
	}
	if code == "" {
		code = sibyl.Internal
	}
	return sibyl.Errorf(code, "no leg of the hedge was placed; nothing is held. %s. Once the cause is fixed, call hedge_position again with the same idempotency_key and arguments: refused legs are tried again under fresh leg keys, and a leg whose outcome was unknown is reconciled first",
		strings.Join(parts, "; "))
}

// planHedge gathers the markets, their books and prices and sizes the ladder.
func (d *Deps) planHedge(ctx context.Context, in hedgeParams, by time.Time) (hedge.Plan, error) {
	sym := feeds.NormalizeSymbol(in.Symbol)
	spot, _, err := d.Spot(sym)
	if err != nil {
		return hedge.Plan{}, err
	}
	feed := d.VolFeed
	if feed == "" {
		feed = d.DefaultFeed
	}
	src, ok := d.Feeds[feed]
	if !ok {
		return hedge.Plan{}, sibyl.Errorf(sibyl.Internal, "hedge volatility feed %q is not configured", feed)
	}
	to := feeds.LastCompleteDay(d.now())
	candles, err := src.Daily(ctx, sym, to.Add(-90*feeds.Day), to)
	if err != nil {
		return hedge.Plan{}, err
	}
	vol, err := hedge.RealisedVol(candles, 90)
	if err != nil {
		return hedge.Plan{}, err
	}
	names := in.Venues
	if len(names) == 0 {
		names = d.venueNames()
	}
	var markets []sibyl.Market
	for _, n := range names {
		v, err := d.venue(n, "venues")
		if err != nil {
			return hedge.Plan{}, err
		}
		q := sibyl.MarketQuery{Text: sym, Status: sibyl.StatusOpen, Limit: 100}
		for page := 0; page < 50; page++ {
			res, err := v.SearchMarkets(ctx, q)
			if err != nil {
				return hedge.Plan{}, err
			}
			markets = append(markets, res.Markets...)
			if res.NextCursor == "" {
				break
			}
			q.Cursor = res.NextCursor
		}
	}
	// With several venues, each strike is bought where it costs least all-in.
	var choices []string
	if len(names) > 1 {
		markets, choices = cheapestEquivalents(markets)
	}
	depth, err := d.hedgeBooks(ctx, sym, by, markets)
	if err != nil {
		return hedge.Plan{}, err
	}
	req := hedge.Request{Symbol: sym, Quantity: in.Quantity, EntryPrice: in.EntryPrice, ProtectBelow: in.ProtectBelow,
		By: by, MaxLoss: in.MaxLoss, Budget: in.Budget, Venues: in.Venues}
	plan, err := hedge.Planner{Fee: hedge.ProportionalFee(0.07), Depth: depth}.Plan(req, markets, spot, vol, d.now())
	if err != nil {
		return plan, err
	}
	// Say so for the strikes the plan uses.
	for _, c := range choices {
		for _, l := range plan.Legs {
			if strings.Contains(c, l.MarketID+" ") {
				plan.Risks = append(plan.Risks, c)
				break
			}
		}
	}
	return plan, nil
}

// hedgeBookDepth is how many ask levels a hedge leg may walk.
const hedgeBookDepth = 50

// hedgeBooks fetches the ask levels of the "pays below the strike" outcome of
// sym's open price markets at the first expiry on or after by (the one the
// planner uses), for sizing against depth. A market whose book cannot be read
// is left to its top of book.
func (d *Deps) hedgeBooks(ctx context.Context, sym string, by time.Time, markets []sibyl.Market) (map[string][]sibyl.PriceLevel, error) {
	var first time.Time
	for _, m := range markets {
		c, ok := hedge.Condition(m)
		if !ok || c.Symbol != sym || m.Status != sibyl.StatusOpen || c.Expiry.Before(by) {
			continue
		}
		if first.IsZero() || c.Expiry.Before(first) {
			first = c.Expiry
		}
	}
	out := map[string][]sibyl.PriceLevel{}
	for _, m := range markets {
		c, ok := hedge.Condition(m)
		if !ok || c.Symbol != sym || m.Status != sibyl.StatusOpen || !c.Expiry.Equal(first) {
			continue
		}
		outcome := "Yes"
		if c.Direction == hedge.Above {
			outcome = "No"
		}
		v, ok := d.Venues[m.Venue]
		if !ok {
			continue
		}
		_, native, _ := sibyl.SplitMarketID(m.ID)
		b, err := v.OrderBook(ctx, native, outcome, hedgeBookDepth)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		out[m.ID] = b.Asks
	}
	return out, nil
}

// storedHedge returns the plan an earlier call with the same key committed to.
func (d *Deps) storedHedge(k []byte, fp string) (storedPlan, bool, error) {
	var sp storedPlan
	found := false
	err := d.Store.ViewBucket(bucketHedgePlans, func(b store.Bucket) error {
		raw := b.Get(k)
		if raw == nil {
			return nil
		}
		found = true
		var err error
		sp, err = storedPlanFor(raw, fp)
		return err
	})
	if sibyl.ErrorCode(err) == sibyl.Internal {
		return storedPlan{}, false, sibyl.WrapError(sibyl.Internal, err, "reading the stored hedge plan")
	}
	return sp, found, err
}

// commitHedge stores the plan under the key (fsync'd before any leg is sent). If
// a concurrent call stored one first, that one wins and is returned.
func (d *Deps) commitHedge(k []byte, sp storedPlan) (storedPlan, error) {
	err := d.Store.UpdateBucket(bucketHedgePlans, func(b store.Bucket) error {
		if raw := b.Get(k); raw != nil {
			var err error
			sp, err = storedPlanFor(raw, sp.Fingerprint)
			return err
		}
		raw, err := json.Marshal(sp)
		if err != nil {
			return err
		}
		return b.Put(k, raw)
	})
	if sibyl.ErrorCode(err) == sibyl.Internal {
		return storedPlan{}, sibyl.WrapError(sibyl.Internal, err, "storing the hedge plan")
	}
	return sp, err
}

// storedPlanFor decodes a stored plan; a plan committed for other arguments is
// idempotency_key_reused.
func storedPlanFor(raw []byte, fp string) (storedPlan, error) {
	var sp storedPlan
	if err := json.Unmarshal(raw, &sp); err != nil {
		return storedPlan{}, err
	}
	if sp.Fingerprint != fp {
		return storedPlan{}, sibyl.FieldErrorf(sibyl.IdempotencyKeyReused, "idempotency_key", "this idempotency_key was used for a different hedge; use a new key for a new hedge")
	}
	return sp, nil
}

// hedgeLegs describes the plan's legs as executeHedge places them, each under
// its current attempt's key.
func hedgeLegs(key string, plan hedge.Plan, attempts []int) []orders.Leg {
	legs := make([]orders.Leg, len(plan.Legs))
	for i, l := range plan.Legs {
		a := 0
		if i < len(attempts) {
			a = attempts[i]
		}
		legs[i] = orders.Leg{Key: legKey(key, i, a), MarketID: l.MarketID, Order: sibyl.OrderRequest{Outcome: l.Outcome,
			Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(l.Contracts), LimitPrice: decimal.NewFromFloat(l.Price), TimeInForce: sibyl.GTC}}
	}
	return legs
}

func hedgeKey(principal, key string) []byte { return []byte(principal + "\x00" + key) }

// executeHedge places every leg exactly once under its leg key and fills in
// out's legs with what happened. A failed leg does not stop the others.
func (d *Deps) executeHedge(ctx context.Context, c *Call, legs []orders.Leg, plan hedge.Plan, conf *orders.Confirmation, out *hedgeOut) {
	out.Executed = true
	hedgeKeyArg, _, _ := strings.Cut(legs[0].Key, "/leg-")
	failed, resting := 0, 0.0
	for i, l := range plan.Legs {
		args, _ := json.Marshal(map[string]any{"market": l.MarketID, "outcome": l.Outcome, "side": "buy", "quantity": l.Contracts,
			"limit_price": l.Price, "time_in_force": "gtc", "hedge": hedgeKeyArg, "leg": i + 1})
		res, err := d.Orders.Place(ctx, orders.PlaceRequest{
			Principal: c.Principal, Session: c.SessionID, Transport: c.Transport,
			Key:            legs[i].Key,
			AllowDuplicate: true, // the hedge's own key guards against a doubled hedge
			MarketID:       l.MarketID,
			Order:          legs[i].Order,
			Args:           args,
			Confirmation:   conf,
		})
		leg := &out.Legs[i]
		leg.LegKey = legs[i].Key
		if err != nil {
			e := errorObject(ctx, c.Tool, err, c.log)
			leg.Status, leg.Error = "failed", &e
			failed++
			out.Unhedged += l.Contracts
			continue
		}
		o := res.Order
		if res.Replayed {
			// The stored answer is as of the first call; say what is true now.
			if v, ok := d.Venues[o.Venue]; ok && o.NativeID != "" {
				if now, err := v.GetOrder(ctx, c.Principal, o.NativeID); err == nil {
					o = now
				}
			}
		}
		filled := o.FilledQuantity.InexactFloat64()
		leg.OrderID, leg.Status, leg.Filled, leg.Replayed = o.NativeID, string(o.Status), filled, res.Replayed
		out.Unhedged += l.Contracts - filled
		if !o.Status.Final() {
			resting += l.Contracts - filled
		}
	}
	out.Unhedged = math.Round(out.Unhedged*1e6) / 1e6
	switch {
	case failed == len(plan.Legs) && failed > 0:
		out.Status = "failed"
	case failed > 0:
		out.Status = "partial"
		out.NextStep = fmt.Sprintf("%d of %d legs failed (see each leg's error); the placed legs stand. Fix the cause (for insufficient_funds: add cash or cancel resting orders), then call hedge_position again with the same idempotency_key and arguments: placed legs are replayed, refused ones tried again under fresh leg keys. Or cancel the placed legs with cancel_order.", failed, len(plan.Legs))
	case out.Unhedged > 0:
		out.Status = "resting"
		out.NextStep = fmt.Sprintf("Every leg is placed, but %.0f contracts rest on the book at their limit prices and protect nothing until they fill; get_order (by leg order_id or leg_key) shows progress; cancel_order stops a leg. The loss cap holds only once every leg has filled.", out.Unhedged)
		if resting == 0 {
			out.NextStep = fmt.Sprintf("Every leg is placed, but %.0f contracts did not fill and no longer rest (see each leg's status); plan a new hedge for the rest.", out.Unhedged)
		}
	default:
		out.Status = "filled"
		out.Complete = true
	}
	out.MeetsCap = out.MeetsCap && out.Complete
}

func hedgeResult(p hedge.Plan, now time.Time) hedgeOut {
	m := sibyl.RoundMoney
	out := hedgeOut{Symbol: p.Symbol, Quantity: p.Quantity, Spot: m(p.Spot), EntryPrice: m(p.EntryPrice), ProtectBelow: p.ProtectBelow,
		Floor: m(p.Floor), Expiry: p.Expiry.UTC(), Vol: sibyl.RoundProbability(p.Vol), Legs: make([]HedgeLegOut, len(p.Legs)), TotalCost: m(p.TotalCost),
		MaxLoss: m(p.MaxLoss), WorstPrice: m(p.WorstPrice), Cap: m(p.Cap), MeetsCap: p.MeetsCap, Shortfall: m(p.Shortfall), CostToMeet: m(p.CostToMeetCap),
		Scenarios: make([]HedgeScenarioOut, len(p.Scenarios)), Risks: append([]string{}, p.Risks...), Simulated: p.Simulated, Timestamp: now,
		Status: "preview"}
	for i, l := range p.Legs {
		out.Legs[i] = HedgeLegOut{Market: l.MarketID, Question: l.Question, Outcome: l.Outcome, Contracts: l.Contracts, Price: sibyl.RoundProbability(l.Price),
			AveragePrice: sibyl.RoundProbability(l.AvgPrice), FillNow: l.FillNow, Rests: l.Rests,
			Cost: m(l.Cost), Strike: l.Strike, Expiry: l.Expiry.UTC(), FairProbability: sibyl.RoundProbability(l.FairProbability),
			Edge: sibyl.RoundProbability(l.Edge), OrderID: l.OrderID}
	}
	for i, s := range p.Scenarios {
		out.Scenarios[i] = HedgeScenarioOut{Price: m(s.Price), Move: sibyl.RoundProbability(s.Move), UnhedgedPnL: m(s.UnhedgedPnL),
			HedgePayoff: m(s.HedgePayoff), HedgedPnL: m(s.HedgedPnL), Label: s.Label}
	}
	return out
}

// money formats dollars with thousands separators and cents: $12,345.67.
func money(x float64) string {
	neg := x < 0
	c := int64(math.Round(math.Abs(x) * 100))
	whole, cents := c/100, c%100
	s := fmt.Sprintf("%d", whole)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return fmt.Sprintf("-$%s.%02d", s, cents)
	}
	return fmt.Sprintf("$%s.%02d", s, cents)
}
