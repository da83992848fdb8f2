package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/mcp"
	"github.com/sibylmcp/sibyl/orders"
	"github.com/sibylmcp/sibyl/store"
)

// OrderTools returns place_order, cancel_order, get_order, list_orders,
// get_positions and get_audit_log. They are left out when d has no order service.
func OrderTools(d *Deps) []Tool {
	if d.Orders == nil || d.Store == nil {
		return nil
	}
	place := New("place_order", "Place an order",
		"Place a limit or market order for contracts of one outcome of a prediction market, exactly once per idempotency_key. "+
			"Make a new idempotency_key for each order you intend (a UUID is fine) and reuse it VERBATIM on every retry of that order "+
			"(after a timeout, an error marked retryable, or any doubt): a retry never creates a second order; it returns the first result with replayed=true. "+
			"Reusing a key with different arguments is refused (idempotency_key_reused). Omit limit_price for a market order. "+
			"On the paper venue the money is simulated.",
		writeTool, ScopeTrade, d.placeOrder)
	cancel := New("cancel_order", "Cancel an order",
		"Cancel a resting order by its order_id, exactly once per idempotency_key (reuse the key verbatim on retries). Returns the order's final state; cancelling an order that is already filled or cancelled is a conflict.",
		writeTool, ScopeTrade, d.cancelOrder)
	return []Tool{
		place,
		cancel,
		New("get_order", "Get an order",
			"Get one of your orders with its status, fills, average price and fees, by order_id, or by the idempotency_key you placed it with (useful after a lost response).",
			readOnly, ScopeRead, d.getOrder),
		New("list_orders", "List orders",
			"List your orders, newest first, optionally only one market's or one status's, with a cursor for the next page.",
			readOnly, ScopeRead, d.listOrders),
		New("get_positions", "Get positions and balance",
			"Get your cash, the cash reserved by resting buy orders, and your positions (contracts held, average price, mark price, unrealised and realised P&L) at one venue, marked to market.",
			readOnly, ScopeRead, d.getPositions),
		New("get_audit_log", "Read the audit log",
			"Read the tamper-evident audit log: tool calls with their (redacted) arguments and outcome, oldest first after a sequence number, and on request whether the hash chain is intact. Over HTTP an API key sees only its own entries; over stdio the operator sees all.",
			readOnly, ScopeRead, d.getAuditLog),
	}
}

// writeTool annotates the state-changing tools: destructive (they move money),
// idempotent (a repeated call with the same key has no further effect).
var writeTool = mcp.ToolAnnotations{ReadOnlyHint: false, DestructiveHint: ptr(true), IdempotentHint: true, OpenWorldHint: ptr(true)}

type placeOrderIn struct {
	Market             string   `json:"market" jsonschema:"minLength=3,maxLength=300" jsonschema_description:"Market id as venue:native_id (search_markets returns ids)."`
	Outcome            string   `json:"outcome" jsonschema:"minLength=1,maxLength=100" jsonschema_description:"Outcome to trade, as get_market lists it (such as Yes or No)."`
	Side               string   `json:"side" jsonschema:"enum=buy,enum=sell" jsonschema_description:"buy contracts of the outcome, or sell contracts you hold."`
	Quantity           float64  `json:"quantity" jsonschema:"exclusiveMinimum=0,maximum=1000000" jsonschema_description:"Number of contracts (the paper venue trades whole contracts)."`
	LimitPrice         *float64 `json:"limit_price,omitempty" jsonschema:"exclusiveMinimum=0,exclusiveMaximum=1" jsonschema_description:"Limit price in dollars per contract, strictly between 0 and 1, on the market's tick (0.01). Omit for a market order."`
	WorstPrice         *float64 `json:"worst_price,omitempty" jsonschema:"exclusiveMinimum=0,exclusiveMaximum=1" jsonschema_description:"For a market order (no limit_price): the worst price per contract you accept, strictly between 0 and 1; the order is sent as an immediate-or-cancel (or fok) limit at this price, so it never fills beyond it. Required when the server has a price collar (live venues by default)."`
	TimeInForce        string   `json:"time_in_force,omitempty" jsonschema:"enum=gtc,enum=ioc,enum=fok" jsonschema_description:"gtc: rest until filled or cancelled (default for limit orders); ioc: fill what is possible now and cancel the rest (default for market orders); fok: fill everything now or nothing."`
	IdempotencyKey     string   `json:"idempotency_key" jsonschema:"minLength=8,maxLength=128,pattern=^[A-Za-z0-9_.:/-]{8\\,128}$" jsonschema_description:"Your unique id for this one intended order, 8-128 characters of A-Z a-z 0-9 _ . : / - (a UUID is fine). Reuse it verbatim on every retry of the same order; use a new one for a new order."`
	CancelOnDisconnect bool     `json:"cancel_on_disconnect,omitempty" jsonschema_description:"Set true to have sibyl cancel this order, if it still rests, when this MCP session ends (stdio closed, HTTP DELETE, or the HTTP session expiring idle) or when the server restarts without it: for an agent that must not leave orders resting unattended. Not available on stateless HTTP requests."`
	AllowDuplicate     bool     `json:"allow_duplicate,omitempty" jsonschema_description:"Set true only to place a second, identical order on purpose within 60 seconds under a new key; otherwise such an order is refused as possible_duplicate (a safeguard against retries that made up a new key)."`
}

