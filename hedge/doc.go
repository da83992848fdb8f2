// Package hedge prices and sizes hedges of a long token position with binary
// prediction-market contracts on the token's price ("Will BTC close below
// $140,000 on 2026-12-31?").
//
// It is pure: no I/O, no clocks, no venues. Callers (tools/hedge.go) fetch the
// markets, the spot price and the price history and hand them in; hedge
// recognises the price markets among them (Condition, ParsePriceQuestion),
// prices them with a lognormal model (FairProbability, RealisedVol) and sizes
// the cheapest ladder of "price below K at expiry" contracts that keeps the
// hedged loss within a cap (Planner.Plan). It never places orders and must
// never import tools, mcp, store or a venue.
//
// # Sizing
//
// A long position of Q tokens bought at E loses Q(E-S) at settlement price S.
// A contract that pays $1 when S < K (Yes on "below K", or No on "above K",
// bought at its ask) is a digital put; a ladder of them at strikes
// K1 > K2 > ... approximates a put spread. Between strikes the ladder's payoff
// is flat while the loss grows, so the hedged P&L
//
//	Q(S-E) + Σ n_i·1{S < K_i} - cost
//
// rises with S between strikes and its worst values are at the floor F and
// just above each strike. Requiring the cap there gives one linear constraint
// per strike: N(j-1) >= Q(E-K_j) - cap + cost, with N the cumulative count
// from the top. For a given cost the cheapest integer solution buys each
// required increment at the cheapest strike at or above the constraint
// (interval constraints, so greedy and integral are optimal); the cost itself
// is found as the least fixed point of cost -> cost of that ladder, which
// makes the result the cheapest integer ladder on the listed strikes that
// meets the cap (TestPlanOptimal checks this against exhaustive search).
// With a budget the lowest cap the budget buys is found by bisection to the
// cent, and the shortfall is stated.
//
// Guarantees of a Plan: every leg expires at Plan.Expiry, the first listed
// expiry on or after Request.By; TotalCost is the sum of the legs' price x
// contracts + estimated fee, each rounded to the cent; MaxLoss is the true
// worst hedged loss over every price from Floor up (not a grid); when
// MeetsCap it is within Cap. Below Floor (default -60% of spot) the ladder
// stops paying more. Premium is part of the loss the cap bounds when
// Request.MaxLoss is given; without it the ladder protects at ProtectBelow
// like a put and the premium comes on top.
//
// Depth: with Planner.Depth the legs are sized against each market's ask
// levels (one option per level, at its own price and size, then resting at
// the deepest level's price), so 50,000 contracts are not priced at a best
// ask that offers 148; each Leg says what fills now (FillNow) and what rests
// (Rests) at its limit Price. Without a book, every contract is priced at the
// best ask and Leg.Rests is what exceeds the offered size.
//
// Not modelled: the gap between Request.By and the expiry, and
// settlement-source basis between venues (both stated as risks).
package hedge
