package tools

import (
	"context"
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/feeds"
	"github.com/sibylmcp/sibyl/hedge"
	"github.com/sibylmcp/sibyl/orders"
	"github.com/sibylmcp/sibyl/store"
)

// HedgeTools returns hedge_position. It is left out without a spot price source,
// price feeds, or the order service.
func HedgeTools(d *Deps) []Tool {
	if d.Spot == nil || len(d.Feeds) == 0 || d.Orders == nil || d.Store == nil {
		return nil
	}
	t := New("hedge_position", "Hedge a token position",
		"Plan, and with execute=true place, a hedge of a long token position with prediction-market contracts: a ladder of 'price below K at expiry' contracts "+
			"(buying No on 'above K' markets) at the first expiry on or after 'by', sized so the hedged loss stays within a cap, the cheapest such ladder "+
			"(or the best the budget buys, with the shortfall stated). The answer has each leg, the total cost, the worst hedged loss, a scenario table "+
			"from -60% to +30% of spot, and the residual risks. Preview by default; execute=true places every leg exactly once under "+
			"'<idempotency_key>/leg-<n>': a retry with the same key completes only missing legs and never doubles one.",
		writeTool, ScopeRead, d.hedgePosition)
	// The registry audits the call itself; executed legs are audited again, each in
	// its own transaction, by the order path.
	return []Tool{t}
}

type hedgeIn struct {
	Symbol         string   `json:"symbol" jsonschema:"minLength=1,maxLength=20" jsonschema_description:"Token held, such as BTC."`
	Quantity       float64  `json:"quantity" jsonschema:"exclusiveMinimum=0" jsonschema_description:"Tokens held (the long position to protect)."`
	EntryPrice     float64  `json:"entry_price,omitempty" jsonschema:"minimum=0" jsonschema_description:"Price paid per token in USD; omit to use spot (protecting today's value)."`
	ProtectBelow   float64  `json:"protect_below" jsonschema:"exclusiveMinimum=0" jsonschema_description:"Price level in USD, below spot, under which losses should stop growing."`
	By             string   `json:"by" jsonschema:"pattern=^[0-9]{4}-[0-9]{2}-[0-9]{2}$" jsonschema_description:"The hedge must last until this UTC day (YYYY-MM-DD): legs expire on the first listed expiry on or after it."`
	MaxLoss        *float64 `json:"max_loss,omitempty" jsonschema:"minimum=0" jsonschema_description:"Cap in USD on the hedged loss, premium and fees included, at any settlement price down to the floor (-60%). Omit for put-like protection: the loss before premium stays within the loss at protect_below."`
	Budget         float64  `json:"budget,omitempty" jsonschema:"minimum=0" jsonschema_description:"Most to spend in USD, fees included. When the cap costs more, the plan is the best the budget buys and states the shortfall."`
	Venues         []string `json:"venues,omitempty" jsonschema:"maxItems=10,maxLength=40" jsonschema_description:"Only markets of these venues; omit for all."`
	Execute        bool     `json:"execute,omitempty" jsonschema_description:"false (default): preview only. true: place every leg (needs idempotency_key and the trade scope)."`
	IdempotencyKey string   `json:"idempotency_key,omitempty" jsonschema:"maxLength=118,pattern=^[A-Za-z0-9_.:/-]{8\\,118}$" jsonschema_description:"Required with execute: your unique id for this one hedge, 8-118 characters of A-Z a-z 0-9 _ . : / - (a UUID is fine). Reuse it verbatim on every retry: legs already placed are replayed, missing ones placed once."`
}

