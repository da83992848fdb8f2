// Package polymarket is sibyl's adapter for Polymarket: public market data from
// Gamma (markets, events, search), the CLOB (books, midpoints, tick sizes) and
// the Data API (positions), and trading through the CLOB with EIP-712 signed
// orders (package clob builds and signs them).
//
// A Polymarket order's id is the hash of the signed order, known before it is
// sent. So an order is prepared (built, signed, its POST body fixed) before the
// first send, the prepared bytes are stored by the caller, and every resend
// after an unknown outcome sends exactly those bytes; a lost answer is
// reconciled with GET /data/order/{hash}.
//
// It never imports another venue, and the wallet's private key never leaves the
// clob.Signer: no log line, error, result or audit entry carries it.
package polymarket
