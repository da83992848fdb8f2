package kalshi

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	sibyl "github.com/sibylmcp/sibyl"
)

// attempt is what the adapter knows about an order it was asked to place:
// enough to reconcile it by client_order_id (Kalshi cannot look that up) and
// to show it in the caller's terms (outcome and side) rather than Kalshi's
// single YES book.
type attempt struct {
	ticker string
	since  time.Time
	yes    bool
	buy    bool
	tif    sibyl.TimeInForce
	typ    sibyl.OrderType
}

// attempts remembers placements of this process by client order id.
type attempts struct {
	mu sync.Mutex
	m  map[string]attempt
}

// put records an attempt and reports whether the client order id was seen
// before (a resend).
func (a *attempts) put(coid string, at attempt) (seen bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]attempt{}
	}
	if _, ok := a.m[coid]; ok {
		return true
	}
	a.m[coid] = at
	return false
}

func (a *attempts) get(coid string) (attempt, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	at, ok := a.m[coid]
	return at, ok
}

func tifOf(t sibyl.TimeInForce) (string, error) {
	switch t {
	case sibyl.GTC, "":
		return TIFGoodTillCanceled, nil
	case sibyl.IOC:
		return TIFImmediateOrCancel, nil
	case sibyl.FOK:
		return TIFFillOrKill, nil
	}
	return "", sibyl.FieldErrorf(sibyl.Invalid, "time_in_force", "Kalshi supports gtc, ioc and fok, not %q", t)
}

// orderPlan is an order ready for the wire, with everything exact.
type orderPlan struct {
	body   CreateOrderRequest
	md     MarketDetail
	yes    bool
	buy    bool
	count  decimal.Decimal
	price  decimal.Decimal // the outcome's limit price (zero for market orders)
	market bool
}

// plan validates and translates an order before anything is sent: the
// outcome, the quantity (a positive multiple of 0.01 contract), the price
// (on the market's steps) and the market's status. Its errors are
// Invalid/MarketClosed/NotFound, or Unavailable when the market could not be
// read.
func (v *Venue) plan(ctx context.Context, req sibyl.OrderRequest) (orderPlan, error) {
	qty, limit := req.Quantity, req.LimitPrice
	yes, err := outcomeIsYes(req.Outcome)
	if err != nil {
		return orderPlan{}, err
	}
	var buy bool
	switch req.Side {
	case sibyl.Buy:
		buy = true
	case sibyl.Sell:
	default:
		return orderPlan{}, sibyl.FieldErrorf(sibyl.Invalid, "side", "side must be buy or sell, not %q", req.Side)
	}
	count, err := FormatCount(qty)
	if err != nil {
		return orderPlan{}, sibyl.FieldErrorf(sibyl.Invalid, "quantity", "Kalshi trades positive quantities in steps of 0.01 contract; %s is not one", qty)
	}
	tif, err := tifOf(req.TimeInForce)
	if err != nil {
		return orderPlan{}, err
	}
	md, err := v.marketDetail(ctx, req.NativeMarketID, false)
	if err == nil && !md.Active {
		md, err = v.marketDetail(ctx, req.NativeMarketID, true) // a cached status may be stale
	}
	if err != nil {
		return orderPlan{}, err
	}
	if !md.Active {
		return orderPlan{}, sibyl.Errorf(sibyl.MarketClosed, "Kalshi market %s is %s and takes no orders", req.NativeMarketID, md.Market.Status)
	}
	if err := md.Market.OrderRules.CheckQuantity(qty); err != nil {
		return orderPlan{}, err // whole contracts on a market without fractional trading
	}
	p := orderPlan{md: md, yes: yes, buy: buy, count: qty}
	var side string
	var yesPrice decimal.Decimal
	switch req.Type {
	case sibyl.MarketOrder:
		p.market = true
		side, _ = toBookSide(yes, buy, decimal.NewFromFloat(0.5))
		if yesPrice, err = marketOrderPrice(md, side == SideBid); err != nil {
			return orderPlan{}, err
		}
		tif = TIFImmediateOrCancel
	case sibyl.LimitOrder, "":
		if err := checkPrice(md, yes, limit, "limit_price"); err != nil {
			return orderPlan{}, err
		}
		p.price = limit
		side, yesPrice = toBookSide(yes, buy, limit)
	default:
		return orderPlan{}, sibyl.FieldErrorf(sibyl.Invalid, "type", "order type must be limit or market, not %q", req.Type)
	}
	price, err := FormatPrice(yesPrice)
	if err != nil {
		return orderPlan{}, sibyl.FieldErrorf(sibyl.Invalid, "limit_price", "%s cannot be sent to Kalshi: %v", yesPrice, err)
	}
	idx := md.ExchangeIndex
	p.body = CreateOrderRequest{
		Ticker: req.NativeMarketID, ClientOrderID: req.ClientOrderID, Side: side, Count: count, Price: price,
		TimeInForce: tif, SelfTradePreventionType: STPTakerAtCross, ExchangeIndex: &idx,
	}
	return p, nil
}

