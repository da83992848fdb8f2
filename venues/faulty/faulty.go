// Package faulty is test tooling: a sibyl.Venue wrapper that injects the
// failures a real venue connection has (latency, lost responses, timeouts, 5xx
// after the order was accepted, errors before it was sent) so the exactly-once
// order path can be tested against them. It must never be wired into a real
// server.
//
// Faults apply to the state-changing calls (PlaceOrder, CancelOrder), which are
// the ones whose outcome can be lost. Read calls get the configured latency and,
// optionally, ReadErrorRate failures before they reach the inner venue.
package faulty

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
)

// Fault is what happens to one state-changing call.
type Fault int

// Faults.
const (
	// None passes the call through.
	None Fault = iota
	// LostResponse runs the inner call (the venue accepts the order) and then
	// returns an Unavailable error instead of its answer, like a connection that
	// drops while the response is in flight.
	LostResponse
	// Timeout runs the inner call and then waits until ctx ends (or TimeoutAfter
	// passes) and returns a plain context.DeadlineExceeded error: not a
	// *sibyl.Error, as an adapter that forgot to translate it would.
	Timeout
	// ServerErrorAfterAccept runs the inner call and returns an Unavailable error
	// that reads like a 502 from the venue's gateway.
	ServerErrorAfterAccept
	// ErrorBeforeSend returns an Unavailable error without calling the inner
	// venue: the order was never sent.
	ErrorBeforeSend
)

var faultNames = [...]string{"none", "lost_response", "timeout", "5xx_after_accept", "error_before_send"}

// String returns the fault's name.
func (f Fault) String() string {
	if int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "unknown"
}

// Options configures a Venue. Rates are probabilities in [0,1], drawn in the order
// LostResponse, Timeout, ServerError, ErrorBeforeSend from a source seeded with
// Seed, so a run is repeatable for a given call order.
type Options struct {
	Seed            uint64
	Latency         time.Duration // added before every call
	Jitter          time.Duration // up to this much more, uniformly
	LostResponse    float64
	Timeout         float64
	ServerError     float64
	ErrorBeforeSend float64
	ReadErrorRate   float64       // read calls fail with Unavailable before reaching the inner venue
	TimeoutAfter    time.Duration // Timeout waits at most this long when ctx has no deadline (default 1s)
	Script          []Fault       // faults for the first state-changing calls, in order; then the rates apply
}

// Venue wraps a sibyl.Venue with injected faults. It is safe for concurrent use.
type Venue struct {
	inner sibyl.Venue
	opts  Options

	mu     sync.Mutex
	rng    *rand.Rand
	script []Fault
	calls  map[string]int
	faults map[Fault]int
}

var _ sibyl.Venue = (*Venue)(nil)

// New wraps inner.
func New(inner sibyl.Venue, opts Options) *Venue {
	if opts.TimeoutAfter <= 0 {
		opts.TimeoutAfter = time.Second
	}
	return &Venue{
		inner:  inner,
		opts:   opts,
		rng:    rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		script: append([]Fault(nil), opts.Script...),
		calls:  map[string]int{},
		faults: map[Fault]int{},
	}
}

// Push appends faults to the script: the next state-changing calls get them in
// order.
func (v *Venue) Push(faults ...Fault) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.script = append(v.script, faults...)
}

// Calls returns how many times method (such as "PlaceOrder") was called on the
// wrapper, whatever the fault.
func (v *Venue) Calls(method string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.calls[method]
}

// Injected returns how many times fault was injected.
func (v *Venue) Injected(f Fault) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.faults[f]
}

// begin counts the call, sleeps the latency and picks a fault.
func (v *Venue) begin(ctx context.Context, method string, mutating bool) (Fault, error) {
	v.mu.Lock()
	v.calls[method]++
	delay := v.opts.Latency
	if v.opts.Jitter > 0 {
		delay += time.Duration(v.rng.Int64N(int64(v.opts.Jitter)))
	}
	f := None
	if mutating {
		if len(v.script) > 0 {
			f, v.script = v.script[0], v.script[1:]
		} else {
			switch r := v.rng.Float64(); {
			case r < v.opts.LostResponse:
				f = LostResponse
			case r < v.opts.LostResponse+v.opts.Timeout:
				f = Timeout
			case r < v.opts.LostResponse+v.opts.Timeout+v.opts.ServerError:
				f = ServerErrorAfterAccept
			case r < v.opts.LostResponse+v.opts.Timeout+v.opts.ServerError+v.opts.ErrorBeforeSend:
				f = ErrorBeforeSend
			}
		}
	} else if v.opts.ReadErrorRate > 0 && v.rng.Float64() < v.opts.ReadErrorRate {
		f = ErrorBeforeSend
	}
	if f != None {
		v.faults[f]++
	}
	v.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return f, sibyl.WrapError(sibyl.Unavailable, ctx.Err(), "venue call timed out")
		}
	}
	if f == ErrorBeforeSend {
		return f, sibyl.WrapError(sibyl.Unavailable, errors.New("faulty: connection refused"), "venue unavailable")
	}
	return f, nil
}

