package kalshitest

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// best returns the highest bid of a side (zero when empty).
func best(ls []level) (decimal.Decimal, decimal.Decimal) {
	var p, c decimal.Decimal
	for _, l := range ls {
		if l.count.IsPositive() && l.price.GreaterThan(p) {
			p, c = l.price, l.count
		}
	}
	return p, c
}

func d4(x decimal.Decimal) string { return x.StringFixed(4) }
func c2(x decimal.Decimal) string { return x.StringFixed(2) }

// marketJSON renders a market with the official Market model's fields.
func (s *Server) marketJSON(m *market) map[string]any {
	sp := m.spec
	yb, ybs := best(m.yesBids)
	nb, nbs := best(m.noBids)
	ya, yas := decimal.Zero, decimal.Zero
	if nb.IsPositive() {
		ya, yas = one.Sub(nb), nbs
	}
	na := decimal.Zero
	if yb.IsPositive() {
		na = one.Sub(yb)
	}
	ranges := make([]map[string]string, len(sp.PriceRanges))
	for i, r := range sp.PriceRanges {
		ranges[i] = map[string]string{"start": r[0], "end": r[1], "step": r[2]}
	}
	out := map[string]any{
		"ticker": sp.Ticker, "event_ticker": sp.EventTicker, "market_type": "binary",
		"title": sp.Title, "subtitle": "", "yes_sub_title": sp.YesSubTitle, "no_sub_title": sp.YesSubTitle,
		"created_time": "2026-11-01T00:00:00Z", "updated_time": "2026-11-01T00:00:00Z",
		"open_time": "2026-11-01T00:00:00Z", "close_time": sp.CloseTime.UTC().Format("2006-01-02T15:04:05Z"),
		"expected_expiration_time": sp.CloseTime.UTC().Format("2006-01-02T15:04:05Z"),
		"latest_expiration_time":   sp.CloseTime.UTC().Format("2006-01-02T15:04:05Z"),
		"settlement_timer_seconds": 60, "status": sp.Status,
		"yes_bid_dollars": d4(yb), "yes_bid_size_fp": c2(ybs), "yes_ask_dollars": d4(ya), "yes_ask_size_fp": c2(yas),
		"no_bid_dollars": d4(nb), "no_ask_dollars": d4(na), "last_price_dollars": d4(m.last),
		"volume_fp": c2(m.volume), "volume_24h_fp": c2(m.volume), "result": sp.Result, "can_close_early": true,
		"open_interest_fp": "0.00", "notional_value_dollars": "1.0000",
		"previous_yes_bid_dollars": "0.0000", "previous_yes_ask_dollars": "0.0000", "previous_price_dollars": "0.0000",
		"expiration_value": "", "rules_primary": "If the condition in the title is met, the market resolves to Yes.",
		"rules_secondary": "", "price_level_structure": "custom", "price_ranges": ranges,
		"exchange_index": sp.ExchangeIndex,
	}
	if sp.StrikeType != "" {
		out["strike_type"] = sp.StrikeType
	}
	if sp.FloorStrike != "" {
		out["floor_strike"] = jsonNum(sp.FloorStrike)
	}
	if sp.CapStrike != "" {
		out["cap_strike"] = jsonNum(sp.CapStrike)
	}
	return out
}

// jsonNum is a number literal written as is.
type jsonNum string

func (n jsonNum) MarshalJSON() ([]byte, error) { return []byte(n), nil }

// statusMatches applies GET /markets?status= (unopened, open, paused, closed, settled).
func statusMatches(filter, status string) bool {
	switch filter {
	case "":
		return true
	case "open":
		return status == "active"
	case "unopened":
		return status == "initialized" || status == "inactive"
	case "closed":
		return status == "closed"
	case "settled":
		return status == "determined" || status == "finalized"
	case "paused":
		return status == "inactive"
	}
	return false
}

func pageBounds(q url.Values, n, def, max int) (start, end int, next string, ok bool) {
	limit := def
	if v := q.Get("limit"); v != "" {
		l, err := strconv.Atoi(v)
		if err != nil || l < 1 || l > max {
			return 0, 0, "", false
		}
		limit = l
	}
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil {
			return 0, 0, "", false
		}
		if start, err = strconv.Atoi(string(b)); err != nil || start < 0 || start > n {
			return 0, 0, "", false
		}
	}
	end = start + limit
	if end > n {
		end = n
	}
	if end < n {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return start, end, next, true
}

