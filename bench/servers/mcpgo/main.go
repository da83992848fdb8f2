// Command mcpgo-bench serves the conformance suite's test_simple_text tool
// (and test_slow, which sleeps 2 s) on github.com/mark3labs/mcp-go, over
// stdio by default (server.StdioServer with its default worker pool) or
// Streamable HTTP at /mcp with --http ADDR (server.NewStreamableHTTPServer
// with its defaults). It is a peer in the tools/call benchmark.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/sibylmcp/sibyl/bench/internal/serve"
)

func main() {
	httpAddr := flag.String("http", "", "serve Streamable HTTP at `ADDR` on /mcp instead of stdio")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *httpAddr); err != nil {
		fmt.Fprintln(os.Stderr, "mcpgo-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, httpAddr string) error {
	s := server.NewMCPServer("mcpgo-bench", "1.0.0", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("test_simple_text",
		mcp.WithDescription("Returns a simple text response for conformance testing")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("This is a simple text response for testing."), nil
		})
	s.AddTool(mcp.NewTool("test_slow",
		mcp.WithDescription("Sleeps 2 s (or until cancelled), then answers")),
		func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			select {
			case <-time.After(2 * time.Second):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return mcp.NewToolResultText("slept 2s"), nil
		})

	if httpAddr == "" {
		stdio := server.NewStdioServer(s)
		stdio.SetErrorLogger(log.New(os.Stderr, "", log.LstdFlags))
		err := stdio.Listen(ctx, os.Stdin, os.Stdout)
		if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	h := server.NewStreamableHTTPServer(s)
	return serve.HTTP(ctx, httpAddr, h, h.Shutdown)
}
