// Package kalshitest is an in-process Kalshi Trade API v2 for tests: an
// httptest server written from the official client's models
// (kalshi-typescript 3.30.0) that verifies request signatures, keeps markets
// with a simple order book, matches and rests orders, pages orders by ticker
// and min_ts, and injects the faults a real connection has (lost responses,
// 5xx after the order was accepted, 429s, timeouts, slow answers). It counts
// every request, so a test can show that nothing was sent.
//
// Its JSON is built here from the official field names, not from
// venues/kalshi's structs, so a mistake in the client's models shows up as a
// failure instead of being mirrored. It must never be wired into a real
// server.
package kalshitest

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"
)

// APIPrefix is the path every endpoint lives under.
const APIPrefix = "/trade-api/v2"

// Dedupe says when a repeated client_order_id is refused with 409.
type Dedupe int

// Dedupe policies. Kalshi documents client_order_id only as "used to
// deduplicate"; DedupeOpen (the default) is the weakest reading: unique among
// resting orders only, so a resend after the first order filled creates a
// second order. sibyl must not rely on more.
const (
	DedupeOpen Dedupe = iota // 409 only while an order with the id rests
	DedupeAny                // 409 whenever any order has the id
	DedupeNone               // never refused
)

// Options configures a Server.
type Options struct {
	// KeyID and PublicKey are the credentials portfolio requests must be
	// signed with. With a nil PublicKey, signed endpoints answer 401.
	KeyID     string
	PublicKey *rsa.PublicKey
	// Now is the exchange clock (nil: time.Now).
	Now func() time.Time
	// Balance is the account's starting cash in dollars ("" = 1000).
	Balance string
	// Markets are the listed markets (nil: DefaultMarkets()).
	Markets []MarketSpec
	// Dedupe is the client_order_id policy.
	Dedupe Dedupe
	// ReadRate/WriteRate are what GET /account/limits reports (0: 200/100).
	ReadRate, WriteRate float64
	// MaxSkew is how far a signature's timestamp may be from Now (0: 5 min).
	MaxSkew time.Duration
}

// MarketSpec is a market to list.
type MarketSpec struct {
	Ticker, EventTicker, Title, YesSubTitle string
	Status                                  string      // default "active"
	PriceRanges                             [][3]string // {start, end, step}; default 0-1 by 0.01
	YesBids, NoBids                         [][2]string // {price, count}: the makers' resting bids
	StrikeType                              string
	FloorStrike, CapStrike                  string // JSON number literals, "" for none
	CloseTime                               time.Time
	ExchangeIndex                           int
	Result                                  string
}

// DefaultMarkets lists three markets: a BTC daily price market (KXBTCD
// style), a sports game on the cent grid and one on a 0.0001 grid.
func DefaultMarkets() []MarketSpec {
	close := time.Date(2027, 1, 1, 22, 0, 0, 0, time.UTC)
	return []MarketSpec{
		{
			Ticker: "KXBTCD-26DEC3117-T119999.99", EventTicker: "KXBTCD-26DEC3117",
			Title: "Bitcoin price on Dec 31, 2026?", YesSubTitle: "$120,000 or above",
			StrikeType: "greater", FloorStrike: "119999.99", CloseTime: close,
			YesBids: [][2]string{{"0.40", "500.00"}, {"0.41", "300.00"}, {"0.42", "100.00"}},
			NoBids:  [][2]string{{"0.55", "500.00"}, {"0.56", "300.00"}, {"0.57", "100.00"}},
		},
		{
			Ticker: "KXNFLGAME-26DEC27DALPHI-DAL", EventTicker: "KXNFLGAME-26DEC27DALPHI",
			Title: "Dallas at Philadelphia Winner?", YesSubTitle: "Dallas", CloseTime: close, ExchangeIndex: 1,
			YesBids: [][2]string{{"0.30", "1000.00"}, {"0.31", "1000.00"}},
			NoBids:  [][2]string{{"0.67", "1000.00"}, {"0.68", "1000.00"}},
		},
		{
			Ticker: "KXFINE-27JAN01-T1", EventTicker: "KXFINE-27JAN01",
			Title: "A market on a 0.0001 grid?", YesSubTitle: "Yes", CloseTime: close,
			PriceRanges: [][3]string{{"0.0000", "1.0000", "0.0001"}},
			YesBids:     [][2]string{{"0.1234", "50.00"}},
			NoBids:      [][2]string{{"0.8700", "50.00"}},
		},
	}
}

