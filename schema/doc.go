// Package schema turns Go types into portable JSON Schemas for MCP tools and
// validates tool arguments against them before any handler runs.
//
// Clients reject schemas the spec allows (DESIGN.md section 3), so every schema a
// tool publishes goes through Portable: one top-level object, no $ref or $defs,
// one type per value, items on every array, no $schema. Check lists what is still
// wrong (for example a property without a description) and CheckToolName checks
// tool names; a test over every registered tool runs both.
//
// The package must never import other sibyl packages (not even the root): it is a
// leaf that mcp and tools build on, and it must never run a handler or do I/O.
//
// # Writing struct tags
//
// Input and output types are plain structs; For reflects input types and
// ForOutput output types with github.com/invopop/jsonschema v0.14.0:
//
//	type PlaceOrderIn struct {
//		Market string  `json:"market" jsonschema_description:"Market ID from search_markets, e.g. KXBTC-26DEC31-T120000."`
//		Side   string  `json:"side" jsonschema:"enum=buy,enum=sell" jsonschema_description:"buy opens or adds, sell reduces."`
//		Price  float64 `json:"limit_price" jsonschema:"minimum=0.01,maximum=0.99" jsonschema_description:"Limit price in dollars per contract, 0.01 to 0.99."`
//		Count  int     `json:"count,omitempty" jsonschema:"minimum=1,default=1" jsonschema_description:"Contracts to buy or sell; default 1."`
//	}
//
// The rules, verified against the library source:
//
//   - Names come from the json tag. A field WITHOUT omitempty (or omitzero) is
//     required; a field with it is optional (not in "required"). `json:"-"` hides a
//     field. `jsonschema:"required"` also makes an omitempty field required.
//   - Descriptions: use `jsonschema_description:"..."`; it may contain commas and
//     any text. `jsonschema:"description=..."` also works but the jsonschema tag
//     is split on commas, so a comma must be written `\\,` inside the tag or the
//     description is cut at the comma. If both are present, description= wins.
//     Every property needs a description written for the model (Check enforces it).
//   - Keywords go in the jsonschema tag, comma separated, one per item:
//     enum=buy,enum=sell (strings and numbers); minimum=, maximum=,
//     exclusiveMinimum=, exclusiveMaximum=, multipleOf= (numbers and integers);
//     minLength=, maxLength=, pattern=, format= (strings); minItems=, maxItems=,
//     uniqueItems=true (slices; other keywords on a slice of strings or numbers
//     apply to its items); default=, example=, title=. A keyword that does not fit
//     the field's type is silently ignored (minimum on a string does nothing), so
//     read the golden schema. A pattern containing a comma needs `\\,`.
//   - Types: string, bool, ints (integer; unsigned ones get "minimum":0), floats
//     (number), slices (array with items), structs and pointers to structs
//     (nested object, inlined), maps with string keys (object with
//     additionalProperties), time.Time (string with format date-time, checked on
//     input), []byte (base64 string), any and json.RawMessage (any value). A pointer is just the pointed-to type: optional
//     means omitempty, not null. `jsonschema:"nullable"` is undone by Portable.
//     chan, func and complex fields and recursive types are errors.
//   - Input structs get additionalProperties:false (unknown arguments are
//     rejected with the list of allowed ones); output structs do not.
//   - Output types: a nil slice, map or pointer marshals as null, which a client
//     checking structuredContent against a non-null type rejects. In Out structs
//     give such fields omitempty, or always fill them.
//
// # Validating arguments
//
// Compile an input schema once at registration and call Validate on every
// tools/call; it returns nil or a *ValidationError whose Field, Rule and Message
// are meant for the model, for example
// `limit_price must be at most 0.99 (got 1.5)`. Absent arguments (an empty
// RawMessage) are validated as {}; null and every other non-object are rejected.
package schema
