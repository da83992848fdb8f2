package tools

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/match"
)

// CompareTools returns compare_markets.
func CompareTools(d *Deps) []Tool {
	return []Tool{New("compare_markets", "Compare a market across venues",
		"For one market, find the equivalent markets on every configured venue (for a market on a token's price: the same token, strike and expiry, "+
			"with Yes and No swapped where the other venue asks the opposite direction; for an event market: the same question, with a match score) "+
			"and show their prices side by side with the venue's fees included, the best all-in price first. Use it before place_order to trade "+
			"where it is cheapest. Read-only.",
		readOnly, ScopeRead, d.compareMarkets)}
}

type compareIn struct {
	Market   string   `json:"market" jsonschema:"minLength=3,maxLength=300" jsonschema_description:"The market to compare, as venue:native_id (search_markets returns ids)."`
	Outcome  string   `json:"outcome,omitempty" jsonschema:"maxLength=100" jsonschema_description:"The outcome of that market you would trade (default Yes); each equivalent market shows the outcome that pays in the same case."`
	Side     string   `json:"side,omitempty" jsonschema:"enum=buy,enum=sell" jsonschema_description:"buy (default): compare asks plus fees, lowest first; sell: compare bids less fees, highest first."`
	Quantity float64  `json:"quantity,omitempty" jsonschema:"exclusiveMinimum=0,maximum=1000000" jsonschema_description:"Contracts, for the fees (default 1; fees are rounded up to the cent per order, so they weigh more on small orders)."`
	Venues   []string `json:"venues,omitempty" jsonschema:"maxItems=20" jsonschema_description:"Only these venues (default: every configured venue)."`
}

// ComparedMarket is one market of a comparison.
type ComparedMarket struct {
	Market      string  `json:"market" jsonschema_description:"Market id (venue:native_id)."`
	Venue       string  `json:"venue" jsonschema_description:"Venue name."`
	Question    string  `json:"question" jsonschema_description:"The market's question."`
	Outcome     string  `json:"outcome" jsonschema_description:"The outcome to trade here to get the same payoff as the requested outcome of the reference market."`
	Match       string  `json:"match" jsonschema:"enum=reference,enum=price,enum=event" jsonschema_description:"reference: the market asked about; price: same token, strike and expiry; event: same question."`
	Score       float64 `json:"score" jsonschema_description:"How sure the match is, 0-1 (1 for the same contract; event matches score the overlap of their questions' words)."`
	Reason      string  `json:"reason,omitempty" jsonschema_description:"Why it matches, and what to check."`
	Price       float64 `json:"price" jsonschema_description:"Best ask (buy) or bid (sell) of that outcome, dollars per contract; 0 when there is none."`
	Fee         float64 `json:"fee" jsonschema_description:"The venue's estimated taker fee for the quantity at that price, dollars."`
	FeeKnown    bool    `json:"fee_known" jsonschema_description:"False when sibyl does not know the venue's fees (fee 0 is then not a promise)."`
	AllIn       float64 `json:"all_in" jsonschema_description:"Price plus (buy) or minus (sell) the fee per contract: what one contract really costs or brings, dollars."`
	AllInTotal  float64 `json:"all_in_total" jsonschema_description:"All-in amount for the whole quantity, dollars."`
	Quoted      bool    `json:"quoted" jsonschema_description:"False when the outcome has no ask (buy) or bid (sell): it cannot be traded now at any price shown."`
	Simulated   bool    `json:"simulated" jsonschema_description:"True for simulated (paper) markets."`
	CloseTime   string  `json:"close_time" jsonschema_description:"When trading stops (RFC 3339, UTC)."`
	allIn       decimal.Decimal
	isReference bool
}

type compareOut struct {
	Reference ComparedMarket   `json:"reference" jsonschema_description:"The market asked about."`
	Markets   []ComparedMarket `json:"markets" jsonschema_description:"The reference and its equivalents on every venue searched, the best all-in price first; unquoted ones last."`
	Best      string           `json:"best" jsonschema_description:"The market with the best all-in price (empty when none is quoted)."`
	Side      string           `json:"side" jsonschema_description:"buy or sell."`
	Quantity  float64          `json:"quantity" jsonschema_description:"Contracts the fees were computed for."`
	Searched  []string         `json:"searched" jsonschema_description:"The venues searched."`
	Answer
}

