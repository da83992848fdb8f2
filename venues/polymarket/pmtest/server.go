package pmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sibylmcp/sibyl/venues/polymarket/clob"
)

// Market is a market the fake lists on Gamma and trades on its CLOB.
type Market struct {
	ConditionID string
	Question    string
	Outcomes    []string // default Yes, No
	TokenIDs    []string // one per outcome
	TickSize    string   // default "0.01"
	MinSize     string   // default "5"
	NegRisk     bool
	Version     string // Gamma version: "v1" (default) or "v2" (ExchangeV3, order version 3)
	Closed      bool
	Accepting   bool // acceptingOrders; set by AddMarket unless Closed
	Tags        []string
	EndDate     time.Time // Gamma endDate; zero: 2030-01-01
}

// Level is one resting price level of the fake's book (market makers).
type Level struct{ Price, Size string }

// Order is an order the fake accepted.
type Order struct {
	Hash        string
	Body        []byte // the POST body as received
	Parsed      clob.ParsedBody
	Market      string
	TokenID     string
	Side        string // BUY or SELL
	Price       decimal.Decimal
	Size        decimal.Decimal // original size in shares
	Matched     decimal.Decimal // shares matched
	Making      decimal.Decimal // what the order gave so far (dollars for BUY, shares for SELL)
	Taking      decimal.Decimal
	Status      string // LIVE, MATCHED, CANCELED
	OrderType   string
	CreatedAt   time.Time
	AssocTrades []string
}

// FaultKind is an injected failure.
type FaultKind int

// Faults. "After" faults process the request (the order exists) and then fail
// to answer; the others fail before anything happens.
const (
	Fail5xxBefore FaultKind = iota + 1
	Fail5xxAfter
	DropBefore
	DropAfter
	TimeoutAfter // processes, then answers only after the client has given up
	TooMany      // 429, nothing processed
	Slow         // answers correctly after 300 ms
)

// Server is the fake Polymarket. Create it with New; Close it when done.
type Server struct {
	*httptest.Server

	mu        sync.Mutex
	creds     clob.Credentials
	owners    map[clob.Address]clob.Address // wallet -> the EOA that controls it
	markets   []*Market
	books     map[string]*book // token id -> book
	orders    map[string]*Order
	order     []string // hashes in arrival order
	version   int
	faults    map[string][]FaultKind // "METHOD /path" -> queue
	faultFn   func(route string) FaultKind
	counts    map[string]int
	posts     [][]byte
	badAuth   int
	positions map[string][]map[string]any
	balances  map[clob.Address]decimal.Decimal // pUSD per maker wallet; absent: unlimited
	trade     int
	trades    map[string]map[string]any // trade id -> the official Trade shape
	now       func() time.Time
}

type book struct {
	bids, asks []lvl // best first
}

type lvl struct{ price, size decimal.Decimal }

// New starts a fake Polymarket that accepts the given API credentials. The
// credentials' EOA is learnt from the first L1 call or set with Own.
func New(creds clob.Credentials) *Server {
	s := &Server{
		creds: creds, owners: map[clob.Address]clob.Address{}, books: map[string]*book{},
		orders: map[string]*Order{}, version: 2, faults: map[string][]FaultKind{}, counts: map[string]int{},
		positions: map[string][]map[string]any{}, balances: map[clob.Address]decimal.Decimal{}, trades: map[string]map[string]any{}, now: time.Now,
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Own records that eoa controls wallet (a proxy, safe or deposit wallet), as the
// chain would tell the exchange.
func (s *Server) Own(wallet, eoa clob.Address) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.owners[wallet] = eoa
}

// AddMarket lists a market.
func (s *Server) AddMarket(m Market) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(m.Outcomes) == 0 {
		m.Outcomes = []string{"Yes", "No"}
	}
	if m.TickSize == "" {
		m.TickSize = "0.01"
	}
	if m.MinSize == "" {
		m.MinSize = "5"
	}
	if m.Version == "" {
		m.Version = "v1"
	}
	if !m.Closed {
		m.Accepting = true
	}
	s.markets = append(s.markets, &m)
	for _, t := range m.TokenIDs {
		if s.books[t] == nil {
			s.books[t] = &book{}
		}
	}
}

