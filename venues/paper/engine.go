package paper

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
)

const maxQuantity = 1_000_000

// housekeep expires resting orders of markets that closed and settles
// positions of markets whose settlement time passed, in time order.
func (v *Venue) housekeep(now time.Time, t *tx) {
	for len(v.st.sched) > 0 && !v.st.sched[0].at.After(now) {
		ev := heap.Pop(&v.st.sched).(schedEvent)
		ms := v.st.markets[ev.id]
		if ms == nil {
			continue
		}
		switch ev.kind {
		case evExpire:
			v.expireMarket(ms, ev.at, t)
		case evSettle:
			v.settleMarket(ms, t)
			delete(v.st.markets, ev.id)
		}
	}
}

func (v *Venue) expireMarket(ms *mstate, at time.Time, t *tx) {
	for _, side := range []*[ticks][]*order{&ms.bids, &ms.asks} {
		for tk := range side {
			for _, o := range side[tk] {
				v.release(o, t)
				o.Status = sibyl.OrderExpired
				o.UpdatedAt = at
			}
			side[tk] = nil
		}
	}
	ms.resting = 0
}

func (v *Venue) settleMarket(ms *mstate, t *tx) {
	yes := ms.def.resultYes()
	for p := range ms.holders {
		a := v.st.accounts[p]
		if a == nil {
			continue
		}
		for _, out := range []string{"Yes", "No"} {
			pos := a.Positions[posKey(ms.def.id, out)]
			if pos == nil || pos.Settled {
				continue
			}
			var pay int64
			if (out == "Yes") == yes {
				pay = 100
			}
			a.Cash += pos.Qty * pay
			pos.Realized += pos.Qty*pay - pos.Cost
			pos.Qty, pos.Cost, pos.Committed = 0, 0, 0
			pos.Settled, pos.Payout = true, pay
			t.accounts[a] = struct{}{}
		}
	}
}

// release undoes the reservation of a resting order and takes it off its
// principal's open set (the caller removes it from the book).
func (v *Venue) release(o *order, t *tx) {
	a := v.st.accounts[o.Principal]
	if o.Side == sibyl.Buy {
		a.Reserved -= o.Reserved
		a.Cash += o.Reserved
		o.Reserved = 0
	} else if pos := a.Positions[posKey(o.Native, o.Outcome)]; pos != nil {
		pos.Committed = max(pos.Committed-o.Remaining, 0)
	}
	delete(a.open, o.NativeID)
	t.orders[o] = struct{}{}
	t.accounts[a] = struct{}{}
}

// reserveFor is what a resting buy of n contracts at limit px must hold.
func (v *Venue) reserveFor(n, px int64) int64 { return n*px + v.fee.maker(n, px) }

// maxCatchup bounds how many missed refresh buckets syncMarket replays.
const maxCatchup = 1440

// syncMarket matches principals' resting orders against the market makers'
// quotes of every refresh bucket since it last ran (at most maxCatchup
// buckets back): when the simulated market moved through a resting order, the
// market makers took it at the order's limit price at the start of that
// bucket. Replaying the buckets makes the fills independent of when anyone
// looks.
func (v *Venue) syncMarket(ms *mstate, now time.Time, t *tx) {
	if ms.def.status(now) != sibyl.StatusOpen {
		return
	}
	if ms.resting == 0 {
		ms.synced, ms.syncBucket = true, v.bucketIndex(now)
		return
	}
	v.mmState(ms, now)
	cur := ms.bucket
	if ms.synced && ms.syncBucket >= cur {
		return
	}
	from := cur - maxCatchup + 1
	if ms.synced && ms.syncBucket+1 > from {
		from = ms.syncBucket + 1
	}
	fills := v.st.fillSeq
	for b := from; b <= cur && ms.resting > 0; b++ {
		start := time.Unix(0, b*int64(v.opts.MMRefresh)).UTC()
		if b == cur {
			v.cross(ms, &ms.q, &ms.used, b, start, true, t)
			continue
		}
		q := v.quotes(ms.def, b, start)
		var used [2][ticks]int64
		v.cross(ms, &q, &used, b, start, false, t)
	}
	ms.synced, ms.syncBucket = true, cur
	if v.st.fillSeq != fills {
		// Store how far the replay went with its fills, so that a reload
		// (a restart, another instance) does not replay those buckets again
		// and fill a partly filled order twice.
		t.mm[ms] = struct{}{}
	}
}

