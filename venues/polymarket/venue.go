package polymarket

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/polymarket/clob"
)

// Name is the venue's name in market ids (polymarket:<conditionId>).
const Name = "polymarket"

// Options configures a Venue.
type Options struct {
	Client *Client // market data (and trading, with a wallet)
	Wallet *Wallet // nil: read-only
	Live   bool    // sibyl serve --live: orders may be sent (they move real money)
	Now    func() time.Time
}

// Venue is Polymarket as a sibyl.Venue and sibyl.Preparer. Every principal
// trades the one configured wallet (a shared account).
type Venue struct {
	c      *Client
	trader *Trader // nil when read-only
	live   bool
	now    func() time.Time

	coidMu sync.Mutex
	coids  map[string]string // order hash -> client order id, of orders this process sent or reconciled
}

// maxRemembered bounds the client order ids a Venue remembers (Polymarket does
// not keep them: sibyl's idempotency records do, this only fills them in on
// answers).
const maxRemembered = 100_000

// remember records which client order id an order hash belongs to.
func (v *Venue) remember(hash, coid string) {
	if hash == "" || coid == "" {
		return
	}
	v.coidMu.Lock()
	defer v.coidMu.Unlock()
	if v.coids == nil || len(v.coids) >= maxRemembered {
		v.coids = map[string]string{}
	}
	v.coids[strings.ToLower(hash)] = coid
}

// clientID returns the client order id remembered for a hash, or "".
func (v *Venue) clientID(hash string) string {
	v.coidMu.Lock()
	defer v.coidMu.Unlock()
	return v.coids[strings.ToLower(hash)]
}

var (
	_ sibyl.Venue    = (*Venue)(nil)
	_ sibyl.Preparer = (*Venue)(nil)
)

// New returns the adapter. With a wallet it can trade once Live is set.
func New(o Options) (*Venue, error) {
	if o.Client == nil {
		return nil, errors.New("polymarket: no client")
	}
	v := &Venue{c: o.Client, live: o.Live, now: o.Now}
	if v.now == nil {
		v.now = time.Now
	}
	if o.Wallet != nil {
		t, err := NewTrader(o.Client, *o.Wallet)
		if err != nil {
			return nil, err
		}
		v.trader = t
	}
	return v, nil
}

// FromSettings builds the client and the adapter from LoadSettings' result.
func FromSettings(s Settings, live bool) (*Venue, error) {
	cfg := Config{GammaURL: s.GammaURL, ClobURL: s.ClobURL, DataURL: s.DataURL, Credentials: s.Credentials}
	if s.Wallet != nil {
		cfg.Signer = s.Wallet.Signer
	}
	c, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return New(Options{Client: c, Wallet: s.Wallet, Live: live})
}

// Start reads GET /version, the order version to sign, as the official client
// does at its first order. Call it once at start-up when trading; a failure is
// not fatal (it is read again at the first order).
func (v *Venue) Start(ctx context.Context) error {
	if v.trader == nil {
		return nil
	}
	_, err := v.trader.Version(ctx, true)
	return err
}

// Info describes the venue.
func (v *Venue) Info() sibyl.VenueInfo {
	info := sibyl.VenueInfo{Name: Name, Title: "Polymarket", Mode: sibyl.ModeReadOnly, Available: true,
		Capabilities: []string{"markets", "orderbook"}, SharedAccount: true, RealMoney: true}
	if v.trader != nil {
		info.Mode = sibyl.ModeLive
		info.Capabilities = append(info.Capabilities, "trading", "positions")
		if !v.live {
			info.Reason = "orders move real money: sibyl serve needs --live to send them"
		}
	}
	return info
}

