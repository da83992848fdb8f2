package mcp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"

	"github.com/sibylmcp/sibyl/mcp"
)

func ExampleServer_ServeStdio() {
	s := mcp.NewServer(mcp.Implementation{Name: "demo", Version: "1.0.0"}, nil)
	s.AddTool(mcp.Tool{
		Name:        "greet",
		Description: "Greets someone by name.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string","description":"who to greet"}},"required":["name"]}`),
	}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var in struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(req.Arguments, &in); err != nil {
			return nil, err
		}
		return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("Hello, " + in.Name + "!")}}, nil
	})

	// One stateless (2026-07-28) request: no initialize needed.
	in := strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"greet","arguments":{"name":"Ada"},` +
		`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}` + "\n")
	if err := s.ServeStdio(context.Background(), in, os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// {"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"Hello, Ada!"}],"resultType":"complete"}}
}

func ExampleNewHTTPHandler() {
	s := mcp.NewServer(mcp.Implementation{Name: "demo", Version: "1.0.0"}, &mcp.ServerOptions{Instructions: "Use greet to say hello."})
	h := mcp.NewHTTPHandler(s, &mcp.HTTPOptions{
		JSONResponse: true,
		Authenticate: func(r *http.Request) (string, []string, error) {
			return "alice", []string{"read"}, nil // look the bearer token up here
		},
	})
	defer h.Shutdown(context.Background())
	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	_ = &http.Server{Addr: "127.0.0.1:7777", Handler: mux} // ListenAndServe in a real program
	// Output:
}