// cross fills resting orders that the quotes q of bucket b (with used
// already taken) cross, best price first, FIFO within a price. Orders placed
// in bucket b or later are not eligible: they were matched against those
// quotes when placed.
func (v *Venue) cross(ms *mstate, q *mmQuote, used *[2][ticks]int64, b int64, at time.Time, current bool, t *tx) {
	avail := func(side, tick int) int64 {
		s := q.bid[tick]
		if side == 1 {
			s = q.ask[tick]
		}
		return max(s-used[side][tick], 0)
	}
	// fill fills o (resting at tk) from MM levels on mmSide that cross it and
	// reports whether o was completely filled.
	fill := func(o *order, tk, mmSide int) bool {
		if v.bucketIndex(o.CreatedAt) >= b {
			return false // and so are the later orders at this price
		}
		for o.Remaining > 0 {
			lvl := 0
			if mmSide == 1 {
				for x := 1; x <= tk && lvl == 0; x++ {
					if avail(1, x) > 0 {
						lvl = x
					}
				}
			} else {
				for x := ticks - 1; x >= tk && lvl == 0; x-- {
					if avail(0, x) > 0 {
						lvl = x
					}
				}
			}
			if lvl == 0 {
				return false
			}
			n := min(o.Remaining, avail(mmSide, lvl))
			used[mmSide][lvl] += n
			if current {
				t.mm[ms] = struct{}{}
			}
			v.execute(o, tk, n, true, at, t)
			if o.Remaining == 0 {
				v.unbook(ms, o)
			}
		}
		return true
	}
	for tk := ticks - 1; tk >= 1; tk-- {
		for len(ms.bids[tk]) > 0 && fill(ms.bids[tk][0], tk, 1) {
		}
	}
	for tk := 1; tk < ticks; tk++ {
		for len(ms.asks[tk]) > 0 && fill(ms.asks[tk][0], tk, 0) {
		}
	}
}

// execute applies a fill of n contracts at Yes tick tk to order o and its
// principal's account.
func (v *Venue) execute(o *order, tk int, n int64, maker bool, at time.Time, t *tx) {
	a := v.st.accounts[o.Principal]
	px := o.outcomePx(tk)
	var fee int64
	if maker {
		fee = v.fee.maker(n, px)
	} else {
		fee = v.fee.taker(n, px)
	}
	key := posKey(o.Native, o.Outcome)
	pos := a.Positions[key]
	if pos == nil {
		pos = &position{Market: o.Native, Outcome: o.Outcome}
		a.Positions[key] = pos
	}
	if o.Side == sibyl.Buy {
		if maker {
			// release this fill's share of the reservation
			newRes := v.reserveFor(o.Remaining-n, o.outcomePx(o.Tick))
			rel := o.Reserved - newRes
			o.Reserved = newRes
			a.Reserved -= rel
			a.Cash += rel
		}
		a.Cash -= n*px + fee
		pos.Qty += n
		pos.Cost += n * px
		pos.Realized -= fee
	} else {
		a.Cash += n*px - fee
		basis := pos.Cost
		if pos.Qty > 0 {
			basis = int64(math.Round(float64(pos.Cost) * float64(n) / float64(pos.Qty)))
		}
		pos.Cost -= basis
		pos.Qty -= n
		pos.Realized += n*px - basis - fee
		if maker {
			pos.Committed = max(pos.Committed-n, 0)
		}
	}
	if ms := v.st.markets[o.Native]; ms != nil {
		ms.holders[o.Principal] = struct{}{}
	}
	v.st.fillSeq++
	t.meta = true
	o.Fills = append(o.Fills, sibyl.Fill{
		ID: fmt.Sprintf("PF-%08d", v.st.fillSeq), Price: decimal.New(px, -2), Quantity: decimal.NewFromInt(n),
		Fee: decimal.New(fee, -2), Maker: maker, Time: at,
	})
	o.Remaining -= n
	o.FilledQuantity = o.FilledQuantity.Add(decimal.NewFromInt(n))
	o.Notional += n * px
	o.AveragePrice = decimal.New(o.Notional, -2).DivRound(o.FilledQuantity, 4)
	o.Fees = o.Fees.Add(decimal.New(fee, -2))
	o.UpdatedAt = at
	switch {
	case o.Remaining == 0:
		o.Status = sibyl.OrderFilled
	default:
		o.Status = sibyl.OrderPartiallyFilled
	}
	t.orders[o] = struct{}{}
	t.accounts[a] = struct{}{}
}

