package feeds

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl"
)

func TestReadCSV(t *testing.T) {
	const good = "timestamp,open,high,low,close,volume\n" +
		"2024-01-01,10,12,9,11,100\n" +
		"2024-01-02,11,13,10,12.5,3.5e2\n"
	got, err := ReadCSV(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Close != 12.5 || got[1].Volume != 350 || !got[1].Time.Equal(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("got %+v", got)
	}
	// Generic form: other column order, other time forms, extra columns ignored.
	generic := "Close,Date,Volume,Open,High,Low,trades\n" +
		"11,1704067200,100,10,12,9,5\n" +
		"12,1704153600000,100,11,13,10,5\n" +
		"13,2024-01-03T00:00:00Z,100,12,14,11,5\n"
	got, err = ReadCSV(strings.NewReader(generic))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2].Close != 13 || got[1].Open != 11 {
		t.Fatalf("generic: got %+v", got)
	}
}

func TestReadCSVErrors(t *testing.T) {
	const h = "timestamp,open,high,low,close,volume\n"
	tests := []struct {
		name      string
		in        string
		line, col int
		msg       string
	}{
		{"empty", "", 1, 0, "empty file"},
		{"no rows", h, 2, 0, "no data rows"},
		{"missing column", "timestamp,open,high,low,close\n2024-01-01,1,1,1,1\n", 1, 0, "lacks a volume column"},
		{"duplicate column", "date,timestamp,open,high,low,close,volume\n", 1, 2, "duplicate column"},
		{"bad number", h + "2024-01-01,1,x,1,1,1\n", 2, 3, "not a number"},
		{"nan", h + "2024-01-01,1,1,1,NaN,1\n", 2, 5, "not finite"},
		{"zero price", h + "2024-01-01,0,1,0,1,1\n", 2, 2, "not positive"},
		{"negative volume", h + "2024-01-01,1,1,1,1,-1\n", 2, 6, "negative"},
		{"high below low", h + "2024-01-01,1,1,2,1,1\n", 2, 0, "inconsistent prices"},
		{"bad date", h + "2024-13-01,1,1,1,1,1\n", 2, 1, "not a date"},
		{"not midnight", h + "2024-01-01T12:00:00Z,1,1,1,1,1\n", 2, 1, "not at a UTC midnight"},
		{"too few fields", h + "2024-01-01,1,1,1,1\n", 2, 0, "wrong number of fields"},
		{"gap", h + "2024-01-01,1,1,1,1,1\n2024-01-04,1,1,1,1,1\n", 3, 1, "gap: 2 missing day(s)"},
		{"duplicate day", h + "2024-01-01,1,1,1,1,1\n2024-01-01,1,1,1,1,1\n", 3, 1, "duplicate day"},
		{"out of order", h + "2024-01-02,1,1,1,1,1\n2024-01-01,1,1,1,1,1\n", 3, 1, "oldest first"},
		{"year 3000", h + "3000-01-01,1,1,1,1,1\n", 2, 1, "outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tt.in))
			var ce *CSVError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *CSVError", err)
			}
			if ce.Line != tt.line || (tt.col != 0 && ce.Column != tt.col) || !strings.Contains(ce.Msg, tt.msg) {
				t.Errorf("got line %d column %d %q, want line %d column %d containing %q", ce.Line, ce.Column, ce.Msg, tt.line, tt.col, tt.msg)
			}
		})
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("timestamp,open,high,low,close,volume\n2024-01-01,10,12,9,11,100\n2024-01-02,11,13,10,12,100\n"))
	f.Add([]byte("date,close,open,high,low,volume\n1704067200,1,1,1,1,0\n"))
	f.Add([]byte("timestamp,open,high,low,close,volume\n2024-01-01,1e-5,2e-5,1e-6,1.5e-5,1e12\n2024-01-03,1,1,1,1,1\n"))
	f.Add([]byte("\ufefftimestamp,open,high,low,close,volume\n\"2024-01-01\",1,1,1,1,1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadCSV(strings.NewReader(string(data)))
		if err != nil {
			var ce *CSVError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *CSVError", err)
			}
			return
		}
		if len(c) == 0 {
			t.Fatal("no error and no candles")
		}
		if err := CheckContiguous("X", c); err != nil {
			t.Fatalf("accepted non-contiguous history: %v", err)
		}
		for _, k := range c {
			for _, v := range []float64{k.Open, k.High, k.Low, k.Close, k.Volume} {
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					t.Fatalf("accepted bad value %v", v)
				}
			}
			if k.Low > k.Open || k.Low > k.Close || k.High < k.Open || k.High < k.Close {
				t.Fatalf("accepted inconsistent candle %+v", k)
			}
		}
	})
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDir(t *testing.T) {
	const h = "timestamp,open,high,low,close,volume\n"
	dir := writeFiles(t, map[string]string{
		"BTCUSDT_1d.csv": h + "2024-01-01,1,1,1,1,1\n2024-01-02,2,2,2,2,1\n2024-01-03,3,3,3,3,1\n",
		"eth.csv":        h + "2024-01-01,1,1,1,1,1\n",
		"BAD_1d.csv":     h + "2024-01-01,1,1,1,1,1\n2024-01-05,1,1,1,1,1\n",
		"notes.txt":      "ignored",
	})
	d, err := NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	syms, _ := d.Symbols(ctx)
	if strings.Join(syms, ",") != "BAD,BTC,ETH" {
		t.Errorf("got symbols %v, want BAD,BTC,ETH", syms)
	}
	day := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	c, err := d.Daily(ctx, "btcusdt", day("2024-01-02"), time.Time{})
	if err != nil || len(c) != 2 || c[0].Close != 2 {
		t.Fatalf("got %v, %v; want 2 candles from 2024-01-02", c, err)
	}
	tests := []struct {
		name     string
		sym      string
		from, to time.Time
		code     sibyl.Code
		field    string
		msg      string
	}{
		{"unknown symbol", "DOGE", time.Time{}, time.Time{}, sibyl.NotFound, "symbol", "known symbols: BAD, BTC, ETH"},
		{"from after to", "BTC", day("2024-01-03"), day("2024-01-01"), sibyl.Invalid, "from", "after to"},
		{"before history", "BTC", day("2020-01-01"), day("2020-02-01"), sibyl.Invalid, "to", "history starts 2024-01-01"},
		{"after history", "BTC", day("2025-01-01"), time.Time{}, sibyl.Invalid, "from", "history ends 2024-01-03"},
		{"gap in file", "BAD", time.Time{}, time.Time{}, sibyl.Unavailable, "", "BAD_1d.csv: line 3 column 1 (time): gap: 3 missing day(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Daily(ctx, tt.sym, tt.from, tt.to)
			if sibyl.ErrorCode(err) != tt.code || sibyl.ErrorField(err) != tt.field || !strings.Contains(sibyl.ErrorMessage(err), tt.msg) {
				t.Errorf("got %v (field %q), want %s field %q containing %q", err, sibyl.ErrorField(err), tt.code, tt.field, tt.msg)
			}
		})
	}
	if _, err := NewDir(t.TempDir()); sibyl.ErrorCode(err) != sibyl.Invalid {
		t.Errorf("empty dir: got %v, want invalid", err)
	}
}

