package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sibylmcp/sibyl/venues/kalshi"
)

// kalshiProbeTimeout bounds the start-up check that Kalshi answers (and the
// read of the account's rate limits): a slow or unreachable Kalshi never
// keeps sibyl serve from starting; list_venues says why it is unavailable.
const kalshiProbeTimeout = 5 * time.Second

// newKalshiVenue builds the Kalshi venue from the environment:
// SIBYL_KALSHI_ENV (demo, the default, or prod), SIBYL_KALSHI_URL (a base URL
// including /trade-api/v2), KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH
// (both or neither; without them the venue is read-only). live is --live:
// without it, orders and cancels on prod are refused before anything is sent.
// hc sends the requests (nil: the client's default). A configuration error (a bad variable, an unreadable key) fails start-up;
// an unreachable Kalshi does not.
func newKalshiVenue(ctx context.Context, getenv func(string) string, live bool, hc *http.Client, log *slog.Logger) (*kalshi.Venue, error) {
	s, err := kalshi.LoadSettings(getenv)
	if err != nil {
		return nil, fmt.Errorf("kalshi: %w", err)
	}
	c, err := kalshi.NewClient(kalshi.Config{BaseURL: s.BaseURL, Signer: s.Signer, HTTPClient: hc})
	if err != nil {
		return nil, fmt.Errorf("kalshi: %w", err)
	}
	v, err := kalshi.New(kalshi.Options{Client: c, Env: s.Env, Live: live, Logger: log})
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, kalshiProbeTimeout)
	defer cancel()
	if err := v.Probe(pctx); err != nil {
		log.Warn("kalshi: not reachable at start-up; market calls will be retried", "url", s.BaseURL, "err", err)
	}
	key := "none (read-only)"
	if s.Signer != nil {
		key = s.Signer.KeyID()
	}
	log.Info("kalshi venue", "env", s.Env, "url", s.BaseURL, "mode", v.Mode(), "api_key_id", key, "live", live)
	return v, nil
}