// FillOut is one execution.
type FillOut struct {
	Price    float64   `json:"price" jsonschema_description:"Dollars per contract."`
	Quantity float64   `json:"quantity" jsonschema_description:"Contracts."`
	Fee      float64   `json:"fee" jsonschema_description:"Fee in dollars."`
	Maker    bool      `json:"maker" jsonschema_description:"True when the order was resting (provided liquidity)."`
	Time     time.Time `json:"time" jsonschema_description:"When it happened (RFC 3339, UTC)."`
}

// OrderOut is an order as tools answer it.
type OrderOut struct {
	OrderID        string    `json:"order_id" jsonschema_description:"The venue's order id (for cancel_order and get_order)."`
	ClientOrderID  string    `json:"client_order_id" jsonschema_description:"sibyl's id for the order at the venue, derived from the idempotency key: the same on every retry."`
	Market         string    `json:"market" jsonschema_description:"Market id."`
	Outcome        string    `json:"outcome" jsonschema_description:"Outcome traded."`
	Side           string    `json:"side" jsonschema_description:"buy or sell."`
	Type           string    `json:"type" jsonschema:"enum=limit,enum=market" jsonschema_description:"limit or market."`
	TimeInForce    string    `json:"time_in_force" jsonschema_description:"gtc, ioc or fok."`
	Quantity       float64   `json:"quantity" jsonschema_description:"Contracts ordered."`
	LimitPrice     *float64  `json:"limit_price,omitempty" jsonschema_description:"Limit price in dollars; absent for a market order."`
	Status         string    `json:"status" jsonschema:"enum=accepted,enum=open,enum=partially_filled,enum=filled,enum=cancelled,enum=rejected,enum=expired" jsonschema_description:"accepted (the venue took the order; its state is not known yet: get_order asks again), open and partially_filled orders may still trade; the others are final."`
	FilledQuantity float64   `json:"filled_quantity" jsonschema_description:"Contracts filled so far."`
	AveragePrice   *float64  `json:"average_price,omitempty" jsonschema_description:"Average fill price in dollars, 4 decimals; absent until something fills."`
	Fees           float64   `json:"fees" jsonschema_description:"Fees charged so far, dollars (to the cent)."`
	RejectReason   string    `json:"reject_reason,omitempty" jsonschema_description:"Why the venue refused or cancelled the rest of the order, when it did."`
	Fills          []FillOut `json:"fills" jsonschema_description:"Executions, oldest first."`
	CreatedAt      time.Time `json:"created_at" jsonschema_description:"When the venue accepted the order (RFC 3339, UTC)."`
	UpdatedAt      time.Time `json:"updated_at" jsonschema_description:"When it last changed."`
	Venue          string    `json:"venue" jsonschema_description:"Venue name."`
	Simulated      bool      `json:"simulated" jsonschema_description:"True on the paper venue (simulated money)."`
}

func orderOut(o sibyl.Order) OrderOut {
	// The exact decimals become JSON numbers in their shortest form: exact
	// for the 2-6 decimal places venues use.
	out := OrderOut{OrderID: o.NativeID, ClientOrderID: o.ClientOrderID, Market: o.MarketID, Outcome: o.Outcome, Side: string(o.Side),
		Type: string(o.Type), TimeInForce: string(o.TimeInForce), Quantity: o.Quantity.InexactFloat64(),
		Status: string(o.Status), FilledQuantity: o.FilledQuantity.InexactFloat64(), Fees: sibyl.RoundMoney(o.Fees.InexactFloat64()),
		RejectReason: o.RejectReason, Fills: make([]FillOut, len(o.Fills)), CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC(),
		Venue: o.Venue, Simulated: o.Simulated}
	if o.LimitPrice.IsPositive() {
		out.LimitPrice = ptr(o.LimitPrice.InexactFloat64())
	}
	if o.FilledQuantity.IsPositive() && o.AveragePrice.IsPositive() {
		out.AveragePrice = ptr(sibyl.RoundProbability(o.AveragePrice.InexactFloat64()))
	}
	for i, f := range o.Fills {
		out.Fills[i] = FillOut{Price: f.Price.InexactFloat64(), Quantity: f.Quantity.InexactFloat64(), Fee: sibyl.RoundMoney(f.Fee.InexactFloat64()), Maker: f.Maker, Time: f.Time.UTC()}
	}
	return out
}

