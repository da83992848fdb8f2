package paper

import (
	"container/heap"
	"time"

	"github.com/sibylmcp/sibyl"
)

// order is an order with the venue's bookkeeping. It is stored as JSON.
type order struct {
	sibyl.Order
	Principal string `json:"principal"`
	Seq       uint64 `json:"seq"`
	Native    string `json:"native"`    // native market id
	YesBid    bool   `json:"yes_bid"`   // true when it sits on (or takes from) the Yes bid side
	Tick      int    `json:"tick"`      // limit on the Yes book, cents
	Remaining int64  `json:"remaining"` // contracts still working
	Reserved  int64  `json:"reserved"`  // cents reserved for the resting part of a buy
	Notional  int64  `json:"notional"`  // cents paid or received for the fills
}

// outcomePx converts a Yes-book tick to this order's outcome price in cents.
func (o *order) outcomePx(tick int) int64 {
	if o.Outcome == "No" {
		return int64(100 - tick)
	}
	return int64(tick)
}

// position is a principal's holding of one outcome of one market. Money is in
// cents.
type position struct {
	Market    string `json:"market"` // native id
	Outcome   string `json:"outcome"`
	Qty       int64  `json:"qty"`
	Committed int64  `json:"committed"` // contracts held by resting sell orders
	Cost      int64  `json:"cost"`      // cost basis of Qty, cents (fees excluded)
	Realized  int64  `json:"realized"`  // realised P&L net of all fees, cents
	Settled   bool   `json:"settled"`
	Payout    int64  `json:"payout"` // settlement value per contract, cents (when settled)
}

// account is a principal's cash and positions. Money is in cents.
type account struct {
	Principal string               `json:"principal"`
	Cash      int64                `json:"cash"`     // available
	Reserved  int64                `json:"reserved"` // held by resting buys
	Positions map[string]*position `json:"positions"`

	orders []*order          // all orders, oldest first (by Seq)
	open   map[string]*order // resting orders by id
}

func posKey(market, outcome string) string { return market + "|" + outcome }

// mstate is the trading state of one market that has (or had) principal
// orders or positions: the principals' resting orders on the Yes book and the
// market makers' consumed liquidity in the current bucket.
type mstate struct {
	def        *marketDef
	bids, asks [ticks][]*order
	resting    int
	holders    map[string]struct{}

	bucket int64           // the bucket used describes
	used   [2][ticks]int64 // consumed MM liquidity: [0] bids, [1] asks

	qBucket int64 // memoised quotes
	q       mmQuote
	qOK     bool

	syncBucket int64 // bucket in which resting orders were last matched against the MMs
	synced     bool
}

type eventKind int

const (
	evExpire eventKind = iota
	evSettle
)

type schedEvent struct {
	at   time.Time
	id   string
	kind eventKind
}

type schedHeap []schedEvent

func (h schedHeap) Len() int { return len(h) }
func (h schedHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].kind < h[j].kind
}
func (h schedHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *schedHeap) Push(x any)   { *h = append(*h, x.(schedEvent)) }
func (h *schedHeap) Pop() any     { old := *h; x := old[len(old)-1]; *h = old[:len(old)-1]; return x }

// state is the whole paper-trading state, guarded by Venue.mu.
type state struct {
	orders   map[string]*order
	byClient map[string]*order
	accounts map[string]*account
	markets  map[string]*mstate
	sched    schedHeap
	orderSeq uint64
	fillSeq  uint64
}

func newState() *state {
	return &state{
		orders:   make(map[string]*order),
		byClient: make(map[string]*order),
		accounts: make(map[string]*account),
		markets:  make(map[string]*mstate),
	}
}

// add registers a new order of account a: by id, by client order id and in
// a's list (orders are added in Seq order).
func (st *state) add(o *order, a *account) {
	st.orders[o.NativeID] = o
	if o.ClientOrderID != "" {
		st.byClient[clientKey(o.Principal, o.ClientOrderID)] = o
	}
	a.orders = append(a.orders, o)
}

func clientKey(principal, clientOrderID string) string { return principal + "\x00" + clientOrderID }

// tx collects what one call changed, to be committed in one transaction.
type tx struct {
	orders   map[*order]struct{}
	accounts map[*account]struct{}
	mm       map[*mstate]struct{}
	meta     bool
}

func newTx() *tx {
	return &tx{orders: map[*order]struct{}{}, accounts: map[*account]struct{}{}, mm: map[*mstate]struct{}{}}
}

func (t *tx) empty() bool {
	return len(t.orders) == 0 && len(t.accounts) == 0 && len(t.mm) == 0 && !t.meta
}

// account returns principal's account, creating it with the starting cash.
func (v *Venue) account(p string, t *tx) *account {
	a := v.st.accounts[p]
	if a == nil {
		a = &account{Principal: p, Cash: dollarsToCents(v.opts.StartingCash), Positions: map[string]*position{}, open: map[string]*order{}}
		v.st.accounts[p] = a
		if t != nil {
			t.accounts[a] = struct{}{}
		}
	}
	return a
}

// market returns the trading state of def, creating it (and scheduling its
// expiry and settlement) when create is set.
func (v *Venue) market(def *marketDef, create bool) *mstate {
	ms := v.st.markets[def.id]
	if ms == nil && create {
		ms = &mstate{def: def, holders: map[string]struct{}{}}
		v.st.markets[def.id] = ms
		heap.Push(&v.st.sched, schedEvent{at: def.close, id: def.id, kind: evExpire})
		heap.Push(&v.st.sched, schedEvent{at: def.settle, id: def.id, kind: evSettle})
	}
	return ms
}

// mmState brings the market makers' state (ms.q, ms.used) to the bucket of
// now and returns the bucket's start.
func (v *Venue) mmState(ms *mstate, now time.Time) time.Time {
	b, start := v.bucketOf(now)
	if !ms.qOK || ms.qBucket != b {
		ms.q = v.quotes(ms.def, b, start)
		ms.qBucket, ms.qOK = b, true
	}
	if ms.bucket != b {
		ms.bucket = b
		ms.used = [2][ticks]int64{} // a stale bucket on disk is ignored on load
	}
	return start
}

// mmAvail returns the market makers' remaining size at tick on the Yes bid
// (side 0) or ask (side 1) in the current bucket.
func (ms *mstate) mmAvail(side, tick int) int64 {
	var s int64
	if side == 0 {
		s = ms.q.bid[tick]
	} else {
		s = ms.q.ask[tick]
	}
	return max(s-ms.used[side][tick], 0)
}

func dollarsToCents(x float64) int64 { return int64(x*100 + 0.5) }
func centsToDollars(c int64) float64 { return float64(c) / 100 }
