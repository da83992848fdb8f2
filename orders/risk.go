package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/risk"
	"github.com/sibylmcp/sibyl/store"
)

// The risk ledger: counters the limits read, kept in the store and changed
// only in the transactions that change the idempotency records they count.
// So they are consistent under concurrency (bbolt serialises the
// transactions, and an order's check and its reservation are one transaction
// with its claim) and across restarts and crashes (a claim on disk has its
// reservation on disk; a completion settles it in the same transaction).
//
//	d\0<day>\0<principal>      notional placed that UTC day (decimal string)
//	m\0<principal>\0<market>   exposure in a market (decimal string)
//	o\0<principal>             orders claimed and not yet seen final (integer)
//	r\0<record id>             the reservation of a claimed order, until it completes
//	x\0<principal>\0<venue>\0<order id>  the reservation of an accepted order still resting
//
// The empty principal holds the totals over every principal.
const bucketRiskLedger = "risk_ledger"

// reservation is what one order added to the counters, so that its
// completion, cancel or reconciliation can take back the right amounts.
type reservation struct {
	Principal string          `json:"p"`
	Market    string          `json:"m"`
	Side      sibyl.Side      `json:"s"`
	Quantity  decimal.Decimal `json:"q"`
	Price     decimal.Decimal `json:"px"` // limit or worst price; zero for a market order without one ($1 each)
	Notional  decimal.Decimal `json:"n"`
	Day       string          `json:"d"`
}

// errHaltedFmt is the halt refusal. It is not stored: a call refused while
// halted may be retried with the same key after resume.
const errHaltedFmt = "trading is halted by the operator (sibyl halt, %s): no new order or hedge is sent until 'sibyl resume'. Nothing was recorded or sent; after the resume, retry with the same idempotency_key"

// OutcomeHalted is the audit outcome of a call refused because trading is halted.
const OutcomeHalted = "halted"

// Halted returns the refusal (a risk_limit *sibyl.Error, not to be stored)
// while trading is halted by the kill switch, or nil. Tools that act before
// an order reaches Place (a hedge) check it first.
func (s *Service) Halted() error {
	if s.opts.Halt == nil {
		return nil
	}
	st := s.opts.Halt.State()
	if !st.Halted {
		return nil
	}
	return sibyl.Errorf(sibyl.RiskLimit, errHaltedFmt, st.describe())
}

// limits returns the risk limits of a venue (the zero Limits when none).
func (s *Service) limits(venue string) risk.Limits { return s.opts.Limits[venue] }

// dec converts a float64 from the order types to an exact decimal: the
// shortest decimal that is the same float, so 0.56 is 0.56.
func dec(f float64) decimal.Decimal { return decimal.NewFromFloat(f) }

// riskOrder describes req for the limits.
func riskOrder(marketID string, o sibyl.OrderRequest) risk.Order {
	ro := risk.Order{Market: marketID, Side: o.Side, IsMarket: o.Type == sibyl.MarketOrder, Quantity: o.Quantity}
	if o.Type == sibyl.LimitOrder {
		ro.Price = o.LimitPrice
	}
	return ro
}

// mid asks the venue for the outcome's mid price, for the price collar.
func mid(ctx context.Context, v sibyl.Venue, native, outcome string) (decimal.Decimal, error) {
	m, err := v.Market(ctx, native)
	if err != nil {
		return decimal.Zero, err
	}
	// The reference price is the outcome's implied probability by the one
	// rule every venue answers by: the midpoint when both sides are quoted,
	// else the last trade or the lone side (zero when there is none).
	sibyl.ApplyPriceRule(&m)
	for _, o := range m.Outcomes {
		if strings.EqualFold(o.Name, outcome) {
			return dec(o.ImpliedProbability), nil
		}
	}
	return decimal.Zero, nil // the venue refuses the unknown outcome when it is sent
}

func ledgerKey(parts ...string) []byte { return []byte(strings.Join(parts, "\x00")) }

func resKey(id store.RecordID) []byte { return ledgerKey("r", id.Principal, id.Tool, id.Key) }

func getDec(b store.Bucket, k []byte) decimal.Decimal {
	v := b.Get(k)
	if v == nil {
		return decimal.Zero
	}
	d, err := decimal.NewFromString(string(v))
	if err != nil {
		return decimal.Zero
	}
	return d
}

// addDec adds delta to the counter at k, never going below zero.
func addDec(b store.Bucket, k []byte, delta decimal.Decimal) error {
	v := decimal.Max(getDec(b, k).Add(delta), decimal.Zero)
	if v.IsZero() {
		return b.Delete(k)
	}
	return b.Put(k, []byte(v.String()))
}

func getInt(b store.Bucket, k []byte) int {
	var n int
	if v := b.Get(k); v != nil {
		_, _ = fmt.Sscan(string(v), &n)
	}
	return n
}