type orderAnswer struct {
	OrderOut
	Replayed bool `json:"replayed" jsonschema_description:"True when this call placed nothing new: the order fields above are the ORIGINAL answer of an earlier call with the same idempotency_key (even one whose answer never reached you), as it was then; current_state says what is true now. False: this call placed it."`
	// CurrentState is what is true of the order now, on a replay.
	CurrentState *OrderStateOut `json:"current_state,omitempty" jsonschema_description:"With replayed=true: the order as the venue has it now (it may have filled or been cancelled since the original answer). Absent on a first answer, whose fields are already current."`
	// EstimatedFee is place_order's estimate of the order's fee.
	EstimatedFee *float64  `json:"estimated_fee,omitempty" jsonschema_description:"place_order: the taker fee, in dollars, the whole quantity would pay if it filled at once at the limit (or worst) price, by the venue's schedule (get_market shows it); the fees actually charged are in fees. Absent for a market order without a worst_price or a venue whose fees sibyl does not know."`
	Timestamp    time.Time `json:"timestamp" jsonschema_description:"When this answer was made (RFC 3339, UTC); on a replay the order fields are as of their updated_at, current_state as of its as_of."`
}

// OrderStateOut is an order's state at one moment.
type OrderStateOut struct {
	Status         string     `json:"status" jsonschema:"enum=accepted,enum=open,enum=partially_filled,enum=filled,enum=cancelled,enum=rejected,enum=expired,enum=unknown" jsonschema_description:"The order's status now; unknown when the venue could not be asked (see note)."`
	FilledQuantity float64    `json:"filled_quantity" jsonschema_description:"Contracts filled so far."`
	AveragePrice   *float64   `json:"average_price,omitempty" jsonschema_description:"Average fill price in dollars; absent until something fills."`
	Fees           float64    `json:"fees" jsonschema_description:"Fees charged so far, dollars."`
	UpdatedAt      *time.Time `json:"updated_at,omitempty" jsonschema_description:"When the order last changed (RFC 3339, UTC); absent when unknown."`
	AsOf           time.Time  `json:"as_of" jsonschema_description:"When the venue was asked (RFC 3339, UTC)."`
	Note           string     `json:"note,omitempty" jsonschema_description:"Why the status is unknown, when it is; get_order may be tried later."`
}

// currentState asks the venue for the order's state now, for a replayed answer.
func (d *Deps) currentState(ctx context.Context, principal string, o sibyl.Order) *OrderStateOut {
	cur := &OrderStateOut{Status: "unknown", AsOf: d.now()}
	v, ok := d.Venues[o.Venue]
	if !ok || o.NativeID == "" {
		cur.Note = "the order's venue is not configured now"
		return cur
	}
	now, err := v.GetOrder(ctx, principal, o.NativeID)
	if err != nil {
		cur.Note = "the venue could not be asked now (" + string(sibyl.ErrorCode(err)) + "); get_order with this order_id tells the current state later"
		return cur
	}
	st := orderOut(now)
	cur.Status, cur.FilledQuantity, cur.AveragePrice, cur.Fees, cur.UpdatedAt = st.Status, st.FilledQuantity, st.AveragePrice, st.Fees, &st.UpdatedAt
	return cur
}

// answer builds a place or cancel answer; a replay also says what is true now.
func (d *Deps) answer(ctx context.Context, c *Call, res orders.Result) orderAnswer {
	out := orderAnswer{OrderOut: orderOut(res.Order), Replayed: res.Replayed, Timestamp: d.now()}
	if res.Replayed {
		out.CurrentState = d.currentState(ctx, c.Principal, res.Order)
	}
	return out
}

