// Package pmtest is an in-process Polymarket for tests: Gamma (markets,
// events, search), the CLOB (books, midpoint, tick size, /version, L1 API-key
// creation, orders) and the Data API (positions), written from the official
// client's types (@polymarket/clob-client-v2 1.1.0) and the recorded answers.
//
// It checks what the real venue checks and what sibyl must get right: the L2
// HMAC of every authenticated request (against the API secret), the L1 ClobAuth
// signature when credentials are created, and the EIP-712 signer of every
// order (recovered from the signature; for signature types 1-3 the wallet must
// belong to that key). Orders are stored by their hash and served at GET
// /data/order/{hash}. Faults can be injected (5xx before or after the order is
// accepted, dropped connections, timeouts, 429) and every request is counted.
package pmtest
