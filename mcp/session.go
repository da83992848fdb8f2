package mcp

// Session is one client connection: a stdio stream or an HTTP Mcp-Session-Id.
type Session struct{}
