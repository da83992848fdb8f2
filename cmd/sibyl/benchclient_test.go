package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// leanClient is the load generator of the HTTP benchmarks: one keep-alive
// HTTP/1.1 connection with hand-written requests and response parsing, in the
// manner of wrk, so that the client's share of the machine's two cores stays
// small next to the server's. It speaks to an MCP session that a
// rawHTTPSession initialized (it reuses its Mcp-Session-Id). Not safe for
// concurrent use: one per simulated client.
type leanClient struct {
	conn   net.Conn
	r      *bufio.Reader
	header []byte // request line and headers up to Content-Length's value
	buf    []byte
	id     int64
}

func dialLean(endpoint, sessionID string) (*leanClient, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	h := "POST " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Session-Id: " + sessionID +
		"\r\nMCP-Protocol-Version: " + ctProtocolVersion + "\r\nContent-Length: "
	return &leanClient{conn: conn, r: bufio.NewReaderSize(conn, 16<<10), header: []byte(h)}, nil
}

func (c *leanClient) Close() error { return c.conn.Close() }

// leanAnswer is the part of a tools/call response the benchmarks check.
type leanAnswer struct {
	Error  *rpcError `json:"error"`
	Result *struct {
		IsError    bool            `json:"isError"`
		Structured json.RawMessage `json:"structuredContent"`
	} `json:"result"`
}

// callTool sends tools/call with the given arguments (a JSON object) and
// returns the structured content of a successful answer, or an error naming
// what came back instead.
func (c *leanClient) callTool(name string, args []byte) (json.RawMessage, error) {
	c.id++
	body := fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, c.id, name, args)
	c.buf = append(append(append(c.buf[:0], c.header...), strconv.Itoa(len(body))...), "\r\n\r\n"...)
	c.buf = append(c.buf, body...)
	if _, err := c.conn.Write(c.buf); err != nil {
		return nil, err
	}
	resp, err := c.readResponse()
	if err != nil {
		return nil, err
	}
	// The common case without decoding the whole answer (its text block
	// repeats the structured content): inside a JSON string every quote is
	// escaped, so these byte sequences can only be members of the response's
	// own objects. Anything else is decoded in full below.
	if i := bytes.Index(resp, structuredKey); i >= 0 && !bytes.Contains(resp, isErrorTrue) && !bytes.Contains(resp, rpcErrorKey) {
		v := resp[i+len(structuredKey):]
		if n := objectEnd(v); n > 0 {
			return v[:n], nil
		}
	}
	var a leanAnswer
	if err := json.Unmarshal(resp, &a); err != nil {
		return nil, fmt.Errorf("decoding %.200q: %w", resp, err)
	}
	switch {
	case a.Error != nil:
		return nil, a.Error
	case a.Result == nil:
		return nil, fmt.Errorf("no result in %.200q", resp)
	case a.Result.IsError:
		return nil, fmt.Errorf("tool error: %s", a.Result.Structured)
	}
	return a.Result.Structured, nil
}

var (
	structuredKey = []byte(`"structuredContent":`)
	isErrorTrue   = []byte(`"isError":true`)
	rpcErrorKey   = []byte(`"error":{"code":-`) // a JSON-RPC error object (negative codes)
)

// objectEnd returns the length of the JSON object at the start of b, or 0 when
// b does not start with a complete one. It matches braces outside strings
// only; the caller's check reads what it needs from the object.
func objectEnd(b []byte) int {
	if len(b) == 0 || b[0] != '{' {
		return 0
	}
	depth, inString := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return 0
}

// readResponse reads one HTTP/1.1 response with a JSON body (Content-Length
// or chunked) and returns the body.
func (c *leanClient) readResponse() ([]byte, error) {
	status, err := c.r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200")) {
		return nil, fmt.Errorf("status %q", bytes.TrimSpace(status))
	}
	length, chunked := -1, false
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		if len(line) <= 2 {
			break
		}
		k, v, _ := strings.Cut(string(line), ":")
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "content-length":
			if length, err = strconv.Atoi(v); err != nil {
				return nil, fmt.Errorf("content-length %q", v)
			}
		case "transfer-encoding":
			chunked = strings.EqualFold(v, "chunked")
		case "content-type":
			if !strings.HasPrefix(v, "application/json") {
				return nil, fmt.Errorf("content-type %q, want JSON", v)
			}
		}
	}
	switch {
	case length >= 0:
		body := make([]byte, length)
		_, err := io.ReadFull(c.r, body)
		return body, err
	case chunked:
		var body []byte
		for {
			line, err := c.r.ReadSlice('\n')
			if err != nil {
				return nil, err
			}
			n, err := strconv.ParseInt(strings.TrimSpace(string(line)), 16, 32)
			if err != nil {
				return nil, fmt.Errorf("chunk size %q", line)
			}
			if n == 0 {
				_, err := c.r.ReadSlice('\n') // the empty trailer
				return body, err
			}
			start := len(body)
			body = append(body, make([]byte, n)...)
			if _, err := io.ReadFull(c.r, body[start:]); err != nil {
				return nil, err
			}
			if _, err := c.r.Discard(2); err != nil {
				return nil, err
			}
		}
	}
	return nil, errors.New("response with neither Content-Length nor chunked encoding")
}

func TestObjectEnd(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{`{"a":1},"b"`, 7},
		{`{"a":"}{\"}","b":[{"c":"]"}]}}`, 29},
		{`{"a":{"b":{}}`, 0}, // incomplete
		{`[1]`, 0},
		{``, 0},
	} {
		if got := objectEnd([]byte(tt.in)); got != tt.want {
			t.Errorf("objectEnd(%s) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