// unbook removes o from its market's book and its principal's open set.
func (v *Venue) unbook(ms *mstate, o *order) {
	side := &ms.asks
	if o.YesBid {
		side = &ms.bids
	}
	q := side[o.Tick]
	for i, x := range q {
		if x == o {
			side[o.Tick] = append(q[:i:i], q[i+1:]...)
			ms.resting--
			break
		}
	}
	if a := v.st.accounts[o.Principal]; a != nil {
		delete(a.open, o.NativeID)
	}
}

// book adds o to its market's book (FIFO within its tick).
func (v *Venue) book(ms *mstate, o *order) {
	if o.YesBid {
		ms.bids[o.Tick] = append(ms.bids[o.Tick], o)
	} else {
		ms.asks[o.Tick] = append(ms.asks[o.Tick], o)
	}
	ms.resting++
	v.st.accounts[o.Principal].open[o.NativeID] = o
	// The order was matched against the quotes of the bucket it was placed in:
	// replay only later buckets.
	b, _ := v.bucketOf(o.CreatedAt)
	if !ms.synced || b < ms.syncBucket {
		ms.synced, ms.syncBucket = true, b
	}
}

// planned is one fill of an incoming order: against resting order o, or the
// market makers when o is nil.
type planned struct {
	o    *order
	tick int
	n    int64
}

// plan walks the opposite side of the Yes book from the best price up to the
// limit tick in price-time priority (market makers' quotes count as placed at
// the start of their refresh bucket, ahead of orders placed at that instant) and returns the fills, without changing
// anything. Principals never trade with themselves: their own resting orders
// are skipped.
func (v *Venue) plan(ms *mstate, principal string, yesBid bool, limit int, qty int64, mmTime time.Time) ([]planned, int64) {
	var out []planned
	left := qty
	side, mmSide := &ms.asks, 1
	first, last, step := 1, limit, 1
	if !yesBid {
		side, mmSide = &ms.bids, 0
		first, last, step = ticks-1, limit, -1
	}
	for tk := first; left > 0 && (step > 0 && tk <= last || step < 0 && tk >= last); tk += step {
		mm := ms.mmAvail(mmSide, tk)
		mmDone := mm == 0
		takeMM := func() {
			if !mmDone && left > 0 {
				n := min(mm, left)
				out = append(out, planned{nil, tk, n})
				left -= n
			}
			mmDone = true
		}
		for _, r := range side[tk] {
			if left == 0 {
				break
			}
			if !mmDone && !r.CreatedAt.Before(mmTime) {
				takeMM()
			}
			if r.Principal == principal || left == 0 {
				continue
			}
			n := min(r.Remaining, left)
			out = append(out, planned{r, tk, n})
			left -= n
		}
		takeMM()
	}
	return out, qty - left
}

