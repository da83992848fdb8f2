package mcp

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// hedgeLikeServer serves one tool whose successful result carries, as data, a
// failed leg whose error object looks like a JSON-RPC error (numeric code),
// both in its text and in its structured content.
func hedgeLikeServer(tb testing.TB) *Server {
	tb.Helper()
	s := NewServer(Implementation{Name: "test", Version: "1"}, nil)
	s.AddTool(Tool{Name: "hedge_like", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *CallToolRequest) (*CallToolResult, error) {
			// A struct keeps the field order of a real answer: the error
			// object follows another member, as `,"error":{"code":`.
			type legErr struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			type leg struct {
				Market string `json:"market"`
				Error  legErr `json:"error"`
			}
			legs := struct {
				Legs []leg `json:"legs"`
			}{[]leg{{"paper:X", legErr{-32601, "leg failed"}}}}
			b, _ := json.Marshal(legs)
			return &CallToolResult{Content: []Content{TextContent(string(b))}, StructuredContent: legs}, nil
		})
	return s
}

// TestHTTPDecidesFromTypedValues: a successful result whose data contains
// `,"error":{"code":` is neither sent as an error (JSON instead of the SSE
// stream the server prefers) nor given an error status on the stateless
// revision.
func TestHTTPDecidesFromTypedValues(t *testing.T) {
	t.Run("sse preferred", func(t *testing.T) {
		ts, _ := startHTTP(t, hedgeLikeServer(t), &HTTPOptions{}) // JSONResponse false: SSE answers
		c := &httpClient{tb: t, url: ts.URL}
		c.initialize("2025-11-25")
		resp := c.do("POST", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"hedge_like","arguments":{}}}`, nil)
		ct := resp.Header.Get("Content-Type")
		ms := readMsgs(t, resp)
		if !strings.HasPrefix(ct, "text/event-stream") {
			t.Errorf("Content-Type: got %q, want text/event-stream (the result is not an error)", ct)
		}
		if len(ms) != 1 || ms[0].Error != nil || !strings.Contains(string(ms[0].Result), `"legs"`) {
			t.Fatalf("got %v, want one result", ms)
		}
		// A real JSON-RPC error still comes back as JSON, which clients read most easily.
		resp = c.do("POST", `{"jsonrpc":"2.0","id":8,"method":"no/such"}`, nil)
		ct = resp.Header.Get("Content-Type")
		ms = readMsgs(t, resp)
		if ct != "application/json" || len(ms) != 1 || ms[0].Error == nil || ms[0].Error.Code != CodeMethodNotFound {
			t.Errorf("unknown method: got %q %v, want a JSON -32601", ct, ms)
		}
	})
	t.Run("stateless status", func(t *testing.T) {
		ts, _ := startHTTP(t, hedgeLikeServer(t), &HTTPOptions{JSONResponse: true})
		meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
		c := &httpClient{tb: t, url: ts.URL, hv: "2026-07-28"}
		resp := c.do("POST", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"hedge_like","arguments":{},`+meta+`}}`,
			map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "hedge_like"})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status: got %d, want 200 for a result", resp.StatusCode)
		}
		ms := readMsgs(t, resp)
		if len(ms) != 1 || ms[0].Error != nil {
			t.Fatalf("got %v, want one result", ms)
		}
	})
}

func TestStatelessStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    *Error
		want int
	}{
		{"result", nil, 200},
		{"method not found", &Error{Code: CodeMethodNotFound}, 404},
		{"bad _meta", metaError(invalidParams("_meta is missing x")), 400},
		{"tool params", invalidParams("unknown argument _meta_x"), 200},
		{"header mismatch", &Error{Code: CodeHeaderMismatch}, 400},
		{"internal", &Error{Code: CodeInternalError}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := statelessStatus(tc.e); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}