// HedgeLegOut is one leg of a hedge.
type HedgeLegOut struct {
	Market          string       `json:"market" jsonschema_description:"Market id."`
	Question        string       `json:"question" jsonschema_description:"The market's question."`
	Outcome         string       `json:"outcome" jsonschema_description:"Outcome bought: pays $1 a contract when the price at expiry is below the strike."`
	Contracts       float64      `json:"contracts" jsonschema_description:"Contracts to buy."`
	Price           float64      `json:"price" jsonschema_description:"Limit price paid, dollars per contract (the best ask when planned)."`
	Cost            float64      `json:"cost" jsonschema_description:"price x contracts plus the estimated fee, dollars."`
	Strike          float64      `json:"strike" jsonschema_description:"Pays when the token settles below this price."`
	Expiry          time.Time    `json:"expiry" jsonschema_description:"When the price is observed (RFC 3339, UTC)."`
	FairProbability float64      `json:"fair_probability" jsonschema_description:"Lognormal model probability that this leg pays, from realised volatility."`
	Edge            float64      `json:"edge" jsonschema_description:"fair_probability minus price: positive means cheap against the model."`
	OrderID         string       `json:"order_id" jsonschema_description:"The placed order's id; empty in a preview."`
	Status          string       `json:"status,omitempty" jsonschema_description:"With execute: the order's status (filled, open = resting at the limit, ...), or failed."`
	Filled          float64      `json:"filled,omitempty" jsonschema_description:"With execute: contracts filled so far."`
	Replayed        bool         `json:"replayed,omitempty" jsonschema_description:"With execute: the leg was placed by an earlier call with the same key."`
	Error           *ErrorObject `json:"error,omitempty" jsonschema_description:"With execute: why this leg failed; retry with the same key when retryable."`
}

// HedgeScenarioOut is one settlement price of the scenario table.
type HedgeScenarioOut struct {
	Price       float64 `json:"price" jsonschema_description:"Token settlement price, USD."`
	Move        float64 `json:"move" jsonschema_description:"price / spot - 1."`
	UnhedgedPnL float64 `json:"unhedged_pnl" jsonschema_description:"Position P&L without the hedge, USD."`
	HedgePayoff float64 `json:"hedge_payoff" jsonschema_description:"What the legs pay, USD."`
	HedgedPnL   float64 `json:"hedged_pnl" jsonschema_description:"unhedged_pnl + hedge_payoff - total_cost, USD."`
	Label       string  `json:"label,omitempty" jsonschema_description:"Why this row is here, when it is not a grid row."`
}

type hedgeOut struct {
	Symbol       string             `json:"symbol" jsonschema_description:"Token."`
	Quantity     float64            `json:"quantity" jsonschema_description:"Tokens protected."`
	Spot         float64            `json:"spot" jsonschema_description:"Spot price used, USD."`
	EntryPrice   float64            `json:"entry_price" jsonschema_description:"Entry price used, USD."`
	ProtectBelow float64            `json:"protect_below" jsonschema_description:"Protection level, USD."`
	Floor        float64            `json:"floor" jsonschema_description:"Lowest settlement price the ladder covers, USD."`
	Expiry       time.Time          `json:"expiry" jsonschema_description:"The legs' expiry (RFC 3339, UTC)."`
	Vol          float64            `json:"vol" jsonschema_description:"Annualised realised volatility used for fair probabilities."`
	Legs         []HedgeLegOut      `json:"legs" jsonschema_description:"The orders, highest strike first."`
	TotalCost    float64            `json:"total_cost" jsonschema_description:"Sum of the legs' cost (premium plus estimated fees), USD."`
	MaxLoss      float64            `json:"max_loss" jsonschema_description:"Worst hedged loss over every settlement price from the floor up, premium included, USD."`
	WorstPrice   float64            `json:"worst_price" jsonschema_description:"Where that worst loss occurs."`
	Cap          float64            `json:"cap" jsonschema_description:"The loss cap the ladder was sized for, premium included, USD."`
	MeetsCap     bool               `json:"meets_cap" jsonschema_description:"True when max_loss is within the cap."`
	Shortfall    float64            `json:"shortfall" jsonschema_description:"How far max_loss exceeds the cap when the budget could not buy it, USD."`
	CostToMeet   float64            `json:"cost_to_meet_cap,omitempty" jsonschema_description:"What the cheapest ladder meeting the cap would cost, when the budget bought less."`
	Scenarios    []HedgeScenarioOut `json:"scenarios" jsonschema_description:"Settlement prices from -60% to +30% of spot with the unhedged and hedged P&L."`
	Risks        []string           `json:"risks" jsonschema_description:"Residual risks in words."`
	Executed     bool               `json:"executed" jsonschema_description:"True when the legs were placed."`
	Complete     bool               `json:"complete" jsonschema_description:"With execute: every leg was placed (filled or resting). False: retry with the same key."`
	Unhedged     float64            `json:"unhedged_contracts" jsonschema_description:"With execute: planned contracts not yet filled (resting or failed legs)."`
	Simulated    bool               `json:"simulated" jsonschema_description:"True when the legs are on a simulated venue."`
	Timestamp    time.Time          `json:"timestamp" jsonschema_description:"When this answer was made (RFC 3339, UTC)."`
}

