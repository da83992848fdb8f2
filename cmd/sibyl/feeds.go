package main

import (
	"fmt"
	"time"

	"github.com/sibylmcp/sibyl/feeds"
	"github.com/sibylmcp/sibyl/venues/paper"
)

// priceFeeds builds the price-history feeds: the paper world's (always, the
// default unless a CSV directory is given) and a CSV directory's. It returns the
// feeds by name, the default's name and which feeds move with the clock.
func priceFeeds(pv *paper.Venue, ohlcvDir string) (map[string]feeds.Source, string, map[string]bool, error) {
	fs := map[string]feeds.Source{
		"paper": feeds.NewCache(feeds.NewSimulated("paper", pv.Tokens, pv.Daily), 10*time.Minute, nil),
	}
	live := map[string]bool{"paper": true}
	def := "paper"
	if ohlcvDir != "" {
		dir, err := feeds.NewDir(ohlcvDir)
		if err != nil {
			return nil, "", nil, fmt.Errorf("--ohlcv-dir: %w", err)
		}
		fs["csv"] = dir
		def = "csv"
	}
	return fs, def, live, nil
}