func (d *Deps) placeOrder(ctx context.Context, c *Call, in placeOrderIn) (orderAnswer, error) {
	// JSON numbers become exact decimals in their shortest form (0.56 is
	// 0.56); a number that is not on the market's steps is refused, never
	// rounded.
	req := sibyl.OrderRequest{Outcome: in.Outcome, Side: sibyl.Side(in.Side), Quantity: decimal.NewFromFloat(in.Quantity), Type: sibyl.MarketOrder, TimeInForce: sibyl.TimeInForce(in.TimeInForce)}
	if in.LimitPrice != nil {
		req.Type, req.LimitPrice = sibyl.LimitOrder, decimal.NewFromFloat(*in.LimitPrice)
	}
	if req.TimeInForce == "" {
		req.TimeInForce = sibyl.GTC
		if req.Type == sibyl.MarketOrder {
			req.TimeInForce = sibyl.IOC
		}
	}
	if req.Type == sibyl.MarketOrder && req.TimeInForce == sibyl.GTC {
		return orderAnswer{}, sibyl.FieldErrorf(sibyl.Invalid, "time_in_force", "a market order cannot rest: use ioc or fok, or give a limit_price for a gtc order")
	}
	if in.WorstPrice != nil {
		if req.Type != sibyl.MarketOrder {
			return orderAnswer{}, sibyl.FieldErrorf(sibyl.Invalid, "worst_price", "give worst_price only for a market order (without limit_price); a limit order's limit_price is its worst price")
		}
		// A market order with a worst price is an immediate limit order at it.
		req.Type, req.LimitPrice = sibyl.LimitOrder, decimal.NewFromFloat(*in.WorstPrice)
	}
	if _, _, err := d.marketVenue(in.Market, "market"); err != nil {
		return orderAnswer{}, err
	}
	// Over the confirmation threshold, the person confirms first; a retry of
	// a key already used gets its stored outcome without a question.
	var conf *orders.Confirmation
	legs := []orders.Leg{{Key: in.IdempotencyKey, MarketID: in.Market, Order: req}}
	if _, asks := d.confirmThreshold(legs); asks {
		if _, used, err := d.Orders.Record(ctx, c.Principal, orders.ToolPlaceOrder, in.IdempotencyKey); err == nil && !used {
			if conf, err = d.confirm(ctx, c, "order", legs); err != nil {
				return orderAnswer{}, err
			}
		}
	}
	if in.CancelOnDisconnect && c.Transport == "http" && c.SessionID == "" {
		return orderAnswer{}, sibyl.FieldErrorf(sibyl.Invalid, "cancel_on_disconnect", "cancel_on_disconnect needs a session; a stateless HTTP request has none")
	}
	// The fingerprint covers the order with its defaults applied: a retry
	// that spells out time_in_force or cancel_on_disconnect=false is the
	// same request as the call that left them out.
	// Records of earlier versions fingerprinted the arguments as sent: the
	// spelling without the defaults matches those of calls that left them out.
	defaults := map[string]any{"time_in_force": string(req.TimeInForce), "cancel_on_disconnect": false}
	fpArgs, err := withDefaults(c.Args, defaults)
	if err != nil {
		return orderAnswer{}, sibyl.WrapError(sibyl.Invalid, err, "arguments must be a JSON object")
	}
	var equivalent []json.RawMessage
	if eq := withoutDefaults(c.Args, defaults); eq != nil {
		equivalent = append(equivalent, eq)
	}
	c.delegated = true // orders audits the call from here on, refusals included
	res, err := d.Orders.Place(ctx, orders.PlaceRequest{
		Principal: c.Principal, Session: c.SessionID, Transport: c.Transport,
		Key: in.IdempotencyKey, AllowDuplicate: in.AllowDuplicate,
		MarketID: in.Market, Order: req, Args: c.Args, FingerprintArgs: fpArgs, EquivalentArgs: equivalent, Confirmation: conf,
	})
	if err != nil {
		return orderAnswer{}, err
	}
	if in.CancelOnDisconnect && !res.Order.Status.Final() && res.Order.NativeID != "" {
		venueName, _, _ := sibyl.SplitMarketID(in.Market)
		if err := d.Orders.CancelOnDisconnect(c.SessionID, c.Principal, venueName, res.Order.NativeID); err != nil {
			return orderAnswer{}, sibyl.WrapError(sibyl.Internal, err, "the order was placed (get_order finds it by idempotency_key) but could not be watched for cancel_on_disconnect; cancel it yourself when done")
		}
	}
	out := d.answer(ctx, c, res)
	if venueName, _, ok := sibyl.SplitMarketID(in.Market); ok && req.LimitPrice.IsPositive() {
		if fee, known := takerFee(venueName, req.LimitPrice, req.Quantity); known {
			out.EstimatedFee = ptr(fee.InexactFloat64())
		}
	}
	return out, nil
}

