package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/sibylmcp/sibyl/venues/polymarket"
)

// polymarketStartTimeout bounds the start-up read of GET /version: a slow or
// unreachable Polymarket never keeps sibyl serve from starting (the version is
// read again at the first order).
const polymarketStartTimeout = 5 * time.Second

// newPolymarketVenue builds the Polymarket venue from the environment:
// SIBYL_POLYMARKET_GAMMA_URL, SIBYL_POLYMARKET_CLOB_URL,
// SIBYL_POLYMARKET_DATA_URL (default the production hosts),
// POLYMARKET_PRIVATE_KEY_PATH, POLYMARKET_SIGNATURE_TYPE, POLYMARKET_FUNDER and
// optionally POLYMARKET_API_KEY/_SECRET/_PASSPHRASE (without a key the venue is
// read-only). live is --live: without it, orders and cancels are refused before
// anything is sent. A configuration error fails start-up; an unreachable
// Polymarket does not. The log line names the wallet address, never the key.
func newPolymarketVenue(ctx context.Context, getenv func(string) string, live bool, log *slog.Logger) (*polymarket.Venue, error) {
	s, err := polymarket.LoadSettings(getenv)
	if err != nil {
		return nil, fmt.Errorf("polymarket: %w", err)
	}
	v, err := polymarket.FromSettings(s, live)
	if err != nil {
		return nil, fmt.Errorf("polymarket: %w", err)
	}
	wallet, typ := "none (read-only)", 0
	if s.Wallet != nil {
		wallet, typ = s.Wallet.Maker().Hex(), int(s.Wallet.SignatureType)
		sctx, cancel := context.WithTimeout(ctx, polymarketStartTimeout)
		defer cancel()
		if err := v.Start(sctx); err != nil {
			log.Warn("polymarket: GET /version failed at start-up; it is read again at the first order", "err", err)
		}
	}
	log.Info("polymarket venue", "mode", v.Info().Mode, "wallet", wallet, "signature_type", typ, "live", live)
	return v, nil
}
