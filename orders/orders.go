// Package orders places and cancels orders exactly once per idempotency key: the
// claim / send / complete protocol of DESIGN.md section 4, on top of the store's
// idempotency records and audit chain and the sibyl.Venue interface.
//
// A retried call never produces a second order: the record is on disk (fsync)
// before the venue is called, the venue sees the same client_order_id on every
// attempt, and an attempt whose outcome is unknown is reconciled with the venue
// (OrderByClientID) before anything is sent again.
//
// This package never talks to a venue except through the sibyl.Venue values it
// is given, and never touches bbolt except through store.
package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/risk"
	"github.com/sibylmcp/sibyl/store"
)

// Tool names whose idempotency records this package keeps.
const (
	ToolPlaceOrder  = "place_order"
	ToolCancelOrder = "cancel_order"
)

// ClientOrderIDNamespace is the UUID namespace of client order ids. It must never
// change: a changed namespace would give a retried order a new client id. It is
// a constant (a string; the parsed form is unexported) so that no code can
// reassign it.
const ClientOrderIDNamespace = "6c1b6f0e-3f57-5c8e-9d36-2a1d8f0b7c4e"

// clientOrderIDNamespace is ClientOrderIDNamespace parsed once.
var clientOrderIDNamespace = uuid.MustParse(ClientOrderIDNamespace)

// ClientOrderID returns the client order id that every attempt of the action
// (principal, tool, key) sends to the venue: UUIDv5(ClientOrderIDNamespace,
// principal + NUL + tool + NUL + key).
func ClientOrderID(principal, tool, key string) string {
	return uuid.NewSHA1(clientOrderIDNamespace, []byte(principal+"\x00"+tool+"\x00"+key)).String()
}

// LegKey returns the idempotency key of leg n of a multi-order action such as an
// executed hedge: "<key>/leg-<n>". Each leg is then exactly-once on its own.
// The result must still be a valid key (at most 128 characters), so a tool with
// legs should accept base keys of at most 118 characters.
func LegKey(key string, n int) string { return fmt.Sprintf("%s/leg-%d", key, n) }

// Hooks are test-only hook points, called with the idempotency key. cmd wires an
// environment variable to exit the process at one of them for the crash test.
type Hooks struct {
	AfterClaim    func(key string) // the pending record is on disk; the venue has not been called
	AfterSend     func(key string) // the venue answered (or failed); nothing is recorded yet
	AfterComplete func(key string) // the outcome is on disk
	// AfterComplete of an accepted order runs on the store's committer goroutine
	// (the completion is asynchronous): it must not call Place, Cancel or
	// Store.Commit.
}

// Options configures a Service. Store and Venues are required.
type Options struct {
	Store  store.Store
	Venues map[string]sibyl.Venue // by venue name, the part of a market id before the colon
	Now    func() time.Time       // default time.Now

	// Lease is how long a claim is owned before another call may take it over
	// (default 30s). SendTimeout bounds one venue call (default Lease/2), so an
	// owner never outlives its lease while the venue is still working.
	Lease       time.Duration
	SendTimeout time.Duration
	// WaitInFlight bounds how long a call waits for a live owner of the same key
	// before answering in_progress (default 5s).
	WaitInFlight time.Duration
	// Retention is how long records are kept (default 24h); records of orders
	// that may still be open are kept longer (see store.Sweep).
	Retention time.Duration
	// DuplicateWindow is how long an identical place_order under another key is
	// refused as possible_duplicate (default 60s).
	DuplicateWindow time.Duration
	// Owner names this process in the records it claims (default the Store's
	// Owner, or a random UUID when the store tracks no instances). On a store shared by several instances (etcd) it must be the
	// Store's Owner: that is the name whose liveness Store.OwnerLive knows, and
	// a record claimed under any other name is taken over as abandoned.
	Owner string
	// SoleOwner says this Service is the only one using the Store, as in
	// `sibyl serve`, where bbolt's exclusive file lock keeps every other process
	// out. A pending record claimed by another owner was then left by a process
	// that died, and is recovered at once instead of after its lease runs out.
	// Leave it false when several Services share a Store.
	SoleOwner bool
	// SessionLive, when set, reports whether a session (by id) may still be
	// going on at another instance although the instance that watched its
	// orders is gone: on a shared store HTTP sessions live in the store, not
	// in one process. CancelOrphaned leaves such a session's watches alone
	// (its end cancels them). It must answer true when it cannot tell. Nil:
	// a session ends with its process.
	SessionLive func(session string) bool
	// Limits are the risk limits by venue name (none for a venue not in the
	// map). Every order (place_order and each hedge leg) is checked against
	// them in its claim transaction, before anything is sent; a refusal is
	// stored under the key and replayed (code risk_limit).
	Limits map[string]risk.Limits
	// Halt is the kill switch: while it is on, every new order is refused
	// (risk_limit, not stored). Nil: never halted.
	Halt *Halt
	// Live is sibyl serve's --live: orders and cancels on a venue whose
	// VenueInfo.RealMoney is set are refused without it (Unauthorized, naming
	// --live), before anything is recorded or sent.
	Live bool
	// Hooks are test hook points; leave zero in production.
	Hooks Hooks
	// Logger receives internal failures that have no caller to go to (a
	// completion written after the caller returned). Default: discard.
	Logger *slog.Logger
}