// SearchMarkets searches Gamma: Text through public search, Category as an
// event tag, Status open (not closed) or closed/settled (closed; settled keeps
// the resolved ones).
func (v *Venue) SearchMarkets(ctx context.Context, q sibyl.MarketQuery) (sibyl.MarketPage, error) {
	s := Search{Text: q.Text, Limit: q.Limit, Cursor: q.Cursor}
	switch q.Status {
	case "":
	case sibyl.StatusOpen:
		f := false
		s.Closed = &f
	case sibyl.StatusClosed, sibyl.StatusSettled:
		t := true
		s.Closed = &t
	default:
		return sibyl.MarketPage{}, sibyl.FieldErrorf(sibyl.Invalid, "status", "status must be open, closed or settled")
	}
	if q.Category != "" {
		s.Tag = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(q.Category)), " ", "-")
	}
	page, err := v.c.SearchMarkets(ctx, s)
	if err != nil {
		return sibyl.MarketPage{}, err
	}
	out := sibyl.MarketPage{NextCursor: page.NextCursor, Markets: []sibyl.Market{}}
	for _, m := range page.Markets {
		sm := v.toMarket(m)
		if q.Status != "" && sm.Status != q.Status {
			continue
		}
		out.Markets = append(out.Markets, sm)
	}
	return out, nil
}

// Market returns one market by condition id.
func (v *Venue) Market(ctx context.Context, nativeID string) (sibyl.Market, error) {
	m, err := v.c.MarketByConditionID(ctx, nativeID)
	if err != nil {
		return sibyl.Market{}, err
	}
	return v.toMarket(m), nil
}

// toMarket maps a Polymarket market. Gamma's best bid and ask are the first
// outcome's; the second outcome of a binary market is its mirror (1 - ask,
// 1 - bid), as Polymarket's matching of complementary tokens makes it.
func (v *Venue) toMarket(m Market) sibyl.Market {
	f := func(d decimal.Decimal) float64 { return d.InexactFloat64() } // display values only, never sent
	sm := sibyl.Market{
		ID: Name + ":" + m.ConditionID, Venue: Name, NativeID: m.ConditionID, Question: m.Question,
		Rules: m.Description, Category: m.Category, OpenTime: m.StartTime, CloseTime: m.EndTime,
		UpdatedAt: m.UpdatedAt,
	}
	if sm.UpdatedAt.IsZero() {
		sm.UpdatedAt = v.now().UTC()
	}
	switch m.Resolution {
	case Trading:
		sm.Status = sibyl.StatusOpen
	case Resolved:
		sm.Status = sibyl.StatusSettled
		sm.Result = m.Winner
	default:
		sm.Status = sibyl.StatusClosed
	}
	if m.TickSize != "" {
		tick := decimal.RequireFromString(m.TickSize)
		sm.TickSize = f(tick)
		minQ := m.MinSize
		sm.OrderRules = sibyl.TickRules(tick, decimal.New(1, -2), minQ)
	}
	one := decimal.NewFromInt(1)
	for i, o := range m.Outcomes {
		so := sibyl.Outcome{Name: o.Name, TokenID: o.TokenID, ImpliedProbability: f(o.Price)}
		bid, ask, last := m.BestBid, m.BestAsk, m.LastTrade
		if i == 1 && len(m.Outcomes) == 2 {
			bid, ask = decimal.Zero, decimal.Zero
			if m.BestAsk.IsPositive() {
				bid = one.Sub(m.BestAsk)
			}
			if m.BestBid.IsPositive() {
				ask = one.Sub(m.BestBid)
			}
			if m.LastTrade.IsPositive() {
				last = one.Sub(m.LastTrade)
			}
		} else if i > 1 {
			bid, ask, last = decimal.Zero, decimal.Zero, decimal.Zero
		}
		if m.Resolution == Trading {
			so.Bid, so.Ask, so.Last = f(bid), f(ask), f(last)
		}
		switch {
		case so.Bid > 0 && so.Ask > 0:
			so.Mid = f(bid.Add(ask).Div(decimal.NewFromInt(2)))
		default:
			so.Mid = so.Last
		}
		sm.Outcomes = append(sm.Outcomes, so)
	}
	return sm
}