// validate checks an order request and returns the canonical outcome, the
// Yes-book side, the limit tick and the quantity.
func validate(req *sibyl.OrderRequest) (outcome string, yesBid bool, tick int, qty int64, err error) {
	if strings.TrimSpace(req.Principal) == "" {
		return "", false, 0, 0, sibyl.FieldErrorf(sibyl.Invalid, "principal", "principal is required")
	}
	if outcome, err = parseOutcome(req.Outcome); err != nil {
		return
	}
	if req.Side != sibyl.Buy && req.Side != sibyl.Sell {
		return "", false, 0, 0, sibyl.FieldErrorf(sibyl.Invalid, "side", "side must be buy or sell (got %q)", req.Side)
	}
	switch req.Type {
	case sibyl.LimitOrder, sibyl.MarketOrder:
	default:
		return "", false, 0, 0, sibyl.FieldErrorf(sibyl.Invalid, "type", "type must be limit or market (got %q)", req.Type)
	}
	switch req.TimeInForce {
	case "":
		if req.Type == sibyl.MarketOrder {
			req.TimeInForce = sibyl.IOC
		} else {
			req.TimeInForce = sibyl.GTC
		}
	case sibyl.GTC, sibyl.IOC, sibyl.FOK:
	default:
		return "", false, 0, 0, sibyl.FieldErrorf(sibyl.Invalid, "time_in_force", "time_in_force must be gtc, ioc or fok (got %q)", req.TimeInForce)
	}
	if req.Type == sibyl.MarketOrder && req.TimeInForce == sibyl.GTC {
		req.TimeInForce = sibyl.IOC // market orders never rest
	}
	q := req.Quantity
	if !q.IsPositive() {
		return "", false, 0, 0, sibyl.FieldErrorf(sibyl.Invalid, "quantity", "quantity must be a positive number of contracts (got %s)", q)
	}
	if !q.IsInteger() {
		return "", false, 0, 0, sibyl.FieldErrorf(sibyl.Invalid, "quantity", "quantity must be a whole number of contracts (got %s); valid quantities: multiples of 1 contract", q)
	}
	if q.GreaterThan(decimal.NewFromInt(maxQuantity)) {
		return "", false, 0, 0, sibyl.FieldErrorf(sibyl.Invalid, "quantity", "quantity %s is above the paper venue's limit of %d contracts per order", q, maxQuantity)
	}
	qty = q.IntPart()
	p := req.LimitPrice
	opx := 0 // limit in outcome cents, 0 = none
	if req.Type == sibyl.LimitOrder || !p.IsZero() {
		if p.LessThan(decimal.New(1, -2)) || p.GreaterThan(decimal.New(99, -2)) { // off the range, not merely off the tick (0.005 has no tick below it)
			return "", false, 0, 0, sibyl.FieldErrorf(sibyl.Invalid, "limit_price", "limit_price must be between 0.01 and 0.99 dollars (got %s)", p)
		}
		c := p.Shift(2)
		if !c.IsInteger() {
			return "", false, 0, 0, sibyl.FieldErrorf(sibyl.Invalid, "limit_price", "limit_price %s is not on the $0.01 tick (valid prices: 0.01-0.99 step 0.01); use %s or %s",
				p, p.RoundFloor(2).StringFixed(2), p.RoundCeil(2).StringFixed(2))
		}
		opx = int(c.IntPart())
	}
	// Map to the Yes book: buying Yes or selling No bids on Yes.
	buy := req.Side == sibyl.Buy
	yesBid = buy == (outcome == "Yes")
	switch {
	case opx == 0 && yesBid:
		tick = 99
	case opx == 0:
		tick = 1
	case outcome == "Yes":
		tick = opx
	default:
		tick = 100 - opx
	}
	return outcome, yesBid, tick, qty, nil
}

// PlaceOrder validates, matches and (for gtc limit orders) rests an order, and
// commits the result in one store transaction.
//
// Rules: quantities are whole contracts (at most 1,000,000); limit prices are
// on the $0.01 tick in [0.01, 0.99]; a market order takes liquidity up to
// LimitPrice when one is given (else at any price) and never rests; gtc rests
// the remainder, ioc cancels it, fok fills everything at once or is cancelled
// with nothing filled. Matching is price-time priority against the simulated
// market makers and every principal's resting orders (never one's own).
// Fills of the incoming order pay the taker fee, resting orders the maker fee
// (see Options.FeeRate). Buying needs cash for the fills, their fees and the
// resting part at its limit (held as Reserved) - else InsufficientFunds stating
// available and needed amounts. Selling needs that many contracts of the
// outcome not already committed to resting sells - else Invalid (Field
// "quantity"); to bet against an outcome, buy the other one.
//
// A request whose (Principal, ClientOrderID) matches an existing order returns
// that order unchanged and creates nothing. Errors: NotFound for an unknown
// market, MarketClosed when it is not open, Invalid for bad fields (Field
// names the argument), InsufficientFunds, Unavailable when the store fails
// (nothing was placed).
func (v *Venue) PlaceOrder(ctx context.Context, req sibyl.OrderRequest) (sibyl.Order, error) {
	if err := ctxErr(ctx); err != nil {
		return sibyl.Order{}, err
	}
	now := v.now()
	// Check the request and find its market before taking v.mu (finding it may
	// rebuild the catalogue). A failure is reported only after the lookup by
	// client order id, so that the retry of an order that was placed gets the
	// order back even when the request would no longer pass (its market
	// closed, say).
	cr, cerr := v.check(req, now)
	return v.orderCall(ctx, now, true, func(t *tx) (*order, error) {
		if o := v.byClientID(req.Principal, req.ClientOrderID); o != nil {
			v.syncOrder(o, now, t)
			return o, nil
		}
		if cerr != nil {
			return nil, cerr
		}
		return v.place(cr, now, t)
	})
}