type cancelOrderIn struct {
	OrderID        string `json:"order_id" jsonschema:"minLength=1,maxLength=200" jsonschema_description:"The order_id that place_order or list_orders returned."`
	Venue          string `json:"venue,omitempty" jsonschema:"maxLength=40" jsonschema_description:"The order's venue; may be omitted when only one venue is configured."`
	IdempotencyKey string `json:"idempotency_key" jsonschema:"minLength=8,maxLength=128,pattern=^[A-Za-z0-9_.:/-]{8\\,128}$" jsonschema_description:"Your unique id for this cancel, 8-128 characters of A-Z a-z 0-9 _ . : / - (a UUID is fine). Reuse it verbatim on every retry."`
}

func (d *Deps) cancelOrder(ctx context.Context, c *Call, in cancelOrderIn) (orderAnswer, error) {
	if in.Venue != "" {
		if _, err := d.venue(in.Venue, "venue"); err != nil {
			return orderAnswer{}, err
		}
	}
	// With one venue configured, naming it is the same request as not.
	var fpArgs json.RawMessage
	var equivalent []json.RawMessage
	if len(d.Venues) == 1 {
		for name := range d.Venues {
			var err error
			defaults := map[string]any{"venue": name}
			if fpArgs, err = withDefaults(c.Args, defaults); err != nil {
				return orderAnswer{}, sibyl.WrapError(sibyl.Invalid, err, "arguments must be a JSON object")
			}
			if eq := withoutDefaults(c.Args, defaults); eq != nil {
				equivalent = append(equivalent, eq)
			}
		}
	}
	c.delegated = true // orders audits the call from here on, refusals included
	res, err := d.Orders.Cancel(ctx, orders.CancelRequest{Principal: c.Principal, Session: c.SessionID, Transport: c.Transport,
		Key: in.IdempotencyKey, Venue: in.Venue, OrderID: in.OrderID, Args: c.Args, FingerprintArgs: fpArgs, EquivalentArgs: equivalent})
	if err != nil {
		return orderAnswer{}, err
	}
	return d.answer(ctx, c, res), nil
}

type getOrderIn struct {
	OrderID        string `json:"order_id,omitempty" jsonschema:"maxLength=200" jsonschema_description:"The venue's order id. Give this or idempotency_key."`
	IdempotencyKey string `json:"idempotency_key,omitempty" jsonschema:"maxLength=128" jsonschema_description:"The idempotency_key the order was placed with. Give this or order_id."`
	Venue          string `json:"venue,omitempty" jsonschema:"maxLength=40" jsonschema_description:"The order's venue (with order_id); default: the server's default venue (see list_venues)."`
}

type getOrderOut struct {
	OrderOut
	Timestamp time.Time `json:"timestamp" jsonschema_description:"When this answer was made (RFC 3339, UTC)."`
}

func (d *Deps) getOrder(ctx context.Context, c *Call, in getOrderIn) (getOrderOut, error) {
	if (in.OrderID == "") == (in.IdempotencyKey == "") {
		return getOrderOut{}, sibyl.FieldErrorf(sibyl.Invalid, "order_id", "give exactly one of order_id and idempotency_key")
	}
	venueName, orderID := in.Venue, in.OrderID
	if in.IdempotencyKey != "" {
		rec, ok, err := d.Orders.Record(ctx, c.Principal, orders.ToolPlaceOrder, in.IdempotencyKey)
		if err != nil {
			return getOrderOut{}, sibyl.WrapError(sibyl.Internal, err, "reading the idempotency record")
		}
		switch {
		case !ok:
			return getOrderOut{}, sibyl.FieldErrorf(sibyl.NotFound, "idempotency_key", "no place_order call used this idempotency_key (records are kept 24 hours)")
		case rec.State == store.Pending:
			return getOrderOut{}, sibyl.FieldErrorf(sibyl.InProgress, "idempotency_key", "the order with this key is being placed or its outcome is unknown; retry place_order with the same key and arguments to reconcile it")
		case rec.Error != nil:
			return getOrderOut{}, sibyl.FieldErrorf(rec.Error.Code, "idempotency_key", "the order with this key was refused: %s", rec.Error.Message)
		}
		venueName, orderID = rec.Venue, rec.OrderID
	}
	if venueName == "" {
		venueName = d.defaultVenue()
	}
	v, err := d.venue(venueName, "venue")
	if err != nil {
		return getOrderOut{}, err
	}
	// On a venue whose one account every principal shares, only the
	// caller's own orders are there for them.
	if owns, err := d.Orders.Owns(c.Principal, venueName, orderID); err != nil {
		return getOrderOut{}, err
	} else if !owns {
		return getOrderOut{}, sibyl.FieldErrorf(sibyl.NotFound, "order_id", "no order %q of yours at venue %s; list_orders shows your orders", orderID, venueName)
	}
	o, err := v.GetOrder(ctx, c.Principal, orderID)
	if err != nil {
		return getOrderOut{}, err
	}
	return getOrderOut{OrderOut: orderOut(o), Timestamp: d.now()}, nil
}