const bucketHedgePlans = "hedge_plans"

// storedPlan is the plan an executed hedge committed to, kept under its key so
// that a retry places the same legs even when prices moved since.
type storedPlan struct {
	Fingerprint string     `json:"fingerprint"`
	Plan        hedge.Plan `json:"plan"`
}

func (d *Deps) hedgePosition(ctx context.Context, c *Call, in hedgeIn) (hedgeOut, error) {
	if in.Execute {
		if !c.Allowed(ScopeTrade) {
			return hedgeOut{}, sibyl.FieldErrorf(sibyl.Unauthorized, "execute", "placing a hedge needs an API key with the trade scope; execute=false previews it")
		}
		if in.IdempotencyKey == "" {
			return hedgeOut{}, sibyl.FieldErrorf(sibyl.Invalid, "idempotency_key", "execute=true needs an idempotency_key (a UUID is fine); reuse it on every retry of this hedge")
		}
		if err := orders.ValidateKey(in.IdempotencyKey); err != nil {
			return hedgeOut{}, err
		}
	}
	by, err := parseDay(in.By, "by")
	if err != nil {
		return hedgeOut{}, err
	}
	if !in.Execute {
		plan, err := d.planHedge(ctx, in, by)
		if err != nil {
			return hedgeOut{}, err
		}
		return hedgeResult(plan, d.now()), nil
	}
	fp, err := store.Fingerprint(c.Args, "idempotency_key")
	if err != nil {
		return hedgeOut{}, sibyl.WrapError(sibyl.Invalid, err, "the arguments are not canonical JSON")
	}
	k := hedgeKey(c.Principal, in.IdempotencyKey)
	// A retry must place the legs of the plan the first call committed to, even
	// when prices moved since.
	plan, found, err := d.storedHedge(k, fp)
	if err != nil {
		return hedgeOut{}, err
	}
	if !found {
		if plan, err = d.planHedge(ctx, in, by); err != nil {
			return hedgeOut{}, err
		}
		if plan, err = d.commitHedge(k, fp, plan); err != nil {
			return hedgeOut{}, err
		}
	}
	out := hedgeResult(plan, d.now())
	d.executeHedge(ctx, c, in.IdempotencyKey, plan, &out)
	return out, nil
}

// planHedge gathers the markets and prices and sizes the ladder.
func (d *Deps) planHedge(ctx context.Context, in hedgeIn, by time.Time) (hedge.Plan, error) {
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
	req := hedge.Request{Symbol: sym, Quantity: in.Quantity, EntryPrice: in.EntryPrice, ProtectBelow: in.ProtectBelow,
		By: by, MaxLoss: in.MaxLoss, Budget: in.Budget, Venues: in.Venues}
	return hedge.Planner{Fee: hedge.ProportionalFee(0.07)}.Plan(req, markets, spot, vol, d.now())
}

// storedHedge returns the plan an earlier call with the same key committed to.
func (d *Deps) storedHedge(k []byte, fp string) (hedge.Plan, bool, error) {
	var plan hedge.Plan
	found := false
	err := d.Store.ViewBucket(bucketHedgePlans, func(b *store.Bucket) error {
		raw := b.Get(k)
		if raw == nil {
			return nil
		}
		found = true
		var err error
		plan, err = storedPlanFor(raw, fp)
		return err
	})
	if sibyl.ErrorCode(err) == sibyl.Internal {
		return hedge.Plan{}, false, sibyl.WrapError(sibyl.Internal, err, "reading the stored hedge plan")
	}
	return plan, found, err
}

// commitHedge stores the plan under the key (fsync'd before any leg is sent). If
// a concurrent call stored one first, that one wins and is returned.
func (d *Deps) commitHedge(k []byte, fp string, plan hedge.Plan) (hedge.Plan, error) {
	err := d.Store.UpdateBucket(bucketHedgePlans, func(b *store.Bucket) error {
		if raw := b.Get(k); raw != nil {
			var err error
			plan, err = storedPlanFor(raw, fp)
			return err
		}
		raw, err := json.Marshal(storedPlan{Fingerprint: fp, Plan: plan})
		if err != nil {
			return err
		}
		return b.Put(k, raw)
	})
	if sibyl.ErrorCode(err) == sibyl.Internal {
		return hedge.Plan{}, sibyl.WrapError(sibyl.Internal, err, "storing the hedge plan")
	}
	return plan, err
}

