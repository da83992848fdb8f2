// Package hedge prices and sizes hedges of a long token position with binary
// prediction-market contracts on the token's price ("Will BTC close below
// $140,000 on 2026-12-31?").
//
// It is pure: no I/O, no clocks, no venues. Callers (tools/hedge.go) fetch the
// markets, the spot price and the price history, and hand them in; hedge
// recognises the price markets among them (Condition, ParsePriceQuestion),
// prices them with a lognormal model (FairProbability, RealisedVol) and sizes
// the cheapest ladder of "price below K at expiry" contracts that keeps the
// hedged loss within a cap (Planner.Plan). It never places orders and must
// never import tools, mcp, store or a venue.
package hedge
