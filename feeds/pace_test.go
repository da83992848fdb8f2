package feeds

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl"
	"golang.org/x/time/rate"
)

// A live source paces its requests with its Limit: once the budget is spent, a
// call whose context ends before the next token fails with Unavailable, without
// asking the upstream.
func TestLiveSourcesPaceRequests(t *testing.T) {
	klines := fixture(t, "binance_klines_BTCUSDT_1d.json")
	cg := fixture(t, "coingecko_market_chart_range_bitcoin.json")
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if strings.HasPrefix(r.URL.Path, "/api/v3/klines") {
			w.Write(klines)
			return
		}
		w.Write(cg)
	}))
	defer srv.Close()
	now := fixedNow("2024-01-04T12:30:00Z")
	sources := map[string]Source{
		"binance":   &Binance{BaseURL: srv.URL, Now: now, Limit: rate.NewLimiter(rate.Every(time.Hour), 1)},
		"coingecko": &CoinGecko{BaseURL: srv.URL, Now: now, IDs: map[string]string{"BTC": "bitcoin"}, Limit: rate.NewLimiter(rate.Every(time.Hour), 1)},
	}
	for name, src := range sources {
		t.Run(name, func(t *testing.T) {
			hits.Store(0)
			if _, err := src.Daily(context.Background(), "BTC", date("2023-12-31"), time.Time{}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := src.Daily(ctx, "BTC", date("2023-12-31"), time.Time{})
			if sibyl.ErrorCode(err) != sibyl.Unavailable || !strings.Contains(sibyl.ErrorMessage(err), "rate limit") {
				t.Errorf("second call: got %v, want unavailable naming the rate limit", err)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("upstream asked %d times, want 1", n)
			}
		})
	}
}
