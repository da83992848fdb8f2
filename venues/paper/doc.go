// Package paper is sibyl's embedded default venue: a deterministic, seeded,
// simulated market world that behaves like a real prediction-market venue and
// needs no network and no credentials.
//
// The world is re-derived from the seed and the injected clock, never stored:
//
//   - 22 tokens with daily price paths from 2020-01-01 (or the token's listing)
//     produced by a jump-diffusion with GARCH(1,1) variance, bridged through
//     approximate real year-start prices up to 2026-01-01 so the history has a
//     familiar shape, then free-running with a weak pull towards that level;
//     hourly and minute points inside each day are Brownian bridges between the
//     daily closes. The price at time t depends only on the seed, the symbol
//     and t, never on the order of calls.
//   - Prediction markets on the major tokens (BTC, ETH, SOL, BNB, XRP, DOGE):
//     ladders of round strikes with an "above" and a "below" market each, for
//     Friday, month-end, quarter-end and year-end expiries, priced from the
//     lognormal model with the token's volatility. An expiry is listed 14, 62,
//     183 or 366 days ahead; every day at 00:00 UTC its ladder gains strikes
//     around that day's price, spaced more finely as the expiry nears (BTC
//     every $5,000 in the last weeks), and never loses any. Macro, sports and
//     politics event markets (19 recurring series) have probabilities that
//     drift with the clock towards a result drawn from the seed. Markets close
//     at their close time, settle SettleDelay later and stay listed, with their
//     Result, for Retention.
//   - Simulated market makers quoting several levels on each side of fair
//     value, refreshed every MMRefresh bucket (default one minute). A fill
//     consumes their size until the next bucket. When their quotes move
//     through a principal's resting order they take it at the order's limit
//     price; the venue replays the buckets it has not looked at (up to 1440
//     back), so these fills do not depend on when anyone calls.
//
// Paper trading state (orders, fills, balances, positions and the market
// makers' consumed liquidity of the current bucket) is kept in memory and,
// when Options.Store is set, written to the bbolt file (bucket BucketName):
// each call's changes are committed atomically before it returns, and
// concurrent calls share transactions and fsyncs (group commit). A venue
// re-opened with the same store and seed continues where it stopped. Each
// principal's account opens with StartingCash on first use.
//
// On a store shared by several sibyl instances (etcd: Store.Owner is not
// empty) the memory is only a cache of the store's state, kept at a
// generation number stored with it: changes are made under the store's lock
// (cluster-wide) from the latest state and committed fenced on the
// generation, reads check the generation first and apply the changes other
// instances logged (or reload), so N instances show one paper world with
// unique order ids. The instances must run with the same seed and paper
// settings; New refuses others (see shared.go).
//
// Closing and settlement are applied at the first call after their time (in
// time order, with the result fixed by the simulated price at the close):
// resting orders of a closed market become expired and release their
// reservations; at settlement every winning contract pays $1 and the losing
// ones $0.
//
// Trading rules (see PlaceOrder): whole contracts; prices in cents (tick $0.01);
// a taker fee of FeeRate*C*P*(1-P) rounded up to the cent per fill, makers pay
// MakerFeeRate (default 0); buying needs cash and reserves it for the resting
// part; selling needs a position (to bet against Yes, buy No); a repeated
// (principal, ClientOrderID) returns the existing order. Every market has one
// Yes book: buying No at p is an ask on Yes at 1-p, so the Yes and No books
// always mirror each other.
//
// The package never touches the network and never imports another venue.
package paper
