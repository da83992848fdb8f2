package paper

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/sibylmcp/sibyl"
)

const (
	defaultLimit = 20
	maxLimit     = 100
)

// yesLevels returns the merged Yes book (market makers plus principals'
// resting orders) as sizes by tick. ms may be nil.
func (v *Venue) yesLevels(def *marketDef, ms *mstate, now time.Time) (bids, asks [ticks]int64) {
	if def.status(now) != sibyl.StatusOpen {
		return
	}
	if ms == nil {
		b, start := v.bucketOf(now)
		q := v.quotes(def, b, start)
		return q.bid, q.ask
	}
	v.mmState(ms, now)
	for t := 1; t < ticks; t++ {
		bids[t] = ms.mmAvail(0, t)
		asks[t] = ms.mmAvail(1, t)
		for _, o := range ms.bids[t] {
			bids[t] += o.Remaining
		}
		for _, o := range ms.asks[t] {
			asks[t] += o.Remaining
		}
	}
	return
}

// view builds the public Market of def at now from the merged book.
func (v *Venue) view(def *marketDef, ms *mstate, now time.Time) sibyl.Market {
	bids, asks := v.yesLevels(def, ms, now)
	var bb, ba int
	var bs, as int64
	for t := ticks - 1; t >= 1; t-- {
		if bids[t] > 0 {
			bb, bs = t, bids[t]
			break
		}
	}
	for t := 1; t < ticks; t++ {
		if asks[t] > 0 {
			ba, as = t, asks[t]
			break
		}
	}
	// Last is the simulated market's own last trade (the model's price a
	// bucket ago): a principal's fill is not the market's probability, or an
	// agent's trade into a one-sided book would set the price it is shown.
	return v.marketView(def, now, bb, int(bs), ba, int(as), 0)
}

// SearchMarkets returns one page of listed markets matching q, ordered by close
// time, then token, direction and strike (ladders in strike order), then id. Text must match every word (case-insensitive) somewhere in the
// question, rules or id. Limit defaults to 20 and is capped at 100. A cursor
// that this venue did not produce is an Invalid error with Field "cursor".
func (v *Venue) SearchMarkets(ctx context.Context, q sibyl.MarketQuery) (sibyl.MarketPage, error) {
	if err := ctxErr(ctx); err != nil {
		return sibyl.MarketPage{}, err
	}
	now := v.now()
	limit := q.Limit
	switch {
	case limit < 0:
		return sibyl.MarketPage{}, sibyl.FieldErrorf(sibyl.Invalid, "limit", "limit must not be negative (got %d)", limit)
	case limit == 0:
		limit = defaultLimit
	case limit > maxLimit:
		limit = maxLimit
	}
	switch q.Status {
	case "", sibyl.StatusOpen, sibyl.StatusClosed, sibyl.StatusSettled:
	default:
		return sibyl.MarketPage{}, sibyl.FieldErrorf(sibyl.Invalid, "status", "unknown status %q; use open, closed or settled", q.Status)
	}
	var afterClose time.Time
	var afterID string
	if q.Cursor != "" {
		var ok bool
		afterClose, afterID, ok = decodeMarketCursor(q.Cursor)
		if !ok {
			return sibyl.MarketPage{}, sibyl.FieldErrorf(sibyl.Invalid, "cursor", "cursor %q is not one this venue produced; repeat the search without a cursor", q.Cursor)
		}
	}
	words := queryWords(q.Text)
	category := strings.ToLower(strings.TrimSpace(q.Category))

	c := v.catalogue(now)
	var hits []*marketDef
	more := false
	for _, m := range c.defs {
		if q.Cursor != "" {
			if m.close.Before(afterClose) || (m.close.Equal(afterClose) && m.sortKey <= afterID) {
				continue
			}
		}
		if now.Before(m.open) || !now.Before(m.listedUntil) {
			continue
		}
		if q.Status != "" && m.status(now) != q.Status {
			continue
		}
		if category != "" && m.category != category {
			continue
		}
		if !matchWords(m.hay, words) {
			continue
		}
		if len(hits) == limit {
			more = true
			break
		}
		hits = append(hits, m)
	}
	page := sibyl.MarketPage{}
	if err := v.run(ctx, now, false, func(t *tx) {
		page.Markets = make([]sibyl.Market, 0, len(hits))
		for _, m := range hits {
			ms := v.st.markets[m.id]
			if ms != nil {
				v.syncMarket(ms, now, t)
			}
			page.Markets = append(page.Markets, v.view(m, ms, now))
		}
	}); err != nil {
		return sibyl.MarketPage{}, err
	}
	if more && len(hits) > 0 {
		last := hits[len(hits)-1]
		page.NextCursor = encodeMarketCursor(last.close, last.sortKey)
	}
	return page, nil
}

