package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"runtime/debug"
	"sync"
	"unicode/utf8"
)

// pooledBuf is an encoded result in a pooled buffer, released once written.
type pooledBuf struct{ b *bytes.Buffer }

var callReqPool = sync.Pool{New: func() any { return new(CallToolRequest) }}

func (s *Server) callTool(ctx context.Context, r *request) (any, error) {
	p := r.p
	if p.Name == "" {
		return nil, invalidParams("tools/call needs a tool name in params.name")
	}
	s.mu.RLock()
	e, ok := s.tools[p.Name]
	onInvalid := s.invalidArgs
	s.mu.RUnlock()
	if !ok {
		return nil, invalidParams("unknown tool %q", p.Name)
	}
	args := p.Arguments
	if len(args) == 0 || string(args) == "null" {
		args = json.RawMessage("{}")
	} else if args[0] != '{' {
		return nil, invalidParams("tools/call arguments must be a JSON object")
	}
	if e.validator != nil {
		if err := e.validator.Validate(args); err != nil {
			field, msg := validationDetails(err)
			if onInvalid != nil {
				onInvalid(ctx, &CallToolRequest{Name: p.Name, Arguments: args, Session: r.sess}, field, msg)
			}
			return toolErrorResult("invalid", msg, field, false), nil
		}
	}
	req := callReqPool.Get().(*CallToolRequest)
	*req = CallToolRequest{Name: p.Name, Arguments: args, Session: r.sess}
	if len(r.rc.progressToken) > 0 && string(r.rc.progressToken) != "null" {
		req.ProgressToken = r.rc.progressToken
	}
	res, err := s.runTool(ctx, e, req)
	*req = CallToolRequest{}
	callReqPool.Put(req)
	if err != nil {
		if errors.Is(err, ErrInputRequired) {
			return nil, err
		}
		var rpc *Error
		if errors.As(err, &rpc) {
			return nil, rpc
		}
		res = &CallToolResult{Content: []Content{TextContent(err.Error())}, IsError: true}
	}
	if res == nil {
		res = &CallToolResult{}
	}
	buf := getBuf()
	if err := appendCallToolResult(buf, res, r.sess.stateless); err != nil {
		putBuf(buf)
		return nil, &Error{Code: CodeInternalError, Message: "internal error: encoding the tool result: " + err.Error()}
	}
	// appendResponse copies the result into the response and recycles buf.
	return pooledBuf{buf}, nil
}

func (s *Server) runTool(ctx context.Context, e *toolEntry, req *CallToolRequest) (res *CallToolResult, err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("mcp: tool handler panicked", "tool", e.tool.Name, "panic", v, "stack", string(debug.Stack()))
			res, err = toolErrorResult("internal", "internal error", "", false), nil
		}
	}()
	return e.handler(ctx, req)
}

// toolError is the machine-readable error object of an isError result.
type toolError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	Retryable bool   `json:"retryable"`
}

// toolErrorResult returns an isError result whose text and structuredContent
// are {"error":{code,message,field?,retryable}}.
func toolErrorResult(code, message, field string, retryable bool) *CallToolResult {
	body := struct {
		Error toolError `json:"error"`
	}{toolError{code, message, field, retryable}}
	b, _ := json.Marshal(body)
	return &CallToolResult{
		Content:           []Content{TextContent(string(b))},
		StructuredContent: json.RawMessage(b),
		IsError:           true,
	}
}

// appendCallToolResult encodes r without reflection for the common content
// kinds; StructuredContent other than json.RawMessage goes through encoding/json.
func appendCallToolResult(b *bytes.Buffer, r *CallToolResult, stateless bool) error {
	b.WriteString(`{"content":[`)
	for i := range r.Content {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := appendContent(b, &r.Content[i]); err != nil {
			return err
		}
	}
	b.WriteByte(']')
	if r.StructuredContent != nil {
		b.WriteString(`,"structuredContent":`)
		switch sc := r.StructuredContent.(type) {
		case json.RawMessage:
			b.Write(sc)
		default:
			enc := json.NewEncoder(b)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(sc); err != nil {
				return err
			}
			b.Truncate(b.Len() - 1)
		}
	}
	if r.IsError {
		b.WriteString(`,"isError":true`)
	}
	if stateless {
		b.WriteString(`,"resultType":"complete"`)
	}
	b.WriteByte('}')
	return nil
}

func appendContent(b *bytes.Buffer, c *Content) error {
	b.WriteString(`{"type":`)
	appendString(b, c.Type)
	if c.Text != "" || c.Type == "text" {
		b.WriteString(`,"text":`)
		appendString(b, c.Text)
	}
	if c.Data != "" {
		b.WriteString(`,"data":`)
		appendString(b, c.Data)
	}
	if c.MimeType != "" {
		b.WriteString(`,"mimeType":`)
		appendString(b, c.MimeType)
	}
	if c.URI != "" {
		b.WriteString(`,"uri":`)
		appendString(b, c.URI)
	}
	if c.Name != "" {
		b.WriteString(`,"name":`)
		appendString(b, c.Name)
	}
	if c.Resource != nil {
		b.WriteString(`,"resource":{"uri":`)
		appendString(b, c.Resource.URI)
		if c.Resource.MimeType != "" {
			b.WriteString(`,"mimeType":`)
			appendString(b, c.Resource.MimeType)
		}
		if c.Resource.Text != "" || c.Resource.Blob == "" {
			b.WriteString(`,"text":`)
			appendString(b, c.Resource.Text)
		}
		if c.Resource.Blob != "" {
			b.WriteString(`,"blob":`)
			appendString(b, c.Resource.Blob)
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, byte for byte as an encoding/json
// Encoder with SetEscapeHTML(false) does, without its allocations; invalid
// UTF-8 becomes U+FFFD. Every string this package writes goes through it.
func appendString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(s[start:i])
			b.WriteString(`\ufffd`)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b.WriteString(s[start:i])
			b.WriteString(`\u202`)
			b.WriteByte(hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}
