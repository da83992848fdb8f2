package polymarket

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/polymarket/clob"
)

// Wallet is who trades: the key (inside the signer), the signature type and
// the funder wallet (the proxy, safe or deposit wallet that holds the funds;
// zero for type 0, where the key's own address holds them).
type Wallet struct {
	Signer        *clob.Signer
	SignatureType clob.SignatureType
	Funder        clob.Address
}

// Maker returns the address that holds the funds and positions: the funder, or
// the key's address for type 0.
func (w Wallet) Maker() clob.Address {
	if !w.Funder.IsZero() {
		return w.Funder
	}
	return w.Signer.Address()
}

// Trader prepares, sends and follows orders for one wallet.
type Trader struct {
	c      *Client
	wallet Wallet
	now    func() time.Time

	mu      sync.Mutex
	version int // GET /version's answer; 0 until read
}

// NewTrader returns a Trader. The client must carry the same signer.
func NewTrader(c *Client, w Wallet) (*Trader, error) {
	if w.Signer == nil {
		return nil, errors.New("a Polymarket trader needs the wallet's key")
	}
	if w.SignatureType > clob.Poly1271 {
		return nil, fmt.Errorf("signature type %d is not one of 0-3", w.SignatureType)
	}
	if w.SignatureType != clob.EOA && w.Funder.IsZero() {
		return nil, fmt.Errorf("signature type %d needs the funder wallet (POLYMARKET_FUNDER)", w.SignatureType)
	}
	return &Trader{c: c, wallet: w, now: c.now}, nil
}

// Version returns the CLOB's order version, reading GET /version the first
// time or when refresh is set (after an order_version_mismatch).
func (t *Trader) Version(ctx context.Context, refresh bool) (int, error) {
	t.mu.Lock()
	v := t.version
	t.mu.Unlock()
	if v != 0 && !refresh {
		return v, nil
	}
	v, err := t.c.OrderVersion(ctx)
	if err != nil {
		return 0, err
	}
	t.mu.Lock()
	t.version = v
	t.mu.Unlock()
	return v, nil
}

// Spec is an order to prepare.
type Spec struct {
	Market    Market
	Outcome   string
	Side      clob.Side
	OrderType string          // clob.GTC, GTD, FOK or FAK
	Price     decimal.Decimal // limit price, or the worst price of FOK/FAK
	Size      decimal.Decimal // shares; for FOK/FAK BUY the dollars to spend
	PostOnly  bool
	Expires   time.Time // GTD only
}

// Prepared is a signed order ready to send: its hash (Polymarket's order id)
// and the exact POST /order body. Storing Body and sending it again is how a
// resend stays the identical order.
type Prepared struct {
	Hash string
	Body []byte
}

