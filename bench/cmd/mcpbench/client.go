package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// This file is the load generator's own minimal JSON-RPC client, the same for
// every server so that the client's cost is equal: a stdio connection shared
// by many in-flight callers, and one Streamable HTTP session per caller.

const protocolVersion = "2025-06-18"

// rpcResponse is what the client reads of a JSON-RPC message.
type rpcResponse struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"` // set on server requests and notifications
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// err returns the JSON-RPC error as a Go error, or nil.
func (r *rpcResponse) err() error {
	if r.Error != nil {
		return fmt.Errorf("json-rpc error %d: %s", r.Error.Code, r.Error.Message)
	}
	if r.Result == nil {
		return errors.New("response without result")
	}
	return nil
}

// caller sends one request at a time and waits for its response.
type caller interface {
	call(ctx context.Context, method string, params []byte) (*rpcResponse, error)
	notify(ctx context.Context, method string, params []byte) error
}

func appendRequest(b []byte, id int64, method string, params []byte) []byte {
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"method":"`...)
	b = append(b, method...)
	b = append(b, '"')
	if params != nil {
		b = append(b, `,"params":`...)
		b = append(b, params...)
	}
	return append(b, '}')
}

func appendNotification(b []byte, method string, params []byte) []byte {
	b = append(b, `{"jsonrpc":"2.0","method":"`...)
	b = append(b, method...)
	b = append(b, '"')
	if params != nil {
		b = append(b, `,"params":`...)
		b = append(b, params...)
	}
	return append(b, '}')
}

var initializeParams = []byte(`{"protocolVersion":"` + protocolVersion + `","capabilities":{},"clientInfo":{"name":"mcpbench","version":"1.0.0"}}`)

// handshake initializes a session through c.
func handshake(ctx context.Context, c caller) error {
	r, err := c.call(ctx, "initialize", initializeParams)
	if err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	if err := r.err(); err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	return c.notify(ctx, "notifications/initialized", nil)
}

// stdioConn is one newline-delimited JSON-RPC connection to a server's stdin
// and stdout. Request ids carry the caller's slot in their low byte so that
// the reader routes each response without a map.
type stdioConn struct {
	wmu sync.Mutex
	w   io.Writer

	slots []chan *rpcResponse
	done  chan struct{}
	rerr  error
}

const maxSlots = 256

func newStdioConn(w io.Writer, r io.Reader) *stdioConn {
	c := &stdioConn{w: w, slots: make([]chan *rpcResponse, maxSlots), done: make(chan struct{})}
	for i := range c.slots {
		c.slots[i] = make(chan *rpcResponse, 1)
	}
	go c.read(r)
	return c
}

func (c *stdioConn) read(r io.Reader) {
	defer close(c.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		m := new(rpcResponse)
		if err := json.Unmarshal(line, m); err != nil {
			c.rerr = fmt.Errorf("reading the server's stdout: %w: %.200q", err, line)
			return
		}
		if m.Method != "" || len(m.ID) == 0 {
			continue // a notification or a server request: not measured, not answered
		}
		id, err := strconv.ParseInt(string(m.ID), 10, 64)
		if err != nil || id < 0 {
			continue
		}
		select {
		case c.slots[id%maxSlots] <- m:
		default: // a stale response after a timeout; the slot is busy
		}
	}
	c.rerr = sc.Err()
	if c.rerr == nil {
		c.rerr = io.EOF
	}
}

// caller returns the caller that uses slot (0 <= slot < 256).
func (c *stdioConn) caller(slot int) caller { return &stdioCaller{c: c, slot: slot} }

type stdioCaller struct {
	c    *stdioConn
	slot int
	seq  int64
	buf  []byte
}

func (s *stdioCaller) write(b []byte) error {
	s.c.wmu.Lock()
	defer s.c.wmu.Unlock()
	_, err := s.c.w.Write(b)
	return err
}