// OrderBook returns an outcome's CLOB book, best first.
func (v *Venue) OrderBook(ctx context.Context, nativeID, outcome string, depth int) (sibyl.OrderBook, error) {
	m, err := v.c.MarketByConditionID(ctx, nativeID)
	if err != nil {
		return sibyl.OrderBook{}, err
	}
	o, ok := m.Outcome(outcome)
	if !ok || o.TokenID == "" {
		return sibyl.OrderBook{}, sibyl.FieldErrorf(sibyl.NotFound, "outcome", "market %s has no outcome %q (it has %s)", nativeID, outcome, outcomeNames(m))
	}
	b, err := v.c.Book(ctx, o.TokenID)
	if err != nil {
		return sibyl.OrderBook{}, err
	}
	conv := func(ls []Level) []sibyl.PriceLevel {
		if depth > 0 && len(ls) > depth {
			ls = ls[:depth]
		}
		out := make([]sibyl.PriceLevel, 0, len(ls))
		for _, l := range ls {
			out = append(out, sibyl.PriceLevel{Price: l.Price.InexactFloat64(), Size: l.Size.InexactFloat64()})
		}
		return out
	}
	ob := sibyl.OrderBook{MarketID: Name + ":" + m.ConditionID, Outcome: o.Name, Bids: conv(b.Bids), Asks: conv(b.Asks), Time: b.Time}
	if b.TickSize != "" {
		ob.TickSize = decimal.RequireFromString(b.TickSize).InexactFloat64()
	}
	if ob.Time.IsZero() {
		ob.Time = v.now().UTC()
	}
	return ob, nil
}

// canTrade refuses orders and cancels without a wallet or without --live, so
// nothing reaches the venue.
func (v *Venue) canTrade() error {
	if v.trader == nil {
		return sibyl.Errorf(sibyl.Unauthorized, "Polymarket is read-only here: set POLYMARKET_PRIVATE_KEY_PATH (and POLYMARKET_SIGNATURE_TYPE, POLYMARKET_FUNDER) to trade")
	}
	if !v.live {
		return sibyl.Errorf(sibyl.Unauthorized, "Polymarket orders move real money: sibyl serve must run with --live to send them; nothing was sent")
	}
	return nil
}

// PrepareOrder builds and signs the order (salt and timestamp fixed now): its
// hash is the order id and its POST body the payload sibyl stores and resends.
func (v *Venue) PrepareOrder(ctx context.Context, req sibyl.OrderRequest) (sibyl.PreparedOrder, error) {
	if err := v.canTrade(); err != nil {
		return sibyl.PreparedOrder{}, err
	}
	m, err := v.c.MarketByConditionID(ctx, req.NativeMarketID)
	if err != nil {
		return sibyl.PreparedOrder{}, err
	}
	spec, err := v.spec(ctx, m, req)
	if err != nil {
		return sibyl.PreparedOrder{}, err
	}
	p, err := v.trader.Prepare(ctx, spec)
	if err != nil {
		return sibyl.PreparedOrder{}, err
	}
	return sibyl.PreparedOrder{NativeOrderID: p.Hash, Payload: p.Body}, nil
}

// spec maps a sibyl order onto Polymarket's order types: a limit order good
// till cancelled is GTC; IOC and FOK limits are FAK and FOK with the limit as
// the worst price; market orders are FAK (FOK with time_in_force fok) with a
// worst price taken from the book when none is given. A buy of FAK/FOK is in
// dollars on the wire: quantity x worst price, rounded down to the cent.
func (v *Venue) spec(ctx context.Context, m Market, req sibyl.OrderRequest) (Spec, error) {
	s := Spec{Market: m, Outcome: req.Outcome, Price: req.LimitPrice, Size: req.Quantity}
	switch req.Side {
	case sibyl.Buy:
		s.Side = clob.Buy
	case sibyl.Sell:
		s.Side = clob.Sell
	default:
		return Spec{}, sibyl.FieldErrorf(sibyl.Invalid, "side", "side must be buy or sell")
	}
	switch {
	case req.Type == sibyl.LimitOrder && (req.TimeInForce == sibyl.GTC || req.TimeInForce == ""):
		s.OrderType = clob.GTC
		return s, nil
	case req.TimeInForce == sibyl.FOK:
		s.OrderType = clob.FOK
	default:
		s.OrderType = clob.FAK
	}
	if req.Type == sibyl.MarketOrder && !req.LimitPrice.IsPositive() {
		worst, err := v.worstPrice(ctx, m, req, s.OrderType == clob.FOK)
		if err != nil {
			return Spec{}, err
		}
		s.Price = worst
	}
	if s.Side == clob.Buy {
		s.Size = req.Quantity.Mul(s.Price).RoundFloor(2)
		if !s.Size.IsPositive() {
			return Spec{}, sibyl.FieldErrorf(sibyl.Invalid, "quantity", "%s contracts at %s is less than a cent", req.Quantity, s.Price)
		}
	}
	return s, nil
}