// duplicateLookback is how far back the order list is searched when Kalshi
// says a client_order_id is already in use.
const duplicateLookback = 24 * time.Hour

// place sends a planned order and translates Kalshi's create answer (which is
// not a full order) into sibyl's: the fill and remaining counts settle the
// status (all filled: filled; some remaining: open or partially filled;
// nothing remaining of an IOC/FOK: cancelled).
func (v *Venue) place(ctx context.Context, p orderPlan, req sibyl.OrderRequest) (sibyl.Order, error) {
	resend := v.attempts.put(req.ClientOrderID, attempt{ticker: req.NativeMarketID, since: v.now(), yes: p.yes, buy: p.buy, tif: req.TimeInForce, typ: req.Type})
	if resend && req.ClientOrderID != "" {
		// This process sent the id before. Kalshi may deduplicate it only
		// while that order rests, so look first: an order that exists (even
		// filled or cancelled) is returned, never doubled. NotFound is certain
		// (the whole window was read); anything else leaves it unknown.
		at, _ := v.attempts.get(req.ClientOrderID)
		o, err := v.FindOrder(ctx, req.ClientOrderID, req.NativeMarketID, at.since)
		switch sibyl.ErrorCode(err) {
		case "":
			return o, nil
		case sibyl.NotFound:
		default:
			return sibyl.Order{}, err
		}
	}
	resp, err := v.c.CreateOrder(ctx, p.body)
	v.noteHealth(err)
	if sibyl.ErrorCode(err) == sibyl.Conflict && req.ClientOrderID != "" {
		// Kalshi refuses a client_order_id it still has resting: that order
		// is this one, sent earlier. Return it rather than a refusal.
		o, ferr := v.FindOrder(ctx, req.ClientOrderID, req.NativeMarketID, v.now().Add(-duplicateLookback))
		if ferr == nil {
			return o, nil
		}
		// The order exists but could not be read back: the outcome is
		// unknown, not a refusal to be stored as "nothing placed".
		return sibyl.Order{}, &sibyl.Error{Code: sibyl.Unavailable, Err: ferr,
			Message: "Kalshi says an order with this client_order_id already exists, but it could not be read back; the outcome is unknown, retry with the same idempotency key to reconcile"}
	}
	if err != nil {
		return sibyl.Order{}, err
	}
	filled, err1 := ParseCount(resp.FillCount)
	remaining, err2 := ParseCount(resp.RemainingCount)
	avgYes, err3 := ParseDollars(resp.AverageFillPrice)
	avgFee, err4 := ParseDollars(resp.AverageFeePaid)
	if err := firstErr(err1, err2, err3, err4); err != nil || resp.OrderID == "" {
		// The order exists at Kalshi but its answer is unreadable: unknown.
		return sibyl.Order{}, &sibyl.Error{Code: sibyl.Unavailable, Message: "Kalshi accepted the order but sent an answer sibyl cannot read; the outcome is unknown, retry with the same idempotency key to reconcile", Err: err}
	}
	// The create answer is not a full order, but its counts settle the state
	// at ts_ms: all filled, some resting, or nothing left (an IOC/FOK
	// remainder cancelled). Counts that do not add up leave it "accepted":
	// GetOrder tells the rest.
	status := sibyl.OrderAccepted
	switch {
	case filled.Add(remaining).GreaterThan(p.count) || filled.IsNegative() || remaining.IsNegative():
	case filled.Equal(p.count):
		status = sibyl.OrderFilled
	case remaining.IsPositive() && filled.IsPositive():
		status = sibyl.OrderPartiallyFilled
	case remaining.IsPositive():
		status = sibyl.OrderOpen
	default:
		status = sibyl.OrderCancelled
	}
	at := time.UnixMilli(resp.TsMs).UTC()
	if resp.TsMs == 0 {
		at = v.now()
	}
	o := sibyl.Order{
		NativeID: resp.OrderID, ClientOrderID: req.ClientOrderID, Venue: VenueName, MarketID: VenueName + ":" + req.NativeMarketID,
		Outcome: outcomeName(p.yes), Side: req.Side, Type: req.Type, TimeInForce: req.TimeInForce,
		Quantity: p.count, LimitPrice: p.price,
		FilledQuantity: filled, Status: status, CreatedAt: at, UpdatedAt: at,
	}
	if o.Type == "" {
		o.Type = sibyl.LimitOrder
	}
	if filled.IsPositive() {
		_, outcomePrice := fromBookSide(p.body.Side, avgYes, p.yes)
		o.AveragePrice = outcomePrice
		o.Fees = avgFee.Mul(filled).Round(6)
	}
	return o, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func outcomeName(yes bool) string {
	if yes {
		return OutcomeYes
	}
	return OutcomeNo
}

// PlaceOrder sends an order to Kalshi with client_order_id = the request's
// ClientOrderID. It refuses before sending (nothing reaches Kalshi) without
// credentials, on prod without --live, and for a bad outcome, quantity, price
// step or closed market. Unavailable means the order may exist: reconcile.
func (v *Venue) PlaceOrder(ctx context.Context, req sibyl.OrderRequest) (sibyl.Order, error) {
	if err := v.tradeRefusal(); err != nil {
		return sibyl.Order{}, err
	}
	p, err := v.plan(ctx, req)
	if err != nil {
		return sibyl.Order{}, err
	}
	return v.place(ctx, p, req)
}

// convertOrder maps a Kalshi order onto sibyl's. When the adapter knows the
// caller's outcome for it (at), the order is shown in those terms; otherwise
// in Kalshi's: a bid buys YES, an ask buys NO (Kalshi cannot tell "sell YES
// at p" from "buy NO at 1-p": they are the same position).
func convertOrder(o Order, at *attempt) (sibyl.Order, error) {
	yp, err := ParseDollars(o.YesPriceDollars)
	if err != nil {
		return sibyl.Order{}, err
	}
	filled, err := ParseCount(o.FillCountFP)
	if err != nil {
		return sibyl.Order{}, err
	}
	initial, err := ParseCount(o.InitialCountFP)
	if err != nil {
		return sibyl.Order{}, err
	}
	var costs, fees decimal.Decimal
	for _, s := range []string{o.TakerFillCostDollars, o.MakerFillCostDollars} {
		c, err := ParseDollars(s)
		if err != nil {
			return sibyl.Order{}, err
		}
		costs = costs.Add(c)
	}
	for _, s := range []string{o.TakerFeesDollars, o.MakerFeesDollars} {
		f, err := ParseDollars(s)
		if err != nil {
			return sibyl.Order{}, err
		}
		fees = fees.Add(f)
	}
	created, err := parseTime(o.CreatedTime)
	if err != nil {
		return sibyl.Order{}, err
	}
	updated, err := parseTime(o.LastUpdateTime)
	if err != nil || updated.IsZero() {
		updated = created
	}
	yes := o.BookSide == SideBid
	if at != nil {
		yes = at.yes
	}
	buy, price := fromBookSide(o.BookSide, yp, yes)
	side := sibyl.Sell
	if buy {
		side = sibyl.Buy
	}
	out := sibyl.Order{
		NativeID: o.OrderID, ClientOrderID: o.ClientOrderID, Venue: VenueName, MarketID: VenueName + ":" + o.Ticker,
		Outcome: outcomeName(yes), Side: side, Type: sibyl.LimitOrder, TimeInForce: sibyl.GTC,
		Quantity: initial, LimitPrice: price,
		FilledQuantity: filled, Fees: fees,
		Status: orderStatus(o.Status, filled), CreatedAt: created, UpdatedAt: updated,
	}
	if o.Type == "market" {
		out.Type = sibyl.MarketOrder
	}
	// Kalshi's order does not carry its time in force: this process knows it
	// for the orders it placed; otherwise GTC is shown.
	if at != nil && at.tif != "" {
		out.TimeInForce = at.tif
	}
	if at != nil && at.typ != "" {
		out.Type = at.typ
	}
	if filled.IsPositive() {
		// The fill cost is what the buyer of outcome_side paid.
		avg := costs.Div(filled)
		bookOutcomeYes := o.OutcomeSide == "yes"
		if bookOutcomeYes != yes {
			avg = one.Sub(avg)
		}
		out.AveragePrice = avg.Round(6)
	}
	return out, nil
}

func (v *Venue) convert(o Order) (sibyl.Order, error) {
	var hint *attempt
	if at, ok := v.attempts.get(o.ClientOrderID); ok {
		hint = &at
	}
	out, err := convertOrder(o, hint)
	if err != nil {
		return sibyl.Order{}, &sibyl.Error{Code: sibyl.Unavailable, Message: "Kalshi sent an order sibyl cannot read", Err: err}
	}
	return out, nil
}

// GetOrder returns an order by Kalshi's id with its fills, or NotFound.
func (v *Venue) GetOrder(ctx context.Context, principal, orderID string) (sibyl.Order, error) {
	if err := v.readRefusal(); err != nil {
		return sibyl.Order{}, err
	}
	o, err := v.c.GetOrder(ctx, orderID)
	v.noteHealth(err)
	if err != nil {
		return sibyl.Order{}, err
	}
	out, err := v.convert(o)
	if err != nil {
		return sibyl.Order{}, err
	}
	if out.FilledQuantity.IsPositive() {
		if fills, err := v.fills(ctx, o); err == nil {
			out.Fills = fills
		} else {
			v.log.Warn("kalshi: reading an order's fills failed", "order", orderID, "err", err)
		}
	}
	return out, nil
}

func (v *Venue) fills(ctx context.Context, o Order) ([]sibyl.Fill, error) {
	var out []sibyl.Fill
	q := FillsQuery{OrderID: o.OrderID, Limit: 200}
	for page := 0; page < 10; page++ {
		p, err := v.c.GetFills(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, f := range p.Fills {
			yp, err1 := ParseDollars(f.YesPriceDollars)
			cnt, err2 := ParseCount(f.CountFP)
			fee, err3 := ParseDollars(f.FeeCost)
			at, err4 := parseTime(f.CreatedTime)
			if err := firstErr(err1, err2, err3, err4); err != nil {
				return nil, err
			}
			price := yp
			yes := o.BookSide == SideBid
			if a, ok := v.attempts.get(o.ClientOrderID); ok {
				yes = a.yes
			}
			if !yes {
				price = one.Sub(yp)
			}
			out = append(out, sibyl.Fill{ID: f.FillID, Price: price, Quantity: cnt, Fee: fee, Maker: !f.IsTaker, Time: at})
		}
		if p.Cursor == "" {
			break
		}
		q.Cursor = p.Cursor
	}
	// Oldest first.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// readRefusal: portfolio reads need credentials (they are not public).
func (v *Venue) readRefusal() error {
	if !v.c.HasCredentials() {
		return errNoCredentials
	}
	return nil
}

// FindOrder reconciles an order by client order id: it pages the account's
// orders in market ticker since the claim's time (Kalshi has no lookup by
// client_order_id). NotFound only after the whole window was read.
func (v *Venue) FindOrder(ctx context.Context, clientOrderID, ticker string, since time.Time) (sibyl.Order, error) {
	if err := v.readRefusal(); err != nil {
		return sibyl.Order{}, err
	}
	o, err := v.c.FindOrderByClientID(ctx, ticker, clientOrderID, since)
	v.noteHealth(err)
	if err != nil {
		return sibyl.Order{}, err
	}
	return v.convert(o)
}

// OrderByClientID finds an order by client order id. Kalshi has no lookup by
// client_order_id, so the account's orders are paged from the hint's market
// and claim time (both kept by sibyl's idempotency record); without them the
// search widens to every market and all time. NotFound is returned only after
// the whole window was read; a search cut short is Unavailable.
func (v *Venue) OrderByClientID(ctx context.Context, principal, clientOrderID string, hint sibyl.LookupHint) (sibyl.Order, error) {
	ticker, since := hint.NativeMarketID, hint.ClaimedAt
	if at, ok := v.attempts.get(clientOrderID); ok {
		if ticker == "" {
			ticker = at.ticker
		}
		if since.IsZero() {
			since = at.since
		}
	}
	return v.FindOrder(ctx, clientOrderID, ticker, since)
}

// CancelOrder cancels a resting order: it reads the order (for its market
// and exchange shard), cancels it with DELETE /portfolio/events/orders/{id}
// and returns its final state. An order already final is returned with a
// Conflict error.
func (v *Venue) CancelOrder(ctx context.Context, principal, orderID string) (sibyl.Order, error) {
	// The principal is not Kalshi's business: the account is shared, and
	// sibyl's order ownership decides who may cancel what.
	if err := v.tradeRefusal(); err != nil {
		return sibyl.Order{}, err
	}
	o, err := v.c.GetOrder(ctx, orderID)
	v.noteHealth(err)
	if err != nil {
		return sibyl.Order{}, err
	}
	if o.Status != StatusResting {
		cur, cerr := v.convert(o)
		if cerr != nil {
			return sibyl.Order{}, cerr
		}
		return cur, sibyl.Errorf(sibyl.Conflict, "order %s is already %s", orderID, cur.Status)
	}
	if _, err := v.c.CancelOrder(ctx, orderID, o.ExchangeIndex, o.Ticker); err != nil {
		v.noteHealth(err)
		if sibyl.ErrorCode(err) == sibyl.Conflict {
			// It became final between the read and the cancel.
			if cur, gerr := v.c.GetOrder(ctx, orderID); gerr == nil {
				if out, cerr := v.convert(cur); cerr == nil {
					return out, err
				}
			}
		}
		return sibyl.Order{}, err
	}
	final, err := v.c.GetOrder(ctx, orderID)
	if err != nil {
		// Cancelled, but the final state could not be read: unknown to the
		// caller, who reconciles by retrying the cancel.
		return sibyl.Order{}, err
	}
	return v.convert(final)
}

// ListOrders returns one page of the account's orders, newest first.
func (v *Venue) ListOrders(ctx context.Context, principal string, q sibyl.OrderQuery) (sibyl.OrderPage, error) {
	if err := v.readRefusal(); err != nil {
		return sibyl.OrderPage{}, err
	}
	oq := OrdersQuery{Ticker: q.NativeMarketID, Limit: q.Limit, Cursor: q.Cursor}
	switch q.Status {
	case sibyl.OrderOpen, sibyl.OrderPartiallyFilled, sibyl.OrderAccepted:
		oq.Status = StatusResting
	case sibyl.OrderFilled:
		oq.Status = StatusExecuted
	case sibyl.OrderCancelled:
		oq.Status = StatusCanceled
	case "":
	default:
		return sibyl.OrderPage{}, nil // Kalshi has no rejected or expired orders to list
	}
	p, err := v.c.GetOrders(ctx, oq)
	v.noteHealth(err)
	if err != nil {
		return sibyl.OrderPage{}, err
	}
	out := sibyl.OrderPage{NextCursor: p.Cursor}
	for _, o := range p.Orders {
		so, err := v.convert(o)
		if err != nil {
			return sibyl.OrderPage{}, err
		}
		if q.Status != "" && so.Status != q.Status {
			continue
		}
		out.Orders = append(out.Orders, so)
	}
	return out, nil
}

// Portfolio returns the Kalshi account's cash and positions. The account is
// shared by every principal of this sibyl: these are the account's numbers,
// not the caller's.
func (v *Venue) Portfolio(ctx context.Context, principal string) (sibyl.Portfolio, error) {
	if err := v.readRefusal(); err != nil {
		return sibyl.Portfolio{}, err
	}
	bal, err := v.c.GetBalance(ctx)
	v.noteHealth(err)
	if err != nil {
		return sibyl.Portfolio{}, err
	}
	cash, err := ParseDollars(bal.BalanceDollars)
	if err != nil || bal.BalanceDollars == "" {
		cash = decimal.New(bal.Balance, -2)
	}
	var positions []MarketPosition
	cursor := ""
	for page := 0; page < 20; page++ {
		p, err := v.c.GetPositions(ctx, cursor, 200)
		if err != nil {
			return sibyl.Portfolio{}, err
		}
		positions = append(positions, p.MarketPositions...)
		if p.Cursor == "" {
			break
		}
		cursor = p.Cursor
	}
	marks := map[string]sibyl.Market{}
	var tickers []string
	for _, mp := range positions {
		tickers = append(tickers, mp.Ticker)
	}
	for i := 0; i < len(tickers); i += 100 {
		end := min(i+100, len(tickers))
		page, err := v.c.GetMarkets(ctx, MarketsQuery{Tickers: tickers[i:end], Limit: 100})
		if err != nil {
			return sibyl.Portfolio{}, err
		}
		for _, w := range page.Markets {
			if md, err := ConvertMarket(w, v.now()); err == nil {
				marks[w.Ticker] = md.Market
			}
		}
	}
	out := sibyl.Portfolio{Venue: VenueName, Cash: cash.InexactFloat64(), Time: v.now(), SharedAccount: true}
	equity := cash
	for _, mp := range positions {
		pos, err1 := ParseCount(mp.PositionFP)
		exposure, err2 := ParseDollars(mp.MarketExposureDollars)
		realized, err3 := ParseDollars(strings.TrimPrefix(mp.RealizedPnlDollars, "-"))
		if err := firstErr(err1, err2, err3); err != nil {
			return sibyl.Portfolio{}, &sibyl.Error{Code: sibyl.Unavailable, Message: "Kalshi sent positions sibyl cannot read", Err: err}
		}
		if strings.HasPrefix(mp.RealizedPnlDollars, "-") {
			realized = realized.Neg()
		}
		if pos.IsZero() {
			continue
		}
		yes := pos.IsPositive()
		qty := pos.Abs()
		var mark decimal.Decimal
		if m, ok := marks[mp.Ticker]; ok {
			o := m.Outcomes[0]
			if !yes {
				o = m.Outcomes[1]
			}
			mark = decimalFromFloat(o.Mid)
		}
		avg := exposure.Div(qty).Round(6)
		value := qty.Mul(mark)
		equity = equity.Add(value)
		out.Positions = append(out.Positions, sibyl.Position{
			MarketID: VenueName + ":" + mp.Ticker, Outcome: outcomeName(yes), Quantity: qty.InexactFloat64(),
			AveragePrice: avg.InexactFloat64(), MarkPrice: mark.InexactFloat64(), MarketValue: value.InexactFloat64(),
			UnrealizedPnL: value.Sub(exposure).InexactFloat64(), RealizedPnL: realized.InexactFloat64(),
		})
	}
	out.Equity = equity.InexactFloat64()
	return out, nil
}

var _ sibyl.Venue = (*Venue)(nil)