// queryWords splits a query into words; a word with a dash (part of an id)
// is kept whole and matched anywhere in the id.
func queryWords(text string) []string {
	var out []string
	for _, f := range strings.Fields(strings.ToLower(text)) {
		f = strings.Trim(f, "\"'?!()[]{}:;")
		if strings.Contains(f, "-") {
			if venue, native, ok := strings.Cut(f, ":"); ok && venue != "" {
				f = native
			}
			out = append(out, f)
			continue
		}
		out = append(out, strings.Fields(searchText(f))...)
	}
	return out
}

// matchWords reports whether every word starts a word of hay (a word with a
// dash must appear in the id, which is hay's last word).
func matchWords(hay string, words []string) bool {
	for _, w := range words {
		if strings.Contains(w, "-") {
			id := hay[strings.LastIndexByte(hay[:len(hay)-1], ' ')+1:]
			if !strings.Contains(id, w) {
				return false
			}
			continue
		}
		if !strings.Contains(hay, " "+w) {
			return false
		}
	}
	return true
}

func encodeMarketCursor(close time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("m1|" + strconv.FormatInt(close.Unix(), 10) + "|" + id))
}

func decodeMarketCursor(s string) (time.Time, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", false
	}
	parts := strings.SplitN(string(b), "|", 3)
	if len(parts) != 3 || parts[0] != "m1" || parts[2] == "" {
		return time.Time{}, "", false
	}
	sec, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return time.Time{}, "", false
	}
	return time.Unix(sec, 0).UTC(), parts[2], true
}

// Market returns one listed market by native id (a "paper:" prefix is
// accepted), with its top of book. Unknown or no longer listed ids give a
// NotFound error that points to search_markets.
func (v *Venue) Market(ctx context.Context, nativeID string) (sibyl.Market, error) {
	if err := ctxErr(ctx); err != nil {
		return sibyl.Market{}, err
	}
	now := v.now()
	def, err := v.listed(nativeID, now)
	if err != nil {
		return sibyl.Market{}, err
	}
	var m sibyl.Market
	if err := v.run(ctx, now, false, func(t *tx) {
		ms := v.st.markets[def.id]
		if ms != nil {
			v.syncMarket(ms, now, t)
		}
		m = v.view(def, ms, now)
	}); err != nil {
		return sibyl.Market{}, err
	}
	return m, nil
}

// parseOutcome returns the canonical outcome name or an Invalid error with
// Field "outcome".
func parseOutcome(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes":
		return "Yes", nil
	case "no":
		return "No", nil
	}
	return "", sibyl.FieldErrorf(sibyl.Invalid, "outcome", "unknown outcome %q; valid outcomes are Yes, No", s)
}

// OrderBook returns up to depth levels per side (all when depth <= 0) of one
// outcome's book: the simulated market makers' quotes plus every principal's
// resting orders. The No book mirrors the Yes book (a No bid at p is a Yes
// ask at 1-p). A market that is not open has an empty book.
func (v *Venue) OrderBook(ctx context.Context, nativeID, outcome string, depth int) (sibyl.OrderBook, error) {
	if err := ctxErr(ctx); err != nil {
		return sibyl.OrderBook{}, err
	}
	now := v.now()
	def, err := v.listed(nativeID, now)
	if err != nil {
		return sibyl.OrderBook{}, err
	}
	out, err := parseOutcome(outcome)
	if err != nil {
		return sibyl.OrderBook{}, err
	}
	var bids, asks [ticks]int64
	if err := v.run(ctx, now, false, func(t *tx) {
		ms := v.st.markets[def.id]
		if ms != nil {
			v.syncMarket(ms, now, t)
		}
		bids, asks = v.yesLevels(def, ms, now)
	}); err != nil {
		return sibyl.OrderBook{}, err
	}
	book := sibyl.OrderBook{
		MarketID:  v.opts.Name + ":" + def.id,
		Outcome:   out,
		Bids:      []sibyl.PriceLevel{},
		Asks:      []sibyl.PriceLevel{},
		TickSize:  0.01,
		Time:      now,
		Simulated: true,
	}
	full := func(n int) bool { return depth > 0 && n >= depth }
	if out == "Yes" {
		for t := ticks - 1; t >= 1 && !full(len(book.Bids)); t-- {
			if bids[t] > 0 {
				book.Bids = append(book.Bids, sibyl.PriceLevel{Price: tickPrice(t), Size: float64(bids[t])})
			}
		}
		for t := 1; t < ticks && !full(len(book.Asks)); t++ {
			if asks[t] > 0 {
				book.Asks = append(book.Asks, sibyl.PriceLevel{Price: tickPrice(t), Size: float64(asks[t])})
			}
		}
	} else {
		for t := 1; t < ticks && !full(len(book.Bids)); t++ {
			if asks[t] > 0 {
				book.Bids = append(book.Bids, sibyl.PriceLevel{Price: tickPrice(100 - t), Size: float64(asks[t])})
			}
		}
		for t := ticks - 1; t >= 1 && !full(len(book.Asks)); t-- {
			if bids[t] > 0 {
				book.Asks = append(book.Asks, sibyl.PriceLevel{Price: tickPrice(100 - t), Size: float64(bids[t])})
			}
		}
	}
	return book, nil
}