// worstPrice is the official client's calculateMarketPrice for a quantity in
// contracts: the price of the book level at which quantity is reached, or the
// deepest level for FAK; FOK without enough depth is refused.
func (v *Venue) worstPrice(ctx context.Context, m Market, req sibyl.OrderRequest, fok bool) (decimal.Decimal, error) {
	o, ok := m.Outcome(req.Outcome)
	if !ok || o.TokenID == "" {
		return decimal.Decimal{}, sibyl.FieldErrorf(sibyl.NotFound, "outcome", "market %s has no outcome %q (it has %s)", m.ConditionID, req.Outcome, outcomeNames(m))
	}
	b, err := v.c.Book(ctx, o.TokenID)
	if err != nil {
		return decimal.Decimal{}, err
	}
	levels := b.Asks
	if req.Side == sibyl.Sell {
		levels = b.Bids
	}
	if len(levels) == 0 {
		return decimal.Decimal{}, sibyl.Errorf(sibyl.Conflict, "the %s book of %s is empty: no market order can fill", req.Outcome, m.ConditionID)
	}
	var sum decimal.Decimal
	for _, l := range levels {
		sum = sum.Add(l.Size)
		if sum.GreaterThanOrEqual(req.Quantity) {
			return l.Price, nil
		}
	}
	if fok {
		return decimal.Decimal{}, sibyl.Errorf(sibyl.Conflict, "only %s contracts are offered in the %s book of %s: a fill-or-kill order for %s cannot fill", sum, req.Outcome, m.ConditionID, req.Quantity)
	}
	return levels[len(levels)-1].Price, nil
}

// PlaceOrder sends the stored prepared order exactly. A lost answer is
// Unavailable (reconcile by hash); a venue that already has the order answers
// with it.
func (v *Venue) PlaceOrder(ctx context.Context, req sibyl.OrderRequest) (sibyl.Order, error) {
	if err := v.canTrade(); err != nil {
		return sibyl.Order{}, err
	}
	if req.Prepared == nil || len(req.Prepared.Payload) == 0 {
		return sibyl.Order{}, sibyl.Errorf(sibyl.Internal, "a Polymarket order must be prepared and stored before it is sent")
	}
	pb, err := clob.ParseBody(req.Prepared.Payload)
	if err != nil {
		return sibyl.Order{}, sibyl.WrapError(sibyl.Internal, err, "the stored Polymarket order cannot be read")
	}
	v.remember(req.Prepared.NativeOrderID, req.ClientOrderID)
	a, err := v.trader.Submit(ctx, req.Prepared.Payload)
	if errors.Is(err, ErrDuplicate) {
		o, gerr := v.GetOrder(ctx, req.Principal, req.Prepared.NativeOrderID)
		if gerr != nil {
			// The venue has the order but it could not be read: the
			// outcome is unknown, not a refusal (not_found here would be
			// stored as "nothing placed").
			return sibyl.Order{}, sibyl.WrapError(sibyl.Unavailable, gerr, "Polymarket already has this order but it could not be read back; the outcome is unknown, retry with the same idempotency key to reconcile")
		}
		o.ClientOrderID = req.ClientOrderID
		return o, nil
	}
	if err != nil {
		if isFOKKill(err) {
			return v.placed(req, pb, PostAnswer{OrderID: req.Prepared.NativeOrderID, Status: "killed", ErrorMsg: sibyl.ErrorMessage(err)}), nil
		}
		return sibyl.Order{}, err
	}
	return v.placed(req, pb, a), nil
}