type level struct{ price, count decimal.Decimal }

type market struct {
	spec    MarketSpec
	ranges  [][3]decimal.Decimal
	yesBids []level // makers' bids, any order
	noBids  []level
	volume  decimal.Decimal
	last    decimal.Decimal
}

type order struct {
	id, clientID, ticker, side, tif, status string
	price                                   decimal.Decimal // YES price
	initial, filled                         decimal.Decimal
	cost, fees                              decimal.Decimal // taker fill cost (outcome_side terms), taker fees (dollars)
	yesCost                                 decimal.Decimal // sum of YES price x count over fills
	created, updated                        time.Time
	exchangeIndex                           int
}

type fill struct {
	id, orderID, ticker, side string
	count, yesPrice, fee      decimal.Decimal
	at                        time.Time
	exchangeIndex             int
}

// Server is the fake Kalshi. Its methods are safe for concurrent use.
type Server struct {
	srv  *httptest.Server
	opts Options

	mu        sync.Mutex
	markets   map[string]*market
	tickers   []string
	orders    []*order // creation order
	byID      map[string]*order
	fills     []fill
	cash      decimal.Decimal
	positions map[string]decimal.Decimal
	fees      map[string]decimal.Decimal
	seq       int
	counts    map[string]int
	total     int
	faults    []*Fault
	faultFn   func(route string) Fault
	badSigs   int
	attempts  []string      // client_order_id of every create request, in arrival order
	done      chan struct{} // closed by Close: hanging answers give up
	closeOnce sync.Once
}

// New starts a Server. Close it when done.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Balance == "" {
		opts.Balance = "1000"
	}
	if opts.Markets == nil {
		opts.Markets = DefaultMarkets()
	}
	if opts.ReadRate == 0 {
		opts.ReadRate = 200
	}
	if opts.WriteRate == 0 {
		opts.WriteRate = 100
	}
	if opts.MaxSkew == 0 {
		opts.MaxSkew = 5 * time.Minute
	}
	s := &Server{
		opts:      opts,
		markets:   map[string]*market{},
		byID:      map[string]*order{},
		cash:      decimal.RequireFromString(opts.Balance),
		positions: map[string]decimal.Decimal{},
		fees:      map[string]decimal.Decimal{},
		counts:    map[string]int{},
		done:      make(chan struct{}),
	}
	for _, sp := range opts.Markets {
		s.addMarket(sp)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *Server) addMarket(sp MarketSpec) {
	if sp.Status == "" {
		sp.Status = "active"
	}
	if sp.PriceRanges == nil {
		sp.PriceRanges = [][3]string{{"0.0000", "1.0000", "0.0100"}}
	}
	m := &market{spec: sp}
	for _, r := range sp.PriceRanges {
		m.ranges = append(m.ranges, [3]decimal.Decimal{dec(r[0]), dec(r[1]), dec(r[2])})
	}
	for _, l := range sp.YesBids {
		m.yesBids = append(m.yesBids, level{dec(l[0]), dec(l[1])})
	}
	for _, l := range sp.NoBids {
		m.noBids = append(m.noBids, level{dec(l[0]), dec(l[1])})
	}
	s.markets[sp.Ticker] = m
	s.tickers = append(s.tickers, sp.Ticker)
	sort.Strings(s.tickers)
}

// URL returns the API root, including /trade-api/v2 (what SIBYL_KALSHI_URL
// takes).
func (s *Server) URL() string { return s.srv.URL + APIPrefix }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close shuts the server down.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.srv.Close()
}

// CloseClientConnections drops every open connection.
func (s *Server) CloseClientConnections() { s.srv.CloseClientConnections() }

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

var one = decimal.NewFromInt(1)

// Requests returns how many requests reached route ("POST /portfolio/events/orders",
// "GET /portfolio/orders", "DELETE /portfolio/events/orders/{id}", ...).
func (s *Server) Requests(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[route]
}

// TotalRequests returns how many requests reached the server.
func (s *Server) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// BadSignatures returns how many signed requests failed verification.
func (s *Server) BadSignatures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.badSigs
}

// OrderInfo is an order as a test sees it.
type OrderInfo struct {
	ID, ClientOrderID, Ticker, Side, Status string
	Price, Count, Filled                    decimal.Decimal
	Created                                 time.Time
}

