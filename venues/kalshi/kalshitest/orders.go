package kalshitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// createBody is CreateOrderV2Request from the official models. Unknown fields
// are refused, so a client sending legacy fields (yes_price, action, ...)
// fails loudly.
type createBody struct {
	Ticker                  string  `json:"ticker"`
	ClientOrderID           string  `json:"client_order_id"`
	Side                    string  `json:"side"`
	Count                   string  `json:"count"`
	Price                   string  `json:"price"`
	ExpirationTime          *int64  `json:"expiration_time"`
	TimeInForce             string  `json:"time_in_force"`
	PostOnly                bool    `json:"post_only"`
	SelfTradePreventionType string  `json:"self_trade_prevention_type"`
	CancelOrderOnPause      bool    `json:"cancel_order_on_pause"`
	ReduceOnly              bool    `json:"reduce_only"`
	Subaccount              *int    `json:"subaccount"`
	OrderGroupID            *string `json:"order_group_id"`
	ExchangeIndex           *int    `json:"exchange_index"`
}

var (
	reCount = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,2})?$`)
	rePrice = regexp.MustCompile(`^0\.[0-9]{2,4}$`)
	feeRate = decimal.RequireFromString("0.07")
	cent    = decimal.RequireFromString("0.01")
)

// takerFee is Kalshi's general fee: 0.07 x C x P x (1-P), rounded up to the cent.
func takerFee(count, price decimal.Decimal) decimal.Decimal {
	f := feeRate.Mul(count).Mul(price).Mul(one.Sub(price))
	return f.Div(cent).Ceil().Mul(cent)
}

func (m *market) onTick(p decimal.Decimal) bool {
	for _, r := range m.ranges {
		if p.GreaterThanOrEqual(r[0]) && p.LessThanOrEqual(r[1]) && p.Sub(r[0]).Mod(r[2]).IsZero() {
			return true
		}
	}
	return false
}

// reserveFor is the cash an order's unfilled part holds: a bid pays the YES
// price, an ask (buying NO) pays 1 - the YES price.
func reserveFor(side string, price, count decimal.Decimal) decimal.Decimal {
	if side == "bid" {
		return price.Mul(count)
	}
	return one.Sub(price).Mul(count)
}

func (s *Server) createOrder(w http.ResponseWriter, r *http.Request) {
	var b createBody
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"code": "bad_request", "message": "bad request", "details": err.Error()})
		return
	}
	switch {
	case b.Ticker == "":
		writeErr(w, http.StatusBadRequest, "missing_parameters", "missing parameters", "ticker")
		return
	case b.Side != "bid" && b.Side != "ask":
		writeErr(w, http.StatusBadRequest, "invalid_order", "invalid order", "side must be bid or ask")
		return
	case !reCount.MatchString(b.Count):
		writeErr(w, http.StatusBadRequest, "invalid_order", "invalid order", "count must be a fixed-point string with at most 2 decimals")
		return
	case !rePrice.MatchString(b.Price):
		writeErr(w, http.StatusBadRequest, "invalid_order", "invalid order", "price must be a dollar string with 2-4 decimals")
		return
	case b.TimeInForce != "fill_or_kill" && b.TimeInForce != "good_till_canceled" && b.TimeInForce != "immediate_or_cancel":
		writeErr(w, http.StatusBadRequest, "invalid_order", "invalid order", "time_in_force")
		return
	case b.SelfTradePreventionType != "taker_at_cross" && b.SelfTradePreventionType != "maker":
		writeErr(w, http.StatusBadRequest, "invalid_order", "invalid order", "self_trade_prevention_type")
		return
	}
	count, price := dec2(b.Count), dec2(b.Price)
	if !count.IsPositive() || !price.IsPositive() || !price.LessThan(one) {
		writeErr(w, http.StatusBadRequest, "invalid_order", "invalid order", "count and price out of range")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.markets[b.Ticker]
	if !ok {
		writeErr(w, http.StatusNotFound, "market_not_found", "market not found", "")
		return
	}
	if b.ExchangeIndex != nil && *b.ExchangeIndex != -1 && *b.ExchangeIndex != m.spec.ExchangeIndex {
		writeErr(w, http.StatusNotFound, "market_not_found", "market not found on this exchange index", "")
		return
	}
	if m.spec.Status != "active" {
		writeErr(w, http.StatusBadRequest, "market_closed", "market closed", "")
		return
	}
	if !m.onTick(price) {
		writeErr(w, http.StatusBadRequest, "invalid_order", "invalid order", "price is not a valid price level for this market")
		return
	}
	if b.ClientOrderID != "" && s.opts.Dedupe != DedupeNone {
		for _, o := range s.orders {
			if o.clientID == b.ClientOrderID && (s.opts.Dedupe == DedupeAny || o.status == "resting") {
				writeErr(w, http.StatusConflict, "order_already_exists", "an order with this client_order_id already exists", "")
				return
			}
		}
	}
	worst := reserveFor(b.Side, price, count).Add(takerFee(count, price))
	if worst.GreaterThan(s.cash) {
		writeErr(w, http.StatusBadRequest, "insufficient_balance", "insufficient balance", "")
		return
	}

	now := s.opts.Now().UTC()
	s.seq++
	o := &order{
		id: fmt.Sprintf("%08x-0000-4000-8000-%012x", s.seq, s.seq), clientID: b.ClientOrderID,
		ticker: b.Ticker, side: b.Side, tif: b.TimeInForce, price: price, initial: count,
		created: now, updated: now, exchangeIndex: m.spec.ExchangeIndex,
	}
	s.match(m, o, now)
	s.orders = append(s.orders, o)
	s.byID[o.id] = o

	avg := decimal.Zero
	avgFee := decimal.Zero
	if o.filled.IsPositive() {
		avg = o.yesCost.Div(o.filled).Round(6) // V2 quotes the YES price
		avgFee = o.fees.Div(o.filled).Round(6)
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"order_id": o.id, "client_order_id": o.clientID,
		"fill_count": c2(o.filled), "remaining_count": c2(o.remaining()),
		"average_fill_price": avg.StringFixed(4), "average_fee_paid": avgFee.StringFixed(4),
		"ts_ms": now.UnixMilli(),
	})
}

func dec2(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func (o *order) remaining() decimal.Decimal {
	if o.status != "resting" {
		return decimal.Zero
	}
	return o.initial.Sub(o.filled)
}

// match fills o against the makers' bids on the other side, best first:
// a bid at p takes NO bids q with 1-q <= p (at YES price 1-q); an ask at p
// takes YES bids >= p. FOK fills all or nothing; the rest of a GTC order
// rests, of IOC/FOK is cancelled. Callers hold s.mu.
func (s *Server) match(m *market, o *order, now time.Time) {
	other := m.noBids
	if o.side == "ask" {
		other = m.yesBids
	}
	sort.SliceStable(other, func(i, j int) bool { return other[i].price.GreaterThan(other[j].price) })
	crosses := func(l level) (decimal.Decimal, bool) {
		if o.side == "bid" {
			yp := one.Sub(l.price)
			return yp, yp.LessThanOrEqual(o.price)
		}
		return l.price, l.price.GreaterThanOrEqual(o.price)
	}
	if o.tif == "fill_or_kill" {
		avail := decimal.Zero
		for _, l := range other {
			if _, ok := crosses(l); ok {
				avail = avail.Add(l.count)
			}
		}
		if avail.LessThan(o.initial) {
			o.status = "canceled"
			return
		}
	}
	for i := range other {
		l := &other[i]
		yp, ok := crosses(*l)
		if !ok || !l.count.IsPositive() {
			continue
		}
		left := o.initial.Sub(o.filled)
		if !left.IsPositive() {
			break
		}
		q := decimal.Min(left, l.count)
		l.count = l.count.Sub(q)
		fee := takerFee(q, yp)
		cost := reserveFor(o.side, yp, q)
		o.filled = o.filled.Add(q)
		o.cost = o.cost.Add(cost) // what the buyer of outcome_side paid
		o.yesCost = o.yesCost.Add(yp.Mul(q))
		o.fees = o.fees.Add(fee)
		s.cash = s.cash.Sub(cost).Sub(fee)
		if o.side == "bid" {
			s.positions[o.ticker] = s.positions[o.ticker].Add(q)
		} else {
			s.positions[o.ticker] = s.positions[o.ticker].Sub(q)
		}
		s.fees[o.ticker] = s.fees[o.ticker].Add(fee)
		m.volume = m.volume.Add(q)
		m.last = yp
		s.fills = append(s.fills, fill{id: fmt.Sprintf("fill-%d-%d", s.seq, i), orderID: o.id, ticker: o.ticker, side: o.side, count: q, yesPrice: yp, fee: fee, at: now, exchangeIndex: o.exchangeIndex})
	}
	switch {
	case o.filled.Equal(o.initial):
		o.status = "executed"
	case o.tif == "good_till_canceled":
		o.status = "resting"
		s.cash = s.cash.Sub(reserveFor(o.side, o.price, o.initial.Sub(o.filled)))
	default:
		o.status = "canceled"
	}
}

func (s *Server) orderJSON(o *order) map[string]any {
	outcome := "yes"
	if o.side == "ask" {
		outcome = "no"
	}
	return map[string]any{
		"order_id": o.id, "user_id": "user-1", "client_order_id": o.clientID, "ticker": o.ticker,
		"outcome_side": outcome, "book_side": o.side, "type": "limit", "status": o.status,
		"yes_price_dollars": d4(o.price), "no_price_dollars": d4(one.Sub(o.price)),
		"fill_count_fp": c2(o.filled), "remaining_count_fp": c2(o.remaining()), "initial_count_fp": c2(o.initial),
		"taker_fill_cost_dollars": o.cost.StringFixed(4), "maker_fill_cost_dollars": "0.0000",
		"taker_fees_dollars": o.fees.StringFixed(4), "maker_fees_dollars": "0.0000",
		"created_time":               o.created.Format(time.RFC3339Nano),
		"last_update_time":           o.updated.Format(time.RFC3339Nano),
		"self_trade_prevention_type": "taker_at_cross", "exchange_index": o.exchangeIndex,
	}
}

func (s *Server) cancelOrder(w http.ResponseWriter, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.byID[id]
	if !ok {
		writeErr(w, http.StatusNotFound, "not_found", "order not found", "")
		return
	}
	if o.status != "resting" {
		writeErr(w, http.StatusConflict, "order_not_cancelable", "order is not resting", o.status)
		return
	}
	rem := o.remaining()
	s.cash = s.cash.Add(reserveFor(o.side, o.price, rem))
	o.status = "canceled"
	o.updated = s.opts.Now().UTC()
	writeJSON(w, http.StatusOK, map[string]any{"order_id": o.id, "client_order_id": o.clientID, "reduced_by": c2(rem), "ts_ms": o.updated.UnixMilli()})
}

func (s *Server) getOrder(w http.ResponseWriter, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.byID[id]
	if !ok {
		writeErr(w, http.StatusNotFound, "not_found", "order not found", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"order": s.orderJSON(o)})
}

func (s *Server) getOrders(w http.ResponseWriter, q url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	minTs, _ := strconv.ParseInt(q.Get("min_ts"), 10, 64)
	maxTs, _ := strconv.ParseInt(q.Get("max_ts"), 10, 64)
	var list []map[string]any
	for i := len(s.orders) - 1; i >= 0; i-- { // newest first
		o := s.orders[i]
		if t := q.Get("ticker"); t != "" && o.ticker != t {
			continue
		}
		if ev := q.Get("event_ticker"); ev != "" && s.markets[o.ticker].spec.EventTicker != ev {
			continue
		}
		if st := q.Get("status"); st != "" && o.status != st {
			continue
		}
		if minTs > 0 && o.created.Unix() < minTs || maxTs > 0 && o.created.Unix() > maxTs {
			continue
		}
		list = append(list, s.orderJSON(o))
	}
	start, end, next, ok := pageBounds(q, len(list), 100, 1000)
	if !ok {
		writeErr(w, http.StatusBadRequest, "bad_request", "bad limit or cursor", "")
		return
	}
	page := list[start:end]
	if page == nil {
		page = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"orders": page, "cursor": next})
}

func (s *Server) getFills(w http.ResponseWriter, q url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []map[string]any
	for i := len(s.fills) - 1; i >= 0; i-- {
		f := s.fills[i]
		if id := q.Get("order_id"); id != "" && f.orderID != id {
			continue
		}
		if t := q.Get("ticker"); t != "" && f.ticker != t {
			continue
		}
		outcome := "yes"
		if f.side == "ask" {
			outcome = "no"
		}
		list = append(list, map[string]any{
			"fill_id": f.id, "trade_id": f.id, "order_id": f.orderID, "ticker": f.ticker, "market_ticker": f.ticker,
			"outcome_side": outcome, "book_side": f.side, "count_fp": c2(f.count),
			"yes_price_dollars": d4(f.yesPrice), "no_price_dollars": d4(one.Sub(f.yesPrice)),
			"is_taker": true, "created_time": f.at.Format(time.RFC3339Nano), "fee_cost": f.fee.StringFixed(4),
			"exchange_index": f.exchangeIndex, "ts": f.at.Unix(),
		})
	}
	start, end, next, ok := pageBounds(q, len(list), 100, 1000)
	if !ok {
		writeErr(w, http.StatusBadRequest, "bad_request", "bad limit or cursor", "")
		return
	}
	page := list[start:end]
	if page == nil {
		page = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"fills": page, "cursor": next})
}

func (s *Server) getBalance(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cents := s.cash.Mul(decimal.NewFromInt(100)).Floor().IntPart()
	writeJSON(w, http.StatusOK, map[string]any{
		"balance": cents, "balance_dollars": s.cash.StringFixed(4),
		"portfolio_value": cents, "updated_ts": s.opts.Now().Unix(),
	})
}

func (s *Server) getPositions(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ps []map[string]any
	for _, t := range s.tickers {
		p := s.positions[t]
		if p.IsZero() {
			continue
		}
		ps = append(ps, map[string]any{
			"ticker": t, "exchange_index": s.markets[t].spec.ExchangeIndex, "total_traded_dollars": "0.0000",
			"position_fp": c2(p), "market_exposure_dollars": "0.0000", "realized_pnl_dollars": "0.0000",
			"fees_paid_dollars": s.fees[t].StringFixed(4), "last_updated_ts": s.opts.Now().UTC().Format(time.RFC3339),
		})
	}
	if ps == nil {
		ps = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"market_positions": ps, "event_positions": []any{}, "cursor": ""})
}