func isFOKKill(err error) bool {
	return sibyl.ErrorCode(err) == sibyl.Invalid && strings.Contains(strings.ToLower(sibyl.ErrorMessage(err)), "fully filled or killed")
}

// placed turns POST /order's answer into an Order: the amounts matched so far
// are the fills (shares for a buy are the taking amount, for a sell the making
// amount).
func (v *Venue) placed(req sibyl.OrderRequest, pb clob.ParsedBody, a PostAnswer) sibyl.Order {
	now := v.now().UTC()
	o := sibyl.Order{
		NativeID: a.OrderID, ClientOrderID: req.ClientOrderID, Venue: Name, MarketID: Name + ":" + req.NativeMarketID,
		Outcome: req.Outcome, Side: req.Side, Type: req.Type, TimeInForce: req.TimeInForce, Quantity: req.Quantity,
		LimitPrice: req.LimitPrice, CreatedAt: now, UpdatedAt: now, Fills: []sibyl.Fill{},
	}
	if o.NativeID == "" && req.Prepared != nil {
		o.NativeID = req.Prepared.NativeOrderID
	}
	shares, dollars := a.TakingAmount.Decimal, a.MakingAmount.Decimal
	if pb.Order.Side == clob.Sell {
		shares, dollars = a.MakingAmount.Decimal, a.TakingAmount.Decimal
	}
	if shares.IsPositive() {
		o.FilledQuantity = shares
		o.AveragePrice = dollars.DivRound(shares, 6)
		o.Fills = append(o.Fills, sibyl.Fill{ID: strings.Join(a.TradeIDs, ","), Price: o.AveragePrice, Quantity: shares, Time: now})
	}
	market := pb.OrderType == clob.FOK || pb.OrderType == clob.FAK
	switch strings.ToLower(a.Status) {
	case "live":
		o.Status = sibyl.OrderOpen
		if shares.IsPositive() {
			o.Status = sibyl.OrderPartiallyFilled
		}
	case "matched":
		o.Status = sibyl.OrderFilled
		if market && shares.LessThan(req.Quantity) && pb.OrderType == clob.FAK {
			o.Status = sibyl.OrderCancelled // the rest was killed
		}
		if !market && shares.LessThan(req.Quantity) {
			o.Status = sibyl.OrderPartiallyFilled
		}
	case "killed":
		o.Status = sibyl.OrderCancelled
		o.RejectReason = "fill or kill: the book could not fill the whole order at the worst price; nothing was filled"
	case "unmatched":
		if market {
			o.Status = sibyl.OrderCancelled
			o.RejectReason = "nothing could be matched at the worst price; the order was cancelled"
		} else {
			o.Status = sibyl.OrderAccepted
		}
	default: // delayed, or anything new: Polymarket has it, GetOrder will tell
		o.Status = sibyl.OrderAccepted
	}
	return o
}

