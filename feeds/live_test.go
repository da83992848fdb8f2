package feeds

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func fixedNow(s string) func() time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return func() time.Time { return t }
}

func TestBinance(t *testing.T) {
	klines := fixture(t, "binance_klines_BTCUSDT_1d.json")
	var gotQuery string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v3/klines" {
			http.NotFound(w, r)
			return
		}
		gotQuery = r.URL.RawQuery
		switch r.URL.Query().Get("symbol") {
		case "BTCUSDT":
			w.Write(klines)
		case "ETHUSDT":
			w.WriteHeader(http.StatusTooManyRequests)
			w.Header().Set("Retry-After", "30")
		case "SOLUSDT":
			w.WriteHeader(http.StatusBadGateway)
		case "XRPUSDT":
			w.Write([]byte(`[[1704067200000,"x"]]`))
		case "ADAUSDT":
			time.Sleep(300 * time.Millisecond)
			w.Write(klines)
		default:
			w.WriteHeader(http.StatusBadRequest)
			w.Write(fixture(t, "binance_error_invalid_symbol.json"))
		}
	}))
	defer srv.Close()
	b := &Binance{BaseURL: srv.URL, Universe: []string{"BTC", "ETH", "SOL", "XRP", "ADA", "NOPE"}, Now: fixedNow("2024-01-04T12:00:00Z")}
	ctx := context.Background()
	c, err := b.Daily(ctx, "btc", date("2024-01-01"), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != 3 || c[2].Close != 42845.23 || c[0].Volume != 27174.29903 || !c[1].Time.Equal(date("2024-01-02")) {
		t.Fatalf("got %+v, want the 3 complete days of the fixture", c)
	}
	for _, want := range []string{"symbol=BTCUSDT", "interval=1d", "startTime=1704067200000", "limit=1000"} {
		if !strings.Contains(gotQuery, want) {
			t.Errorf("query %q lacks %q", gotQuery, want)
		}
	}
	tests := []struct {
		sym  string
		code sibyl.Code
		msg  string
	}{
		{"DOGE", sibyl.NotFound, "known symbols"},
		{"NOPE", sibyl.NotFound, "does not list NOPEUSDT"},
		{"ETH", sibyl.Unavailable, "rate limit"},
		{"SOL", sibyl.Unavailable, "HTTP 502"},
		{"XRP", sibyl.Unavailable, "documented format"},
	}
	for _, tt := range tests {
		t.Run(tt.sym, func(t *testing.T) {
			_, err := b.Daily(ctx, tt.sym, date("2024-01-01"), time.Time{})
			if sibyl.ErrorCode(err) != tt.code || !strings.Contains(sibyl.ErrorMessage(err), tt.msg) {
				t.Errorf("got %v, want %s containing %q", err, tt.code, tt.msg)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		bt := *b
		bt.Client = &http.Client{Timeout: 50 * time.Millisecond}
		_, err := bt.Daily(ctx, "ADA", date("2024-01-01"), time.Time{})
		if sibyl.ErrorCode(err) != sibyl.Unavailable {
			t.Errorf("got %v, want unavailable", err)
		}
	})
	t.Run("bad range", func(t *testing.T) {
		_, err := b.Daily(ctx, "BTC", date("2024-01-03"), date("2024-01-01"))
		if sibyl.ErrorCode(err) != sibyl.Invalid || sibyl.ErrorField(err) != "from" {
			t.Errorf("got %v, want invalid from", err)
		}
	})
}

// TestBinancePaging serves 2500 generated days and checks that Daily pages
// through them with no loss or overlap.
func TestBinancePaging(t *testing.T) {
	start := date("2017-01-01")
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		st, _ := strconv.ParseInt(r.URL.Query().Get("startTime"), 10, 64)
		en, _ := strconv.ParseInt(r.URL.Query().Get("endTime"), 10, 64)
		var b strings.Builder
		b.WriteString("[")
		n := 0
		for d := time.UnixMilli(st).UTC(); d.UnixMilli() <= en && n < 1000; d = d.Add(Day) {
			if n > 0 {
				b.WriteString(",")
			}
			p := 100 + float64(d.Sub(start)/Day)
			fmt.Fprintf(&b, `[%d,"%g","%g","%g","%g","1",%d,"0",1,"0","0","0"]`, d.UnixMilli(), p, p+1, p-1, p, d.Add(Day).UnixMilli()-1)
			n++
		}
		b.WriteString("]")
		w.Write([]byte(b.String()))
	}))
	defer srv.Close()
	b := &Binance{BaseURL: srv.URL, Universe: []string{"BTC"}, Now: fixedNow("2030-01-01T00:00:00Z")}
	c, err := b.Daily(context.Background(), "BTC", start, start.Add(2499*Day))
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != 2500 || calls.Load() != 3 {
		t.Fatalf("got %d candles in %d calls, want 2500 in 3", len(c), calls.Load())
	}
	if err := CheckContiguous("BTC", c); err != nil {
		t.Error(err)
	}
}