// after turns the inner call's result into the fault's.
func (v *Venue) after(ctx context.Context, f Fault) error {
	switch f {
	case LostResponse:
		return sibyl.WrapError(sibyl.Unavailable, errors.New("faulty: connection reset by peer"), "venue connection lost")
	case ServerErrorAfterAccept:
		return sibyl.WrapError(sibyl.Unavailable, errors.New("faulty: 502 bad gateway"), "venue returned a server error")
	case Timeout:
		t := time.NewTimer(v.opts.TimeoutAfter)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		return context.DeadlineExceeded
	}
	return nil
}

func read[T any](v *Venue, ctx context.Context, method string, call func() (T, error)) (T, error) {
	if _, err := v.begin(ctx, method, false); err != nil {
		var zero T
		return zero, err
	}
	return call()
}

// write runs a state-changing call with the next fault.
func (v *Venue) write(ctx context.Context, method string, call func() (sibyl.Order, error)) (sibyl.Order, error) {
	f, err := v.begin(ctx, method, true)
	if err != nil {
		return sibyl.Order{}, err
	}
	o, err := call()
	if ferr := v.after(ctx, f); ferr != nil {
		return sibyl.Order{}, ferr
	}
	return o, err
}

// Info returns the inner venue's Info.
func (v *Venue) Info() sibyl.VenueInfo { return v.inner.Info() }

// SearchMarkets calls the inner venue.
func (v *Venue) SearchMarkets(ctx context.Context, q sibyl.MarketQuery) (sibyl.MarketPage, error) {
	return read(v, ctx, "SearchMarkets", func() (sibyl.MarketPage, error) { return v.inner.SearchMarkets(ctx, q) })
}

// Market calls the inner venue.
func (v *Venue) Market(ctx context.Context, nativeID string) (sibyl.Market, error) {
	return read(v, ctx, "Market", func() (sibyl.Market, error) { return v.inner.Market(ctx, nativeID) })
}

// OrderBook calls the inner venue.
func (v *Venue) OrderBook(ctx context.Context, nativeID, outcome string, depth int) (sibyl.OrderBook, error) {
	return read(v, ctx, "OrderBook", func() (sibyl.OrderBook, error) { return v.inner.OrderBook(ctx, nativeID, outcome, depth) })
}

// PlaceOrder calls the inner venue, with the next fault.
func (v *Venue) PlaceOrder(ctx context.Context, req sibyl.OrderRequest) (sibyl.Order, error) {
	return v.write(ctx, "PlaceOrder", func() (sibyl.Order, error) { return v.inner.PlaceOrder(ctx, req) })
}

// CancelOrder calls the inner venue, with the next fault.
func (v *Venue) CancelOrder(ctx context.Context, principal, nativeOrderID string) (sibyl.Order, error) {
	return v.write(ctx, "CancelOrder", func() (sibyl.Order, error) { return v.inner.CancelOrder(ctx, principal, nativeOrderID) })
}

// GetOrder calls the inner venue.
func (v *Venue) GetOrder(ctx context.Context, principal, nativeOrderID string) (sibyl.Order, error) {
	return read(v, ctx, "GetOrder", func() (sibyl.Order, error) { return v.inner.GetOrder(ctx, principal, nativeOrderID) })
}

// OrderByClientID calls the inner venue.
func (v *Venue) OrderByClientID(ctx context.Context, principal, clientOrderID string, hint sibyl.LookupHint) (sibyl.Order, error) {
	return read(v, ctx, "OrderByClientID", func() (sibyl.Order, error) {
		return v.inner.OrderByClientID(ctx, principal, clientOrderID, hint)
	})
}

// ListOrders calls the inner venue.
func (v *Venue) ListOrders(ctx context.Context, principal string, q sibyl.OrderQuery) (sibyl.OrderPage, error) {
	return read(v, ctx, "ListOrders", func() (sibyl.OrderPage, error) { return v.inner.ListOrders(ctx, principal, q) })
}

// Portfolio calls the inner venue.
func (v *Venue) Portfolio(ctx context.Context, principal string) (sibyl.Portfolio, error) {
	return read(v, ctx, "Portfolio", func() (sibyl.Portfolio, error) { return v.inner.Portfolio(ctx, principal) })
}
