// Package mcp implements the Model Context Protocol server side on JSON-RPC 2.0:
// lifecycle and version negotiation, tools, resources, prompts, completion,
// logging, progress and cancellation, over stdio and Streamable HTTP.
//
// It knows nothing of markets: tools are registered on it as values with JSON
// schemas and handlers. It must never write anything but protocol messages to
// stdout.
//
// Revisions: 2025-03-26, 2025-06-18 and 2025-11-25 use the initialize
// handshake and sessions; 2026-07-28 is stateless (server/discover, the
// version and client capabilities in every request's _meta, resultType in
// results, input-required rounds instead of server-to-client requests,
// subscriptions/listen, Mcp-Method/Mcp-Name headers on HTTP). One server
// serves all of them at once.
//
// Concurrency: every request runs in its own goroutine, so a slow tool never
// blocks a ping; responses go out in completion order.
//
// The JSON-RPC layer uses github.com/sourcegraph/jsonrpc2 for its wire types
// (the error object, the codes) and its ObjectStream interface, which the
// newline-delimited stdio stream implements. It does not use jsonrpc2.Conn:
// Conn closes the connection on the first malformed message (the protocol
// wants a -32700 reply and the session to go on), its ID type cannot hold
// negative ids, and it decodes every message twice through
// map[string]interface{}, which would cost more CPU per call than the whole
// rest of the server.
package mcp