// compareSearchPages bounds how many pages of 100 markets each venue is searched.
const compareSearchPages = 20

func (d *Deps) compareMarkets(ctx context.Context, c *Call, in compareIn) (compareOut, error) {
	v, native, err := d.marketVenue(in.Market, "market")
	if err != nil {
		return compareOut{}, err
	}
	ref, err := v.Market(ctx, native)
	if err != nil {
		return compareOut{}, err
	}
	outcome, side, qty := in.Outcome, in.Side, in.Quantity
	if outcome == "" {
		outcome = "Yes"
	}
	if side == "" {
		side = "buy"
	}
	if qty == 0 {
		qty = 1
	}
	refOutcome := ""
	for _, o := range ref.Outcomes {
		if strings.EqualFold(o.Name, outcome) {
			refOutcome = o.Name
		}
	}
	if refOutcome == "" {
		names := make([]string, len(ref.Outcomes))
		for i, o := range ref.Outcomes {
			names[i] = o.Name
		}
		return compareOut{}, sibyl.FieldErrorf(sibyl.Invalid, "outcome", "market %s has no outcome %q; it has %s", ref.ID, outcome, strings.Join(names, ", "))
	}
	venues := in.Venues
	if len(venues) == 0 {
		venues = d.venueNames()
	}
	for _, n := range venues {
		if _, err := d.venue(n, "venues"); err != nil {
			return compareOut{}, err
		}
	}
	cands, err := d.equivalents(ctx, ref, venues)
	if err != nil {
		return compareOut{}, err
	}
	q := decimal.NewFromFloat(qty)
	refRow := priceRow(ref, refOutcome, side, q, match.Match{Kind: "reference", Score: 1})
	refRow.isReference = true
	rows := []ComparedMarket{refRow}
	simulated := ref.Simulated
	for _, cm := range cands {
		rows = append(rows, priceRow(cm.market, cm.match.Outcomes[refOutcome], side, q, cm.match))
		simulated = simulated && cm.market.Simulated
	}
	rankRows(rows, side)
	out := compareOut{Reference: refRow, Markets: rows, Side: side, Quantity: qty, Searched: venues,
		Answer: Answer{Venue: strings.Join(venues, ","), Timestamp: d.now(), Simulated: simulated}}
	if rows[0].Quoted {
		out.Best = rows[0].Market
	}
	return out, nil
}

type candidate struct {
	market sibyl.Market
	match  match.Match
}

// equivalents searches venues for the markets equivalent to ref.
func (d *Deps) equivalents(ctx context.Context, ref sibyl.Market, venues []string) ([]candidate, error) {
	// A price market is looked for under the token's symbol and its names
	// (BTC, bitcoin): some venues state the condition only in words.
	var queries []sibyl.MarketQuery
	under := ref.Underlying
	if under == nil {
		under = match.ParsePriceQuestion(ref.Question, ref.CloseTime)
	}
	if under != nil {
		for _, name := range match.Names(under.Symbol) {
			queries = append(queries, sibyl.MarketQuery{Text: name, Status: sibyl.StatusOpen, Limit: 100})
		}
	} else {
		queries = []sibyl.MarketQuery{{Category: ref.Category, Status: sibyl.StatusOpen, Limit: 100}}
	}
	var out []candidate
	seen := map[string]bool{}
	for _, n := range venues {
		v := d.Venues[n]
		for _, q := range queries {
			for page := 0; page < compareSearchPages; page++ {
				res, err := v.SearchMarkets(ctx, q)
				if err != nil {
					return nil, err
				}
				for _, m := range res.Markets {
					if seen[m.ID] {
						continue
					}
					seen[m.ID] = true
					if mt, ok := match.Equivalent(ref, m); ok {
						out = append(out, candidate{m, mt})
					}
				}
				if res.NextCursor == "" {
					break
				}
				q.Cursor = res.NextCursor
			}
		}
	}
	return out, nil
}