// Prepare builds and signs an order: amounts per the market's tick size as the
// official client rounds them, a fresh salt, the timestamp now, the domain of
// the market's order version. Refusals are *sibyl.Error (Invalid with the
// field at fault, MarketClosed).
func (t *Trader) Prepare(ctx context.Context, s Spec) (Prepared, error) {
	m := s.Market
	out, ok := m.Outcome(s.Outcome)
	if !ok || out.TokenID == "" {
		return Prepared{}, sibyl.FieldErrorf(sibyl.NotFound, "outcome", "market %s has no outcome %q (it has %s)", m.ConditionID, s.Outcome, outcomeNames(m))
	}
	if m.Closed || !m.AcceptingOrders || !m.EnableOrderBook {
		return Prepared{}, sibyl.Errorf(sibyl.MarketClosed, "Polymarket market %s is not accepting orders (%s)", m.ConditionID, m.Resolution)
	}
	rc, err := clob.Rounding(m.TickSize)
	if err != nil {
		return Prepared{}, sibyl.WrapError(sibyl.Unavailable, err, "Polymarket gave this market a tick size sibyl does not know")
	}
	tick := decimal.RequireFromString(m.TickSize)
	if s.Price.LessThan(tick) || s.Price.GreaterThan(decimal.NewFromInt(1).Sub(tick)) {
		return Prepared{}, sibyl.FieldErrorf(sibyl.Invalid, "limit_price", "price %s is outside %s-%s, the range of this market (tick %s)", s.Price, tick, decimal.NewFromInt(1).Sub(tick), tick)
	}
	if !s.Price.Mod(tick).IsZero() {
		lo := s.Price.Div(tick).Floor().Mul(tick)
		return Prepared{}, sibyl.FieldErrorf(sibyl.Invalid, "limit_price", "price %s is not a multiple of this market's tick %s (nearest: %s or %s)", s.Price, tick, lo, lo.Add(tick))
	}
	if s.Size.Sign() <= 0 || !s.Size.Equal(s.Size.Truncate(2)) {
		return Prepared{}, sibyl.FieldErrorf(sibyl.Invalid, "quantity", "Polymarket sizes are positive with at most 2 decimals (got %s)", s.Size)
	}
	var expiration uint64
	var maker, taker uint64
	switch s.OrderType {
	case clob.GTC, clob.GTD:
		if s.Size.LessThan(m.MinSize) {
			return Prepared{}, sibyl.FieldErrorf(sibyl.Invalid, "quantity", "this market's minimum order is %s shares (got %s)", m.MinSize, s.Size)
		}
		maker, taker, err = clob.LimitAmounts(s.Side, s.Size, s.Price, rc)
		if s.OrderType == clob.GTD {
			if s.Expires.Unix() < t.now().Unix()+60 {
				return Prepared{}, sibyl.FieldErrorf(sibyl.Invalid, "expires_at", "a good-till-date order must expire at least a minute from now")
			}
			expiration = uint64(s.Expires.Unix())
		}
	case clob.FOK, clob.FAK:
		if s.PostOnly {
			return Prepared{}, sibyl.FieldErrorf(sibyl.Invalid, "post_only", "post-only orders must rest: use a limit order good till cancelled or a date")
		}
		maker, taker, err = clob.MarketAmounts(s.Side, s.Size, s.Price, rc)
	default:
		return Prepared{}, sibyl.FieldErrorf(sibyl.Invalid, "time_in_force", "order type %q is not GTC, GTD, FOK or FAK", s.OrderType)
	}
	if err != nil {
		return Prepared{}, sibyl.WrapError(sibyl.Invalid, err, "the order rounds to nothing at this market's tick size")
	}
	v, err := t.Version(ctx, false)
	if err != nil {
		return Prepared{}, err
	}
	creds, err := t.c.credentials(ctx)
	if err != nil {
		return Prepared{}, err
	}
	nowMs := uint64(t.now().UnixMilli())
	so, err := t.wallet.Signer.BuildOrder(clob.OrderArgs{
		Version: m.OrderVersion(v), NegRisk: m.NegRisk, SignatureType: t.wallet.SignatureType, Funder: t.wallet.Funder,
		TokenID: out.TokenID, Side: s.Side, MakerAmount: maker, TakerAmount: taker, Expiration: expiration,
		Salt: salt(nowMs), TimestampMs: nowMs,
	})
	if err != nil {
		return Prepared{}, sibyl.WrapError(sibyl.Internal, err, "signing the Polymarket order failed")
	}
	body, err := so.PostBody(creds.Key, s.OrderType, s.PostOnly, false)
	if err != nil {
		return Prepared{}, sibyl.WrapError(sibyl.Invalid, err, "the order cannot be written as Polymarket expects")
	}
	return Prepared{Hash: so.ID(), Body: body}, nil
}

// salt is like the official client's Math.round(Math.random() * Date.now()):
// uniform below the current time in milliseconds, so below 2^53.
func salt(nowMs uint64) uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	if nowMs == 0 {
		nowMs = 1
	}
	return binary.BigEndian.Uint64(b[:]) % nowMs
}

func outcomeNames(m Market) string {
	var names []string
	for _, o := range m.Outcomes {
		names = append(names, o.Name)
	}
	return strings.Join(names, ", ")
}

// PostAnswer is POST /order's answer.
type PostAnswer struct {
	Success      bool     `json:"success"`
	ErrorMsg     string   `json:"errorMsg"`
	OrderID      string   `json:"orderID"`
	Status       string   `json:"status"` // live, matched, delayed, unmatched
	MakingAmount num      `json:"makingAmount"`
	TakingAmount num      `json:"takingAmount"`
	TradeIDs     []string `json:"tradeIDs"`
}