func TestCoinGecko(t *testing.T) {
	body := fixture(t, "coingecko_market_chart_range_bitcoin.json")
	const key = "CG-secret-key-123"
	var gotKey, gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey, gotPath = r.Header.Get("x-cg-demo-api-key"), r.URL.Path
		switch r.URL.Path {
		case "/api/v3/coins/bitcoin/market_chart/range":
			w.Write(body)
		case "/api/v3/coins/ethereum/market_chart/range":
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"status":{"error_code":10002,"error_message":"bad key ` + key + `"}}`))
		case "/api/v3/coins/solana/market_chart/range":
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"coin not found"}`))
		}
	}))
	defer srv.Close()
	g := &CoinGecko{BaseURL: srv.URL, APIKey: key, IDs: map[string]string{"BTC": "bitcoin", "ETH": "ethereum", "SOL": "solana", "FOO": "foo-coin"},
		Now: fixedNow("2024-01-04T12:30:00Z")}
	ctx := context.Background()
	c, err := g.Daily(ctx, "BTC", date("2023-12-31"), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// Midnight points of Jan 1..4 are the closes of Dec 31..Jan 3; the 12:30 point is dropped.
	if len(c) != 4 || !c[0].Time.Equal(date("2023-12-31")) || c[3].Close != 42848.17 || c[3].Volume != 47026548155.97 || c[3].High != c[3].Low {
		t.Fatalf("got %+v", c)
	}
	if gotKey != key || gotPath != "/api/v3/coins/bitcoin/market_chart/range" {
		t.Errorf("got key %q path %q", gotKey, gotPath)
	}
	tests := []struct {
		sym  string
		code sibyl.Code
		msg  string
	}{
		{"DOGE", sibyl.NotFound, "known symbols: BTC, ETH, FOO, SOL"},
		{"FOO", sibyl.NotFound, "does not know coin id"},
		{"ETH", sibyl.Unavailable, "HTTP 401"},
		{"SOL", sibyl.Unavailable, "rate limit"},
	}
	for _, tt := range tests {
		t.Run(tt.sym, func(t *testing.T) {
			_, err := g.Daily(ctx, tt.sym, date("2023-12-31"), time.Time{})
			if sibyl.ErrorCode(err) != tt.code || !strings.Contains(sibyl.ErrorMessage(err), tt.msg) {
				t.Errorf("got %v, want %s containing %q", err, tt.code, tt.msg)
			}
			if err != nil && strings.Contains(err.Error(), key) {
				t.Errorf("error %q leaks the API key", err)
			}
		})
	}
}

func TestCacheAndSimulated(t *testing.T) {
	var calls int
	sim := NewSimulated("paper", func() []string { return []string{"btc", "ETH"} }, func(sym string, from, to time.Time) ([]sibyl.Candle, error) {
		calls++
		var out []sibyl.Candle
		for d := from; !d.After(to); d = d.Add(Day) {
			out = append(out, sibyl.Candle{Time: d, Open: 1, High: 1, Low: 1, Close: 1})
		}
		return out, nil
	})
	now := date("2024-01-01")
	c := NewCache(sim, time.Hour, func() time.Time { return now })
	ctx := context.Background()
	if !c.Simulated() || c.Name() != "paper" {
		t.Errorf("got %v %q", c.Simulated(), c.Name())
	}
	for range 3 {
		got, err := c.Daily(ctx, "BTC", date("2024-01-01"), date("2024-01-10"))
		if err != nil || len(got) != 10 {
			t.Fatalf("got %d, %v", len(got), err)
		}
		got[0].Close = 99 // must not poison the cache
	}
	if calls != 1 {
		t.Errorf("got %d upstream calls, want 1", calls)
	}
	if got, _ := c.Daily(ctx, "BTC", date("2024-01-01"), date("2024-01-10")); got[0].Close != 1 {
		t.Error("cache returned a slice the caller had modified")
	}
	now = now.Add(2 * time.Hour)
	c.Daily(ctx, "BTC", date("2024-01-01"), date("2024-01-10"))
	if calls != 2 {
		t.Errorf("got %d upstream calls after expiry, want 2", calls)
	}
	if _, err := c.Daily(ctx, "DOGE", time.Time{}, time.Time{}); sibyl.ErrorCode(err) != sibyl.NotFound || !strings.Contains(sibyl.ErrorMessage(err), "BTC, ETH") {
		t.Errorf("got %v, want not_found listing BTC, ETH", err)
	}
}

// TestParseKlineRejects checks that a kline whose numbers would poison the
// indicators (Inf, NaN, a zero low, prices outside the day's range) is refused,
// as ReadCSV refuses the same row.
func TestParseKlineRejects(t *testing.T) {
	kline := func(o, h, l, c, v string) []json.RawMessage {
		var r []json.RawMessage
		s := `[1704067200000,"` + o + `","` + h + `","` + l + `","` + c + `","` + v + `",1704153599999]`
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if _, _, err := parseKline(kline("1", "2", "0.5", "1.5", "10")); err != nil {
		t.Fatalf("good kline: got %v, want nil", err)
	}
	tests := []struct {
		name          string
		o, h, l, c, v string
		want          string
	}{
		{"inf high", "1", "Inf", "0.5", "1.5", "10", "not finite"},
		{"nan close", "1", "2", "0.5", "NaN", "10", "not finite"},
		{"zero low", "1", "2", "0", "1.5", "10", "not positive"},
		{"negative volume", "1", "2", "0.5", "1.5", "-1", "negative"},
		{"close above high", "1", "2", "0.5", "3", "10", "inconsistent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseKline(kline(tt.o, tt.h, tt.l, tt.c, tt.v))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
