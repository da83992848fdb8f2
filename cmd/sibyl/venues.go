package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/paper"
)

// venueFlags are --venues and --live.
type venueFlags struct {
	list string // comma-separated venue names; the first is the default venue
	live bool   // orders that move real money are allowed
}

// knownVenues are the names --venues accepts, in the order help lists them.
var knownVenues = []string{"paper", "kalshi", "polymarket"}

func (f *venueFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.list, "venues", envString("SIBYL_VENUES", "paper"), "comma-separated `LIST` of venues to serve ("+strings.Join(knownVenues, ", ")+"); the first is the default venue [SIBYL_VENUES]")
	live := false
	switch strings.ToLower(os.Getenv("SIBYL_LIVE")) {
	case "1", "true", "yes", "on":
		live = true
	}
	fs.BoolVar(&f.live, "live", live, "allow orders and cancels that move real money (Kalshi prod, Polymarket); without it they are refused and nothing is sent [SIBYL_LIVE]")
}

// names returns the venues to serve, without repeats, or an error naming the
// known ones.
func (f *venueFlags) names() ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, n := range strings.Split(f.list, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" || seen[n] {
			continue
		}
		ok := false
		for _, k := range knownVenues {
			ok = ok || k == n
		}
		if !ok {
			return nil, fmt.Errorf("--venues: unknown venue %q; known: %s", n, strings.Join(knownVenues, ", "))
		}
		seen[n] = true
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--venues %q names no venue; known: %s", f.list, strings.Join(knownVenues, ", "))
	}
	return out, nil
}

// buildVenues returns the venues --venues names, by name, and the default
// venue (the first). The paper venue is built in any case (the price feeds and
// 'sibyl paper' use its world); it is served only when listed.
func (m *Main) buildVenues(ctx context.Context, pv *paper.Venue) (map[string]sibyl.Venue, string, error) {
	names, err := m.venueFlags.names()
	if err != nil {
		return nil, "", err
	}
	venues := map[string]sibyl.Venue{}
	for _, n := range names {
		switch n {
		case "paper":
			venues[n] = pv
		case "kalshi":
			// Kalshi's requests are counted in sibyl_venue_requests_total.
			hc := &http.Client{Timeout: 15 * time.Second, Transport: m.metrics.Transport("kalshi", nil, nil)}
			v, err := newKalshiVenue(ctx, os.Getenv, m.venueFlags.live, hc, m.logger)
			if err != nil {
				return nil, "", err
			}
			venues[n] = v
		case "polymarket":
			v, err := newPolymarketVenue(ctx, os.Getenv, m.venueFlags.live, m.logger)
			if err != nil {
				return nil, "", err
			}
			venues[n] = v
		}
	}
	return venues, names[0], nil
}
