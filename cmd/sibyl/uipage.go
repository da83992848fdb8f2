package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/sibylmcp/sibyl/mcp"
	"github.com/sibylmcp/sibyl/ui"
)

// mountUI adds the /ui page to mux, behind the same authentication as /mcp
// (with keys: a key with the read scope). The page's tools are called
// through h, the /mcp handler itself, as stateless requests carrying the
// caller's context: the same principal, scopes, rate limit and audit log as
// if the person had called them from an MCP client.
func (m *Main) mountUI(mux *http.ServeMux, h http.Handler, auth *keyAuth) {
	page := ui.Page(uiCaller(h))
	if auth == nil {
		mux.Handle("/ui", m.metrics.WrapHTTP(page))
		return
	}
	mux.Handle("/ui", m.metrics.WrapHTTP(auth.wrap(uiReadScope(auth, page))))
}

// uiReadScope refuses (403) a request whose API key lacks the read scope.
func uiReadScope(auth *keyAuth, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, scopes, err := auth.authenticate(r)
		if err != nil || !(containsScope(scopes, "read") || containsScope(scopes, "trade")) {
			rpcHTTPError(w, http.StatusForbidden, "/ui needs an API key with the read scope")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func containsScope(scopes []string, s string) bool {
	for _, x := range scopes {
		if x == s {
			return true
		}
	}
	return false
}

// memResponse collects an in-process response of the /mcp handler.
type memResponse struct {
	hdr    http.Header
	status int
	body   bytes.Buffer
}

func (w *memResponse) Header() http.Header { return w.hdr }
func (w *memResponse) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *memResponse) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// uiCaller calls tools through the /mcp handler h, in process.
func uiCaller(h http.Handler) ui.Caller {
	return func(r *http.Request, tool string, args map[string]any) (json.RawMessage, error) {
		body, err := json.Marshal(map[string]any{
			"jsonrpc": "2.0", "id": 1, "method": "tools/call",
			"params": map[string]any{"name": tool, "arguments": args, "_meta": map[string]any{
				"io.modelcontextprotocol/protocolVersion":    mcp.Version20260728,
				"io.modelcontextprotocol/clientCapabilities": map[string]any{},
				"io.modelcontextprotocol/clientInfo":         map[string]any{"name": "sibyl-ui", "version": version},
			}},
		})
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, "/mcp", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Host, req.RemoteAddr = r.Host, r.RemoteAddr
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", mcp.Version20260728)
		req.Header.Set("Mcp-Method", "tools/call")
		req.Header.Set("Mcp-Name", tool)
		w := &memResponse{hdr: http.Header{}}
		h.ServeHTTP(w, req)
		out := w.body.Bytes()
		if strings.HasPrefix(w.hdr.Get("Content-Type"), "text/event-stream") {
			out = lastSSEData(out)
		}
		var resp struct {
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			return nil, fmt.Errorf("%s: unreadable answer (HTTP %d)", tool, w.status)
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("%s: %s", tool, resp.Error.Message)
		}
		if len(resp.Result) == 0 {
			return nil, errors.New(tool + ": empty answer")
		}
		return resp.Result, nil
	}
}

// lastSSEData returns the data of the last SSE event in b (the response).
func lastSSEData(b []byte) []byte {
	var last []byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if d, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			last = bytes.TrimSpace(d)
		}
	}
	return last
}