// GetOrder returns an order by its hash.
func (v *Venue) GetOrder(ctx context.Context, principal, nativeOrderID string) (sibyl.Order, error) {
	if v.trader == nil {
		return sibyl.Order{}, v.canTrade()
	}
	if !ValidOrderID(nativeOrderID) {
		return sibyl.Order{}, sibyl.FieldErrorf(sibyl.NotFound, "order_id", "Polymarket has no order %q: its order ids are 0x and 64 hex digits", nativeOrderID)
	}
	oo, err := v.trader.Order(ctx, nativeOrderID)
	if err != nil {
		return sibyl.Order{}, err
	}
	o := v.fromOpenOrder(oo)
	if len(oo.AssociateTrades) > 0 && o.FilledQuantity.IsPositive() {
		fills, err := v.trader.Fills(ctx, oo.ID, oo.AssociateTrades)
		if err != nil {
			return sibyl.Order{}, err
		}
		if len(fills) > 0 {
			var qty, cost decimal.Decimal
			o.Fills = o.Fills[:0]
			for _, f := range fills {
				o.Fills = append(o.Fills, sibyl.Fill{ID: f.TradeID, Price: f.Price, Quantity: f.Size, Maker: f.Maker, Time: f.Time})
				qty, cost = qty.Add(f.Size), cost.Add(f.Size.Mul(f.Price))
			}
			o.AveragePrice = cost.DivRound(qty, 6)
		}
	}
	return o, nil
}

// fromOpenOrder maps GET /data/order's answer.
func (v *Venue) fromOpenOrder(oo OpenOrder) sibyl.Order {
	o := sibyl.Order{
		NativeID: oo.ID, ClientOrderID: v.clientID(oo.ID), Venue: Name, MarketID: Name + ":" + oo.Market, Outcome: oo.Outcome,
		Side: sibyl.Side(strings.ToLower(oo.Side)), Type: sibyl.LimitOrder, TimeInForce: sibyl.GTC,
		Quantity: oo.OriginalSize.Decimal, LimitPrice: oo.Price.Decimal, FilledQuantity: oo.SizeMatched.Decimal,
		Fills: []sibyl.Fill{}, CreatedAt: time.Unix(oo.CreatedAt, 0).UTC(), UpdatedAt: v.now().UTC(),
	}
	switch strings.ToUpper(oo.OrderType) {
	case clob.FOK:
		o.TimeInForce = sibyl.FOK
	case clob.FAK:
		o.TimeInForce = sibyl.IOC
	}
	if o.FilledQuantity.IsPositive() {
		// GET /data/order gives the matched size, not the fill prices: the
		// limit is the worst they can be. Trades would tell the exact prices.
		o.AveragePrice = o.LimitPrice
		o.Fills = append(o.Fills, sibyl.Fill{ID: strings.Join(oo.AssociateTrades, ","), Price: o.LimitPrice, Quantity: o.FilledQuantity, Time: o.UpdatedAt})
	}
	switch strings.ToUpper(oo.Status) {
	case "LIVE", "ORDER_STATUS_LIVE":
		o.Status = sibyl.OrderOpen
		if o.FilledQuantity.IsPositive() {
			o.Status = sibyl.OrderPartiallyFilled
		}
	case "MATCHED", "ORDER_STATUS_MATCHED":
		o.Status = sibyl.OrderFilled
	case "CANCELED", "CANCELLED", "ORDER_STATUS_CANCELED", "ORDER_STATUS_CANCELED_MARKET_RESOLVED":
		o.Status = sibyl.OrderCancelled
	case "INVALID", "ORDER_STATUS_INVALID":
		o.Status = sibyl.OrderRejected
		o.RejectReason = "Polymarket marked the order invalid"
	default:
		o.Status = sibyl.OrderAccepted
	}
	return o
}

// OrderByClientID reconciles a lost answer. Every Polymarket order sibyl sends
// was prepared first, and its id is the prepared hash: ask for it. Without a
// prepared order nothing was ever sent, so NotFound is certain.
func (v *Venue) OrderByClientID(ctx context.Context, principal, clientOrderID string, hint sibyl.LookupHint) (sibyl.Order, error) {
	if hint.Prepared == nil || hint.Prepared.NativeOrderID == "" {
		return sibyl.Order{}, sibyl.Errorf(sibyl.NotFound, "no prepared Polymarket order for client order id %s: it was never sent", clientOrderID)
	}
	v.remember(hint.Prepared.NativeOrderID, clientOrderID)
	o, err := v.GetOrder(ctx, principal, hint.Prepared.NativeOrderID)
	if err != nil {
		return sibyl.Order{}, err
	}
	o.ClientOrderID = clientOrderID
	return o, nil
}