func addInt(b store.Bucket, k []byte, delta int) error {
	n := max(getInt(b, k)+delta, 0)
	if n == 0 {
		return b.Delete(k)
	}
	return b.Put(k, []byte(fmt.Sprint(n)))
}

// usage reads the counters of principal ("" for every principal) for market
// on day. b may be nil (no ledger yet).
func usage(b store.Bucket, principal, market, day string) risk.Usage {
	if b == nil {
		return risk.Usage{}
	}
	return risk.Usage{
		Daily:  getDec(b, ledgerKey("d", day, principal)),
		Market: getDec(b, ledgerKey("m", principal, market)),
		Open:   getInt(b, ledgerKey("o", principal)),
	}
}

// prepared is a new order's risk check made ready outside the claim
// transaction (the committer's goroutine is the one every order waits for).
type prepared struct {
	limits risk.Limits
	order  risk.Order
	day    string
	res    reservation
	raw    []byte // res as JSON; nil when the limits count nothing
}

// prepareRisk readies a's risk check for a claim at now.
func (s *Service) prepareRisk(a Action, now time.Time) (*prepared, error) {
	if a.risk == nil {
		return nil, nil
	}
	p := &prepared{limits: s.limits(a.Venue), order: *a.risk, day: now.UTC().Format(time.DateOnly)}
	if p.limits.Counted() {
		ro := p.order
		p.res = reservation{Principal: a.Principal, Market: ro.Market, Side: ro.Side, Quantity: ro.Quantity, Price: ro.Price, Notional: ro.Notional(), Day: p.day}
		raw, err := json.Marshal(p.res)
		if err != nil {
			return nil, err
		}
		p.raw = raw
	}
	return p, nil
}

// checkAndReserve is run inside the claim transaction of a new order: it
// checks the order against the venue's limits and, when it passes and the
// limits count usage, adds it to the counters and keeps its reservation under
// the record id. It returns the risk refusal (nil when the order may go).
func (s *Service) checkAndReserve(t store.Txn, p *prepared, id store.RecordID) (refusal error, err error) {
	if p.raw == nil {
		return storedNote(p.limits.Check(p.order, risk.Usage{}, risk.Usage{})), nil
	}
	b, err := t.Bucket(bucketRiskLedger)
	if err != nil {
		return nil, err
	}
	if refusal := p.limits.Check(p.order, usage(b, p.res.Principal, p.order.Market, p.day), usage(b, "", p.order.Market, p.day)); refusal != nil {
		return storedNote(refusal), nil
	}
	if err := b.Put(resKey(id), p.raw); err != nil {
		return nil, err
	}
	return nil, apply(b, p.res, p.res.Notional, exposureOf(p.res), 1)
}

// storedNote tells the agent that the refusal is stored under its key.
func storedNote(err error) error {
	var e *sibyl.Error
	if errors.As(err, &e) {
		e.Message += " Nothing was sent to the venue; this refusal is stored, so a retry with the same idempotency_key gets it again (use a new key for a changed order)."
	}
	return err
}

// exposureOf is what an order adds to its market's exposure while it rests:
// its notional for a buy, nothing for a sell.
func exposureOf(r reservation) decimal.Decimal {
	if r.Side == sibyl.Buy {
		return r.Notional
	}
	return decimal.Zero
}

// apply adds to the principal's and the total counters.
func apply(b store.Bucket, r reservation, daily, exposure decimal.Decimal, open int) error {
	for _, p := range []string{r.Principal, ""} {
		if !daily.IsZero() {
			if err := addDec(b, ledgerKey("d", r.Day, p), daily); err != nil {
				return err
			}
		}
		if !exposure.IsZero() {
			if err := addDec(b, ledgerKey("m", p, r.Market), exposure); err != nil {
				return err
			}
		}
		if open != 0 {
			if err := addInt(b, ledgerKey("o", p), open); err != nil {
				return err
			}
		}
	}
	return nil
}

// settleClaim runs in the completion transaction of record id: a refusal takes
// the whole reservation back; an accepted order that is final keeps only
// what it filled; one that rests keeps its reservation under its order id,
// for its cancel or reconciliation to settle. A record without a reservation
// (limits not counted, or settled already) is left alone.
func (s *Service) settleClaim(t store.Txn, id store.RecordID, venue string, o sibyl.Order, refusal error) error {
	b, r, ok, err := takeReservation(t, resKey(id))
	if err != nil || !ok {
		return err
	}
	switch {
	case refusal != nil || o.NativeID == "":
		return apply(b, r, r.Notional.Neg(), exposureOf(r).Neg(), -1)
	case o.Status.Final():
		return finish(b, r, o)
	default:
		raw, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return b.Put(ledgerKey("x", r.Principal, venue, o.NativeID), raw)
	}
}