// checkedRequest is an order request that passed validate, with its market.
type checkedRequest struct {
	req     sibyl.OrderRequest // TimeInForce set
	def     *marketDef
	outcome string
	yesBid  bool
	tick    int
	qty     int64
}

// check validates req and finds its market, open at now. It touches no
// trading state, so it runs without v.mu.
func (v *Venue) check(req sibyl.OrderRequest, now time.Time) (checkedRequest, error) {
	cr := checkedRequest{req: req}
	var err error
	if cr.outcome, cr.yesBid, cr.tick, cr.qty, err = validate(&cr.req); err != nil {
		return cr, err
	}
	if cr.def, err = v.listed(req.NativeMarketID, now); err != nil {
		return cr, err
	}
	if st := cr.def.status(now); st != sibyl.StatusOpen {
		return cr, sibyl.Errorf(sibyl.MarketClosed, "market %s is %s (trading closed at %s); search_markets with status open lists tradable markets",
			cr.def.id, st, cr.def.close.Format(time.RFC3339))
	}
	return cr, nil
}

// place matches and (for gtc limit orders) rests a checked order and returns
// it, or the reason it was refused (nothing changed then).
func (v *Venue) place(cr checkedRequest, now time.Time, t *tx) (*order, error) {
	req, def, outcome, yesBid, tick, qty := cr.req, cr.def, cr.outcome, cr.yesBid, cr.tick, cr.qty
	a := v.account(req.Principal, t)
	key := posKey(def.id, outcome)
	if req.Side == sibyl.Sell {
		var held, committed int64
		if pos := a.Positions[key]; pos != nil {
			held, committed = pos.Qty, pos.Committed
		}
		if qty > held-committed {
			return nil, sibyl.FieldErrorf(sibyl.Invalid, "quantity",
				"cannot sell %d %s contracts of %s: you hold %d (%d committed to resting sell orders), so at most %d can be sold; the paper venue has no short selling - to bet against %s, buy %s instead",
				qty, outcome, def.id, held, committed, max(held-committed, 0), outcome, other(outcome))
		}
	}

	ms := v.market(def, true)
	mmStart := v.mmState(ms, now)
	v.syncMarket(ms, now, t)
	fills, filled := v.plan(ms, req.Principal, yesBid, tick, qty, mmStart)

	o := &order{
		Order: sibyl.Order{
			ClientOrderID: req.ClientOrderID, Venue: v.opts.Name, MarketID: v.opts.Name + ":" + def.id,
			Outcome: outcome, Side: req.Side, Type: req.Type, TimeInForce: req.TimeInForce,
			Quantity: decimal.NewFromInt(qty), LimitPrice: req.LimitPrice, Status: sibyl.OrderOpen,
			Fills: []sibyl.Fill{}, CreatedAt: now, UpdatedAt: now, Simulated: true,
		},
		Principal: req.Principal, Native: def.id, YesBid: yesBid, Tick: tick, Remaining: qty,
	}
	rests := req.Type == sibyl.LimitOrder && req.TimeInForce == sibyl.GTC && filled < qty
	fok := req.TimeInForce == sibyl.FOK && filled < qty

	if req.Side == sibyl.Buy && !fok {
		var need int64
		for _, f := range fills {
			px := o.outcomePx(f.tick)
			need += f.n*px + v.fee.taker(f.n, px)
		}
		if rests {
			need += v.reserveFor(qty-filled, o.outcomePx(tick))
		}
		if need > a.Cash {
			what := fmt.Sprintf("%d contracts", qty)
			if req.Type == sibyl.MarketOrder {
				what = fmt.Sprintf("%d contracts at the current book", filled)
			}
			return nil, sibyl.Errorf(sibyl.InsufficientFunds,
				"insufficient funds: available $%.2f, needed $%.2f for %s including fees (reserved by resting orders: $%.2f); reduce the quantity or cancel resting buys",
				centsToDollars(a.Cash), centsToDollars(need), what, centsToDollars(a.Reserved))
		}
	}

	v.st.orderSeq++
	o.Seq = v.st.orderSeq
	o.NativeID = fmt.Sprintf("PO-%08d", o.Seq)
	t.meta = true
	v.st.add(o, a)
	t.orders[o] = struct{}{}
	t.accounts[a] = struct{}{}

	if fok {
		o.Status = sibyl.OrderCancelled
		o.RejectReason = fmt.Sprintf("fill or kill: only %d of %d contracts were available at the limit; nothing was filled", filled, qty)
		return o, nil
	}
	for _, f := range fills {
		if f.o == nil {
			side := 1
			if !yesBid {
				side = 0
			}
			ms.used[side][f.tick] += f.n
			t.mm[ms] = struct{}{}
		} else {
			v.execute(f.o, f.tick, f.n, true, now, t)
			if f.o.Remaining == 0 {
				v.unbook(ms, f.o)
			}
		}
		v.execute(o, f.tick, f.n, false, now, t)
	}
	if o.Remaining > 0 {
		if rests {
			if req.Side == sibyl.Buy {
				o.Reserved = v.reserveFor(o.Remaining, o.outcomePx(tick))
				a.Cash -= o.Reserved
				a.Reserved += o.Reserved
			} else {
				a.Positions[key].Committed += o.Remaining
			}
			v.book(ms, o)
		} else {
			o.Status = sibyl.OrderCancelled
			o.RejectReason = fmt.Sprintf("%s: %d of %d contracts unfilled were cancelled (no more liquidity at the limit)", o.TimeInForce, o.Remaining, qty)
			if o.Type == sibyl.MarketOrder {
				o.RejectReason = fmt.Sprintf("market order: %d of %d contracts unfilled were cancelled (no more liquidity)", o.Remaining, qty)
			}
		}
	}
	return o, nil
}