// SetBook replaces a token's resting market-maker levels (any order).
func (s *Server) SetBook(token string, bids, asks []Level) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &book{}
	for _, l := range bids {
		b.bids = append(b.bids, lvl{decimal.RequireFromString(l.Price), decimal.RequireFromString(l.Size)})
	}
	for _, l := range asks {
		b.asks = append(b.asks, lvl{decimal.RequireFromString(l.Price), decimal.RequireFromString(l.Size)})
	}
	sort.Slice(b.bids, func(i, j int) bool { return b.bids[i].price.GreaterThan(b.bids[j].price) })
	sort.Slice(b.asks, func(i, j int) bool { return b.asks[i].price.LessThan(b.asks[j].price) })
	s.books[token] = b
}

// SetVersion sets what GET /version answers; orders of another version for a
// v1 market are refused with order_version_mismatch.
func (s *Server) SetVersion(v int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version = v
}

// SetBalance sets a maker wallet's pUSD balance: buys beyond it are refused
// ("not enough balance / allowance") and each accepted buy holds its maker
// amount. Wallets without a balance are unlimited.
func (s *Server) SetBalance(maker clob.Address, dollars string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.balances[maker] = decimal.RequireFromString(dollars)
}

// SetPositions sets the Data API's open positions of a wallet (raw v2 rows).
func (s *Server) SetPositions(user string, rows []map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.positions[strings.ToLower(user)] = rows
}

// Fault queues faults for the next requests to "METHOD /path" (such as
// "POST /order"), one per request.
func (s *Server) Fault(route string, kinds ...FaultKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[route] = append(s.faults[route], kinds...)
}

// SetFaultFunc sets a function asked for a fault on every request whose route
// has no queued fault (0 for none); nil turns it off. It must be safe for
// concurrent use.
func (s *Server) SetFaultFunc(f func(route string) FaultKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultFn = f
}

// Count returns how many requests reached "METHOD /path" (faulted ones too).
// "*" counts every request.
func (s *Server) Count(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[route]
}

// Posts returns every POST /order body received, in order (faulted ones too).
func (s *Server) Posts() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(s.posts))
	copy(out, s.posts)
	return out
}

// Orders returns the accepted orders in arrival order.
func (s *Server) Orders() []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Order, 0, len(s.order))
	for _, h := range s.order {
		out = append(out, *s.orders[h])
	}
	return out
}

// BadAuth returns how many requests failed L1/L2 authentication.
func (s *Server) BadAuth() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.badAuth
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	route := r.Method + " " + r.URL.Path
	if strings.HasPrefix(r.URL.Path, "/data/order/") {
		route = r.Method + " /data/order/"
	}
	s.mu.Lock()
	s.counts[route]++
	s.counts["*"]++
	if route == "POST /order" {
		s.posts = append(s.posts, append([]byte(nil), body...))
	}
	var fault FaultKind
	if q := s.faults[route]; len(q) > 0 {
		fault, s.faults[route] = q[0], q[1:]
	}
	fn := s.faultFn
	s.mu.Unlock()
	if fault == 0 && fn != nil {
		fault = fn(route)
	}

	switch fault {
	case Fail5xxBefore:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "service unavailable"})
		return
	case TooMany:
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "too many requests"})
		return
	case DropBefore:
		drop(w)
		return
	}
	if fault == Slow {
		time.Sleep(300 * time.Millisecond)
	}
	rec := httptest.NewRecorder()
	s.route(rec, r, body)
	switch fault {
	case Fail5xxAfter:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "internal error"})
		return
	case DropAfter:
		drop(w)
		return
	case TimeoutAfter:
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		drop(w)
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("pmtest: cannot hijack the connection")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte) {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && p == "/markets":
		s.gammaMarkets(w, r)
	case r.Method == http.MethodGet && p == "/events":
		s.gammaEvents(w, r, false)
	case r.Method == http.MethodGet && p == "/public-search":
		s.gammaEvents(w, r, true)
	case r.Method == http.MethodGet && p == "/book":
		s.getBook(w, r)
	case r.Method == http.MethodGet && p == "/midpoint":
		s.midpoint(w, r)
	case r.Method == http.MethodGet && p == "/tick-size":
		s.tickSize(w, r)
	case r.Method == http.MethodGet && p == "/version":
		s.mu.Lock()
		v := s.version
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{"version": v})
	case p == "/auth/api-key" && r.Method == http.MethodPost, p == "/auth/derive-api-key" && r.Method == http.MethodGet:
		s.apiKey(w, r)
	case r.Method == http.MethodPost && p == "/order":
		if s.l2(w, r, body) {
			s.postOrder(w, body)
		}
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/data/order/"):
		if s.l2(w, r, body) {
			s.getOrder(w, strings.TrimPrefix(p, "/data/order/"))
		}
	case r.Method == http.MethodGet && p == "/data/orders":
		if s.l2(w, r, body) {
			s.listOrders(w, r)
		}
	case r.Method == http.MethodDelete && p == "/order":
		if s.l2(w, r, body) {
			s.cancel(w, body)
		}
	case r.Method == http.MethodGet && p == "/data/trades":
		if s.l2(w, r, body) {
			s.mu.Lock()
			data := []map[string]any{}
			if tr, ok := s.trades[r.URL.Query().Get("id")]; ok {
				data = append(data, tr)
			}
			s.mu.Unlock()
			writeJSON(w, 200, map[string]any{"data": data, "next_cursor": "LTE=", "limit": 100, "count": len(data)})
		}
	case r.Method == http.MethodGet && p == "/balance-allowance":
		if s.l2(w, r, body) {
			s.balance(w, r)
		}
	case r.Method == http.MethodGet && p == "/v2/positions":
		s.getPositions(w, r)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not found: " + r.Method + " " + p})
	}
}