type listOrdersIn struct {
	Market string `json:"market,omitempty" jsonschema:"maxLength=300" jsonschema_description:"Only orders in this market (venue:native_id); its venue is the one listed. Omit for all markets of the venue."`
	Venue  string `json:"venue,omitempty" jsonschema:"maxLength=40" jsonschema_description:"Venue to list (default: the market's venue, else the server's default venue; see list_venues)."`
	Status string `json:"status,omitempty" jsonschema:"enum=accepted,enum=open,enum=partially_filled,enum=filled,enum=cancelled,enum=rejected,enum=expired" jsonschema_description:"Only orders in this status."`
	Limit  int    `json:"limit,omitempty" jsonschema:"minimum=1,maximum=200" jsonschema_description:"Most orders to return (1-200, default 50)."`
	Cursor string `json:"cursor,omitempty" jsonschema:"maxLength=1000" jsonschema_description:"The next_cursor of a previous answer, for the next page."`
}

type listOrdersOut struct {
	Orders     []OrderOut `json:"orders" jsonschema_description:"Orders, newest first."`
	NextCursor string     `json:"next_cursor,omitempty" jsonschema_description:"Pass as cursor for the next page; absent on the last page."`
	Answer
}

func (d *Deps) listOrders(ctx context.Context, c *Call, in listOrdersIn) (listOrdersOut, error) {
	venueName, native := in.Venue, ""
	if in.Market != "" {
		// An unknown venue inside market is the market argument's fault.
		if _, _, err := d.marketVenue(in.Market, "market"); err != nil {
			return listOrdersOut{}, err
		}
		vn, n, _ := sibyl.SplitMarketID(in.Market)
		if venueName != "" && venueName != vn {
			return listOrdersOut{}, sibyl.FieldErrorf(sibyl.Invalid, "venue", "venue %q does not match the market's venue %q", venueName, vn)
		}
		venueName, native = vn, n
	}
	if venueName == "" {
		venueName = d.defaultVenue()
	}
	v, err := d.venue(venueName, "venue")
	if err != nil {
		return listOrdersOut{}, err
	}
	limit := in.Limit
	if limit == 0 {
		limit = 50
	}
	page, err := v.ListOrders(ctx, c.Principal, sibyl.OrderQuery{NativeMarketID: native, Status: sibyl.OrderStatus(in.Status), Limit: limit, Cursor: in.Cursor})
	if err != nil {
		return listOrdersOut{}, err
	}
	out := listOrdersOut{Orders: make([]OrderOut, 0, len(page.Orders)), NextCursor: page.NextCursor,
		Answer: Answer{Venue: venueName, Timestamp: d.now(), Simulated: v.Info().Simulated}}
	for _, o := range page.Orders {
		// A shared account lists every principal's orders: keep the caller's.
		// (A page can then hold fewer than limit orders; next_cursor goes on.)
		if owns, err := d.Orders.Owns(c.Principal, venueName, o.NativeID); err != nil {
			return listOrdersOut{}, err
		} else if !owns {
			continue
		}
		out.Orders = append(out.Orders, orderOut(o))
	}
	return out, nil
}

type getPositionsIn struct {
	Venue string `json:"venue,omitempty" jsonschema:"maxLength=40" jsonschema_description:"Venue (default: the server's default venue; see list_venues)."`
}