func other(outcome string) string {
	if outcome == "Yes" {
		return "No"
	}
	return "Yes"
}

// publicOrder returns a copy of o's public view that shares nothing with it.
func publicOrder(o *order) sibyl.Order {
	out := o.Order
	out.Fills = append([]sibyl.Fill{}, o.Fills...)
	return out
}

// CancelOrder cancels one of principal's resting orders, releasing its
// reserved cash or committed contracts, and returns its final state. An
// order that is already final is returned unchanged with a Conflict error; an
// unknown order (or another principal's) is NotFound.
func (v *Venue) CancelOrder(ctx context.Context, principal, nativeOrderID string) (sibyl.Order, error) {
	if err := ctxErr(ctx); err != nil {
		return sibyl.Order{}, err
	}
	now := v.now()
	return v.orderCall(ctx, now, true, func(t *tx) (*order, error) {
		o, err := v.findOrder(principal, nativeOrderID, now, t)
		if err != nil {
			return nil, err
		}
		if o.Status.Final() {
			return o, sibyl.Errorf(sibyl.Conflict, "order %s is already %s and cannot be cancelled", o.NativeID, o.Status)
		}
		v.unbook(v.st.markets[o.Native], o)
		v.release(o, t)
		o.Status = sibyl.OrderCancelled
		o.UpdatedAt = now
		return o, nil
	})
}

// findOrder returns principal's order, brought up to date (see syncOrder).
func (v *Venue) findOrder(principal, orderID string, now time.Time, t *tx) (*order, error) {
	o := v.st.orders[strings.TrimSpace(orderID)]
	if o == nil || o.Principal != principal {
		return nil, sibyl.FieldErrorf(sibyl.NotFound, "order_id", "no order %q for this principal; list_orders shows your orders", orderID)
	}
	v.syncOrder(o, now, t)
	return o, nil
}

// byClientID returns principal's order with client order id coid, or nil.
func (v *Venue) byClientID(principal, coid string) *order {
	if coid == "" {
		return nil
	}
	return v.st.byClient[clientKey(principal, coid)]
}

// syncOrder matches the resting orders of o's market against the quotes up to
// now, so that o shows the fills it has had.
func (v *Venue) syncOrder(o *order, now time.Time, t *tx) {
	if ms := v.st.markets[o.Native]; ms != nil && !o.Status.Final() {
		v.syncMarket(ms, now, t)
	}
}