// ErrDuplicate is the reason of a Submit refused because the venue already has
// this exact order: the caller reconciles with Order.
var ErrDuplicate = errors.New("polymarket already has this order")

// Submit POSTs a prepared body as it is. Errors: Unavailable (outcome unknown:
// timeout, dropped connection, 5xx), RateLimited, a *sibyl.Error wrapping
// ErrDuplicate when the venue already has the order, InsufficientFunds,
// MarketClosed, Invalid (refused; for order_version_mismatch the version is
// re-read and the message says to place the order again under a new key).
func (t *Trader) Submit(ctx context.Context, body []byte) (PostAnswer, error) {
	var a PostAnswer
	err := t.c.do(ctx, request{method: http.MethodPost, base: t.c.clobURL, path: "/order", body: body, auth: true}, &a)
	if err != nil {
		return PostAnswer{}, t.orderError(ctx, err)
	}
	if !a.Success {
		return a, t.orderError(ctx, sibyl.WrapError(sibyl.Invalid, errors.New(a.ErrorMsg), "Polymarket refused the order: "+a.ErrorMsg))
	}
	return a, nil
}

// orderError turns the CLOB's order refusals into specific codes.
func (t *Trader) orderError(ctx context.Context, err error) error {
	var e *sibyl.Error
	if !errors.As(err, &e) || e.Code != sibyl.Invalid {
		return err
	}
	low := strings.ToLower(e.Message)
	switch {
	case strings.Contains(low, "order_version_mismatch"):
		_, _ = t.Version(ctx, true)
		return &sibyl.Error{Code: sibyl.Invalid, Err: e, Message: "Polymarket now expects another order version; this signed order can never be accepted. Place the order again with a new idempotency key (sibyl signs it for the new version)"}
	case strings.Contains(low, "duplicat"):
		return &sibyl.Error{Code: sibyl.Conflict, Err: fmt.Errorf("%w: %v", ErrDuplicate, e), Message: "Polymarket already has this order"}
	case strings.Contains(low, "balance") || strings.Contains(low, "allowance"):
		return &sibyl.Error{Code: sibyl.InsufficientFunds, Err: e, Message: e.Message}
	case strings.Contains(low, "market_closed") || strings.Contains(low, "not accepting orders") || strings.Contains(low, "closed"):
		return &sibyl.Error{Code: sibyl.MarketClosed, Err: e, Message: e.Message}
	}
	return err
}

// OpenOrder is GET /data/order/{id}'s answer (the official OpenOrder).
type OpenOrder struct {
	ID              string   `json:"id"`
	Status          string   `json:"status"`
	Owner           string   `json:"owner"`
	MakerAddress    string   `json:"maker_address"`
	Market          string   `json:"market"`
	AssetID         string   `json:"asset_id"`
	Side            string   `json:"side"`
	OriginalSize    num      `json:"original_size"`
	SizeMatched     num      `json:"size_matched"`
	Price           num      `json:"price"`
	AssociateTrades []string `json:"associate_trades"`
	Outcome         string   `json:"outcome"`
	CreatedAt       int64    `json:"created_at"`
	Expiration      string   `json:"expiration"`
	OrderType       string   `json:"order_type"`
}

// Order returns one order by hash: NotFound when the venue does not have it
// (a 404, or an empty answer).
func (t *Trader) Order(ctx context.Context, hash string) (OpenOrder, error) {
	var raw json.RawMessage
	if err := t.c.do(ctx, request{method: http.MethodGet, base: t.c.clobURL, path: "/data/order/" + hash, auth: true}, &raw); err != nil {
		return OpenOrder{}, err
	}
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" || s == "{}" || s == `""` {
		return OpenOrder{}, sibyl.Errorf(sibyl.NotFound, "Polymarket has no order %s", hash)
	}
	var o OpenOrder
	if err := json.Unmarshal(raw, &o); err != nil {
		return OpenOrder{}, sibyl.WrapError(sibyl.Unavailable, err, "Polymarket sent an order sibyl cannot read")
	}
	if o.ID == "" {
		return OpenOrder{}, sibyl.Errorf(sibyl.NotFound, "Polymarket has no order %s", hash)
	}
	return o, nil
}