// settleOrder runs where an order is seen final (its cancel, or the
// reconciliation of open orders): the reservation it kept while resting is
// settled from its final state.
func settleOrder(t store.Txn, principal, venue string, o sibyl.Order) error {
	b, r, ok, err := takeReservation(t, ledgerKey("x", principal, venue, o.NativeID))
	if err != nil || !ok {
		return err
	}
	return finish(b, r, o)
}

// finish settles a final order: it no longer rests; a buy keeps the exposure
// of what it filled (at its price), a sell takes what it sold off the market's
// exposure.
func finish(b store.Bucket, r reservation, o sibyl.Order) error {
	filled := o.FilledQuantity
	price := r.Price
	if price.IsZero() {
		price = decimal.NewFromInt(1)
	}
	var exp decimal.Decimal
	if r.Side == sibyl.Buy {
		exp = decimal.Max(r.Quantity.Sub(filled), decimal.Zero).Mul(price).Neg()
	} else {
		exp = filled.Mul(price).Neg()
	}
	return apply(b, r, decimal.Zero, exp, -1)
}

func takeReservation(t store.Txn, k []byte) (store.Bucket, reservation, bool, error) {
	b, err := t.Bucket(bucketRiskLedger)
	if err != nil || b == nil {
		return nil, reservation{}, false, err
	}
	raw := b.Get(k)
	if raw == nil {
		return nil, reservation{}, false, nil
	}
	var r reservation
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, reservation{}, false, fmt.Errorf("decoding risk reservation: %w", err)
	}
	return b, r, true, b.Delete(k)
}

// Leg is one order of a multi-order action (a hedge), for CheckRisk.
type Leg struct {
	// Key is the leg's idempotency key: a leg whose key has a record already
	// (placed or refused by an earlier call) is counted by the ledger, not
	// again here.
	Key      string
	MarketID string             // "venue:native_id"
	Order    sibyl.OrderRequest // side, type, quantity and price
}

// CheckRisk checks every leg of a multi-order action against the risk limits
// and the kill switch together, before any leg is sent: each leg is checked
// with the legs before it counted as placed, as they will be. It changes
// nothing and stores nothing (each leg is checked again, and reserved, when
// it is placed). It returns nil, or the first refusal (a risk_limit
// *sibyl.Error whose message names the leg). Use it so that a hedge the
// limits would cut in half is refused whole.
func (s *Service) CheckRisk(ctx context.Context, principal string, legs []Leg) error {
	if err := s.Halted(); err != nil {
		return err
	}
	day := s.now().UTC().Format(time.DateOnly)
	var refusal error
	err := s.store.View(func(t store.Txn) error {
		b, err := t.Bucket(bucketRiskLedger)
		if err != nil {
			return err
		}
		added := map[string]decimal.Decimal{} // exposure the earlier legs add, by market
		var addedDaily decimal.Decimal
		n := 0 // legs counted before this one
		for _, leg := range legs {
			if leg.Key != "" {
				if _, used, err := s.store.Record(store.RecordID{Principal: principal, Tool: ToolPlaceOrder, Key: leg.Key}); err == nil && used {
					continue
				}
			}
			i := n
			n++
			venue, native, ok := sibyl.SplitMarketID(leg.MarketID)
			if !ok {
				return sibyl.FieldErrorf(sibyl.Invalid, "market_id", "market id %q is not of the form venue:native_id", leg.MarketID)
			}
			l := s.limits(venue)
			if !l.Active() {
				continue
			}
			ro := riskOrder(leg.MarketID, leg.Order)
			if l.Collar.IsPositive() && !ro.Price.IsZero() {
				if v, ok := s.venues[venue]; ok {
					if m, err := mid(ctx, v, native, leg.Order.Outcome); err == nil {
						ro.Mid = m
					}
				}
			}
			mine, all := usage(b, principal, leg.MarketID, day), usage(b, "", leg.MarketID, day)
			mine.Daily, all.Daily = mine.Daily.Add(addedDaily), all.Daily.Add(addedDaily)
			mine.Market, all.Market = mine.Market.Add(added[leg.MarketID]), all.Market.Add(added[leg.MarketID])
			mine.Open, all.Open = mine.Open+i, all.Open+i
			if err := l.Check(ro, mine, all); err != nil {
				var e *sibyl.Error
				if errors.As(err, &e) {
					e.Message = fmt.Sprintf("leg %d (%s): %s No leg of this call was sent.", i+1, leg.MarketID, e.Message)
				}
				refusal = err
				return nil
			}
			addedDaily = addedDaily.Add(ro.Notional())
			if ro.Side == sibyl.Buy {
				added[leg.MarketID] = added[leg.MarketID].Add(ro.Notional())
			}
		}
		return nil
	})
	if err != nil {
		if sibyl.ErrorCode(err) != sibyl.Internal {
			return err
		}
		return sibyl.WrapError(sibyl.Internal, err, "internal error")
	}
	return refusal
}
