package bench

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	mcpgoserver "github.com/mark3labs/mcp-go/server"
	gosdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/sibylmcp/sibyl/mcp"
)

// These benchmarks serve test_simple_text in-process on each of the three
// servers. BenchmarkStdioToolsCall uses a pair of io.Pipes and an
// allocation-free client, so that -benchmem's allocs/op and B/op are the
// server's own per tools/call. BenchmarkHTTPToolsCall goes through net/http on
// loopback, so its allocs/op include net/http's client; profile with
// -memprofile and focus on net/http.(*conn).serve for the server's share. The
// process-level numbers (CPU time, RSS, latency) come from cmd/mcpbench.
//
//	go test -run '^$' -bench . -benchmem

const simpleText = "This is a simple text response for testing."

type serveFunc func(ctx context.Context, r io.Reader, w io.Writer) error

func sibylServe() serveFunc {
	srv := mcp.NewServer(mcp.Implementation{Name: "sibyl-bench", Version: "1.0.0"}, nil)
	srv.AddTool(mcp.Tool{Name: "test_simple_text", InputSchema: []byte(`{"type":"object"}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(simpleText)}}, nil
		})
	return srv.ServeStdio
}

func gosdkServe() serveFunc {
	srv := gosdk.NewServer(&gosdk.Implementation{Name: "gosdk-bench", Version: "1.0.0"}, nil)
	gosdk.AddTool(srv, &gosdk.Tool{Name: "test_simple_text"},
		func(context.Context, *gosdk.CallToolRequest, any) (*gosdk.CallToolResult, any, error) {
			return &gosdk.CallToolResult{Content: []gosdk.Content{&gosdk.TextContent{Text: simpleText}}}, nil, nil
		})
	return func(ctx context.Context, r io.Reader, w io.Writer) error {
		return srv.Run(ctx, &gosdk.IOTransport{Reader: io.NopCloser(r), Writer: nopWriteCloser{w}})
	}
}

func mcpgoServe() serveFunc {
	srv := mcpgoserver.NewMCPServer("mcpgo-bench", "1.0.0", mcpgoserver.WithToolCapabilities(true))
	srv.AddTool(mcpgo.NewTool("test_simple_text"),
		func(context.Context, mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
			return mcpgo.NewToolResultText(simpleText), nil
		})
	return mcpgoserver.NewStdioServer(srv).Listen
}

func sibylHTTP() http.Handler {
	srv := mcp.NewServer(mcp.Implementation{Name: "sibyl-bench", Version: "1.0.0"}, nil)
	srv.AddTool(mcp.Tool{Name: "test_simple_text", InputSchema: []byte(`{"type":"object"}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(simpleText)}}, nil
		})
	return mcp.NewHTTPHandler(srv, &mcp.HTTPOptions{JSONResponse: true})
}

func gosdkHTTP() http.Handler {
	srv := gosdk.NewServer(&gosdk.Implementation{Name: "gosdk-bench", Version: "1.0.0"}, nil)
	gosdk.AddTool(srv, &gosdk.Tool{Name: "test_simple_text"},
		func(context.Context, *gosdk.CallToolRequest, any) (*gosdk.CallToolResult, any, error) {
			return &gosdk.CallToolResult{Content: []gosdk.Content{&gosdk.TextContent{Text: simpleText}}}, nil, nil
		})
	return gosdk.NewStreamableHTTPHandler(func(*http.Request) *gosdk.Server { return srv }, &gosdk.StreamableHTTPOptions{JSONResponse: true})
}

func mcpgoHTTP() http.Handler {
	srv := mcpgoserver.NewMCPServer("mcpgo-bench", "1.0.0", mcpgoserver.WithToolCapabilities(true))
	srv.AddTool(mcpgo.NewTool("test_simple_text"),
		func(context.Context, mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
			return mcpgo.NewToolResultText(simpleText), nil
		})
	return mcpgoserver.NewStreamableHTTPServer(srv)
}

func BenchmarkHTTPToolsCall(b *testing.B) {
	for _, s := range []struct {
		name    string
		handler func() http.Handler
	}{{"sibyl", sibylHTTP}, {"go-sdk", gosdkHTTP}, {"mcp-go", mcpgoHTTP}} {
		b.Run(s.name, func(b *testing.B) { benchHTTP(b, s.handler()) })
	}
}

func benchHTTP(b *testing.B, h http.Handler) {
	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	client := ts.Client()
	url := ts.URL + "/mcp"
	var sid string
	var body bytes.Buffer
	post := func(msg []byte) int {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(msg))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
			req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		if s := resp.Header.Get("Mcp-Session-Id"); s != "" {
			sid = s
		}
		body.Reset()
		_, err = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		return resp.StatusCode
	}
	if st := post([]byte(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`)); st != http.StatusOK {
		b.Fatalf("initialize: HTTP %d: %s", st, body.Bytes())
	}
	post([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		buf = append(buf[:0], `{"jsonrpc":"2.0","id":`...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, `,"method":"tools/call","params":{"name":"test_simple_text","arguments":{}}}`...)
		if st := post(buf); st != http.StatusOK || (i == 1 && !bytes.Contains(body.Bytes(), []byte(simpleText))) {
			b.Fatalf("tools/call: HTTP %d: %s", st, body.Bytes())
		}
	}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

func BenchmarkStdioToolsCall(b *testing.B) {
	for _, s := range []struct {
		name  string
		serve func() serveFunc
	}{{"sibyl", sibylServe}, {"go-sdk", gosdkServe}, {"mcp-go", mcpgoServe}} {
		for _, window := range []int{1, 16} {
			b.Run(s.name+"/inflight="+strconv.Itoa(window), func(b *testing.B) {
				benchStdio(b, s.serve(), window)
			})
		}
	}
}

func benchStdio(b *testing.B, serve serveFunc, window int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, inR, outW); outW.Close() }()
	defer func() {
		inW.Close()
		cancel()
		go io.Copy(io.Discard, outR)
		<-done
	}()
	br := bufio.NewReaderSize(outR, 64<<10)
	readLine := func() []byte {
		line, err := br.ReadSlice('\n')
		if err != nil {
			b.Fatalf("reading a response: %v", err)
		}
		return line
	}
	write := func(s string) {
		if _, err := io.WriteString(inW, s); err != nil {
			b.Fatal(err)
		}
	}
	write(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}` + "\n")
	readLine()
	write(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n")

	// The writer keeps window requests in flight; the reader counts responses.
	tokens := make(chan struct{}, window)
	werr := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		buf := make([]byte, 0, 256)
		for i := 1; i <= b.N; i++ {
			tokens <- struct{}{}
			buf = append(buf[:0], `{"jsonrpc":"2.0","id":`...)
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, `,"method":"tools/call","params":{"name":"test_simple_text","arguments":{}}}`+"\n"...)
			if _, err := inW.Write(buf); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	for i := 0; i < b.N; i++ {
		line := readLine()
		if i == 0 && !bytes.Contains(line, []byte(simpleText)) {
			b.Fatalf("unexpected response %q", line)
		}
		<-tokens
	}
	b.StopTimer()
	if err := <-werr; err != nil {
		b.Fatal(err)
	}
}
