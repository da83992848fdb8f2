package mcp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// The benchmarks call a trivial tool (echo of one string argument, validated
// against its schema) and report, besides ns/op, cpu-ns/op: the process CPU
// time (user+system, server and the thin raw client together) per call. The
// go-sdk server runs under the same client for comparison.

const benchSchema = `{"type":"object","properties":{"text":{"type":"string","description":"what to echo"}},"required":["text"]}`

func benchServer() *Server {
	s := NewServer(Implementation{Name: "bench", Version: "1"}, nil)
	s.AddTool(Tool{Name: "echo", Description: "echo", InputSchema: json.RawMessage(benchSchema)},
		func(ctx context.Context, req *CallToolRequest) (*CallToolResult, error) {
			var in struct {
				Text string `json:"text"`
			}
			if err := json.Unmarshal(req.Arguments, &in); err != nil {
				return nil, err
			}
			return &CallToolResult{Content: []Content{TextContent(in.Text)}}, nil
		})
	return s
}

func sdkBenchServer() *sdk.Server {
	s := sdk.NewServer(&sdk.Implementation{Name: "bench", Version: "1"}, nil)
	type in struct {
		Text string `json:"text" jsonschema:"what to echo"`
	}
	sdk.AddTool(s, &sdk.Tool{Name: "echo", Description: "echo"}, func(ctx context.Context, req *sdk.CallToolRequest, a in) (*sdk.CallToolResult, any, error) {
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: a.Text}}}, nil, nil
	})
	return s
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs the benchmark body and reports CPU per operation.
func measure(b *testing.B, body func()) {
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	body()
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// lineClient multiplexes calls over one newline-delimited stream.
type lineClient struct {
	wmu     sync.Mutex
	w       *bufio.Writer
	mu      sync.Mutex
	waiters map[int64]chan struct{}
	next    atomic.Int64
}

// responseID extracts the numeric id of a response line.
func responseID(line []byte) (int64, bool) {
	i := bytes.Index(line, []byte(`"id":`))
	if i < 0 || bytes.Contains(line[:i], []byte(`"method"`)) {
		return 0, false
	}
	rest := line[i+5:]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	id, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return id, err == nil
}

func newLineClient(r io.Reader, w io.Writer) *lineClient {
	c := &lineClient{w: bufio.NewWriter(w), waiters: map[int64]chan struct{}{}}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			id, ok := responseID(sc.Bytes())
			if !ok {
				continue
			}
			c.mu.Lock()
			ch := c.waiters[id]
			delete(c.waiters, id)
			c.mu.Unlock()
			if ch != nil {
				close(ch)
			}
		}
	}()
	return c
}

func (c *lineClient) call(method, params string) {
	id := c.next.Add(1)
	ch := make(chan struct{})
	c.mu.Lock()
	c.waiters[id] = ch
	c.mu.Unlock()
	c.wmu.Lock()
	c.w.WriteString(`{"jsonrpc":"2.0","id":`)
	c.w.WriteString(strconv.FormatInt(id, 10))
	c.w.WriteString(`,"method":"` + method + `","params":` + params + "}\n")
	c.w.Flush()
	c.wmu.Unlock()
	<-ch
}

const callParams = `{"name":"echo","arguments":{"text":"hello, world"}}`

func stdioPair(b *testing.B, impl string) (*lineClient, func()) {
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	switch impl {
	case "sibyl":
		go func() { benchServer().ServeStdio(ctx, sr, sw); close(done) }()
	case "gosdk":
		go func() {
			sdkBenchServer().Run(ctx, &sdk.IOTransport{Reader: sr, Writer: sw})
			close(done)
		}()
	}
	c := newLineClient(cr, cw)
	c.call("initialize", `{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"b","version":"1"}}`)
	c.wmu.Lock()
	c.w.WriteString(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n")
	c.w.Flush()
	c.wmu.Unlock()
	return c, func() { cw.Close(); cancel(); <-done }
}

// BenchmarkStdioCall: sequential calls, then 16 concurrent callers per
// -cpu (RunParallel with SetParallelism).
func BenchmarkStdioCall(b *testing.B) {
	for _, impl := range []string{"sibyl", "gosdk"} {
		b.Run(impl+"/serial", func(b *testing.B) {
			c, stop := stdioPair(b, impl)
			defer stop()
			measure(b, func() {
				for i := 0; i < b.N; i++ {
					c.call("tools/call", callParams)
				}
			})
		})
		b.Run(impl+"/parallel16", func(b *testing.B) {
			c, stop := stdioPair(b, impl)
			defer stop()
			b.SetParallelism(16)
			measure(b, func() {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						c.call("tools/call", callParams)
					}
				})
			})
		})
	}
}

func httpBenchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
}

func httpPost(b *testing.B, cl *http.Client, url, sid, body string) (*http.Response, []byte) {
	req, _ := http.NewRequest("POST", url, bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	resp, err := cl.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		b.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	return resp, data
}

// BenchmarkHTTPCall: tools/call over loopback HTTP with keep-alive, JSON
// responses; serial and 16 concurrent callers per -cpu.
func BenchmarkHTTPCall(b *testing.B) {
	for _, impl := range []string{"sibyl", "gosdk"} {
		for _, par := range []bool{false, true} {
			name := impl + "/serial"
			if par {
				name = impl + "/parallel16"
			}
			b.Run(name, func(b *testing.B) {
				var h http.Handler
				switch impl {
				case "sibyl":
					hh := NewHTTPHandler(benchServer(), &HTTPOptions{JSONResponse: true})
					defer hh.Shutdown(context.Background())
					h = hh
				case "gosdk":
					srv := sdkBenchServer()
					h = sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, &sdk.StreamableHTTPOptions{JSONResponse: true})
				}
				ts := httptest.NewServer(h)
				defer ts.Close()
				cl := httpBenchClient()
				resp, _ := httpPost(b, cl, ts.URL, "", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"b","version":"1"}}}`)
				sid := resp.Header.Get("Mcp-Session-Id")
				httpPost(b, cl, ts.URL, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
				body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":` + callParams + `}`
				if par {
					var ids atomic.Int64
					b.SetParallelism(16)
					measure(b, func() {
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								// Ids must be unique among requests in flight.
								body := `{"jsonrpc":"2.0","id":` + strconv.FormatInt(ids.Add(1), 10) + `,"method":"tools/call","params":` + callParams + `}`
								httpPost(b, cl, ts.URL, sid, body)
							}
						})
					})
					return
				}
				measure(b, func() {
					for i := 0; i < b.N; i++ {
						httpPost(b, cl, ts.URL, sid, body)
					}
				})
			})
		}
	}
}