// Service places and cancels orders exactly once per idempotency key. It is safe
// for concurrent use, and several Services may share one Store (as processes
// share a file over time): in-process waiters are notified, others poll.
type Service struct {
	opts   Options
	store  store.Store
	venues map[string]sibyl.Venue
	now    func() time.Time

	mu       sync.Mutex
	waiters  map[string]chan struct{} // record id -> closed when the record changes hands
	inflight counter                  // asynchronous completions not yet on disk
	// placing is held (read) by every order-opening call from before its
	// claim until its venue call is over; CancelAllOpen takes it (write) as a
	// barrier, so an order claimed before a halt is at the venue, and seen,
	// before the kill switch lists what to cancel.
	placing sync.RWMutex

	rules rulesCache // markets' order rules, for checkSteps

	askedMu sync.Mutex
	asked   map[string]time.Time // background reconciliation: what was asked about lately, and when

	noSpace noSpaceLog // a full disk, logged once per interval
}

// New returns a Service. It panics when Store is nil (a wiring bug).
func New(opts Options) *Service {
	if opts.Store == nil {
		panic("orders.New: Options.Store is nil")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = opts.Lease / 2
	}
	if opts.WaitInFlight <= 0 {
		opts.WaitInFlight = 5 * time.Second
	}
	if opts.Retention <= 0 {
		opts.Retention = 24 * time.Hour
	}
	if opts.DuplicateWindow <= 0 {
		opts.DuplicateWindow = 60 * time.Second
	}
	if opts.Owner == "" {
		if opts.Store != nil {
			opts.Owner = opts.Store.Owner()
		}
		if opts.Owner == "" {
			opts.Owner = uuid.NewString()
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		opts:    opts,
		store:   opts.Store,
		venues:  opts.Venues,
		now:     opts.Now,
		waiters: map[string]chan struct{}{},
		asked:   map[string]time.Time{},
	}
}

// Result is the outcome of a state-changing call.
type Result struct {
	Order         sibyl.Order // the venue's order (for a cancel: the cancelled order)
	Replayed      bool        // true when this call placed nothing: the order (or refusal) came from an earlier call with the same key, stored or found at the venue after that call's answer was lost
	ClientOrderID string      // the client order id sent to the venue
}

// PlaceResult is the result of Place.
type PlaceResult = Result

// CancelResult is the result of Cancel.
type CancelResult = Result

// PlaceRequest is one place_order call.
type PlaceRequest struct {
	Principal string // who calls: API key id, or "local" on stdio (required)
	Session   string // MCP session id, for the audit log
	Transport string // "stdio" or "http", for the audit log
	Key       string // idempotency_key: 8-128 chars of [A-Za-z0-9_.:/-]
	// AllowDuplicate places the order even when an identical one was placed under
	// another key within the duplicate window.
	AllowDuplicate bool
	MarketID       string             // "venue:native_id"
	Order          sibyl.OrderRequest // Principal, MarketID and ClientOrderID are filled in by Place
	// Confirmation is the person's answer when the tool asked for one (the
	// order is over the confirmation threshold); nil when none was asked.
	Confirmation *Confirmation
	// Args are the tool arguments as the agent sent them: the fingerprint is the
	// SHA-256 of their canonical JSON without idempotency_key and
	// allow_duplicate (control flags, not part of the order), and the audit log
	// keeps them redacted. When empty, the order fields stand in.
	Args json.RawMessage
	// FingerprintArgs, when set, are what the fingerprint covers instead of
	// Args: the arguments with the tool's defaults applied, so that a retry
	// that spells out a default is the same request (see Action).
	FingerprintArgs json.RawMessage
	// EquivalentArgs are other spellings of the same request, for records
	// written before FingerprintArgs (see Action).
	EquivalentArgs []json.RawMessage
}

// CancelRequest is one cancel_order call.
type CancelRequest struct {
	Principal string
	Session   string
	Transport string
	Key       string // idempotency_key
	Venue     string // venue name; may be empty when exactly one venue is configured
	OrderID   string // the venue's order id
	Args      json.RawMessage
	// FingerprintArgs and EquivalentArgs as in PlaceRequest.
	FingerprintArgs json.RawMessage
	EquivalentArgs  []json.RawMessage
}

// Action is one state-changing venue call made exactly once per (Principal,
// Tool, Key). Place and Cancel are Actions; hedge legs are Places with LegKey
// keys.
type Action struct {
	Tool      string
	Principal string
	Session   string
	Transport string
	Key       string
	Args      json.RawMessage
	Venue     string // venue name; must be configured
	// FingerprintArgs, when set, are fingerprinted instead of Args: the
	// arguments with the tool's defaults applied. Records written by earlier
	// versions carry the fingerprint of the arguments as sent; a record whose
	// fingerprint is that of Args as sent, or of one of EquivalentArgs (the
	// arguments with the members equal to their default left out), matches
	// too: equal raw arguments are the same request under either rule.
	FingerprintArgs json.RawMessage
	EquivalentArgs  []json.RawMessage

	// CheckDuplicate refuses the same fingerprint under a different key within
	// DuplicateWindow (possible_duplicate) unless AllowDuplicate.
	CheckDuplicate bool
	AllowDuplicate bool
	// OpensOrder indexes the resulting order so a later cancel can mark the
	// record's order final; ClosesOrder marks the opening record final when the
	// resulting order is final.
	OpensOrder  bool
	ClosesOrder bool
	// SuccessOutcome is the audit outcome of a success ("placed", "cancelled").
	SuccessOutcome string

	// NativeMarketID is the order's market (native id), stored in the record
	// for the lookup hint; empty for a cancel.
	NativeMarketID string
	// Prepare, when set, prepares the order before the claim (for a
	// sibyl.Preparer venue); the prepared order is stored in the claim and
	// passed to every Send. It runs only when the key has no record yet.
	Prepare func(ctx context.Context, v sibyl.Venue, clientOrderID string) (*sibyl.PreparedOrder, error)

	// Send makes the venue call with the stable client order id and the
	// stored prepared order (nil when the venue prepares nothing). An error that is
	// a *sibyl.Error with a non-retryable code (other than Internal) is a
	// deterministic refusal, stored and replayed; any other error leaves the
	// outcome unknown. Send may return the order with a refusal (a Conflict on
	// a final order).
	Send func(ctx context.Context, v sibyl.Venue, clientOrderID string, prepared *sibyl.PreparedOrder) (sibyl.Order, error)
	// Reconcile looks for the effect of an earlier attempt whose outcome is
	// unknown, with what the record knows (hint). found=false (with a nil
	// error) means it did not happen, and Send runs again with the same client
	// order id and prepared order. An error leaves the outcome unknown.
	Reconcile func(ctx context.Context, v sibyl.Venue, clientOrderID string, hint sibyl.LookupHint) (o sibyl.Order, found bool, err error)
	// ReconcileOnConflict makes a Conflict from Send run Reconcile once: a venue
	// answers Conflict to a client order id it already has.
	ReconcileOnConflict bool

	// legacyFPs are the fingerprints of Args as sent and of EquivalentArgs
	// when FingerprintArgs is set (set by Do): a record carrying one of them
	// is the same request.
	legacyFPs []string

	// risk describes a new order for the risk limits (nil: not an order, or
	// no limits on its venue); set by Place.
	risk *risk.Order
	// confirm is the person's answer to the tool's question, if one was asked.
	confirm *Confirmation

	audit    store.AuditEntry // prepared audit template, set by Do
	hasAudit bool
	// background marks ReconcilePending's takeover: the claim only takes over
	// an existing pending record whose lease is over, and writes nothing
	// otherwise.
	background bool
	// recordAbsent: the caller has just read the key's record and found none
	// (Place's step check). The first claim then skips reading it again
	// before its transaction; the transaction reads it (on etcd from the
	// read cache that read filled) and its commit checks it is still absent.
	recordAbsent bool
}

// Place places an order exactly once per (principal, place_order, key).
//
// It returns the venue's order, or the stored one with Replayed set when the key
// was used before with the same arguments. Errors (all *sibyl.Error):
//   - invalid (Field idempotency_key, market_id, ...): nothing was recorded or sent;
//     a quantity or limit price off the market's steps (sibyl.OrderRules) is
//     refused so (Field quantity or limit_price, the message naming the steps);
//   - idempotency_key_reused: the key was used with other arguments; nothing sent;
//   - possible_duplicate: the same order was placed under another key moments ago;
//     retry with the original key, or set AllowDuplicate;
//   - in_progress (retryable): another call with this key is running; retry later;
//   - unavailable (retryable): the outcome is unknown; retry with the same key and
//     the next call reconciles with the venue before sending anything;
//   - a deterministic refusal from the venue (insufficient_funds, market_closed,
//     invalid, not_found, ...): stored, and replayed to every retry (with
//     Result.Replayed set).
func (s *Service) Place(ctx context.Context, req PlaceRequest) (PlaceResult, error) {
	refused := func(err error) (PlaceResult, error) {
		s.auditInvalid(ctx, Action{Tool: ToolPlaceOrder, Principal: req.Principal, Session: req.Session,
			Transport: req.Transport, Key: req.Key, Args: req.Args}, err)
		return Result{}, err
	}
	venueName, native, ok := sibyl.SplitMarketID(req.MarketID)
	if !ok {
		return refused(sibyl.FieldErrorf(sibyl.Invalid, "market_id", "market id %q is not of the form venue:native_id", req.MarketID))
	}
	if err := validateOrder(req.Order); err != nil {
		return refused(err)
	}
	absent, err := s.checkSteps(ctx, req.Principal, req.Key, venueName, native, req.Order)
	if err != nil {
		if sibyl.ErrorCode(err).Retryable() {
			return Result{}, err // nothing recorded or sent; the check runs again on the retry
		}
		return refused(err)
	}
	args := req.Args
	if len(args) == 0 {
		b, err := json.Marshal(struct {
			MarketID string             `json:"market_id"`
			Order    sibyl.OrderRequest `json:"order"`
		}{req.MarketID, req.Order})
		if err != nil {
			return Result{}, sibyl.WrapError(sibyl.Internal, err, "encoding order")
		}
		args = b
	}
	order := req.Order
	order.Principal = req.Principal
	order.NativeMarketID = native
	order.Prepared = nil
	var ro *risk.Order
	if l := s.limits(venueName); l.Active() {
		r := riskOrder(req.MarketID, req.Order)
		if l.Collar.IsPositive() && !r.Price.IsZero() {
			// The collar needs the mid, read before the claim (no I/O inside
			// the transaction), and only for a key not used before: a retry
			// gets the stored decision.
			if v, ok := s.venues[venueName]; ok && ValidateKey(req.Key) == nil {
				if !absent {
					if _, used, err := s.store.Record(store.RecordID{Principal: req.Principal, Tool: ToolPlaceOrder, Key: req.Key}); err == nil && !used {
						absent = true
					}
				}
				if absent {
					m, err := mid(ctx, v, native, req.Order.Outcome)
					if err != nil {
						return refused(err)
					}
					r.Mid = m
				}
			}
		}
		ro = &r
	}
	a := Action{
		risk: ro, confirm: req.Confirmation, recordAbsent: absent,
		Tool: ToolPlaceOrder, Principal: req.Principal, Session: req.Session, Transport: req.Transport,
		Key: req.Key, Args: args, FingerprintArgs: req.FingerprintArgs, EquivalentArgs: req.EquivalentArgs, Venue: venueName, NativeMarketID: native,
		CheckDuplicate: true, AllowDuplicate: req.AllowDuplicate, OpensOrder: true,
		SuccessOutcome:      store.OutcomePlaced,
		ReconcileOnConflict: true,
		Send: func(ctx context.Context, v sibyl.Venue, coid string, prepared *sibyl.PreparedOrder) (sibyl.Order, error) {
			o := order
			o.ClientOrderID = coid
			o.Prepared = prepared
			return v.PlaceOrder(ctx, o)
		},
		Reconcile: findByClientID(req.Principal),
	}
	if v, ok := s.venues[venueName]; ok {
		if _, ok := v.(sibyl.Preparer); ok {
			a.Prepare = prepareOrder(order)
		}
	}
	return s.Do(ctx, a)
}

// prepareOrder is the Prepare of a place_order Action on a sibyl.Preparer
// venue.
func prepareOrder(order sibyl.OrderRequest) func(ctx context.Context, v sibyl.Venue, coid string) (*sibyl.PreparedOrder, error) {
	return func(ctx context.Context, v sibyl.Venue, coid string) (*sibyl.PreparedOrder, error) {
		p, ok := v.(sibyl.Preparer)
		if !ok {
			return nil, nil
		}
		o := order
		o.ClientOrderID = coid
		po, err := p.PrepareOrder(ctx, o)
		if err != nil {
			return nil, err
		}
		return &po, nil
	}
}

// findByClientID is the Reconcile of an order-opening Action: the venue's
// order of principal with the client order id, if it has one.
func findByClientID(principal string) func(ctx context.Context, v sibyl.Venue, coid string, hint sibyl.LookupHint) (sibyl.Order, bool, error) {
	return func(ctx context.Context, v sibyl.Venue, coid string, hint sibyl.LookupHint) (sibyl.Order, bool, error) {
		o, err := v.OrderByClientID(ctx, principal, coid, hint)
		if sibyl.ErrorCode(err) == sibyl.NotFound {
			return sibyl.Order{}, false, nil
		}
		if err != nil {
			return sibyl.Order{}, false, err
		}
		return o, true, nil
	}
}

// Cancel cancels an order exactly once per (principal, cancel_order, key): a
// retry replays the stored result. Cancelling an order that is already final is
// a conflict (stored and replayed like any refusal). A cancel whose answer shows
// the order final marks the order's place_order record final, so the retention
// sweep may drop it. Errors as for Place, with Field venue or order_id for
// invalid requests.
func (s *Service) Cancel(ctx context.Context, req CancelRequest) (CancelResult, error) {
	venueName := req.Venue
	if venueName == "" && len(s.venues) == 1 {
		for name := range s.venues {
			venueName = name
		}
	}
	refused := func(err error) (CancelResult, error) {
		s.auditInvalid(ctx, Action{Tool: ToolCancelOrder, Principal: req.Principal, Session: req.Session,
			Transport: req.Transport, Key: req.Key, Args: req.Args}, err)
		return Result{}, err
	}
	if venueName == "" {
		return refused(sibyl.FieldErrorf(sibyl.Invalid, "venue", "name the venue of the order; configured venues: %s", strings.Join(s.venueNames(), ", ")))
	}
	if req.OrderID == "" {
		return refused(sibyl.FieldErrorf(sibyl.Invalid, "order_id", "order_id is required"))
	}
	if err := s.liveGate(venueName, ToolCancelOrder); err != nil {
		return refused(err) // before the ownership check: the answer names --live
	}
	// On a shared account, another principal's order is not there for the
	// caller: refused as unknown, nothing recorded or sent.
	if owns, err := s.Owns(req.Principal, venueName, req.OrderID); err != nil {
		return Result{}, err
	} else if !owns {
		return refused(notYours(req.OrderID))
	}
	args := req.Args
	if len(args) == 0 {
		b, _ := json.Marshal(map[string]string{"venue": venueName, "order_id": req.OrderID})
		args = b
	}
	return s.Do(ctx, Action{
		Tool: ToolCancelOrder, Principal: req.Principal, Session: req.Session, Transport: req.Transport,
		Key: req.Key, Args: args, FingerprintArgs: req.FingerprintArgs, EquivalentArgs: req.EquivalentArgs, Venue: venueName,
		ClosesOrder:    true,
		SuccessOutcome: store.OutcomeCancelled,
		Send: func(ctx context.Context, v sibyl.Venue, _ string, _ *sibyl.PreparedOrder) (sibyl.Order, error) {
			return v.CancelOrder(ctx, req.Principal, req.OrderID)
		},
		Reconcile: func(ctx context.Context, v sibyl.Venue, _ string, _ sibyl.LookupHint) (sibyl.Order, bool, error) {
			o, err := v.GetOrder(ctx, req.Principal, req.OrderID)
			if sibyl.ErrorCode(err) == sibyl.NotFound {
				return sibyl.Order{}, false, nil // Send will get the same NotFound and store it
			}
			if err != nil {
				return sibyl.Order{}, false, err
			}
			return o, o.Status == sibyl.OrderCancelled, nil
		},
	})
}

// Record returns the idempotency record of (principal, tool, key), for tools
// such as get_order that look an order up by its key. Accepted orders are
// completed asynchronously (see Place), so a record can still be pending for a
// few milliseconds after Place returned; Record waits (up to WaitInFlight, or
// until ctx ends) while the record is held by a live owner, and then returns
// what is on disk. ok is false when there is no record.
func (s *Service) Record(ctx context.Context, principal, tool, key string) (rec store.Record, ok bool, err error) {
	id := store.RecordID{Principal: principal, Tool: tool, Key: key}
	if ValidateKey(key) != nil || principal == "" || strings.IndexByte(principal, 0) >= 0 || tool == "" {
		return store.Record{}, false, nil
	}
	rec, ok, err = s.store.Record(id)
	if err != nil || !ok || rec.State != store.Pending || !s.leaseLive(rec, s.now()) {
		return rec, ok, err
	}
	s.wait(ctx, id, time.Now().Add(s.opts.WaitInFlight))
	return s.store.Record(id)
}

// Sweep deletes records older than the retention window whose orders are final
// (see store.Sweep), after writing the completions still queued.
func (s *Service) Sweep() (store.SweepResult, error) {
	s.Flush()
	return s.store.Sweep(s.now().Add(-s.opts.Retention))
}

func (s *Service) venueNames() []string {
	names := make([]string, 0, len(s.venues))
	for n := range s.venues {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ValidateKey checks an idempotency key: 8-128 characters of [A-Za-z0-9_.:/-].
// It returns an invalid error with Field "idempotency_key".
func ValidateKey(key string) error {
	if len(key) < 8 || len(key) > 128 {
		return sibyl.FieldErrorf(sibyl.Invalid, "idempotency_key",
			"idempotency_key must be 8-128 characters (got %d); make one per intended action, such as a UUID, and reuse it on every retry", len(key))
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' || c == '.' || c == ':' || c == '/' || c == '-':
		default:
			return sibyl.FieldErrorf(sibyl.Invalid, "idempotency_key",
				"idempotency_key may hold only letters, digits and _ . : / - (character %d is %q)", i+1, c)
		}
	}
	return nil
}

func validateOrder(o sibyl.OrderRequest) error {
	switch {
	case o.Side != sibyl.Buy && o.Side != sibyl.Sell:
		return sibyl.FieldErrorf(sibyl.Invalid, "side", "side must be buy or sell")
	case o.Type != sibyl.LimitOrder && o.Type != sibyl.MarketOrder:
		return sibyl.FieldErrorf(sibyl.Invalid, "type", "type must be limit or market")
	case !o.Quantity.IsPositive():
		return sibyl.FieldErrorf(sibyl.Invalid, "quantity", "quantity must be more than 0 contracts")
	case o.Type == sibyl.LimitOrder && !(o.LimitPrice.IsPositive() && o.LimitPrice.LessThan(decimal.NewFromInt(1))):
		return sibyl.FieldErrorf(sibyl.Invalid, "limit_price", "a limit order needs limit_price between 0 and 1 dollars (exclusive)")
	case o.Outcome == "":
		return sibyl.FieldErrorf(sibyl.Invalid, "outcome", "outcome is required, such as \"Yes\"")
	}
	return nil
}

// isDeterministic reports whether err is a refusal that retrying cannot change,
// to be stored and replayed.
func isDeterministic(err error) bool {
	var e *sibyl.Error
	if !errors.As(err, &e) {
		return false
	}
	return !e.Code.Retryable() && e.Code != sibyl.Internal
}
