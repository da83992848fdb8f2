package mcp

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

// TestSSEKeepAlive: an SSE stream that carries nothing gets a comment line
// every SSEKeepAlive, so that a proxy's idle timeout does not cut it: the
// GET stream, and a POST whose answer takes longer (it turns into an SSE
// stream when the client takes one; its result still arrives whole). A client
// that asked for JSON gets JSON, without comments.
func TestSSEKeepAlive(t *testing.T) {
	slow := func(s *Server) {
		s.AddTool(Tool{Name: "slow_ka", InputSchema: json.RawMessage(`{"type":"object"}`)}, func(ctx context.Context, req *CallToolRequest) (*CallToolResult, error) {
			time.Sleep(400 * time.Millisecond)
			return &CallToolResult{Content: []Content{TextContent("done")}}, nil
		})
	}
	const every = 50 * time.Millisecond
	call := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"slow_ka","arguments":{}}}`

	t.Run("GET stream", func(t *testing.T) {
		ts, _ := startHTTP(t, testServer(t), &HTTPOptions{SSEKeepAlive: every})
		c := &httpClient{tb: t, url: ts.URL}
		c.initialize("2025-11-25")
		resp := c.do("GET", "", map[string]string{"Accept": "text/event-stream", "Content-Type": ""})
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		comments := 0
		deadline := time.After(10 * time.Second)
		for comments < 3 {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("the GET stream ended")
				}
				if l == ": keepalive" {
					comments++
				} else if l != "" {
					t.Fatalf("unexpected line on an idle GET stream: %q", l)
				}
			case <-deadline:
				t.Fatalf("%d keepalive comments on an idle GET stream in 10 s (every %v), want 3", comments, every)
			}
		}
	})

	t.Run("slow POST turns into SSE", func(t *testing.T) {
		s := testServer(t)
		slow(s)
		ts, _ := startHTTP(t, s, &HTTPOptions{SSEKeepAlive: every})
		c := &httpClient{tb: t, url: ts.URL}
		c.initialize("2025-11-25")
		resp := c.do("POST", call, nil)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
			t.Fatalf("Content-Type %q, want text/event-stream", ct)
		}
		text := string(body)
		if !strings.HasPrefix(text, ": keepalive\n\n") || strings.Count(text, "data: ") != 1 || !strings.Contains(text, `"done"`) {
			t.Fatalf("answer:\n%s\nwant keepalive comments, then the one result", text)
		}
	})

	t.Run("JSON asked for", func(t *testing.T) {
		s := testServer(t)
		slow(s)
		ts, _ := startHTTP(t, s, &HTTPOptions{SSEKeepAlive: every, JSONResponse: true})
		c := &httpClient{tb: t, url: ts.URL}
		c.initialize("2025-11-25")
		resp := c.do("POST", call, nil)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" || strings.Contains(string(body), "keepalive") {
			t.Fatalf("%s: %s, want the JSON result alone", ct, body)
		}
	})
}
