// Package bench holds the tools/call benchmark of sibyl's MCP server against
// the official Go SDK and mark3labs/mcp-go: three small servers under servers/
// that register the same trivial tool (served over HTTP by the one loop in
// internal/serve, so only the MCP library differs), and the load generator
// cmd/mcpbench.
//
// It is a module of its own so that the peers never enter the main go.mod;
// `go test ./...` at the repository root does not build it. Results and the
// commands that produced them are in BENCHMARKS.md at the repository root.
package bench