// l2 checks the five L2 headers: the API key and passphrase, the EOA that
// created the key, and the HMAC over timestamp + method + path + body.
func (s *Server) l2(w http.ResponseWriter, r *http.Request, body []byte) bool {
	h := r.Header
	ts, err := strconv.ParseInt(h.Get(clob.HeaderTimestamp), 10, 64)
	ok := err == nil && h.Get(clob.HeaderAPIKey) == s.creds.Key && h.Get(clob.HeaderPassphrase) == s.creds.Passphrase &&
		clob.VerifyHMAC(s.creds.Secret, ts, r.Method, r.URL.Path, body, h.Get(clob.HeaderSignature))
	if ok {
		if a, err := clob.ParseAddress(h.Get(clob.HeaderAddress)); err != nil || a.IsZero() {
			ok = false
		}
	}
	if !ok {
		s.mu.Lock()
		s.badAuth++
		s.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Unauthorized/Invalid api key"})
	}
	return ok
}

// apiKey checks the L1 ClobAuth signature and answers the credentials.
func (s *Server) apiKey(w http.ResponseWriter, r *http.Request) {
	h := r.Header
	addr, err1 := clob.ParseAddress(h.Get(clob.HeaderAddress))
	ts, err2 := strconv.ParseInt(h.Get(clob.HeaderTimestamp), 10, 64)
	nonce, err3 := strconv.ParseUint(h.Get(clob.HeaderNonce), 10, 64)
	sig := strings.TrimPrefix(h.Get(clob.HeaderSignature), "0x")
	raw, err4 := hexDecode(sig)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		s.mu.Lock()
		s.badAuth++
		s.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Invalid L1 Request headers"})
		return
	}
	rec, err := clob.Recover(clob.ClobAuthDigest(addr, ts, nonce), raw)
	if err != nil || rec != addr {
		s.mu.Lock()
		s.badAuth++
		s.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Invalid L1 Request headers"})
		return
	}
	writeJSON(w, 200, map[string]any{"apiKey": s.creds.Key, "secret": s.creds.Secret, "passphrase": s.creds.Passphrase})
}

func (s *Server) marketOf(token string) *Market {
	for _, m := range s.markets {
		for _, t := range m.TokenIDs {
			if t == token {
				return m
			}
		}
	}
	return nil
}

func (s *Server) refuse(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"error": msg})
}

