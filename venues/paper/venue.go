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
	if opts.Store != nil {
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
