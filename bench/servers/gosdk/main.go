// Command gosdk-bench serves the conformance suite's test_simple_text tool
// (and test_slow, which sleeps 2 s) on the official Go SDK
// (github.com/modelcontextprotocol/go-sdk), over stdio by default or
// Streamable HTTP at /mcp with --http ADDR, configured as its documentation
// suggests for production: StreamableHTTPHandler with JSON responses, no
// logger. It is a peer in the tools/call benchmark.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/sibylmcp/sibyl/bench/internal/serve"
)

func main() {
	httpAddr := flag.String("http", "", "serve Streamable HTTP at `ADDR` on /mcp instead of stdio")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *httpAddr); err != nil {
		fmt.Fprintln(os.Stderr, "gosdk-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, httpAddr string) error {
	server := mcp.NewServer(&mcp.Implementation{Name: "gosdk-bench", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{
		Name:        "test_simple_text",
		Description: "Tests simple text content response",
	}, func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{
			Content: []mcp.Content{&mcp.TextContent{Text: "This is a simple text response for testing."}},
		}, nil, nil
	})
	mcp.AddTool(server, &mcp.Tool{
		Name:        "test_slow",
		Description: "Sleeps 2 s (or until cancelled), then answers",
	}, func(ctx context.Context, _ *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
		select {
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "slept 2s"}}}, nil, nil
	})

	if httpAddr == "" {
		return server.Run(ctx, &mcp.StdioTransport{})
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{JSONResponse: true})
	return serve.HTTP(ctx, httpAddr, h, nil)
}
