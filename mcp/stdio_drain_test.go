package mcp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestStdioPipelinedAndDrained: a client that writes initialize and its
// requests at once and then closes its end (echo ... | sibyl serve) gets every
// answer, including the one of a tool still running when the input ended.
func TestStdioPipelinedAndDrained(t *testing.T) {
	s := NewServer(Implementation{Name: "t", Version: "1"}, nil)
	s.AddTool(Tool{Name: "slow", InputSchema: json.RawMessage(`{"type":"object"}`)}, func(ctx context.Context, req *CallToolRequest) (*CallToolResult, error) {
		select {
		case <-time.After(300 * time.Millisecond):
			return &CallToolResult{Content: []Content{TextContent("done")}}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	in := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"slow","arguments":{}}}`,
		`{"jsonrpc":"2.0","id":3,"method":"ping"}`,
	}, "\n") + "\n"
	var out bytes.Buffer
	if err := s.ServeStdio(context.Background(), strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *Error          `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		if m.Error != nil {
			t.Errorf("id %s: error %v", m.ID, m.Error.Message)
		}
		got[string(m.ID)] = string(m.Result)
	}
	for _, id := range []string{"1", "2", "3"} {
		if _, ok := got[id]; !ok {
			t.Errorf("no answer for id %s; got %v", id, got)
		}
	}
	if !strings.Contains(got["2"], "done") {
		t.Errorf("slow tool: got %s, want its result (not cancelled at EOF)", got["2"])
	}
}