// priceRow prices outcome of m for side and quantity, fees included, exactly.
func priceRow(m sibyl.Market, outcome, side string, q decimal.Decimal, mt match.Match) ComparedMarket {
	row := ComparedMarket{Market: m.ID, Venue: m.Venue, Question: m.Question, Outcome: outcome, Match: mt.Kind, Score: mt.Score,
		Reason: mt.Reason, Simulated: m.Simulated, CloseTime: m.CloseTime.UTC().Format(time.RFC3339)}
	var px float64
	for _, o := range m.Outcomes {
		if o.Name == outcome {
			px = o.Ask
			if side == "sell" {
				px = o.Bid
			}
		}
	}
	price := decimal.NewFromFloat(px)
	fee, known := takerFee(m.Venue, price, q)
	perContract := fee.Div(q)
	all := price.Add(perContract)
	if side == "sell" {
		all = price.Sub(perContract)
	}
	row.Price, row.Fee, row.FeeKnown, row.Quoted = px, fee.InexactFloat64(), known, px > 0
	row.allIn = all
	row.AllIn = all.Round(6).InexactFloat64()
	row.AllInTotal = all.Mul(q).Round(6).InexactFloat64()
	return row
}

// rankRows puts the best all-in price first (lowest for buy, highest for
// sell), unquoted markets last; ties keep the reference first, then the
// better match, then the id.
func rankRows(rows []ComparedMarket, side string) {
	slices.SortStableFunc(rows, func(a, b ComparedMarket) int {
		if a.Quoted != b.Quoted {
			if a.Quoted {
				return -1
			}
			return 1
		}
		if c := a.allIn.Cmp(b.allIn); c != 0 && a.Quoted {
			if side == "sell" {
				return -c
			}
			return c
		}
		if a.isReference != b.isReference {
			if a.isReference {
				return -1
			}
			return 1
		}
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Market, b.Market)
	})
}

// describeChoice says which market a comparison picked over the others, for
// answers that act on it (hedge_position).
func describeChoice(best ComparedMarket, others []ComparedMarket) string {
	var alt []string
	for _, o := range others {
		if o.Market != best.Market && o.Quoted {
			alt = append(alt, fmt.Sprintf("%s %s at $%.4f", o.Market, o.Outcome, o.AllIn))
		}
	}
	if len(alt) == 0 {
		return ""
	}
	return fmt.Sprintf("%s %s chosen at $%.4f all-in per contract over %s", best.Market, best.Outcome, best.AllIn, strings.Join(alt, ", "))
}

// cheapestEquivalents keeps, of each set of equivalent price markets that
// spans several venues (compare_markets' rule: same token, strike and expiry,
// either direction), only the one where the contract paying below the strike
// (No on "above", Yes on "below": what a hedge of a long position buys) costs
// least all-in, its ask plus the venue's fee per contract at 100 contracts.
// It returns the markets to plan with and one sentence per choice made.
func cheapestEquivalents(markets []sibyl.Market) ([]sibyl.Market, []string) {
	type group struct{ members []int }
	var groups []*group
	for i, m := range markets {
		if m.Underlying == nil {
			groups = append(groups, &group{[]int{i}})
			continue
		}
		placed := false
		for _, g := range groups {
			if _, ok := match.Equivalent(markets[g.members[0]], m); ok && markets[g.members[0]].Underlying != nil {
				g.members = append(g.members, i)
				placed = true
				break
			}
		}
		if !placed {
			groups = append(groups, &group{[]int{i}})
		}
	}
	hundred := decimal.NewFromInt(100)
	var out []sibyl.Market
	var notes []string
	for _, g := range groups {
		venues := map[string]bool{}
		for _, i := range g.members {
			venues[markets[i].Venue] = true
		}
		if len(venues) < 2 {
			for _, i := range g.members {
				out = append(out, markets[i])
			}
			continue
		}
		rows := make([]ComparedMarket, 0, len(g.members))
		byID := map[string]sibyl.Market{}
		for _, i := range g.members {
			m := markets[i]
			outcome := "No"
			if strings.EqualFold(m.Underlying.Direction, "below") {
				outcome = "Yes"
			}
			rows = append(rows, priceRow(m, outcome, "buy", hundred, match.Match{Kind: match.KindPrice, Score: 1}))
			byID[m.ID] = m
		}
		rankRows(rows, "buy")
		out = append(out, byID[rows[0].Market])
		if rows[0].Quoted {
			if note := describeChoice(rows[0], rows[1:]); note != "" {
				notes = append(notes, "Venue choice (compare_markets, fees included): "+note+".")
			}
		}
	}
	return out, notes
}