// OpenOrders returns one page of the wallet's open orders, optionally of one
// market (condition id). The first cursor is "" and the last page returns "".
func (t *Trader) OpenOrders(ctx context.Context, market, cursor string) ([]OpenOrder, string, error) {
	q := url.Values{"next_cursor": {"MA=="}}
	if cursor != "" {
		q.Set("next_cursor", cursor)
	}
	if market != "" {
		q.Set("market", market)
	}
	var a struct {
		Data       []OpenOrder `json:"data"`
		NextCursor string      `json:"next_cursor"`
	}
	if err := t.c.do(ctx, request{method: http.MethodGet, base: t.c.clobURL, path: "/data/orders", query: q, auth: true}, &a); err != nil {
		return nil, "", err
	}
	next := a.NextCursor
	if next == "LTE=" || next == cursor {
		next = ""
	}
	return a.Data, next, nil
}

// CancelAnswer is DELETE /order's answer.
type CancelAnswer struct {
	Canceled    []string          `json:"canceled"`
	NotCanceled map[string]string `json:"not_canceled"`
}

// Cancel cancels one order by hash. It returns the venue's reason when the
// order was not cancelled (already final, unknown).
func (t *Trader) Cancel(ctx context.Context, hash string) (bool, string, error) {
	body, err := json.Marshal(map[string]string{"orderID": hash})
	if err != nil {
		return false, "", err
	}
	var a CancelAnswer
	if err := t.c.do(ctx, request{method: http.MethodDelete, base: t.c.clobURL, path: "/order", body: body, auth: true}, &a); err != nil {
		return false, "", err
	}
	for _, id := range a.Canceled {
		if strings.EqualFold(id, hash) {
			return true, "", nil
		}
	}
	for id, why := range a.NotCanceled {
		if strings.EqualFold(id, hash) {
			return false, why, nil
		}
	}
	return false, "Polymarket did not say", nil
}

// Trade is one fill of an order (the official Trade, the fields sibyl reads).
type Trade struct {
	ID           string `json:"id"`
	TakerOrderID string `json:"taker_order_id"`
	Side         string `json:"side"`
	Size         num    `json:"size"`
	Price        num    `json:"price"`
	Status       string `json:"status"`
	MatchTime    string `json:"match_time"`
	TraderSide   string `json:"trader_side"`
	MakerOrders  []struct {
		OrderID       string `json:"order_id"`
		MatchedAmount num    `json:"matched_amount"`
		Price         num    `json:"price"`
	} `json:"maker_orders"`
}

// Fill is the part of a trade that filled one order.
type Fill struct {
	TradeID string
	Price   decimal.Decimal
	Size    decimal.Decimal
	Maker   bool
	Time    time.Time
}

// Fills returns the fills of an order from its trades (GET /data/trades?id=),
// at most 50 trades: as taker the trade's size and price, as maker its own
// matched amount and price. Failed trades are left out.
func (t *Trader) Fills(ctx context.Context, hash string, tradeIDs []string) ([]Fill, error) {
	var out []Fill
	for i, id := range tradeIDs {
		if i == 50 {
			break
		}
		var a struct {
			Data []Trade `json:"data"`
		}
		q := url.Values{"id": {id}, "next_cursor": {"MA=="}}
		if err := t.c.do(ctx, request{method: http.MethodGet, base: t.c.clobURL, path: "/data/trades", query: q, auth: true}, &a); err != nil {
			return nil, err
		}
		for _, tr := range a.Data {
			if tr.ID != id || strings.EqualFold(tr.Status, "FAILED") {
				continue
			}
			when := time.Time{}
			if sec, err := strconv.ParseInt(tr.MatchTime, 10, 64); err == nil {
				when = time.Unix(sec, 0).UTC()
			}
			if strings.EqualFold(tr.TakerOrderID, hash) {
				out = append(out, Fill{TradeID: id, Price: tr.Price.Decimal, Size: tr.Size.Decimal, Time: when})
				continue
			}
			for _, mo := range tr.MakerOrders {
				if strings.EqualFold(mo.OrderID, hash) {
					out = append(out, Fill{TradeID: id, Price: mo.Price.Decimal, Size: mo.MatchedAmount.Decimal, Maker: true, Time: when})
				}
			}
		}
	}
	return out, nil
}
