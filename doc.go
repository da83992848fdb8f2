// Package sibyl holds the domain types every part of the sibyl MCP server shares:
// markets and their outcomes, order books, orders and fills, positions, the Venue
// interfaces that adapters implement, and the error codes that travel from a venue
// or the store to the agent.
//
// The root package imports nothing of ours and does no I/O. Subpackages are named
// after what they wrap (mcp = the protocol, store = bbolt, venues/paper = the paper
// venue) and import this package, not each other; only cmd/sibyl wires concrete
// types together.
package sibyl