func (s *stdioCaller) call(ctx context.Context, method string, params []byte) (*rpcResponse, error) {
	s.seq++
	id := s.seq*maxSlots + int64(s.slot)
	s.buf = append(appendRequest(s.buf[:0], id, method, params), '\n')
	if err := s.write(s.buf); err != nil {
		return nil, err
	}
	want := strconv.AppendInt(nil, id, 10)
	for {
		select {
		case m := <-s.c.slots[s.slot]:
			if !bytes.Equal(m.ID, want) {
				continue // stale
			}
			return m, nil
		case <-s.c.done:
			return nil, s.c.rerr
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *stdioCaller) notify(ctx context.Context, method string, params []byte) error {
	return s.write(append(appendNotification(nil, method, params), '\n'))
}

// httpSession is one Streamable HTTP session, used by one goroutine at a time.
type httpSession struct {
	client *http.Client
	url    string
	sid    string
	inited bool
	seq    int64
	buf    []byte
	body   bytes.Buffer
}

func newHTTPTransport() *http.Transport {
	return &http.Transport{
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

func (s *httpSession) post(ctx context.Context, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if s.sid != "" {
		req.Header.Set("Mcp-Session-Id", s.sid)
	}
	if s.inited {
		req.Header.Set("Mcp-Protocol-Version", protocolVersion)
	}
	return s.client.Do(req)
}

func (s *httpSession) call(ctx context.Context, method string, params []byte) (*rpcResponse, error) {
	s.seq++
	s.buf = appendRequest(s.buf[:0], s.seq, method, params)
	resp, err := s.post(ctx, s.buf)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if method == "initialize" {
		s.sid = resp.Header.Get("Mcp-Session-Id")
		s.inited = true
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("%s: HTTP %d: %s", method, resp.StatusCode, bytes.TrimSpace(b))
	}
	want := strconv.AppendInt(nil, s.seq, 10)
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		s.body.Reset()
		if _, err := s.body.ReadFrom(resp.Body); err != nil {
			return nil, err
		}
		m := new(rpcResponse)
		if err := json.Unmarshal(s.body.Bytes(), m); err != nil {
			return nil, fmt.Errorf("%s: decoding the response: %w", method, err)
		}
		if !bytes.Equal(m.ID, want) {
			return nil, fmt.Errorf("%s: response id %s, want %s", method, m.ID, want)
		}
		return m, nil
	case "text/event-stream":
		return readSSE(resp.Body, want)
	}
	return nil, fmt.Errorf("%s: unexpected Content-Type %q", method, resp.Header.Get("Content-Type"))
}

// readSSE reads events until the response with id want. Other messages
// (notifications) are skipped.
func readSSE(r io.Reader, want []byte) (*rpcResponse, error) {
	br := bufio.NewReaderSize(r, 16<<10)
	var data, long []byte
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long, line...)
			continue
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		if len(long) > 0 {
			line = append(long, line...)
			long = long[:0]
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		switch {
		case len(trimmed) == 0 && len(data) > 0:
			m := new(rpcResponse)
			if jerr := json.Unmarshal(data, m); jerr == nil && m.Method == "" && bytes.Equal(m.ID, want) {
				return m, nil
			}
			data = data[:0]
		case bytes.HasPrefix(trimmed, []byte("data:")):
			d := bytes.TrimPrefix(trimmed[5:], []byte(" "))
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, d...)
		}
		if err == io.EOF {
			if len(data) > 0 {
				m := new(rpcResponse)
				if jerr := json.Unmarshal(data, m); jerr == nil && bytes.Equal(m.ID, want) {
					return m, nil
				}
			}
			return nil, errors.New("SSE stream ended without the response")
		}
	}
}

func (s *httpSession) notify(ctx context.Context, method string, params []byte) error {
	resp, err := s.post(ctx, appendNotification(nil, method, params))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", method, resp.StatusCode)
	}
	return nil
}

// closeSession ends the session with DELETE, as a polite client does.
func (s *httpSession) closeSession() {
	if s.sid == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.url, nil)
	if err != nil {
		return
	}
	req.Header.Set("Mcp-Session-Id", s.sid)
	req.Header.Set("Mcp-Protocol-Version", protocolVersion)
	if resp, err := s.client.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// isToolError reports whether a tools/call result has isError set.
func isToolError(result []byte) bool {
	return bytes.Contains(result, []byte(`"isError":true`))
}