// PositionOut is one holding.
type PositionOut struct {
	Market        string  `json:"market" jsonschema_description:"Market id."`
	Outcome       string  `json:"outcome" jsonschema_description:"Outcome held."`
	Quantity      float64 `json:"quantity" jsonschema_description:"Contracts held."`
	AveragePrice  float64 `json:"average_price" jsonschema_description:"Average cost per contract, dollars."`
	MarkPrice     float64 `json:"mark_price" jsonschema_description:"Current mid (or settlement value), dollars."`
	MarketValue   float64 `json:"market_value" jsonschema_description:"quantity x mark_price, dollars."`
	UnrealizedPnL float64 `json:"unrealized_pnl" jsonschema_description:"market_value minus cost, dollars."`
	RealizedPnL   float64 `json:"realized_pnl" jsonschema_description:"Profit taken by sells and settlement, dollars."`
}

type getPositionsOut struct {
	Cash      float64       `json:"cash" jsonschema_description:"Available cash, dollars."`
	Reserved  float64       `json:"reserved" jsonschema_description:"Cash held by resting buy orders, dollars."`
	Equity    float64       `json:"equity" jsonschema_description:"cash + reserved + the positions' market value."`
	Positions []PositionOut `json:"positions" jsonschema_description:"Holdings, marked to market."`
	// SharedAccount says whose money this is.
	SharedAccount bool `json:"shared_account,omitempty" jsonschema_description:"True when the venue trades one real account for every user of this server: cash and positions are that account's, not yours alone (your own orders are the ones list_orders shows)."`
	Answer
}

func (d *Deps) getPositions(ctx context.Context, c *Call, in getPositionsIn) (getPositionsOut, error) {
	name := in.Venue
	if name == "" {
		name = d.defaultVenue()
	}
	v, err := d.venue(name, "venue")
	if err != nil {
		return getPositionsOut{}, err
	}
	p, err := v.Portfolio(ctx, c.Principal)
	if err != nil {
		return getPositionsOut{}, err
	}
	out := getPositionsOut{Cash: sibyl.RoundMoney(p.Cash), Reserved: sibyl.RoundMoney(p.Reserved), Equity: sibyl.RoundMoney(p.Equity), Positions: make([]PositionOut, len(p.Positions)),
		SharedAccount: p.SharedAccount || d.Orders.SharedAccount(name),
		Answer:        Answer{Venue: name, Timestamp: p.Time.UTC(), Simulated: p.Simulated}}
	if out.Timestamp.IsZero() {
		out.Timestamp = d.now()
	}
	for i, x := range p.Positions {
		out.Positions[i] = PositionOut{Market: x.MarketID, Outcome: x.Outcome, Quantity: x.Quantity, AveragePrice: sibyl.RoundProbability(x.AveragePrice),
			MarkPrice: sibyl.RoundProbability(x.MarkPrice), MarketValue: sibyl.RoundMoney(x.MarketValue), UnrealizedPnL: sibyl.RoundMoney(x.UnrealizedPnL),
			RealizedPnL: sibyl.RoundMoney(x.RealizedPnL)}
	}
	return out, nil
}

type auditLogIn struct {
	AfterSeq int    `json:"after_seq,omitempty" jsonschema:"minimum=0" jsonschema_description:"Return entries with a sequence number above this (0 = from the start); pass the last seq you saw to page."`
	Limit    int    `json:"limit,omitempty" jsonschema:"minimum=1,maximum=500" jsonschema_description:"Most entries to return (1-500, default 50)."`
	Tool     string `json:"tool,omitempty" jsonschema:"maxLength=48" jsonschema_description:"Only entries of this tool, such as place_order."`
	Verify   bool   `json:"verify,omitempty" jsonschema_description:"Also verify the hash chain and report whether it is intact. Verification is incremental: each call checks at most 2,000 entries not verified before, so on a large log call again until verified_through reaches chain_length."`
}

// AuditEntryOut is one audit entry.
type AuditEntryOut struct {
	Seq            int       `json:"seq" jsonschema_description:"Sequence number, from 1."`
	Time           time.Time `json:"time" jsonschema_description:"When it was written (RFC 3339, UTC)."`
	Tool           string    `json:"tool" jsonschema_description:"The tool called."`
	Outcome        string    `json:"outcome" jsonschema_description:"ok, intent, placed, cancelled, rejected, replay, unknown, recover, reconciled, key_reused, possible_duplicate, invalid, or an error code."`
	Principal      string    `json:"principal" jsonschema_description:"Who called."`
	Transport      string    `json:"transport,omitempty" jsonschema_description:"stdio or http; background for the server's own reconciliation of an order whose outcome was unknown."`
	IdempotencyKey string    `json:"idempotency_key,omitempty" jsonschema_description:"The call's idempotency key, for state-changing tools."`
	OrderIDs       []string  `json:"order_ids,omitempty" jsonschema_description:"Orders the entry concerns."`
	Error          string    `json:"error,omitempty" jsonschema_description:"Error code when the call failed."`
	Args           any       `json:"args,omitempty" jsonschema_description:"The call's arguments, with secrets redacted."`
	Hash           string    `json:"hash" jsonschema_description:"SHA-256 chaining this entry to the previous one."`
}