// CancelOrder cancels a resting order by hash. A final order is a Conflict
// with its state; an unknown one is NotFound.
func (v *Venue) CancelOrder(ctx context.Context, principal, nativeOrderID string) (sibyl.Order, error) {
	if err := v.canTrade(); err != nil {
		return sibyl.Order{}, err
	}
	if !ValidOrderID(nativeOrderID) {
		return sibyl.Order{}, sibyl.FieldErrorf(sibyl.NotFound, "order_id", "Polymarket has no order %q: its order ids are 0x and 64 hex digits", nativeOrderID)
	}
	done, why, err := v.trader.Cancel(ctx, nativeOrderID)
	if err != nil {
		return sibyl.Order{}, err
	}
	o, gerr := v.GetOrder(ctx, principal, nativeOrderID)
	if gerr != nil {
		if done {
			return sibyl.Order{}, gerr
		}
		return sibyl.Order{}, gerr
	}
	if !done && o.Status.Final() {
		return o, &sibyl.Error{Code: sibyl.Conflict, Message: fmt.Sprintf("the order is already %s", o.Status), Err: errors.New(why)}
	}
	if !done {
		return sibyl.Order{}, sibyl.Errorf(sibyl.Unavailable, "Polymarket did not cancel the order: %s", why)
	}
	return o, nil
}

// ListOrders returns a page of the wallet's open orders (Polymarket lists only
// open ones: a filter on a final status returns none).
func (v *Venue) ListOrders(ctx context.Context, principal string, q sibyl.OrderQuery) (sibyl.OrderPage, error) {
	if v.trader == nil {
		return sibyl.OrderPage{}, v.canTrade()
	}
	if q.Status != "" && q.Status != sibyl.OrderOpen && q.Status != sibyl.OrderPartiallyFilled {
		return sibyl.OrderPage{Orders: []sibyl.Order{}}, nil
	}
	oos, next, err := v.trader.OpenOrders(ctx, q.NativeMarketID, q.Cursor)
	if err != nil {
		return sibyl.OrderPage{}, err
	}
	page := sibyl.OrderPage{Orders: []sibyl.Order{}, NextCursor: next}
	for _, oo := range oos {
		o := v.fromOpenOrder(oo)
		if q.Status == "" || o.Status == q.Status {
			page.Orders = append(page.Orders, o)
		}
	}
	return page, nil
}

// Portfolio returns the wallet's pUSD balance (GET /balance-allowance) as cash
// and its open positions from the Data API, marked at their current price.
func (v *Venue) Portfolio(ctx context.Context, principal string) (sibyl.Portfolio, error) {
	if v.trader == nil {
		return sibyl.Portfolio{}, v.canTrade()
	}
	ps, err := v.c.Positions(ctx, v.trader.wallet.Maker().Hex())
	if err != nil {
		return sibyl.Portfolio{}, err
	}
	cash, err := v.trader.Balance(ctx)
	if err != nil {
		return sibyl.Portfolio{}, err
	}
	out := sibyl.Portfolio{Venue: Name, Time: v.now().UTC(), SharedAccount: true, Positions: []sibyl.Position{}, Cash: cash.InexactFloat64()}
	equity := cash
	for _, p := range ps {
		value := p.Size.Mul(p.CurPrice)
		equity = equity.Add(value)
		out.Positions = append(out.Positions, sibyl.Position{
			MarketID: Name + ":" + p.ConditionID, Outcome: p.Outcome, Quantity: p.Size.InexactFloat64(),
			AveragePrice: p.AvgPrice.InexactFloat64(), MarkPrice: p.CurPrice.InexactFloat64(), MarketValue: value.InexactFloat64(),
			UnrealizedPnL: value.Sub(p.Size.Mul(p.AvgPrice)).InexactFloat64(), RealizedPnL: p.RealizedPnL.InexactFloat64(),
		})
	}
	out.Equity = equity.InexactFloat64()
	return out, nil
}
