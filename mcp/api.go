package mcp

import (
	"context"
	"encoding/json"
)

// This file is the contract between the protocol (this package) and the code that
// registers tools, resources and prompts on it (tools/, examples/conformance).
// Field names follow the MCP specification's JSON names.

// Implementation names a server or client in the initialize handshake.
type Implementation struct {
	Name    string `json:"name"`
	Title   string `json:"title,omitempty"`
	Version string `json:"version"`
}

// ToolAnnotations are hints about a tool's behaviour for clients. Pointers are
// used where the specification's default is true, so that false can be sent.
type ToolAnnotations struct {
	Title           string `json:"title,omitempty"`
	ReadOnlyHint    bool   `json:"readOnlyHint,omitempty"`
	DestructiveHint *bool  `json:"destructiveHint,omitempty"`
	IdempotentHint  bool   `json:"idempotentHint,omitempty"`
	OpenWorldHint   *bool  `json:"openWorldHint,omitempty"`
}

// Tool describes a tool for tools/list. InputSchema is required and must be a JSON
// object schema; OutputSchema is optional. Both are sent verbatim.
type Tool struct {
	Name         string           `json:"name"`
	Title        string           `json:"title,omitempty"`
	Description  string           `json:"description,omitempty"`
	InputSchema  json.RawMessage  `json:"inputSchema"`
	OutputSchema json.RawMessage  `json:"outputSchema,omitempty"`
	Annotations  *ToolAnnotations `json:"annotations,omitempty"`
	// Meta is the tool's _meta; the server sets it (MCP Apps' _meta.ui) only
	// for clients that declared the extension.
	Meta map[string]any `json:"_meta,omitempty"`
}

// Content is one content block of a tool result, prompt message or resource.
// Type is "text", "image", "audio", "resource_link" or "resource".
type Content struct {
	Type     string            `json:"type"`
	Text     string            `json:"text,omitempty"`
	Data     string            `json:"data,omitempty"`     // base64, for image and audio
	MimeType string            `json:"mimeType,omitempty"` // for image, audio, resource_link
	URI      string            `json:"uri,omitempty"`      // for resource_link
	Name     string            `json:"name,omitempty"`     // for resource_link
	Resource *ResourceContents `json:"resource,omitempty"` // for embedded resource
}

// TextContent returns a text content block.
func TextContent(text string) Content { return Content{Type: "text", Text: text} }

// CallToolResult is the result of tools/call. StructuredContent, when set, must
// match the tool's OutputSchema. A business failure is a result with IsError set,
// not a Go error.
type CallToolResult struct {
	Content           []Content `json:"content"`
	StructuredContent any       `json:"structuredContent,omitempty"`
	IsError           bool      `json:"isError,omitempty"`
}

// CallToolRequest is what a ToolHandler receives. Arguments have already been
// validated against the tool's InputSchema when the handler runs.
type CallToolRequest struct {
	Name      string          // the tool's name
	Arguments json.RawMessage // the arguments object ("{}" when the client sent none)
	Session   *Session        // the calling session; never nil
	// ProgressToken is the request's _meta.progressToken as raw JSON (a
	// json.RawMessage holding a string or a number), or nil when the client
	// asked for no progress notifications. Use Progress to report.
	ProgressToken any
}

// ToolHandler handles tools/call for one tool. A non-nil error that is an *Error
// becomes a JSON-RPC error response with its code; any other error becomes a
// result with IsError set and the error's text. The context is cancelled when the
// client sends notifications/cancelled for the request or the session ends.
type ToolHandler func(ctx context.Context, req *CallToolRequest) (*CallToolResult, error)

// Resource describes a concrete resource for resources/list.
type Resource struct {
	URI         string `json:"uri"`
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	MimeType    string `json:"mimeType,omitempty"`
}

// ResourceTemplate describes a parameterised resource (RFC 6570 URI template) for
// resources/templates/list.
type ResourceTemplate struct {
	URITemplate string `json:"uriTemplate"`
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	MimeType    string `json:"mimeType,omitempty"`
}

// ResourceContents is the body of a resource: Text or Blob (base64).
type ResourceContents struct {
	URI      string `json:"uri"`
	MimeType string `json:"mimeType,omitempty"`
	Text     string `json:"text,omitempty"`
	Blob     string `json:"blob,omitempty"`
}

// ResourceHandler reads a resource by URI (a concrete resource's URI, or one that
// matches a template). It returns an *Error with code CodeResourceNotFound when
// the URI names nothing.
type ResourceHandler func(ctx context.Context, uri string, s *Session) ([]ResourceContents, error)

// PromptArgument describes one argument of a prompt.
type PromptArgument struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required,omitempty"`
}

// Prompt describes a prompt for prompts/list.
type Prompt struct {
	Name        string           `json:"name"`
	Title       string           `json:"title,omitempty"`
	Description string           `json:"description,omitempty"`
	Arguments   []PromptArgument `json:"arguments,omitempty"`
}

// PromptMessage is one message of a prompt: Role is "user" or "assistant".
type PromptMessage struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
}

// GetPromptResult is the result of prompts/get.
type GetPromptResult struct {
	Description string          `json:"description,omitempty"`
	Messages    []PromptMessage `json:"messages"`
}

// PromptHandler renders a prompt with the given arguments.
type PromptHandler func(ctx context.Context, args map[string]string, s *Session) (*GetPromptResult, error)

// CompletionRef is the ref of completion/complete: {type: "ref/prompt", name} or
// {type: "ref/resource", uri}.
type CompletionRef struct {
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
	URI  string `json:"uri,omitempty"`
}

// CompletionHandler suggests values for one argument being typed.
type CompletionHandler func(ctx context.Context, ref CompletionRef, argName, argValue string, contextArgs map[string]string) ([]string, error)

// Error is a JSON-RPC error: a protocol fault, not a tool failure.
type Error struct {
	Code    int64  `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`

	// badMeta marks an invalid-params fault of the request's _meta (not of a
	// method's own params): stateless HTTP answers it with 400.
	badMeta bool
}

func (e *Error) Error() string { return e.Message }

// JSON-RPC and MCP error codes.
const (
	CodeParseError       = -32700
	CodeInvalidRequest   = -32600
	CodeMethodNotFound   = -32601
	CodeInvalidParams    = -32602
	CodeInternalError    = -32603
	CodeResourceNotFound = -32002
)
