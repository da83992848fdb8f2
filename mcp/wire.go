package mcp

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/sourcegraph/jsonrpc2"
)

// stream is a way to send whole JSON-RPC messages to the client: stdout, an
// HTTP response (JSON or SSE) or the GET stream. write must be safe for
// concurrent use and must not retain msg after it returns.
type stream interface {
	write(msg []byte) error
}

// msgKind says what a message sent to the client is, so that a transport
// decides how to carry it from typed values, never by reading the bytes.
type msgKind int

const (
	kindNotification msgKind = iota // a notification (the default of stream.write)
	kindRequest                     // a server-to-client request
	kindResponse                    // the response to the client's request
)

// typedStream is a stream that wants to know what it carries: the HTTP POST
// answer picks JSON or SSE, and the stateless HTTP status, from the kind and
// the JSON-RPC error (nil for a result).
type typedStream interface {
	stream
	writeTyped(msg []byte, kind msgKind, e *Error) error
}

// send writes msg to st, telling a typedStream its kind and error.
func send(st stream, msg []byte, kind msgKind, e *Error) error {
	if ts, ok := st.(typedStream); ok {
		return ts.writeTyped(msg, kind, e)
	}
	return st.write(msg)
}

// rpcError is the wire form of a JSON-RPC error object. It is jsonrpc2.Error
// (sourcegraph/jsonrpc2), whose Data is raw JSON.
type rpcError = jsonrpc2.Error

// inMsg is one incoming JSON-RPC message: a request, a notification or a
// response to a server request.
type inMsg struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  *string         `json:"method"`
	Params  json.RawMessage `json:"params"`
	Result  json.RawMessage `json:"result"`
	Error   *rpcError       `json:"error"`
}

func (m *inMsg) reset() { *m = inMsg{} }

var inMsgPool = sync.Pool{New: func() any { return new(inMsg) }}

var nullID = json.RawMessage("null")

// parseMsg decodes one message. On failure it returns the JSON-RPC error to
// send and the id to send it with (null when the id is unusable).
func parseMsg(data []byte, m *inMsg) (json.RawMessage, *Error) {
	if !json.Valid(data) {
		return nullID, &Error{Code: CodeParseError, Message: "parse error: the message is not valid JSON"}
	}
	if !parseFast(data, m) {
		m.reset()
		if err := json.Unmarshal(data, m); err != nil {
			return nullID, &Error{Code: CodeInvalidRequest, Message: "invalid request: the message is not a JSON-RPC object: " + err.Error()}
		}
	}
	return checkMsg(m)
}

// parseMsgStd is parseMsg with encoding/json only; tests compare the two.
func parseMsgStd(data []byte, m *inMsg) (json.RawMessage, *Error) {
	if err := json.Unmarshal(data, m); err != nil {
		if !json.Valid(data) {
			return nullID, &Error{Code: CodeParseError, Message: "parse error: the message is not valid JSON"}
		}
		return nullID, &Error{Code: CodeInvalidRequest, Message: "invalid request: the message is not a JSON-RPC object: " + err.Error()}
	}
	return checkMsg(m)
}

// checkMsg checks the shape of a decoded message.
func checkMsg(m *inMsg) (json.RawMessage, *Error) {
	id := m.ID
	if len(id) > 0 && !validID(id) {
		return nullID, &Error{Code: CodeInvalidRequest, Message: "invalid request: id must be a string or an integer"}
	}
	if len(id) == 0 {
		id = nullID
	}
	if m.JSONRPC != "2.0" {
		return id, &Error{Code: CodeInvalidRequest, Message: `invalid request: "jsonrpc" must be "2.0"`}
	}
	if m.Method == nil {
		if len(m.ID) == 0 || (m.Result == nil && m.Error == nil) {
			return id, &Error{Code: CodeInvalidRequest, Message: `invalid request: a request needs "method", a response needs "id" and "result" or "error"`}
		}
		return nil, nil // a response
	}
	if *m.Method == "" {
		return id, &Error{Code: CodeInvalidRequest, Message: `invalid request: "method" must not be empty`}
	}
	if len(m.Params) > 0 && m.Params[0] != '{' && !bytes.Equal(m.Params, nullID) {
		if m.Params[0] == '[' {
			return id, &Error{Code: CodeInvalidParams, Message: "invalid params: params must be an object"}
		}
		return id, &Error{Code: CodeInvalidRequest, Message: "invalid request: params must be an object"}
	}
	return nil, nil
}

// validID reports whether a raw id is a JSON string or integer.
func validID(id json.RawMessage) bool {
	switch c := id[0]; {
	case c == '"':
		return true
	case c == '-' || (c >= '0' && c <= '9'):
		for _, d := range id[1:] {
			if d < '0' || d > '9' {
				return false
			}
		}
		return len(id) > 1 || c != '-'
	}
	return false
}

// idKey turns a raw id into a map key: strings and numbers never collide.
func idKey(id json.RawMessage) string { return string(id) }

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuf() *bytes.Buffer {
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func putBuf(b *bytes.Buffer) {
	if b.Cap() > 1<<20 {
		return
	}
	bufPool.Put(b)
}

// appendResponse appends a success response with a result to buf. result may
// be json.RawMessage (sent verbatim) or any value json can encode.
func appendResponse(buf *bytes.Buffer, id json.RawMessage, result any) error {
	start := buf.Len()
	buf.WriteString(`{"jsonrpc":"2.0","id":`)
	buf.Write(id)
	buf.WriteString(`,"result":`)
	switch r := result.(type) {
	case json.RawMessage:
		buf.Write(r)
	case []byte:
		buf.Write(r)
	case pooledBuf:
		buf.Write(r.b.Bytes())
		putBuf(r.b)
	default:
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(result); err != nil {
			buf.Truncate(start)
			return err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
	}
	buf.WriteByte('}')
	return nil
}

// appendError appends an error response to buf.
func appendError(buf *bytes.Buffer, id json.RawMessage, e *Error) {
	if len(id) == 0 {
		id = nullID
	}
	buf.WriteString(`{"jsonrpc":"2.0","id":`)
	buf.Write(id)
	buf.WriteString(`,"error":{"code":`)
	buf.WriteString(strconv.FormatInt(e.Code, 10))
	buf.WriteString(`,"message":`)
	appendString(buf, e.Message)
	if e.Data != nil {
		d, err := json.Marshal(e.Data)
		if err == nil {
			buf.WriteString(`,"data":`)
			buf.Write(d)
		}
	}
	buf.WriteString(`}}`)
}

func errorBytes(id json.RawMessage, e *Error) []byte {
	var b bytes.Buffer
	appendError(&b, id, e)
	return b.Bytes()
}

func encodeNotification(method string, params any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"jsonrpc":"2.0","method":`)
	appendString(&b, method)
	if params != nil {
		b.WriteString(`,"params":`)
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(params); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
