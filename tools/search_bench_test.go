package tools

import (
	"context"
	"testing"

	"github.com/sibylmcp/sibyl"
)

// BenchmarkSearchMarkets: one search_markets call in people's words over the
// paper venue's open markets (ranked by package search), against the old path
// (the venue's own all-words match) as the baseline.
func BenchmarkSearchMarkets(b *testing.B) {
	d := MustDeps(b)
	tool := toolByName(b, All(d), "search_markets")
	b.Run("search_markets/bitcoin_150k_december", func(b *testing.B) {
		for b.Loop() {
			if _, err := call(b, tool, `{"query":"bitcoin 150k december","limit":20}`); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("search_markets/no_match_with_suggestions", func(b *testing.B) {
		for b.Loop() {
			if _, err := call(b, tool, `{"query":"bitcon","limit":20}`); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline/venue_text_match", func(b *testing.B) {
		for b.Loop() {
			if _, err := d.Venues["paper"].SearchMarkets(context.Background(), sibyl.MarketQuery{Text: "BTC 150000", Status: sibyl.StatusOpen, Limit: 20}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
