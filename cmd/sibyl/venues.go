package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/paper"
)

// venueFlags are --venues and --live.
type venueFlags struct {
	list string // comma-separated venue names
	live bool   // orders on real-money venues may be sent
}

func (f *venueFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.list, "venues", envString("SIBYL_VENUES", "paper"), "comma-separated `VENUES` to serve: paper, kalshi, polymarket (the first is the default venue) [SIBYL_VENUES]")
	live := false
	switch strings.ToLower(strings.TrimSpace(os.Getenv("SIBYL_LIVE"))) {
	case "1", "true", "yes":
		live = true
	}
	fs.BoolVar(&f.live, "live", live, "allow orders that move real money (Kalshi prod, Polymarket); without it they are refused before anything is sent [SIBYL_LIVE]")
}

// names returns the venue names, checked: known, not repeated, at least one.
func (f *venueFlags) names() ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, n := range strings.Split(f.list, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" {
			continue
		}
		switch n {
		case "paper", "kalshi", "polymarket":
		default:
			return nil, fmt.Errorf("--venues: unknown venue %q (known: paper, kalshi, polymarket)", n)
		}
		if seen[n] {
			return nil, fmt.Errorf("--venues: %s is listed twice", n)
		}
		seen[n] = true
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--venues: name at least one venue")
	}
	return out, nil
}

// buildVenues builds the venues --venues names and returns them with the
// default venue (the first named). The paper venue is built in any case (the
// price feeds and 'sibyl paper' use its world) but served only when named.
func (m *Main) buildVenues(pv *paper.Venue) (map[string]sibyl.Venue, string, error) {
	names, err := m.venueFlags.names()
	if err != nil {
		return nil, "", err
	}
	ctx := context.Background() // each builder bounds its own start-up calls
	venues := map[string]sibyl.Venue{}
	for _, n := range names {
		switch n {
		case "paper":
			venues[n] = pv
		case "kalshi":
			v, err := newKalshiVenue(ctx, os.Getenv, m.venueFlags.live, m.logger)
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
