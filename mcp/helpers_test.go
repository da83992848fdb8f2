package mcp

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"
)

// testServer returns a server with a few tools used across tests.
func testServer(tb testing.TB) *Server {
	tb.Helper()
	s := NewServer(Implementation{Name: "test", Version: "1.0.0"}, &ServerOptions{Instructions: "be nice", PageSize: 2})
	s.AddTool(Tool{Name: "echo", Description: "echoes", InputSchema: json.RawMessage(`{"type":"object","properties":{"text":{"type":"string","description":"t"}},"required":["text"]}`)},
		func(ctx context.Context, req *CallToolRequest) (*CallToolResult, error) {
			var in struct{ Text string }
			json.Unmarshal(req.Arguments, &in)
			return &CallToolResult{Content: []Content{TextContent(in.Text)}}, nil
		})
	s.AddTool(Tool{Name: "slow", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *CallToolRequest) (*CallToolResult, error) {
			<-ctx.Done()
			return &CallToolResult{Content: []Content{TextContent("cancelled")}}, nil
		})
	s.AddTool(Tool{Name: "progress", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *CallToolRequest) (*CallToolResult, error) {
			for i := 1; i <= 3; i++ {
				if err := req.Progress(ctx, float64(i), 3, "step"); err != nil {
					return nil, err
				}
			}
			return &CallToolResult{Content: []Content{TextContent("done")}}, nil
		})
	s.AddTool(Tool{Name: "logs", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *CallToolRequest) (*CallToolResult, error) {
			for _, l := range []string{"debug", "info", "warning", "error"} {
				req.Session.Log(ctx, l, "test", l)
			}
			return &CallToolResult{}, nil
		})
	s.AddTool(Tool{Name: "panics", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *CallToolRequest) (*CallToolResult, error) {
			panic("boom")
		})
	s.AddTool(Tool{Name: "fails", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *CallToolRequest) (*CallToolResult, error) {
			return nil, io.ErrUnexpectedEOF
		})
	s.AddTool(Tool{Name: "sample", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *CallToolRequest) (*CallToolResult, error) {
			res, err := req.Session.CreateMessage(ctx, json.RawMessage(`{"messages":[],"maxTokens":5}`))
			if err != nil {
				return nil, err
			}
			el, err := req.Session.Elicit(ctx, json.RawMessage(`{"message":"hi","requestedSchema":{"type":"object"}}`))
			if err != nil {
				return nil, err
			}
			return &CallToolResult{Content: []Content{TextContent(string(res) + "|" + string(el))}}, nil
		})
	s.AddResource(Resource{URI: "test://a", Name: "a"}, func(ctx context.Context, uri string, _ *Session) ([]ResourceContents, error) {
		return []ResourceContents{{URI: uri, Text: "A"}}, nil
	})
	s.AddResourceTemplate(ResourceTemplate{URITemplate: "test://t/{id}/data", Name: "t"}, func(ctx context.Context, uri string, _ *Session) ([]ResourceContents, error) {
		return []ResourceContents{{URI: uri, Text: "T"}}, nil
	})
	s.AddPrompt(Prompt{Name: "greet", Arguments: []PromptArgument{{Name: "who", Required: true}}}, func(ctx context.Context, args map[string]string, _ *Session) (*GetPromptResult, error) {
		return &GetPromptResult{Messages: []PromptMessage{{Role: "user", Content: TextContent("hi " + args["who"])}}}, nil
	})
	s.SetCompletionHandler(func(ctx context.Context, ref CompletionRef, name, value string, _ map[string]string) ([]string, error) {
		return []string{value + "1", value + "2"}, nil
	})
	return s
}

// msg is a decoded message seen by the test client.
type msg struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
	raw    string
}

// stdioClient drives ServeStdio over real pipes.
type stdioClient struct {
	tb   testing.TB
	w    io.WriteCloser
	msgs chan msg
	done chan error
}

func startStdio(tb testing.TB, s *Server) *stdioClient {
	tb.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &stdioClient{tb: tb, w: inW, msgs: make(chan msg, 1000), done: make(chan error, 1)}
	go func() {
		err := s.ServeStdio(context.Background(), inR, outW)
		outW.Close()
		c.done <- err
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		for sc.Scan() {
			var m msg
			if len(sc.Bytes()) > 0 && sc.Bytes()[0] == '[' && json.Valid(sc.Bytes()) {
				c.msgs <- msg{raw: sc.Text()}
				continue
			}
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				tb.Errorf("server wrote a line that is not JSON: %q", sc.Text())
				continue
			}
			m.raw = sc.Text()
			c.msgs <- m
		}
		close(c.msgs)
	}()
	tb.Cleanup(func() { c.w.Close() })
	return c
}

func (c *stdioClient) send(line string) {
	c.tb.Helper()
	if _, err := io.WriteString(c.w, line+"\n"); err != nil {
		c.tb.Fatalf("writing %q: %v", line, err)
	}
}

// next returns the next message, failing after a generous timeout (a hang
// guard, not a timing assertion).
func (c *stdioClient) next() msg {
	c.tb.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			c.tb.Fatal("server closed its output")
		}
		return m
	case <-time.After(10 * time.Second):
		c.tb.Fatal("no message from the server")
	}
	return msg{}
}

// nextResponse skips notifications and returns the next response.
func (c *stdioClient) nextResponse() msg {
	c.tb.Helper()
	for {
		m := c.next()
		if m.Method == "" {
			return m
		}
	}
}

func (c *stdioClient) initialize(version string) msg {
	c.tb.Helper()
	c.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"` + version + `","capabilities":{"sampling":{},"elicitation":{}},"clientInfo":{"name":"t","version":"1"}}}`)
	m := c.nextResponse()
	c.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return m
}

// mustJSON decodes raw into a generic value.
func mustJSON(tb testing.TB, raw json.RawMessage) map[string]any {
	tb.Helper()
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		tb.Fatalf("decoding %s: %v", raw, err)
	}
	return v
}
