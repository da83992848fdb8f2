package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/internal/etcdtest"
	"github.com/sibylmcp/sibyl/mcp"
	"github.com/sibylmcp/sibyl/store/etcdstore"
)

// BenchmarkSharedSessionCall measures what shared sessions add to a request:
// a cheap tools/call through one 2025-11-25 session, with the session in
// process memory (local) and with its meta in etcd (shared: one linearizable
// read per request, on a 3-member cluster of real etcd processes), in the
// same run. 16 clients each with its own session; reports p50 and p99.
//
//	go test ./cmd/sibyl -run '^$' -bench SharedSessionCall -benchtime 3000x
func BenchmarkSharedSessionCall(b *testing.B) {
	c := etcdtest.StartCluster(b, 3)
	ctx := context.Background()
	st, err := etcdstore.Open(ctx, etcdstore.Options{Endpoints: c.Endpoints(), Prefix: "/bench-sessions/"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	for _, mode := range []struct {
		name     string
		sessions mcp.SessionStore
	}{
		{"local", nil},
		{"shared-etcd", &storeSessions{st: st, idle: 10 * time.Minute, now: time.Now}},
	} {
		b.Run(mode.name, func(b *testing.B) { benchSessionCalls(b, mode.sessions) })
	}
}

func benchSessionCalls(b *testing.B, sessions mcp.SessionStore) {
	srv := mcp.NewServer(mcp.Implementation{Name: "bench", Version: "1"}, nil)
	srv.AddTool(mcp.Tool{Name: "noop", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("ok")}}, nil
		})
	h := mcp.NewHTTPHandler(srv, &mcp.HTTPOptions{JSONResponse: true, Sessions: sessions, SessionIdleTimeout: 10 * time.Minute})
	ts := httptest.NewServer(h)
	defer func() { h.Shutdown(context.Background()); ts.Close() }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	post := func(sid, body string) (string, error) {
		req, _ := http.NewRequest("POST", ts.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
			req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return "", &benchStatusError{resp.StatusCode}
		}
		return resp.Header.Get("Mcp-Session-Id"), nil
	}
	const clients = 16
	sids := make([]string, clients)
	for i := range sids {
		sid, err := post("", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"b","version":"1"}}}`)
		if err != nil {
			b.Fatal(err)
		}
		sids[i] = sid
	}
	const call = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"noop","arguments":{}}}`
	lat := make([][]time.Duration, clients)
	var next sync.Mutex
	left := b.N
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for {
				next.Lock()
				if left == 0 {
					next.Unlock()
					return
				}
				left--
				next.Unlock()
				t0 := time.Now()
				if _, err := post(sids[i], call); err != nil {
					b.Error(err)
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}(i)
	}
	wg.Wait()
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
}

type benchStatusError struct{ code int }

func (e *benchStatusError) Error() string { return "HTTP status " + http.StatusText(e.code) }
