// Command sibylmarket-bench serves sibyl's market tools (list_venues,
// search_markets, get_market, get_orderbook) on the paper venue over stdio, or
// Streamable HTTP at /mcp with --http ADDR, wired as `sibyl serve` wires them:
// a store file in --data-dir, the paper venue with seed 1 on it, and every read
// call audited through the store's asynchronous appender. It exists to take a
// CPU profile of get_market (--cpuprofile FILE); the benchmark's get_market
// numbers come from `sibyl serve` itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/bench/internal/serve"
	"github.com/sibylmcp/sibyl/mcp"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/tools"
	"github.com/sibylmcp/sibyl/venues/paper"
)

func main() {
	httpAddr := flag.String("http", "", "serve Streamable HTTP at `ADDR` on /mcp instead of stdio")
	dataDir := flag.String("data-dir", "", "`DIR` for the store file (required)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to `FILE` when the server stops")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *httpAddr, *dataDir, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "sibylmarket-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, httpAddr, dataDir, cpuProfile string) error {
	if dataDir == "" {
		return errors.New("--data-dir is required")
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	st, err := store.OpenOptions(filepath.Join(dataDir, "sibyl.db"), store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	pv, err := paper.New(paper.Options{Seed: 1, Store: st})
	if err != nil {
		return err
	}
	deps := &tools.Deps{Venues: map[string]sibyl.Venue{"paper": pv}, Store: st}
	srv := mcp.NewServer(mcp.Implementation{Name: "sibylmarket-bench", Version: "1.0.0"}, nil)
	tools.Register(srv, tools.MarketTools(deps), tools.StoreAuditor{Store: st}, nil)

	if httpAddr == "" {
		return srv.ServeStdio(ctx, os.Stdin, os.Stdout)
	}
	h := mcp.NewHTTPHandler(srv, &mcp.HTTPOptions{JSONResponse: true})
	return serve.HTTP(ctx, httpAddr, h, h.Shutdown)
}