// orderCall runs a call about one order (see run): fn returns the order, or
// nil and the reason there is none. orderCall returns the order's public
// view as fn left it, and fn's error unless storing the call's changes
// failed.
func (v *Venue) orderCall(ctx context.Context, now time.Time, write bool, fn func(t *tx) (*order, error)) (sibyl.Order, error) {
	var out sibyl.Order
	var ferr error
	if err := v.run(ctx, now, write, func(t *tx) {
		var o *order
		o, ferr = fn(t)
		out = sibyl.Order{}
		if o != nil {
			out = publicOrder(o)
		}
	}); err != nil {
		return sibyl.Order{}, err
	}
	return out, ferr
}

// GetOrder returns one of principal's orders by the venue's id, or NotFound.
func (v *Venue) GetOrder(ctx context.Context, principal, nativeOrderID string) (sibyl.Order, error) {
	if err := ctxErr(ctx); err != nil {
		return sibyl.Order{}, err
	}
	now := v.now()
	return v.orderCall(ctx, now, false, func(t *tx) (*order, error) {
		return v.findOrder(principal, nativeOrderID, now, t)
	})
}

// OrderByClientID returns principal's order with the given client order id,
// or NotFound.
// The paper venue indexes orders by client order id, so it needs no hint.
func (v *Venue) OrderByClientID(ctx context.Context, principal, clientOrderID string, _ sibyl.LookupHint) (sibyl.Order, error) {
	if err := ctxErr(ctx); err != nil {
		return sibyl.Order{}, err
	}
	now := v.now()
	return v.orderCall(ctx, now, false, func(t *tx) (*order, error) {
		o := v.byClientID(principal, clientOrderID)
		if o == nil {
			return nil, sibyl.FieldErrorf(sibyl.NotFound, "client_order_id", "no order with client order id %q for this principal", clientOrderID)
		}
		v.syncOrder(o, now, t)
		return o, nil
	})
}

// ListOrders returns one page of principal's orders, newest first, filtered
// by market (native id, "paper:" prefix accepted) and status. Limit defaults
// to 20, capped at 100; a foreign cursor is Invalid (Field "cursor").
func (v *Venue) ListOrders(ctx context.Context, principal string, q sibyl.OrderQuery) (sibyl.OrderPage, error) {
	if err := ctxErr(ctx); err != nil {
		return sibyl.OrderPage{}, err
	}
	limit := q.Limit
	switch {
	case limit < 0:
		return sibyl.OrderPage{}, sibyl.FieldErrorf(sibyl.Invalid, "limit", "limit must not be negative (got %d)", limit)
	case limit == 0:
		limit = defaultLimit
	case limit > maxLimit:
		limit = maxLimit
	}
	before := uint64(math.MaxUint64)
	if q.Cursor != "" {
		s, ok := decodeOrderCursor(q.Cursor)
		if !ok {
			return sibyl.OrderPage{}, sibyl.FieldErrorf(sibyl.Invalid, "cursor", "cursor %q is not one this venue produced; list again without a cursor", q.Cursor)
		}
		before = s
	}
	switch q.Status {
	case "", sibyl.OrderOpen, sibyl.OrderPartiallyFilled, sibyl.OrderFilled, sibyl.OrderCancelled, sibyl.OrderRejected, sibyl.OrderExpired:
	default:
		return sibyl.OrderPage{}, sibyl.FieldErrorf(sibyl.Invalid, "status", "unknown order status %q; use open, partially_filled, filled, cancelled, rejected or expired", q.Status)
	}
	market := strings.TrimSpace(q.NativeMarketID)
	if venue, native, ok := sibyl.SplitMarketID(market); ok && venue == v.opts.Name {
		market = native
	}
	market = strings.ToUpper(market)
	now := v.now()
	var page sibyl.OrderPage
	if err := v.run(ctx, now, false, func(t *tx) {
		page = sibyl.OrderPage{Orders: []sibyl.Order{}}
		a := v.st.accounts[principal]
		if a == nil {
			return
		}
		v.syncOpen(a, now, t)
		// a.orders is sorted by Seq; start below the cursor.
		i := sort.Search(len(a.orders), func(i int) bool { return a.orders[i].Seq >= before }) - 1
		var lastSeq uint64
		for ; i >= 0; i-- {
			o := a.orders[i]
			if market != "" && o.Native != market {
				continue
			}
			if q.Status != "" && o.Status != q.Status {
				continue
			}
			if len(page.Orders) == limit {
				page.NextCursor = encodeOrderCursor(lastSeq)
				break
			}
			page.Orders = append(page.Orders, publicOrder(o))
			lastSeq = o.Seq
		}
	}); err != nil {
		return sibyl.OrderPage{}, err
	}
	return page, nil
}