// postOrder verifies and matches an order.
func (s *Server) postOrder(w http.ResponseWriter, body []byte) {
	pb, err := clob.ParseBody(body)
	if err != nil {
		s.refuse(w, 400, "Invalid order payload: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if pb.Owner != s.creds.Key {
		s.refuse(w, 400, "the order owner has to be the owner of the API KEY")
		return
	}
	o := pb.Order
	m := s.marketOf(o.TokenID.String())
	if m == nil {
		s.refuse(w, 400, "Invalid order payload: unknown token id")
		return
	}
	wantVersion := s.version
	if m.Version == "v2" {
		wantVersion = 3
	}
	d, _ := clob.ExchangeDomain(wantVersion, m.NegRisk)
	if !s.signedBy(d, o, pb.Signature) {
		// Signed for another order version (the CLOB moved on): the official
		// client re-reads /version on this error.
		for _, v := range []int{2, 3} {
			if od, _ := clob.ExchangeDomain(v, m.NegRisk); v != wantVersion && s.signedBy(od, o, pb.Signature) {
				s.refuse(w, 400, "order_version_mismatch: the exchange expects order version "+strconv.Itoa(wantVersion))
				return
			}
		}
		s.refuse(w, 400, "INVALID_ORDER_SIGNATURE: invalid signature")
		return
	}
	hash := "0x" + hexEncode(o.Hash(d))
	if _, dup := s.orders[hash]; dup {
		s.refuse(w, 400, "INVALID_ORDER_DUPLICATED: order "+hash+" already exists")
		return
	}
	if m.Closed || !m.Accepting {
		s.refuse(w, 400, "INVALID_ORDER_MARKET_CLOSED: the market is not accepting orders")
		return
	}
	if pb.OrderType == clob.GTD && int64(o.Expiration) < s.now().Unix()+60 {
		s.refuse(w, 400, "INVALID_ORDER_EXPIRATION: expiration must be at least a minute ahead")
		return
	}
	if pb.OrderType != clob.GTD && o.Expiration != 0 {
		s.refuse(w, 400, "INVALID_ORDER_EXPIRATION: only GTD orders expire")
		return
	}
	// Price and size as the exchange sees them.
	million := decimal.NewFromInt(1_000_000)
	mk, tk := decimal.NewFromUint64(o.MakerAmount).Div(million), decimal.NewFromUint64(o.TakerAmount).Div(million)
	side := "BUY"
	shares, dollars := tk, mk
	if o.Side == clob.Sell {
		side, shares, dollars = "SELL", mk, tk
	}
	price := dollars.DivRound(shares, 8)
	tick := decimal.RequireFromString(m.TickSize)
	market := pb.OrderType == clob.FOK || pb.OrderType == clob.FAK
	if !market && !price.Mod(tick).IsZero() {
		s.refuse(w, 400, fmt.Sprintf("INVALID_ORDER_MIN_TICK_SIZE: price %s is not a multiple of the tick size %s", price, tick))
		return
	}
	if !market && shares.LessThan(decimal.RequireFromString(m.MinSize)) {
		s.refuse(w, 400, "INVALID_ORDER_MIN_SIZE: size below the market's minimum")
		return
	}
	b := s.books[o.TokenID.String()]
	if pb.PostOnly && crosses(b, side, price) {
		s.refuse(w, 400, "INVALID_POST_ONLY_ORDER: post-only order would cross the book")
		return
	}
	if bal, ok := s.balances[o.Maker]; ok && side == "BUY" {
		if bal.LessThan(dollars) {
			s.refuse(w, 400, "not enough balance / allowance")
			return
		}
		s.balances[o.Maker] = bal.Sub(dollars)
	}
	ord := &Order{Hash: hash, Body: append([]byte(nil), body...), Parsed: pb, Market: m.ConditionID, TokenID: o.TokenID.String(),
		Side: side, Price: price, Size: shares, Status: "LIVE", OrderType: pb.OrderType, CreatedAt: s.now()}
	fills := match(b, side, price, shares, pb.OrderType == clob.FOK)
	if pb.OrderType == clob.FOK && fills == nil {
		s.refuse(w, 400, "order couldn't be fully filled. FOK orders are fully filled or killed.")
		return
	}
	for _, f := range fills {
		s.trade++
		id := fmt.Sprintf("trade-%d", s.trade)
		ord.AssocTrades = append(ord.AssocTrades, id)
		s.trades[id] = map[string]any{"id": id, "taker_order_id": hash, "market": m.ConditionID, "asset_id": o.TokenID.String(),
			"side": side, "size": f.size.String(), "fee_rate_bps": "0", "price": f.price.String(), "status": "MATCHED",
			"match_time": strconv.FormatInt(s.now().Unix(), 10), "last_update": strconv.FormatInt(s.now().Unix(), 10),
			"outcome": "", "owner": pb.Owner, "maker_address": o.Maker.Hex(), "maker_orders": []any{}, "trader_side": "TAKER", "bucket_index": 0}
		ord.Matched = ord.Matched.Add(f.size)
		cost := f.size.Mul(f.price)
		if side == "BUY" {
			ord.Making, ord.Taking = ord.Making.Add(cost), ord.Taking.Add(f.size)
		} else {
			ord.Making, ord.Taking = ord.Making.Add(f.size), ord.Taking.Add(cost)
		}
	}
	status := "live"
	switch {
	case ord.Matched.Equal(shares):
		ord.Status, status = "MATCHED", "matched"
	case market:
		ord.Status = "CANCELED"
		status = "unmatched"
		if ord.Matched.IsPositive() {
			status = "matched"
		}
	}
	s.orders[hash] = ord
	s.order = append(s.order, hash)
	writeJSON(w, 200, map[string]any{
		"success": true, "errorMsg": "", "orderID": hash, "status": status,
		"makingAmount": ord.Making.String(), "takingAmount": ord.Taking.String(), "tradeIDs": ord.AssocTrades,
	})
}

type fill struct{ price, size decimal.Decimal }

func crosses(b *book, side string, price decimal.Decimal) bool {
	if side == "BUY" {
		return len(b.asks) > 0 && b.asks[0].price.LessThanOrEqual(price)
	}
	return len(b.bids) > 0 && b.bids[0].price.GreaterThanOrEqual(price)
}

// match takes liquidity at acceptable prices, best first, and consumes it.
// With all it takes nothing unless everything can be filled.
func match(b *book, side string, limit, want decimal.Decimal, all bool) []fill {
	levels := &b.asks
	ok := func(p decimal.Decimal) bool { return p.LessThanOrEqual(limit) }
	if side == "SELL" {
		levels = &b.bids
		ok = func(p decimal.Decimal) bool { return p.GreaterThanOrEqual(limit) }
	}
	var avail decimal.Decimal
	for _, l := range *levels {
		if !ok(l.price) {
			break
		}
		avail = avail.Add(l.size)
	}
	if all && avail.LessThan(want) {
		return nil
	}
	var out []fill
	left := want
	for len(*levels) > 0 && left.IsPositive() && ok((*levels)[0].price) {
		l := &(*levels)[0]
		n := decimal.Min(l.size, left)
		out = append(out, fill{l.price, n})
		left = left.Sub(n)
		l.size = l.size.Sub(n)
		if l.size.IsZero() {
			*levels = (*levels)[1:]
		}
	}
	return out
}

// signedBy reports whether sig is a valid signature of o in domain d: for type 0
// by the maker itself, for types 1 and 2 by the signer that owns the maker
// wallet, for type 3 (ERC-7739) by the owner of the deposit wallet, which is
// both maker and signer.
func (s *Server) signedBy(d clob.Domain, o clob.Order, sig []byte) bool {
	rec, err := clob.RecoverOrderSigner(d, o, sig)
	if err != nil {
		return false
	}
	switch o.SignatureType {
	case clob.EOA:
		return rec == o.Signer && o.Maker == o.Signer
	case clob.PolyProxy, clob.PolyGnosisSafe:
		return rec == o.Signer && s.owners[o.Maker] == rec
	case clob.Poly1271:
		return o.Signer == o.Maker && s.owners[o.Maker] == rec
	}
	return false
}

// openOrder is the official OpenOrder shape.
func (o *Order) openOrder(outcome string) map[string]any {
	return map[string]any{
		"id": o.Hash, "status": o.Status, "owner": o.Parsed.Owner, "maker_address": o.Parsed.Order.Maker.Hex(),
		"market": o.Market, "asset_id": o.TokenID, "side": o.Side, "original_size": o.Size.String(),
		"size_matched": o.Matched.String(), "price": o.Price.String(), "associate_trades": nonNil(o.AssocTrades),
		"outcome": outcome, "created_at": o.CreatedAt.Unix(), "expiration": strconv.FormatUint(o.Parsed.Order.Expiration, 10),
		"order_type": o.OrderType,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Server) outcomeOf(o *Order) string {
	m := s.marketOf(o.TokenID)
	for i, t := range m.TokenIDs {
		if t == o.TokenID {
			return m.Outcomes[i]
		}
	}
	return ""
}

func (s *Server) getOrder(w http.ResponseWriter, hash string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[hash]
	if !ok {
		s.refuse(w, 404, "order not found")
		return
	}
	writeJSON(w, 200, o.openOrder(s.outcomeOf(o)))
}

// listOrders answers GET /data/orders: the open orders, filtered by market and
// asset, two per page to exercise cursors.
func (s *Server) listOrders(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query()
	var all []map[string]any
	for _, h := range s.order {
		o := s.orders[h]
		if o.Status != "LIVE" || (q.Get("market") != "" && q.Get("market") != o.Market) || (q.Get("asset_id") != "" && q.Get("asset_id") != o.TokenID) {
			continue
		}
		all = append(all, o.openOrder(s.outcomeOf(o)))
	}
	start := 0
	if c := q.Get("next_cursor"); c != "" && c != "MA==" {
		start, _ = strconv.Atoi(c)
	}
	end := min(start+2, len(all))
	if start > len(all) {
		start = len(all)
	}
	next := "LTE="
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	writeJSON(w, 200, map[string]any{"data": nonNilMaps(all[start:end]), "next_cursor": next, "limit": 2, "count": end - start})
}

func nonNilMaps(m []map[string]any) []map[string]any {
	if m == nil {
		return []map[string]any{}
	}
	return m
}

func (s *Server) cancel(w http.ResponseWriter, body []byte) {
	var p struct {
		OrderID string `json:"orderID"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		s.refuse(w, 400, "Invalid payload")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[p.OrderID]
	switch {
	case !ok:
		writeJSON(w, 200, map[string]any{"canceled": []string{}, "not_canceled": map[string]string{p.OrderID: "Order not found or already canceled"}})
	case o.Status != "LIVE":
		writeJSON(w, 200, map[string]any{"canceled": []string{}, "not_canceled": map[string]string{p.OrderID: "order can't be canceled: " + o.Status}})
	default:
		o.Status = "CANCELED"
		writeJSON(w, 200, map[string]any{"canceled": []string{p.OrderID}, "not_canceled": map[string]string{}})
	}
}

// balance answers GET /balance-allowance?asset_type=COLLATERAL for the wallet
// of the order signer's key (the fake knows one wallet per EOA through Own; the
// EOA's own balance otherwise), in 10^-6 units.
func (s *Server) balance(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	eoa, _ := clob.ParseAddress(r.Header.Get(clob.HeaderAddress))
	who := eoa
	if r.URL.Query().Get("signature_type") != "0" {
		for wallet, owner := range s.owners {
			if owner == eoa {
				who = wallet
			}
		}
	}
	bal, ok := s.balances[who]
	if !ok {
		bal = decimal.NewFromInt(1_000_000)
	}
	writeJSON(w, 200, map[string]any{"balance": bal.Shift(6).Truncate(0).String(), "allowances": map[string]string{}})
}

func (s *Server) getPositions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows := s.positions[strings.ToLower(r.URL.Query().Get("user"))]
	if rows == nil {
		rows = []map[string]any{}
	}
	writeJSON(w, 200, map[string]any{"data": rows, "pagination": map[string]any{"next_cursor": ""}})
}

func (s *Server) gammaJSON(m *Market) map[string]any {
	enc := func(v []string) string { b, _ := json.Marshal(v); return string(b) }
	b := s.books[m.TokenIDs[0]]
	prices := []string{"0.5", "0.5"}
	end := "2030-01-01T00:00:00Z"
	if !m.EndDate.IsZero() {
		end = m.EndDate.UTC().Format(time.RFC3339)
	}
	g := map[string]any{
		"id": "g-" + m.ConditionID[2:10], "question": m.Question, "conditionId": m.ConditionID, "slug": strings.ToLower(strings.ReplaceAll(m.Question, " ", "-")),
		"description": "Resolves per the fake's rules.", "endDate": end, "startDate": "2026-01-01T00:00:00Z",
		"active": true, "closed": m.Closed, "acceptingOrders": m.Accepting, "enableOrderBook": true, "negRisk": m.NegRisk,
		"orderPriceMinTickSize": json.Number(m.TickSize), "orderMinSize": json.Number(m.MinSize),
		"outcomes": enc(m.Outcomes), "clobTokenIds": enc(m.TokenIDs), "version": m.Version,
		"volume": "1000.5", "volumeNum": json.Number("1000.5"), "umaResolutionStatuses": "[]",
	}
	if b != nil && len(b.bids) > 0 && len(b.asks) > 0 {
		g["bestBid"], g["bestAsk"] = json.Number(b.bids[0].price.String()), json.Number(b.asks[0].price.String())
		mid := b.bids[0].price.Add(b.asks[0].price).Div(decimal.NewFromInt(2))
		prices = []string{mid.String(), decimal.NewFromInt(1).Sub(mid).String()}
	}
	if len(m.Outcomes) == 2 {
		g["outcomePrices"] = enc(prices)
	}
	var tags []map[string]any
	for _, t := range m.Tags {
		tags = append(tags, map[string]any{"label": t, "slug": strings.ToLower(t)})
	}
	g["events"] = []map[string]any{{"id": "e-" + m.ConditionID[2:8], "title": m.Question, "tags": tags}}
	return g
}

func (s *Server) gammaMarkets(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query()
	out := []map[string]any{}
	for _, m := range s.markets {
		if c := q.Get("condition_ids"); c != "" && !strings.EqualFold(c, m.ConditionID) {
			continue
		}
		if c := q.Get("closed"); c != "" && c != strconv.FormatBool(m.Closed) {
			continue
		}
		out = append(out, s.gammaJSON(m))
	}
	off, _ := strconv.Atoi(q.Get("offset"))
	lim, _ := strconv.Atoi(q.Get("limit"))
	if off > len(out) {
		off = len(out)
	}
	out = out[off:]
	if lim > 0 && lim < len(out) {
		out = out[:lim]
	}
	writeJSON(w, 200, out)
}

// gammaEvents answers /events (by tag) and /public-search (by words in the
// question), one event per market.
func (s *Server) gammaEvents(w http.ResponseWriter, r *http.Request, search bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query()
	var events []map[string]any
	for _, m := range s.markets {
		if search && !strings.Contains(strings.ToLower(m.Question), strings.ToLower(q.Get("q"))) {
			continue
		}
		tag := q.Get("tag_slug")
		if search {
			tag = q.Get("events_tag")
		}
		if tag != "" {
			found := false
			for _, t := range m.Tags {
				found = found || strings.EqualFold(t, tag)
			}
			if !found {
				continue
			}
		}
		g := s.gammaJSON(m)
		ev := g["events"].([]map[string]any)[0]
		delete(g, "events")
		ev["markets"] = []map[string]any{g}
		events = append(events, ev)
	}
	if events == nil {
		events = []map[string]any{}
	}
	if search {
		writeJSON(w, 200, map[string]any{"events": events, "pagination": map[string]any{"hasMore": false, "totalResults": len(events)}})
		return
	}
	writeJSON(w, 200, events)
}

func (s *Server) bookJSON(token string) (map[string]any, bool) {
	b, ok := s.books[token]
	m := s.marketOf(token)
	if !ok || m == nil {
		return nil, false
	}
	side := func(ls []lvl, reverse bool) []map[string]string {
		out := []map[string]string{}
		for _, l := range ls {
			out = append(out, map[string]string{"price": l.price.String(), "size": l.size.String()})
		}
		if reverse { // the wire sends best last
			for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
				out[i], out[j] = out[j], out[i]
			}
		}
		return out
	}
	return map[string]any{
		"market": m.ConditionID, "asset_id": token, "timestamp": strconv.FormatInt(s.now().UnixMilli(), 10),
		"hash": "fake", "bids": side(b.bids, true), "asks": side(b.asks, true), "min_order_size": m.MinSize,
		"tick_size": m.TickSize, "neg_risk": m.NegRisk, "last_trade_price": "0.5",
	}, true
}

func (s *Server) getBook(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bookJSON(r.URL.Query().Get("token_id"))
	if !ok {
		s.refuse(w, 404, "No orderbook exists for the requested token id")
		return
	}
	writeJSON(w, 200, b)
}

func (s *Server) midpoint(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.books[r.URL.Query().Get("token_id")]
	if !ok || len(b.bids) == 0 || len(b.asks) == 0 {
		s.refuse(w, 404, "No orderbook exists for the requested token id")
		return
	}
	writeJSON(w, 200, map[string]any{"mid": b.bids[0].price.Add(b.asks[0].price).Div(decimal.NewFromInt(2)).String()})
}

func (s *Server) tickSize(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.marketOf(r.URL.Query().Get("token_id"))
	if m == nil {
		s.refuse(w, 404, "market not found")
		return
	}
	writeJSON(w, 200, map[string]any{"minimum_tick_size": json.Number(m.TickSize)})
}
