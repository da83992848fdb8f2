package tools

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sibylmcp/sibyl"
)

// mergedPerVenue bounds how many matching markets each venue contributes to
// a merged search (pages of 100). A venue with more is searched alone (the
// venue argument) to see the rest.
const mergedPerVenue = 300

// mergedCursor is search_markets' cursor over several venues at once: the
// offset into the merged, ranked list.
type mergedCursor struct {
	Merged bool `json:"m"`
	Offset int  `json:"o"`
}

// searchMerged searches every venue in names at once (concurrently), merges
// the results and ranks them (rankMarkets), so the best matches of every
// venue come first whatever venue they are on; each result names its venue.
func (d *Deps) searchMerged(ctx context.Context, in searchMarketsIn, names []string, limit int) (searchMarketsOut, error) {
	offset := 0
	if in.Cursor != "" {
		var cur mergedCursor
		raw, err := base64.RawURLEncoding.DecodeString(in.Cursor)
		if err != nil || json.Unmarshal(raw, &cur) != nil || !cur.Merged || cur.Offset < 0 {
			return searchMarketsOut{}, errBadSearchCursor()
		}
		offset = cur.Offset
	}
	q := sibyl.MarketQuery{Text: in.Query, Status: sibyl.MarketStatus(in.Status), Category: in.Category, Limit: 100}
	found := make([][]sibyl.Market, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := d.Venues[n]
			vq := q
			for len(found[i]) < mergedPerVenue {
				page, err := v.SearchMarkets(ctx, vq)
				if err != nil {
					errs[i] = err
					return
				}
				found[i] = append(found[i], page.Markets...)
				if page.NextCursor == "" {
					return
				}
				vq.Cursor = page.NextCursor
			}
		}()
	}
	wg.Wait()
	var all []sibyl.Market
	simulated := true
	for i, n := range names {
		if errs[i] != nil {
			return searchMarketsOut{}, errs[i]
		}
		all = append(all, found[i][:min(len(found[i]), mergedPerVenue)]...)
		simulated = simulated && d.Venues[n].Info().Simulated
	}
	rankMarkets(in.Query, all, d.now())
	out := searchMarketsOut{Markets: []MarketSummary{}}
	for i := offset; i < len(all) && len(out.Markets) < limit; i++ {
		out.Markets = append(out.Markets, summarize(all[i]))
	}
	if next := offset + len(out.Markets); next < len(all) {
		raw, _ := json.Marshal(mergedCursor{Merged: true, Offset: next})
		out.NextCursor = base64.RawURLEncoding.EncodeToString(raw)
	}
	out.Answer = Answer{Venue: strings.Join(names, ","), Timestamp: d.now(), Simulated: simulated}
	return out, nil
}

// rankMarkets orders markets from several venues for a merged search: the
// more of the query's words the question holds, the better; then open
// markets; then the nearest close still ahead; then by id. Every key is
// stable between calls, so pages do not shift as prices move.
func rankMarkets(query string, ms []sibyl.Market, now time.Time) {
	words := strings.Fields(strings.ToLower(query))
	score := func(m sibyl.Market) int {
		q := strings.ToLower(m.Question)
		n := 0
		for _, w := range words {
			if strings.Contains(q, w) {
				n++
			}
		}
		return n
	}
	slices.SortStableFunc(ms, func(a, b sibyl.Market) int {
		if sa, sb := score(a), score(b); sa != sb {
			return sb - sa
		}
		if oa, ob := a.Status == sibyl.StatusOpen, b.Status == sibyl.StatusOpen; oa != ob {
			if oa {
				return -1
			}
			return 1
		}
		fa, fb := a.CloseTime.After(now), b.CloseTime.After(now)
		if fa != fb {
			if fa {
				return -1
			}
			return 1
		}
		if c := a.CloseTime.Compare(b.CloseTime); c != 0 {
			if fa {
				return c // upcoming: nearest first
			}
			return -c // past: most recent first
		}
		return strings.Compare(a.ID, b.ID)
	})
}
