// Package clob is Polymarket's CLOB order protocol on the wire: EIP-712 orders of
// versions 2 and 3 (CTF Exchange V2, its neg-risk twin, and ExchangeV3), the
// signature types 0-3 (type 3 wrapped as ERC-7739 TypedDataSign, as the official
// client does), the amounts rounded per tick size exactly as the official client
// @polymarket/clob-client-v2 1.1.0 rounds them (with exact integer arithmetic), the
// POST /order body byte for byte, the L1 ClobAuth headers and the L2 HMAC headers.
//
// It does no I/O. The wallet's private key lives only inside a Signer: nothing in
// this package returns, formats or logs it.
package clob