// OHLCVDir returns the real data directory (SIBYL_OHLCV_DIR, default
// ../shared/data/ohlcv from the repository root), or skips the test.
func ohlcvDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("SIBYL_OHLCV_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data", "ohlcv") // from <repo>/feeds
	}
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("real OHLCV data not found at %s (set SIBYL_OHLCV_DIR to the directory of <SYMBOL>USDT_1d.csv files): %v", dir, err)
	}
	return dir
}

func TestDirRealData(t *testing.T) {
	d, err := NewDir(ohlcvDir(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	syms, _ := d.Symbols(ctx)
	if len(syms) < 10 {
		t.Fatalf("got %d symbols, want the 17 tokens", len(syms))
	}
	for _, s := range syms {
		c, err := d.Daily(ctx, s, time.Time{}, time.Time{})
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if err := CheckContiguous(s, c); err != nil {
			t.Error(err)
		}
	}
	c, err := d.Daily(ctx, "BTC", time.Date(2017, 8, 17, 0, 0, 0, 0, time.UTC), time.Date(2017, 8, 18, 0, 0, 0, 0, time.UTC))
	if err != nil || len(c) != 2 || c[0].Close != 4285.08 {
		t.Fatalf("got %v, %v; want BTC's first two days (close 4285.08)", c, err)
	}
}
