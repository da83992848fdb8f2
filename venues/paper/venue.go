package paper

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

// Options configures a paper venue. Zero fields take the documented defaults.
type Options struct {
	// Seed selects the simulated world. The same seed and clock give the same
	// prices, markets and market-maker books.
	Seed int64
	// Now is the venue's clock; default time.Now. Everything simulated advances
	// with it.
	Now func() time.Time
	// Store persists orders, fills, balances and positions; nil keeps them in
	// memory only. A store holding state for another seed is refused by New.
	// A store shared by several instances (Store.Owner is not "": etcd) is
	// the only truth: every call sees its latest state and changes are
	// serialized across instances by its lock; the instances must then agree
	// on every setting below except Now (New refuses other settings than the
	// ones recorded with the state) and their clocks should be in sync.
	Store store.Store
	// StartingCash is each principal's opening balance in dollars; default 10000.
	StartingCash float64
	// FeeRate is the taker fee coefficient: a fill of C contracts at price P
	// costs FeeRate*C*P*(1-P) dollars, rounded up to the cent. Default 0.07
	// (Kalshi's schedule); negative means no taker fee.
	FeeRate float64
	// MakerFeeRate is the same coefficient for fills of resting orders; default
	// 0 (makers pay nothing).
	MakerFeeRate float64
	// MMRefresh is how often the simulated market makers requote (and their
	// consumed liquidity comes back); default one minute.
	MMRefresh time.Duration
	// SettleDelay is the time between a market's close and its settlement;
	// default 10 minutes. Between the two the market is "closed".
	SettleDelay time.Duration
	// Retention is how long settled markets stay listed (searchable, with their
	// Result); default 7 days.
	Retention time.Duration
	// Name is the venue name used in market ids ("paper:..."); default "paper".
	Name string
}

// Venue is the paper venue. It is safe for concurrent use.
type Venue struct {
	opts   Options
	prices *priceModel

	catMu    sync.Mutex
	cat      *catalogue
	defCache map[string]*marketDef

	mu     sync.Mutex // guards the trading state below
	st     *state
	fee    feeSchedule
	loaded uint64 // the write epoch st was loaded in (see commit)

	epoch atomic.Uint64 // bumped when a write to Options.Store fails

	// On a shared store (see shared.go):
	shared   bool
	world    *worldRecord // the settings recorded with the state
	wqMu     sync.Mutex
	pending  []*writeReq // changes waiting for the batcher (wqMu)
	batching bool        // a batcher runs (wqMu)
	// lockSkipUntil: the store's lock was stuck; the batcher makes its
	// turns without it until then (fenced commits keep them right).
	lockSkipUntil time.Time
	unlocked      atomic.Uint64 // turns made without the store's lock
	gen           uint64        // the stored generation st was loaded at (v.mu)
	stale         bool          // st may differ from the store at gen: reload (v.mu)
	claimed       bool          // the store holds the world's settings (v.mu)
	reloads       atomic.Uint64 // how many times st was reloaded from the store
	applied       atomic.Uint64 // how many logged changes were applied to st
	fenced        atomic.Uint64 // how many commits found another instance's first
	// checkApply, when set (by tests), runs after changes were applied.
	checkApply func()
}

var _ sibyl.Venue = (*Venue)(nil)

// Rules returns the paper venue's order rules: limit prices from $0.01 to
// $0.99 in steps of $0.01, whole contracts (at least 1).
func Rules() sibyl.OrderRules {
	return sibyl.TickRules(decimal.New(1, -2), decimal.NewFromInt(1), decimal.NewFromInt(1))
}

// New returns a paper venue. With opts.Store set it loads the trading state
// saved there; it fails if that state was written with a different seed.
func New(opts Options) (*Venue, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StartingCash == 0 {
		opts.StartingCash = 10000
	}
	if opts.StartingCash < 0 {
		return nil, fmt.Errorf("paper: negative starting cash %v", opts.StartingCash)
	}
	if opts.FeeRate == 0 {
		opts.FeeRate = 0.07
	}
	if opts.FeeRate < 0 {
		opts.FeeRate = 0
	}
	if opts.MakerFeeRate < 0 {
		opts.MakerFeeRate = 0
	}
	if opts.MMRefresh <= 0 {
		opts.MMRefresh = time.Minute
	}
	if opts.SettleDelay <= 0 {
		opts.SettleDelay = 10 * time.Minute
	}
	if opts.Retention <= 0 {
		opts.Retention = 7 * day
	}
	if opts.Name == "" {
		opts.Name = "paper"
	}
	v := &Venue{
		opts:     opts,
		prices:   newPriceModel(opts.Seed),
		defCache: make(map[string]*marketDef),
		fee:      newFeeSchedule(opts.FeeRate, opts.MakerFeeRate),
	}
	v.st = newState()
	switch {
	case opts.Store == nil:
	case opts.Store.Owner() != "":
		// Several instances share the store (shared.go).
		v.shared, v.world = true, newWorld(opts)
		if err := v.claimWorld(); err != nil {
			return nil, err
		}
	default:
		if err := v.load(); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (v *Venue) now() time.Time { return v.opts.Now().UTC() }

// Info describes the venue. It does no I/O.
func (v *Venue) Info() sibyl.VenueInfo {
	return sibyl.VenueInfo{
		Name:         v.opts.Name,
		Title:        "Paper venue (simulated markets, no real money)",
		Mode:         sibyl.ModePaper,
		Simulated:    true,
		Available:    true,
		Capabilities: []string{"markets", "orderbook", "trading", "positions", "price_history"},
	}
}

// ctxErr turns a done context into an Unavailable error.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return sibyl.WrapError(sibyl.Unavailable, err, "request cancelled")
	}
	return nil
}
