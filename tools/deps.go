package tools

import (
	"maps"
	"slices"
	"time"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/feeds"
	"github.com/sibylmcp/sibyl/orders"
	"github.com/sibylmcp/sibyl/risk"
	"github.com/sibylmcp/sibyl/search"
	"github.com/sibylmcp/sibyl/store"
)

// Deps are the parts the tools work with. cmd/sibyl builds them.
type Deps struct {
	// Venues by name. The paper venue is always there in the default set-up.
	Venues map[string]sibyl.Venue
	// DefaultVenue names the venue used when a call names none (get_order,
	// list_orders, get_positions); cmd chooses it. Empty means the first
	// configured venue by name (the only one, in tests).
	DefaultVenue string
	// Feeds are the price-history sources for the grade tools, by name; the
	// grade tools are left out when there are none.
	Feeds map[string]feeds.Source
	// DefaultFeed names the feed used when a call names none.
	DefaultFeed string
	// LiveFeeds marks feeds whose latest day moves with the clock (paper, live
	// HTTP), so a grade checks they are not stale; a CSV directory is not.
	LiveFeeds map[string]bool
	// Orders places and cancels orders exactly once; Store holds the idempotency
	// records and the audit log. The order tools are left out without them.
	Orders *orders.Service
	Store  store.Store
	// Spot returns a token's current price and its time, for hedge_position;
	// nil leaves hedge_position out.
	Spot func(symbol string) (float64, time.Time, error)
	// VolFeed names the feed whose daily history gives hedge_position its
	// volatility (default: DefaultFeed).
	VolFeed string
	// Limits are the risk limits by venue name, for list_venues to show (the
	// orders service enforces them).
	Limits map[string]risk.Limits
	// ConfirmAbove is, by venue name, the notional in dollars above which
	// place_order and an executed hedge ask the person (MCP elicitation)
	// before anything is sent; a venue not in the map (or zero) never asks.
	ConfirmAbove map[string]decimal.Decimal
	// SecondOpinion, when the call asks for it, gives another grader's grades
	// (Token Metrics') to show beside sibyl's; nil answers that none is
	// configured.
	SecondOpinion SecondOpinionFunc
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// searchIndex keeps the words of markets search_markets has read.
	searchIndex search.Index
}

func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

// venueNames returns the configured venue names in a stable order: the
// default venue first, then alphabetical.
func (d *Deps) venueNames() []string { return namesFirst(d.Venues, d.defaultVenue()) }

// defaultVenue returns the venue a call that names none uses (see DefaultVenue).
func (d *Deps) defaultVenue() string {
	if d.DefaultVenue != "" {
		return d.DefaultVenue
	}
	names := slices.Sorted(maps.Keys(d.Venues))
	if len(names) > 0 {
		return names[0]
	}
	return ""
}

// venue returns the named venue or a NotFound error listing the configured ones.
func (d *Deps) venue(name, field string) (sibyl.Venue, error) {
	v, ok := d.Venues[name]
	if !ok {
		return nil, sibyl.FieldErrorf(sibyl.NotFound, field, "no venue %q is configured; configured venues: %v (see list_venues)", name, d.venueNames())
	}
	return v, nil
}

// marketVenue splits a "venue:native_id" market id and returns its venue.
func (d *Deps) marketVenue(id, field string) (sibyl.Venue, string, error) {
	vname, native, ok := sibyl.SplitMarketID(id)
	if !ok {
		return nil, "", sibyl.FieldErrorf(sibyl.Invalid, field, "market id %q must look like venue:native_id, for example paper:BTC-ABOVE-120000-2026-12-31 (search_markets lists ids)", id)
	}
	v, err := d.venue(vname, field)
	if err != nil {
		return nil, "", err
	}
	return v, native, nil
}

// feedNames returns the feed names, the default first, then alphabetical.
func (d *Deps) feedNames() []string { return namesFirst(d.Feeds, d.DefaultFeed) }

// namesFirst returns m's keys sorted, first (when present) at the front.
func namesFirst[V any](m map[string]V, first string) []string {
	names := slices.Sorted(maps.Keys(m))
	if i := slices.Index(names, first); i > 0 {
		copy(names[1:i+1], names[:i])
		names[0] = first
	}
	return names
}