// syncOpen matches the resting orders of every market a has orders in.
func (v *Venue) syncOpen(a *account, now time.Time, t *tx) {
	seen := map[string]bool{}
	for _, o := range a.open {
		if seen[o.Native] {
			continue
		}
		seen[o.Native] = true
		if ms := v.st.markets[o.Native]; ms != nil {
			v.syncMarket(ms, now, t)
		}
	}
}

func encodeOrderCursor(seq uint64) string {
	return encodeCursor("o1|" + fmt.Sprint(seq))
}

func decodeOrderCursor(s string) (uint64, bool) {
	raw, ok := decodeCursor(s)
	if !ok {
		return 0, false
	}
	var seq uint64
	if _, err := fmt.Sscanf(raw, "o1|%d", &seq); err != nil || encodeOrderCursor(seq) != s {
		return 0, false
	}
	return seq, true
}

// Portfolio returns principal's cash, reserved cash and positions marked to
// market at the outcome's mid (the settlement value once the market closed).
// Positions stay listed, with their realised P&L, while their market is
// listed; a principal with no activity gets the starting cash.
func (v *Venue) Portfolio(ctx context.Context, principal string) (sibyl.Portfolio, error) {
	if err := ctxErr(ctx); err != nil {
		return sibyl.Portfolio{}, err
	}
	if strings.TrimSpace(principal) == "" {
		return sibyl.Portfolio{}, sibyl.FieldErrorf(sibyl.Invalid, "principal", "principal is required")
	}
	now := v.now()
	var pf sibyl.Portfolio
	if err := v.run(ctx, now, false, func(t *tx) { pf = v.portfolio(principal, now, t) }); err != nil {
		return sibyl.Portfolio{}, err
	}
	return pf, nil
}

// portfolio is Portfolio's body, with v.mu held.
func (v *Venue) portfolio(principal string, now time.Time, t *tx) sibyl.Portfolio {
	pf := sibyl.Portfolio{Venue: v.opts.Name, Positions: []sibyl.Position{}, Time: now, Simulated: true}
	a := v.st.accounts[principal]
	if a == nil {
		pf.Cash = v.opts.StartingCash
		pf.Equity = pf.Cash
		return pf
	}
	v.syncOpen(a, now, t)
	keys := make([]string, 0, len(a.Positions))
	for k := range a.Positions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var mv float64
	for _, k := range keys {
		p := a.Positions[k]
		def, ok := v.defByID(p.Market)
		if p.Qty == 0 && (!ok || !now.Before(def.listedUntil)) {
			if p.Settled && p.Committed == 0 {
				// The market has left the listing: forget the closed
				// position so the account record stays small.
				delete(a.Positions, k)
				t.accounts[a] = struct{}{}
			}
			continue
		}
		pos := sibyl.Position{
			MarketID: v.opts.Name + ":" + p.Market, Outcome: p.Outcome, Quantity: float64(p.Qty),
			RealizedPnL: centsToDollars(p.Realized),
		}
		if p.Qty > 0 {
			pos.AveragePrice = math.Round(float64(p.Cost)/float64(p.Qty)*100) / 10000
		}
		switch {
		case p.Settled:
			pos.MarkPrice = centsToDollars(p.Payout)
		case ok:
			m := v.view(def, v.st.markets[def.id], now)
			for _, oc := range m.Outcomes {
				if oc.Name == p.Outcome {
					pos.MarkPrice = oc.ImpliedProbability
				}
			}
			if def.status(now) != sibyl.StatusOpen {
				pos.MarkPrice = def.fair(now)
				if p.Outcome == "No" {
					pos.MarkPrice = 1 - pos.MarkPrice
				}
			}
		}
		pos.MarketValue = math.Round(pos.Quantity*pos.MarkPrice*100) / 100
		pos.UnrealizedPnL = math.Round((pos.MarketValue-centsToDollars(p.Cost))*100) / 100
		mv += pos.MarketValue
		pf.Positions = append(pf.Positions, pos)
	}
	pf.Cash = centsToDollars(a.Cash)
	pf.Reserved = centsToDollars(a.Reserved)
	pf.Equity = math.Round((pf.Cash+pf.Reserved+mv)*100) / 100
	return pf
}