func (s *Server) getMarkets(w http.ResponseWriter, q url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var tickers map[string]bool
	if t := q.Get("tickers"); t != "" {
		tickers = map[string]bool{}
		for _, x := range strings.Split(t, ",") {
			tickers[x] = true
		}
	}
	var list []map[string]any
	for _, t := range s.tickers {
		m := s.markets[t]
		if ev := q.Get("event_ticker"); ev != "" && m.spec.EventTicker != ev {
			continue
		}
		if se := q.Get("series_ticker"); se != "" && !strings.HasPrefix(m.spec.EventTicker, se+"-") {
			continue
		}
		if !statusMatches(q.Get("status"), m.spec.Status) || tickers != nil && !tickers[t] {
			continue
		}
		list = append(list, s.marketJSON(m))
	}
	start, end, next, ok := pageBounds(q, len(list), 100, 1000)
	if !ok {
		writeErr(w, http.StatusBadRequest, "bad_request", "bad limit or cursor", "")
		return
	}
	page := list[start:end]
	if page == nil {
		page = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"markets": page, "cursor": next})
}

func (s *Server) getMarket(w http.ResponseWriter, ticker string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.markets[ticker]
	if !ok {
		writeErr(w, http.StatusNotFound, "not_found", "market not found", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"market": s.marketJSON(m)})
}

// bookSide renders bids ascending (best last), as Kalshi does, cut to the
// best depth levels.
func bookSide(ls []level, depth int) [][]string {
	agg := map[string]decimal.Decimal{}
	var prices []decimal.Decimal
	for _, l := range ls {
		if !l.count.IsPositive() {
			continue
		}
		k := l.price.String()
		if _, seen := agg[k]; !seen {
			prices = append(prices, l.price)
		}
		agg[k] = agg[k].Add(l.count)
	}
	sort.Slice(prices, func(i, j int) bool { return prices[i].LessThan(prices[j]) })
	if depth > 0 && len(prices) > depth {
		prices = prices[len(prices)-depth:]
	}
	out := make([][]string, 0, len(prices))
	for _, p := range prices {
		out = append(out, []string{d4(p), c2(agg[p.String()])})
	}
	return out
}

func (s *Server) getOrderbook(w http.ResponseWriter, ticker string, q url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.markets[ticker]
	if !ok {
		writeErr(w, http.StatusNotFound, "not_found", "market not found", "")
		return
	}
	depth, _ := strconv.Atoi(q.Get("depth"))
	writeJSON(w, http.StatusOK, map[string]any{"orderbook_fp": map[string]any{
		"yes_dollars": bookSide(m.yesBids, depth),
		"no_dollars":  bookSide(m.noBids, depth),
	}})
}

func seriesOf(event string) string {
	s, _, _ := strings.Cut(event, "-")
	return s
}

func (s *Server) eventJSON(ev string) map[string]any {
	title := ""
	for _, t := range s.tickers {
		if m := s.markets[t]; m.spec.EventTicker == ev {
			title = m.spec.Title
			break
		}
	}
	return map[string]any{
		"event_ticker": ev, "series_ticker": seriesOf(ev), "sub_title": "", "title": title,
		"collateral_return_type": "binary", "mutually_exclusive": false, "settlement_sources": []any{},
	}
}

func (s *Server) getEvents(w http.ResponseWriter, q url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	var evs []map[string]any
	for _, t := range s.tickers {
		ev := s.markets[t].spec.EventTicker
		if seen[ev] || q.Get("series_ticker") != "" && seriesOf(ev) != q.Get("series_ticker") {
			continue
		}
		seen[ev] = true
		evs = append(evs, s.eventJSON(ev))
	}
	start, end, next, ok := pageBounds(q, len(evs), 200, 200)
	if !ok {
		writeErr(w, http.StatusBadRequest, "bad_request", "bad limit or cursor", "")
		return
	}
	page := evs[start:end]
	if page == nil {
		page = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": page, "cursor": next})
}

func (s *Server) getEvent(w http.ResponseWriter, ev string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ms []map[string]any
	for _, t := range s.tickers {
		if m := s.markets[t]; m.spec.EventTicker == ev {
			ms = append(ms, s.marketJSON(m))
		}
	}
	if ms == nil {
		writeErr(w, http.StatusNotFound, "not_found", "event not found", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"event": s.eventJSON(ev), "markets": ms})
}

func (s *Server) getSeries(w http.ResponseWriter, series string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tickers {
		if seriesOf(s.markets[t].spec.EventTicker) == series {
			writeJSON(w, http.StatusOK, map[string]any{"series": map[string]any{
				"ticker": series, "frequency": "daily", "title": series, "category": "Test",
				"categories": []string{"Test"}, "tags": []string{}, "settlement_sources": []any{},
				"contract_url": "", "contract_terms_url": "", "fee_type": "quadratic", "fee_multiplier": 1,
				"additional_prohibitions": []string{},
			}})
			return
		}
	}
	writeErr(w, http.StatusNotFound, "not_found", "series not found", "")
}
