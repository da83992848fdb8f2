package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/feeds"
	"github.com/sibylmcp/sibyl/grades"
	"github.com/sibylmcp/sibyl/venues/paper"
)

const gradeHelp = `Usage:
  sibyl grade [flags] SYMBOL...        print Trader and Investor Grades as a table
  sibyl grade backtest --ohlcv-dir DIR walk-forward backtest of the grades vs two baselines

Grades come from the paper world's simulated history unless --ohlcv-dir names a
directory of <SYMBOL>USDT_1d.csv files (timestamp,open,high,low,close,volume).

Flags:
`

// gradeCmd runs `sibyl grade`.
func gradeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "backtest" {
		return backtestCmd(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("grade", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, gradeHelp); fs.PrintDefaults() }
	dir := fs.String("ohlcv-dir", os.Getenv("SIBYL_OHLCV_DIR"), "grade from the CSV files in `DIR` instead of the paper world [SIBYL_OHLCV_DIR]")
	asOf := fs.String("as-of", "", "grade as of this UTC `day` (YYYY-MM-DD); default the latest complete day")
	seed := fs.Int64("seed", 1, "seed of the paper world")
	symbols, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(symbols) == 0 {
		fs.Usage()
		return errUsage
	}
	var day time.Time
	if *asOf != "" {
		if day, err = time.Parse(time.DateOnly, *asOf); err != nil {
			return fmt.Errorf("--as-of %q: want YYYY-MM-DD", *asOf)
		}
	}
	g, err := newGrader(*dir, *seed)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SYMBOL\tAS OF\tTRADER\tINVESTOR\tSIGNAL\t")
	var failed []string
	for _, sym := range symbols {
		gr, err := g.Grade(ctx, sym, day)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %s", sym, sibyl.ErrorMessage(err)))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%s\t\n", gr.Symbol, gr.AsOf.Format(time.DateOnly), gr.TraderGrade, gr.InvestorGrade, gr.Signal)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "source: %s\n", g.Source.Name())
	if len(failed) > 0 {
		return fmt.Errorf("could not grade:\n  %s", strings.Join(failed, "\n  "))
	}
	return nil
}

// newGrader returns a Grader over a CSV directory, or over the paper world.
func newGrader(dir string, seed int64) (*grades.Grader, error) {
	if dir != "" {
		src, err := feeds.NewDir(dir)
		if err != nil {
			return nil, fmt.Errorf("--ohlcv-dir: %s", sibyl.ErrorMessage(err))
		}
		return &grades.Grader{Source: src}, nil
	}
	pv, err := paper.New(paper.Options{Seed: seed})
	if err != nil {
		return nil, err
	}
	return &grades.Grader{Source: feeds.NewSimulated("paper", pv.Tokens, pv.Daily), Now: time.Now}, nil
}

func backtestCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("grade backtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, gradeHelp); fs.PrintDefaults() }
	dir := fs.String("ohlcv-dir", os.Getenv("SIBYL_OHLCV_DIR"), "`DIR` of <SYMBOL>USDT_1d.csv files to backtest on (required) [SIBYL_OHLCV_DIR]")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("grade backtest: unexpected argument %q (it backtests every CSV file in --ohlcv-dir)", pos[0])
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "sibyl grade backtest: --ohlcv-dir DIR is required: a directory of <SYMBOL>USDT_1d.csv files")
		return errUsage
	}
	src, err := feeds.NewDir(*dir)
	if err != nil {
		return fmt.Errorf("--ohlcv-dir: %s", sibyl.ErrorMessage(err))
	}
	rep, err := grades.RunBacktest(ctx, src, grades.BacktestOptions{})
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, rep.Markdown())
	return nil
}
