package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// opsFlags are the operations flags of sibyl serve: metrics, TLS, the price
// feed and the config file.
type opsFlags struct {
	metricsAddr     string // --metrics-addr: loopback listener for /metrics, /healthz, /readyz
	tlsCert, tlsKey string // --tls-cert, --tls-key: files, reloaded on SIGHUP
	feed            string // --feed: paper, csv, binance or coingecko ("" = paper, or csv with --ohlcv-dir)
	binanceURL      string // base URL overrides of the live feeds (tests, proxies)
	coingeckoURL    string
	tokenMetricsURL string

	configFile  string          // --config FILE (TOML)
	printConfig bool            // --print-config
	fromConfig  map[string]bool // flags whose value came from the config file
}

// Feeds --feed accepts.
const (
	feedPaper     = "paper"
	feedCSV       = "csv"
	feedBinance   = "binance"
	feedCoinGecko = "coingecko"
)

func (o *opsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.metricsAddr, "metrics-addr", envString("SIBYL_METRICS_ADDR", ""), "also serve /metrics, /healthz and /readyz without API keys on this loopback `ADDR`, such as 127.0.0.1:9464 (on --http they are always served; /metrics there needs a read key when keys exist) [SIBYL_METRICS_ADDR]")
	fs.StringVar(&o.tlsCert, "tls-cert", envString("SIBYL_TLS_CERT", ""), "serve --http over TLS with the PEM certificate (chain) in `FILE`; read again on SIGHUP [SIBYL_TLS_CERT]")
	fs.StringVar(&o.tlsKey, "tls-key", envString("SIBYL_TLS_KEY", ""), "the PEM private key of --tls-cert, in `FILE`; read again on SIGHUP [SIBYL_TLS_KEY]")
	fs.StringVar(&o.feed, "feed", envString("SIBYL_FEED", ""), "default price feed of the grade tools and of hedge_position's spot and volatility: paper, csv (needs --ohlcv-dir), binance or coingecko (`NAME`; default paper, or csv when --ohlcv-dir is given) [SIBYL_FEED]")
	fs.StringVar(&o.binanceURL, "binance-url", envString("SIBYL_BINANCE_URL", "https://api.binance.com"), "base `URL` of the Binance spot API for --feed binance [SIBYL_BINANCE_URL]")
	fs.StringVar(&o.coingeckoURL, "coingecko-url", envString("SIBYL_COINGECKO_URL", "https://api.coingecko.com"), "base `URL` of the CoinGecko API for --feed coingecko (https://pro-api.coingecko.com with a pro key) [SIBYL_COINGECKO_URL]")
	fs.StringVar(&o.tokenMetricsURL, "token-metrics-url", envString("SIBYL_TOKEN_METRICS_URL", "https://api.tokenmetrics.com"), "base `URL` of the Token Metrics API, used when TOKEN_METRICS_API_KEY is set [SIBYL_TOKEN_METRICS_URL]")
	fs.StringVar(&o.configFile, "config", envString("SIBYL_CONFIG", ""), "read settings from the TOML `FILE` (keys are these flags' names; flags and environment variables win over it; no secrets, only paths to them) [SIBYL_CONFIG]")
	fs.BoolVar(&o.printConfig, "print-config", false, "print the effective configuration (secrets masked) as TOML and exit")
}

// errPrinted ends a command that has done its job (--print-config) with exit 0.
var errPrinted = fmt.Errorf("printed")

// check validates the operations flags once they are parsed, and prints the
// configuration for --print-config (returning errPrinted).
func (o *opsFlags) check(fs *flag.FlagSet, stdout io.Writer) error {
	if o.metricsAddr != "" && !isLoopback(o.metricsAddr) {
		return fmt.Errorf("--metrics-addr %s: want a loopback address such as 127.0.0.1:9464 (it serves without API keys); on --http, /metrics follows the API-key rule", o.metricsAddr)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together: give both files or neither")
	}
	switch o.feed {
	case "", feedPaper, feedCSV, feedBinance, feedCoinGecko:
	default:
		return fmt.Errorf("--feed %q: want paper, csv, binance or coingecko", o.feed)
	}
	for _, u := range []struct{ name, v string }{{"binance-url", o.binanceURL}, {"coingecko-url", o.coingeckoURL}, {"token-metrics-url", o.tokenMetricsURL}} {
		if !strings.HasPrefix(u.v, "https://") && !strings.HasPrefix(u.v, "http://") {
			return fmt.Errorf("--%s %q: want an http:// or https:// URL", u.name, u.v)
		}
	}
	if o.printConfig {
		if err := o.print(fs, stdout); err != nil {
			return err
		}
		return errPrinted
	}
	return nil
}
