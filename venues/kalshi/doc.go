// Package kalshi is sibyl's adapter for Kalshi's Trade API v2: the wire client
// (RSA-PSS request signing, typed models, exact fixed-point prices and counts,
// a client-side rate limiter on Kalshi's read and write token buckets, and the
// translation of every Kalshi error into sibyl's error codes) and the mapping
// of Kalshi markets, order books and orders onto sibyl's domain types.
//
// What it must never do:
//   - format a float64 onto the wire: prices and counts are exact decimals
//     (github.com/shopspring/decimal) written as Kalshi's fixed-point strings;
//   - use the legacy order mutations (POST /portfolio/orders and friends were
//     switched off in June 2026): orders are created and cancelled only through
//     /portfolio/events/orders;
//   - guess an order's fate: a 5xx, a 408, a timeout or a dropped connection
//     is Unavailable (outcome unknown), so the caller reconciles before any
//     resend;
//   - let the RSA private key reach a log line, an error or a result: Signer
//     prints as its key id only.
//
// The package never imports another venue. Its httptest double is
// venues/kalshi/kalshitest.
package kalshi