type auditLogOut struct {
	Entries         []AuditEntryOut `json:"entries" jsonschema_description:"Entries, oldest first."`
	NextAfterSeq    int             `json:"next_after_seq" jsonschema_description:"Pass as after_seq to read on (the last entry read, which may be past the last one returned)."`
	ChainLength     int             `json:"chain_length" jsonschema_description:"Entries in the chain (the last sequence number)."`
	Verified        bool            `json:"verified" jsonschema_description:"True when verify was asked for and the chain was checked."`
	ChainOK         bool            `json:"chain_ok,omitempty" jsonschema_description:"With verify: true when every entry up to the head has been verified and each hash and link checks out. False with no problem means verification is still under way: see verified_through."`
	VerifiedThrough int             `json:"verified_through,omitempty" jsonschema_description:"With verify: entries 1 to this sequence number are verified (by this call and earlier ones); call again with verify while it is below chain_length."`
	Problem         string          `json:"problem,omitempty" jsonschema_description:"With verify, when the chain is broken: the first bad entry and why."`
	Timestamp       time.Time       `json:"timestamp" jsonschema_description:"When this answer was made (RFC 3339, UTC)."`
}

// auditScanLimit bounds how many entries one get_audit_log call reads while
// looking for the caller's own.
const auditScanLimit = 20000

// auditEntriesFor returns up to limit entries after afterSeq that the caller may
// see: every entry for the local operator (stdio), only their own for an HTTP
// principal, so one API key never reads another's orders.
// It also returns the seq to continue after: the last entry read.
func (d *Deps) auditEntriesFor(c *Call, afterSeq uint64, limit int, tool string) ([]store.AuditEntry, uint64, error) {
	if c.Transport != "http" {
		es, err := d.Store.ReadAudit(afterSeq, limit, tool)
		if len(es) > 0 {
			afterSeq = es[len(es)-1].Seq
		}
		return es, afterSeq, err
	}
	return d.Store.ReadAuditOf(c.Principal, afterSeq, limit, auditScanLimit, tool)
}

func (d *Deps) getAuditLog(ctx context.Context, c *Call, in auditLogIn) (auditLogOut, error) {
	limit := in.Limit
	if limit == 0 {
		limit = 50
	}
	// Read calls are audited asynchronously: let this caller see its own calls.
	_ = d.Store.FlushAudit(ctx)
	es, next, err := d.auditEntriesFor(c, uint64(in.AfterSeq), limit, strings.TrimSpace(in.Tool))
	if err != nil {
		return auditLogOut{}, sibyl.WrapError(sibyl.Internal, err, "reading the audit log")
	}
	head, err := d.Store.AuditHead()
	if err != nil {
		return auditLogOut{}, sibyl.WrapError(sibyl.Internal, err, "reading the audit log")
	}
	out := auditLogOut{Entries: make([]AuditEntryOut, 0, len(es)), NextAfterSeq: int(next), ChainLength: int(head.Seq), Timestamp: d.now()}
	if in.Verify {
		// Incremental and bounded: a caller looping on verify costs each call
		// only the entries appended since, never a walk of the whole chain.
		ver, err := d.Store.VerifyAuditIncremental(0)
		if err != nil {
			return auditLogOut{}, sibyl.WrapError(sibyl.Internal, err, "verifying the audit log")
		}
		out.Verified, out.ChainOK, out.VerifiedThrough = true, ver.OK && ver.Complete, int(ver.VerifiedThrough)
		if !ver.OK {
			out.Problem = fmt.Sprintf("entry %d: %s: %s", ver.BadSeq, ver.Problem, ver.Detail)
		}
	}
	for _, e := range es {
		var args any
		if len(e.Args) > 0 {
			args = e.Args
		}
		out.Entries = append(out.Entries, AuditEntryOut{Seq: int(e.Seq), Time: e.Time.UTC(), Tool: e.Tool, Outcome: e.Outcome,
			Principal: e.Principal, Transport: e.Transport, IdempotencyKey: e.Key, OrderIDs: e.OrderIDs, Error: e.Error, Args: args, Hash: e.Hash})
	}
	return out, nil
}