// Orders returns every order ever created, oldest first.
func (s *Server) Orders() []OrderInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]OrderInfo, len(s.orders))
	for i, o := range s.orders {
		out[i] = OrderInfo{o.id, o.clientID, o.ticker, o.side, o.status, o.price, o.initial, o.filled, o.created}
	}
	return out
}

// OrdersByClientID returns how many orders carry each client_order_id.
func (s *Server) OrdersByClientID() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, o := range s.orders {
		out[o.clientID]++
	}
	return out
}

// CreateAttempts returns the client_order_id of every create request that
// reached the server (faulted ones included), in arrival order.
func (s *Server) CreateAttempts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.attempts...)
}

// Cash returns the account's available cash in dollars.
func (s *Server) Cash() decimal.Decimal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cash
}

// ---- routing ----

var (
	reMarket     = regexp.MustCompile(`^/markets/([^/]+)$`)
	reOrderbook  = regexp.MustCompile(`^/markets/([^/]+)/orderbook$`)
	reEvent      = regexp.MustCompile(`^/events/([^/]+)$`)
	reSeries     = regexp.MustCompile(`^/series/([^/]+)$`)
	reV2Order    = regexp.MustCompile(`^/portfolio/events/orders/([^/]+)$`)
	reOrder      = regexp.MustCompile(`^/portfolio/orders/([^/]+)$`)
	legacyMutate = regexp.MustCompile(`^/portfolio/orders(/.*)?$`)
)

// route names a request for counting and fault matching.
func route(method, path string) string {
	switch {
	case reOrderbook.MatchString(path):
		return method + " /markets/{ticker}/orderbook"
	case path == "/markets/trades":
		return method + " /markets/trades"
	case reMarket.MatchString(path):
		return method + " /markets/{ticker}"
	case reEvent.MatchString(path):
		return method + " /events/{event_ticker}"
	case reSeries.MatchString(path):
		return method + " /series/{series_ticker}"
	case reV2Order.MatchString(path):
		return method + " /portfolio/events/orders/{id}"
	case reOrder.MatchString(path):
		return method + " /portfolio/orders/{id}"
	}
	return method + " " + path
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, APIPrefix)
	rt := route(r.Method, path)
	var attemptCOID *string
	if rt == "POST /portfolio/events/orders" {
		// Every create attempt's client_order_id is recorded, faulted or not.
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(b))
		var peek struct {
			ClientOrderID string `json:"client_order_id"`
		}
		_ = json.Unmarshal(b, &peek)
		attemptCOID = &peek.ClientOrderID
	}
	s.mu.Lock()
	if attemptCOID != nil {
		s.attempts = append(s.attempts, *attemptCOID)
	}
	s.counts[rt]++
	s.total++
	f := s.nextFault(rt)
	s.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusNotFound, "not_found", "not found", "")
		return
	}

	// Faults that happen before the request is processed.
	switch f.Kind {
	case RateLimit:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":"too many requests"}`))
		return
	case UnavailableBefore:
		writeErr(w, http.StatusServiceUnavailable, "service_unavailable", "service temporarily unavailable", "")
		return
	case HangBefore:
		s.hang(w, r, f.Delay)
		return
	case Slow:
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return
		}
	}

	if signedPath(path) {
		if code, msg := s.verify(r); code != 0 {
			writeErr(w, code, "unauthorized", msg, "")
			return
		}
	}

	rec := httptest.NewRecorder()
	s.handle(rec, r, path)

	// Faults that happen after the request was processed: the answer is lost.
	switch f.Kind {
	case DropAfter:
		drop(w)
		return
	case ServerErrorAfter:
		writeErr(w, http.StatusInternalServerError, "internal_server_error", "internal server error", "")
		return
	case GatewayTimeoutAfter:
		writeErr(w, http.StatusGatewayTimeout, "gateway_timeout", "gateway timeout", "")
		return
	case HangAfter:
		s.hang(w, r, f.Delay)
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// hang waits until the client gives up (or d passes, default 30 s) and then
// drops the connection without an answer.
func (s *Server) hang(w http.ResponseWriter, r *http.Request, d time.Duration) {
	if d == 0 {
		d = 30 * time.Second
	}
	// Reading the body lets the server notice when the client hangs up.
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-s.done:
	case <-time.After(d):
	}
	drop(w)
}

