// Command sibyl-bench serves the conformance suite's test_simple_text tool
// (and test_slow, which sleeps 2 s) on sibyl's mcp package, over stdio by
// default or Streamable HTTP at /mcp with --http ADDR. It is the "ours" side
// of the tools/call benchmark; --cpuprofile writes a CPU profile when it stops
// (stdin EOF on stdio, SIGINT or SIGTERM on HTTP), --memprofile an
// allocation profile.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/sibylmcp/sibyl/bench/internal/serve"
	"github.com/sibylmcp/sibyl/mcp"
)

func main() {
	httpAddr := flag.String("http", "", "serve Streamable HTTP at `ADDR` on /mcp instead of stdio")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to `FILE` when the server stops")
	memProfile := flag.String("memprofile", "", "write an allocation profile (every 4 KiB sampled) to `FILE` when the server stops")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *memProfile != "" {
		runtime.MemProfileRate = 4096
		defer writeHeapProfile(*memProfile)
	}
	if err := run(ctx, *httpAddr, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "sibyl-bench:", err)
		os.Exit(1)
	}
}

func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sibyl-bench:", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		fmt.Fprintln(os.Stderr, "sibyl-bench:", err)
	}
}

func run(ctx context.Context, httpAddr, cpuProfile string) error {
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

	srv := mcp.NewServer(mcp.Implementation{Name: "sibyl-bench", Version: "1.0.0"}, nil)
	srv.AddTool(mcp.Tool{
		Name:        "test_simple_text",
		Description: "Tests simple text content response",
		InputSchema: []byte(`{"type":"object"}`),
	}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("This is a simple text response for testing.")}}, nil
	})
	srv.AddTool(mcp.Tool{
		Name:        "test_slow",
		Description: "Sleeps 2 s (or until cancelled), then answers",
		InputSchema: []byte(`{"type":"object"}`),
	}, func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		select {
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("slept 2s")}}, nil
	})

	if httpAddr == "" {
		return srv.ServeStdio(ctx, os.Stdin, os.Stdout)
	}
	h := mcp.NewHTTPHandler(srv, &mcp.HTTPOptions{JSONResponse: true})
	return serve.HTTP(ctx, httpAddr, h, h.Shutdown)
}
