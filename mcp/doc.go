// Package mcp implements the Model Context Protocol server side on JSON-RPC 2.0:
// lifecycle and version negotiation, tools, resources, prompts, completion,
// logging, progress and cancellation, over stdio and Streamable HTTP.
//
// It knows nothing of markets: tools are registered on it as values with JSON
// schemas and handlers. It must never write anything but protocol messages to
// stdout.
package mcp