func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("kalshitest: response writer cannot hijack")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func signedPath(path string) bool {
	return strings.HasPrefix(path, "/portfolio") || strings.HasPrefix(path, "/account")
}

// verify checks the KALSHI-ACCESS-* headers: the key id, a timestamp within
// MaxSkew of Now, and an RSA-PSS (SHA-256, salt 32) signature over
// timestamp + method + path (from /trade-api/v2, no query).
func (s *Server) verify(r *http.Request) (int, string) {
	bad := func(msg string) (int, string) {
		s.mu.Lock()
		s.badSigs++
		s.mu.Unlock()
		return http.StatusUnauthorized, msg
	}
	if s.opts.PublicKey == nil {
		return bad("this exchange has no API keys")
	}
	key, ts, sig := r.Header.Get("KALSHI-ACCESS-KEY"), r.Header.Get("KALSHI-ACCESS-TIMESTAMP"), r.Header.Get("KALSHI-ACCESS-SIGNATURE")
	if key == "" || ts == "" || sig == "" {
		return bad("missing authentication headers")
	}
	if key != s.opts.KeyID {
		return bad("unknown API key")
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return bad("bad timestamp")
	}
	if skew := s.opts.Now().Sub(time.UnixMilli(ms)); skew > s.opts.MaxSkew || skew < -s.opts.MaxSkew {
		return bad("timestamp outside the allowed window")
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return bad("signature is not base64")
	}
	digest := sha256.Sum256([]byte(ts + r.Method + r.URL.EscapedPath()))
	if err := rsa.VerifyPSS(s.opts.PublicKey, crypto.SHA256, digest[:], raw, &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256}); err != nil {
		return bad("invalid signature")
	}
	return 0, ""
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErr writes Kalshi's error body {"error":{code,message,details}}.
func writeErr(w http.ResponseWriter, status int, code, msg, details string) {
	e := map[string]string{"code": code, "message": msg}
	if details != "" {
		e["details"] = details
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request, path string) {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && path == "/markets":
		s.getMarkets(w, q)
	case r.Method == http.MethodGet && reOrderbook.MatchString(path):
		s.getOrderbook(w, reOrderbook.FindStringSubmatch(path)[1], q)
	case r.Method == http.MethodGet && reMarket.MatchString(path) && path != "/markets/trades":
		s.getMarket(w, reMarket.FindStringSubmatch(path)[1])
	case r.Method == http.MethodGet && path == "/events":
		s.getEvents(w, q)
	case r.Method == http.MethodGet && reEvent.MatchString(path):
		s.getEvent(w, reEvent.FindStringSubmatch(path)[1])
	case r.Method == http.MethodGet && reSeries.MatchString(path):
		s.getSeries(w, reSeries.FindStringSubmatch(path)[1])
	case r.Method == http.MethodPost && path == "/portfolio/events/orders":
		s.createOrder(w, r)
	case r.Method == http.MethodDelete && reV2Order.MatchString(path):
		s.cancelOrder(w, reV2Order.FindStringSubmatch(path)[1])
	case r.Method == http.MethodGet && reOrder.MatchString(path):
		s.getOrder(w, reOrder.FindStringSubmatch(path)[1])
	case r.Method == http.MethodGet && path == "/portfolio/orders":
		s.getOrders(w, q)
	case r.Method == http.MethodGet && path == "/portfolio/fills":
		s.getFills(w, q)
	case r.Method == http.MethodGet && path == "/portfolio/balance":
		s.getBalance(w)
	case r.Method == http.MethodGet && path == "/portfolio/positions":
		s.getPositions(w)
	case r.Method == http.MethodGet && path == "/account/limits":
		writeJSON(w, http.StatusOK, map[string]any{
			"usage_tier": "basic",
			"read":       map[string]any{"refill_rate": s.opts.ReadRate, "bucket_capacity": s.opts.ReadRate},
			"write":      map[string]any{"refill_rate": s.opts.WriteRate, "bucket_capacity": s.opts.WriteRate},
			"grants":     []any{},
		})
	case legacyMutate.MatchString(path) && r.Method != http.MethodGet:
		// The legacy order mutations were switched off in June 2026.
		writeErr(w, http.StatusGone, "endpoint_removed", "this endpoint was removed; use /portfolio/events/orders", "")
	default:
		writeErr(w, http.StatusNotFound, "not_found", "not found", "")
	}
}
