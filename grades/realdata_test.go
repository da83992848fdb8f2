package grades

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/feeds"
)

var writeReport = flag.String("report", "", "TestBacktestReport writes the Markdown report to this file")

// ohlcvDir returns the real data directory: SIBYL_OHLCV_DIR, else
// ../shared/data/ohlcv from the repository root (../../shared/data/ohlcv from this
// package). It skips the test when the folder is absent.
func ohlcvDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("SIBYL_OHLCV_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data", "ohlcv")
	}
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("real OHLCV data not found at %s (set SIBYL_OHLCV_DIR to a directory of <SYMBOL>USDT_1d.csv files): %v", dir, err)
	}
	return dir
}

func mustDir(tb testing.TB) *feeds.Dir {
	tb.Helper()
	d, err := feeds.NewDir(ohlcvDir(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// TestCalibrationFrozen re-runs the in-sample calibration and checks that the
// weights and thresholds frozen in weights.go are what it chooses.
func TestCalibrationFrozen(t *testing.T) {
	src := mustDir(t)
	cal, err := Calibrate(context.Background(), src, BacktestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := ComponentNames()
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "\t%q: %v, // in-sample IC %+.4f\n", n, cal.Weights[n], cal.ICs[n])
	}
	t.Logf("calibration:\n%s\tsignalCuts = %v\n\tinvestorCuts = %v", b.String(), cal.SignalCuts, cal.InvestorCuts)
	bad := cal.SignalCuts != signalCuts || cal.InvestorCuts != investorCuts
	for _, n := range names {
		if math.Abs(cal.Weights[n]-componentWeights[n]) > 1e-9 {
			bad = true
		}
	}
	if bad {
		t.Errorf("weights.go differs from the calibration; freeze the values logged above")
	}
}

// TestBacktestReport runs the full walk-forward backtest on the real data and
// prints the tables (go test -run TestBacktestReport -v ./grades/). With
// -report FILE it also writes them to FILE.
func TestBacktestReport(t *testing.T) {
	src := mustDir(t)
	rep, err := RunBacktest(context.Background(), src, BacktestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	md := rep.Markdown()
	t.Log("\n" + md)
	if *writeReport != "" {
		if err := os.WriteFile(*writeReport, []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if len(rep.Rows) != 16 {
		t.Errorf("got %d rows, want 16", len(rep.Rows))
	}
	for _, r := range rep.Rows {
		if r.Periods < 50 {
			t.Errorf("%s %s h=%d: only %d periods", r.Sample, r.Strategy, r.Horizon, r.Periods)
		}
	}
}

func BenchmarkGradeAll(b *testing.B) {
	src := mustDir(b)
	ctx := context.Background()
	syms, _ := src.Symbols(ctx)
	g := &Grader{Source: src}
	asOf := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	for _, s := range syms { // warm the file cache: measure grading, not parsing
		src.Daily(ctx, s, time.Time{}, time.Time{})
	}
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for _, s := range syms {
			if _, err := g.Grade(ctx, s, asOf); err == nil {
				n++
			}
		}
		if n < 16 {
			b.Fatalf("graded %d tokens, want 16 (all but XMR)", n)
		}
	}
	b.ReportMetric(float64(len(syms)), "tokens")
}

func BenchmarkBacktest(b *testing.B) {
	src := mustDir(b)
	for b.Loop() {
		if _, err := RunBacktest(context.Background(), src, BacktestOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRealDataGrades(t *testing.T) {
	src := mustDir(t)
	g := &Grader{Source: src}
	ctx := context.Background()
	ranked, skipped, err := g.Rank(ctx, nil, ByTrader, time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC), 0)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range ranked {
		lines = append(lines, fmt.Sprintf("%2d %-5s trader %5.1f investor %5.1f %-11s %s", r.Rank, r.Grade.Symbol, r.Grade.TraderGrade, r.Grade.InvestorGrade, r.Grade.Signal, r.Grade.Explanation))
	}
	sort.Strings(lines[:0])
	t.Logf("2024-12-31:\n%s", strings.Join(lines, "\n"))
	if len(skipped) != 2 { // MATIC and XMR ended before 2024-12-31
		t.Errorf("got skipped %v, want MATIC and XMR", skipped)
	}
}