// storedPlanFor decodes a stored plan; a plan committed for other arguments is
// idempotency_key_reused.
func storedPlanFor(raw []byte, fp string) (hedge.Plan, error) {
	var sp storedPlan
	if err := json.Unmarshal(raw, &sp); err != nil {
		return hedge.Plan{}, err
	}
	if sp.Fingerprint != fp {
		return hedge.Plan{}, sibyl.FieldErrorf(sibyl.IdempotencyKeyReused, "idempotency_key", "this idempotency_key was used for a different hedge; use a new key for a new hedge")
	}
	return sp.Plan, nil
}

func hedgeKey(principal, key string) []byte { return []byte(principal + "\x00" + key) }

// executeHedge places every leg exactly once under its leg key and fills in
// out's legs with what happened. A failed leg does not stop the others.
func (d *Deps) executeHedge(ctx context.Context, c *Call, key string, plan hedge.Plan, out *hedgeOut) {
	out.Executed, out.Complete = true, true
	for i, l := range plan.Legs {
		args, _ := json.Marshal(map[string]any{"market": l.MarketID, "outcome": l.Outcome, "side": "buy", "quantity": l.Contracts,
			"limit_price": l.Price, "time_in_force": "gtc", "hedge": key, "leg": i + 1})
		res, err := d.Orders.Place(ctx, orders.PlaceRequest{
			Principal: c.Principal, Session: c.SessionID, Transport: c.Transport,
			Key:            orders.LegKey(key, i+1),
			AllowDuplicate: true, // the hedge's own key guards against a doubled hedge
			MarketID:       l.MarketID,
			Order: sibyl.OrderRequest{Outcome: l.Outcome, Side: sibyl.Buy, Type: sibyl.LimitOrder, Quantity: decimal.NewFromFloat(l.Contracts),
				LimitPrice: decimal.NewFromFloat(l.Price), TimeInForce: sibyl.GTC},
			Args: args,
		})
		leg := &out.Legs[i]
		if err != nil {
			e := errorObject(ctx, c.Tool, err, c.log)
			leg.Status, leg.Error = "failed", &e
			out.Complete = false
			out.Unhedged += l.Contracts
			continue
		}
		filled := res.Order.FilledQuantity.InexactFloat64()
		leg.OrderID, leg.Status, leg.Filled, leg.Replayed = res.Order.NativeID, string(res.Order.Status), filled, res.Replayed
		out.Unhedged += l.Contracts - filled
	}
	if !out.Complete {
		out.Risks = append(out.Risks, "Some legs failed (see their error): call hedge_position again with the same idempotency_key and arguments to place only the missing legs.")
	}
}

func hedgeResult(p hedge.Plan, now time.Time) hedgeOut {
	out := hedgeOut{Symbol: p.Symbol, Quantity: p.Quantity, Spot: p.Spot, EntryPrice: p.EntryPrice, ProtectBelow: p.ProtectBelow,
		Floor: p.Floor, Expiry: p.Expiry.UTC(), Vol: p.Vol, Legs: make([]HedgeLegOut, len(p.Legs)), TotalCost: p.TotalCost,
		MaxLoss: p.MaxLoss, WorstPrice: p.WorstPrice, Cap: p.Cap, MeetsCap: p.MeetsCap, Shortfall: p.Shortfall, CostToMeet: p.CostToMeetCap,
		Scenarios: make([]HedgeScenarioOut, len(p.Scenarios)), Risks: append([]string{}, p.Risks...), Simulated: p.Simulated, Timestamp: now}
	for i, l := range p.Legs {
		out.Legs[i] = HedgeLegOut{Market: l.MarketID, Question: l.Question, Outcome: l.Outcome, Contracts: l.Contracts, Price: l.Price,
			Cost: l.Cost, Strike: l.Strike, Expiry: l.Expiry.UTC(), FairProbability: l.FairProbability, Edge: l.Edge, OrderID: l.OrderID}
	}
	for i, s := range p.Scenarios {
		out.Scenarios[i] = HedgeScenarioOut{Price: s.Price, Move: s.Move, UnhedgedPnL: s.UnhedgedPnL, HedgePayoff: s.HedgePayoff, HedgedPnL: s.HedgedPnL, Label: s.Label}
	}
	return out
}
