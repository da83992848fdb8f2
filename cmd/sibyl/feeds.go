package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/feeds"
	"github.com/sibylmcp/sibyl/tokenmetrics"
	"github.com/sibylmcp/sibyl/tools"
	"github.com/sibylmcp/sibyl/venues/paper"
	"golang.org/x/time/rate"
)

// liveFeedTTL is how long a live feed's answers are reused: daily candles change
// once a day, and the upstreams limit how often they may be asked.
const liveFeedTTL = 10 * time.Minute

// feedTimeout bounds one live feed request (each page of it).
const feedTimeout = 20 * time.Second

// priceFeedSet is what the grade tools and hedge_position read prices from.
type priceFeedSet struct {
	feeds   map[string]feeds.Source
	def     string          // the default feed's name
	live    map[string]bool // feeds whose latest day moves with the clock (staleness is checked)
	spot    func(symbol string) (float64, time.Time, error)
	volFeed string // the feed of hedge_position's volatility
}

// priceFeeds builds the price-history feeds: the paper world's (always), a CSV
// directory's with --ohlcv-dir, and the live feed --feed names (binance or
// coingecko), cached and paced within the upstream's rate limits. The default is
// --feed, else csv with --ohlcv-dir, else paper. With a live default feed,
// hedge_position takes its spot (the latest complete day's close) and its
// volatility from that feed; otherwise from the paper world, as the paper
// venue's markets are priced from it.
func (m *Main) priceFeeds(pv *paper.Venue) (priceFeedSet, error) {
	set := priceFeedSet{
		feeds:   map[string]feeds.Source{"paper": feeds.NewCache(feeds.NewSimulated("paper", pv.Tokens, pv.Daily), 10*time.Minute, nil)},
		def:     feedPaper,
		live:    map[string]bool{"paper": true},
		spot:    pv.Spot,
		volFeed: feedPaper,
	}
	if m.OHLCVDir != "" {
		dir, err := feeds.NewDir(m.OHLCVDir)
		if err != nil {
			return set, fmt.Errorf("--ohlcv-dir: %w", err)
		}
		set.feeds[feedCSV] = dir
		set.def = feedCSV
	}
	client := func(name string) *http.Client {
		return &http.Client{Timeout: feedTimeout, Transport: m.metrics.Transport(name, nil, nil)}
	}
	switch m.ops.feed {
	case "", feedPaper:
		if m.ops.feed == feedPaper {
			set.def = feedPaper
		}
		return set, nil
	case feedCSV:
		if m.OHLCVDir == "" {
			return set, fmt.Errorf("--feed csv needs --ohlcv-dir DIR (a directory of <SYMBOL>USDT_1d.csv files)")
		}
		return set, nil
	case feedBinance:
		b := &feeds.Binance{BaseURL: m.ops.binanceURL, Client: client(feedBinance), Limit: rate.NewLimiter(feeds.BinanceRate, feeds.BinanceBurst)}
		set.feeds[feedBinance] = feeds.NewCache(b, liveFeedTTL, nil)
	case feedCoinGecko:
		g := &feeds.CoinGecko{BaseURL: m.ops.coingeckoURL, APIKey: os.Getenv("COINGECKO_API_KEY"), Client: client(feedCoinGecko),
			Limit: rate.NewLimiter(feeds.CoinGeckoRate, feeds.CoinGeckoBurst)}
		set.feeds[feedCoinGecko] = feeds.NewCache(g, liveFeedTTL, nil)
	}
	set.def = m.ops.feed
	set.live[m.ops.feed] = true
	set.spot = feedSpot(set.feeds[m.ops.feed], time.Now)
	set.volFeed = m.ops.feed
	return set, nil
}

// feedSpot returns a spot price function over a daily feed: the close of the
// latest complete day, stamped with that day's end. It fails with the feed's
// error, or Unavailable when the feed has no candle in the last week.
func feedSpot(src feeds.Source, now func() time.Time) func(symbol string) (float64, time.Time, error) {
	return func(symbol string) (float64, time.Time, error) {
		ctx, cancel := context.WithTimeout(context.Background(), feedTimeout)
		defer cancel()
		to := feeds.LastCompleteDay(now())
		cs, err := src.Daily(ctx, symbol, to.Add(-6*feeds.Day), to)
		if err != nil {
			return 0, time.Time{}, err
		}
		if len(cs) == 0 {
			return 0, time.Time{}, sibyl.Errorf(sibyl.Unavailable, "%s has no %s candle in the last week", src.Name(), feeds.NormalizeSymbol(symbol))
		}
		last := cs[len(cs)-1]
		return last.Close, last.Time.Add(feeds.Day), nil
	}
}

// secondOpinion gives get_token_grade and rank_tokens Token Metrics' grades
// when a call asks for them: with TOKEN_METRICS_API_KEY from the environment
// (never a flag or the config file), at --token-metrics-url. Without the key
// every ask answers why, and sibyl's own grades are unaffected.
func (m *Main) secondOpinion() tools.SecondOpinionFunc {
	c := &tokenmetrics.Client{BaseURL: m.ops.tokenMetricsURL, APIKey: os.Getenv("TOKEN_METRICS_API_KEY"),
		HTTP: &http.Client{Timeout: feedTimeout, Transport: m.metrics.Transport("token_metrics", nil, nil)}}
	return func(ctx context.Context, symbols []string) (map[string]tools.OtherGrades, error) {
		got, err := c.Grades(ctx, symbols)
		if err != nil {
			return nil, err
		}
		out := make(map[string]tools.OtherGrades, len(got))
		for s, g := range got {
			out[s] = tools.OtherGrades{Source: tokenmetrics.Source, TraderGrade: g.TraderGrade, InvestorGrade: g.InvestorGrade,
				Grade: g.TMGrade, Signal: g.Signal, AsOf: g.Date}
		}
		return out, nil
	}
}
