package mcp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/sourcegraph/jsonrpc2"
)

const defaultMaxMessage = 4 << 20

// errLineTooLong reports a stdio line over the size limit; the line is skipped.
var errLineTooLong = errors.New("mcp: message too large")

// lineStream is a jsonrpc2.ObjectStream over newline-delimited JSON. Unlike
// jsonrpc2's codecs it never gives up on a bad message: ReadObject returns
// the raw line and leaves judging it to the server, and a line over the limit
// is skipped with errLineTooLong so the session goes on.
type lineStream struct {
	r   *bufio.Reader
	max int

	mu     sync.Mutex
	w      *bufio.Writer
	closed bool
}

var _ jsonrpc2.ObjectStream = (*lineStream)(nil)

func newLineStream(r io.Reader, w io.Writer, max int) *lineStream {
	return &lineStream{r: bufio.NewReaderSize(r, 64<<10), max: max, w: bufio.NewWriterSize(w, 64<<10)}
}

// ReadObject reads the next non-empty line into v, which must be a *[]byte or
// *json.RawMessage. The bytes are valid until the next call.
func (s *lineStream) ReadObject(v interface{}) error {
	for {
		line, err := s.readLine()
		if err != nil && err != errLineTooLong {
			return err
		}
		if err == nil {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
		}
		switch p := v.(type) {
		case *[]byte:
			*p = line
		case *json.RawMessage:
			*p = line
		default:
			return errors.New("mcp: lineStream reads into *[]byte only")
		}
		return err
	}
}

var lineBufPool = sync.Pool{New: func() any { return new([]byte) }}

// readLine returns the next line without its newline. The result aliases the
// reader's buffer or an internal buffer and is valid until the next call.
func (s *lineStream) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], nil
	}
	if err != bufio.ErrBufferFull {
		if err == io.EOF && len(line) > 0 {
			return line, nil // last line without a newline
		}
		return nil, err
	}
	// Long line: accumulate up to the limit.
	acc := lineBufPool.Get().(*[]byte)
	buf := append((*acc)[:0], line...)
	defer func() { *acc = buf[:0]; lineBufPool.Put(acc) }()
	for {
		line, err = s.r.ReadSlice('\n')
		if len(buf)+len(line) > s.max {
			// Skip the rest of the line.
			for err == bufio.ErrBufferFull {
				_, err = s.r.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			return nil, errLineTooLong
		}
		buf = append(buf, line...)
		if err == nil {
			return bytes.Clone(buf[:len(buf)-1]), nil
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF && len(buf) > 0 {
				return bytes.Clone(buf), nil
			}
			return nil, err
		}
	}
}

// WriteObject writes one message and a newline, and flushes. obj may be
// json.RawMessage or []byte (written verbatim) or any JSON-encodable value.
func (s *lineStream) WriteObject(obj interface{}) error {
	var b []byte
	switch o := obj.(type) {
	case json.RawMessage:
		b = o
	case []byte:
		b = o
	default:
		var err error
		if b, err = json.Marshal(obj); err != nil {
			return err
		}
	}
	return s.write(b)
}

// Close stops further writes; the underlying reader and writer stay open
// because they belong to the caller.
func (s *lineStream) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

func (s *lineStream) write(msg []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return io.ErrClosedPipe
	}
	s.w.Write(msg)
	s.w.WriteByte('\n')
	return s.w.Flush()
}

// defaultStdioDrain is ServerOptions.StdioDrain's default.
const defaultStdioDrain = 10 * time.Second

// ServeStdio serves one session over newline-delimited JSON-RPC: requests are
// read from r and responses and notifications written to w, one message per
// line. Requests run concurrently, each in its own goroutine. A malformed line
// gets an error response and the session goes on. At EOF on r, ServeStdio lets
// the requests in flight finish and answer (up to ServerOptions.StdioDrain) and returns
// nil; when ctx ends it returns ctx.Err(). Either way it then cancels the
// handlers still running and waits for them to return.
func (s *Server) ServeStdio(ctx context.Context, r io.Reader, w io.Writer) error {
	return s.ServeStream(ctx, r, w, "")
}

// ServeStream serves one stdio-framed session (one JSON message per line)
// over r and w, like ServeStdio, under the session id id: a process that
// serves several local clients over one socket gives each its own id, so that
// what is tied to a session (cancel on disconnect) stays with it. The session
// acts for principal "local" with every scope, over transport "stdio".
func (s *Server) ServeStream(ctx context.Context, r io.Reader, w io.Writer, id string) error {
	max := s.opts.MaxMessageBytes
	if max <= 0 {
		max = defaultMaxMessage
	}
	drain := s.opts.StdioDrain
	if drain <= 0 {
		drain = defaultStdioDrain
	}
	ls := newLineStream(r, w, max)
	sess := newSession(ctx, s, id, "local", nil, "stdio")
	sess.setOut(ls)
	s.addSession(sess)

	var wg sync.WaitGroup
	defer func() {
		s.removeSession(sess) // cancels in-flight handlers
		wg.Wait()
		ls.Close()
	}()

	lines := make(chan []byte)
	errc := make(chan error, 1)
	go func() {
		for {
			var line []byte
			err := ls.ReadObject(&line)
			if err == errLineTooLong {
				_ = ls.write(errorBytes(nullID, &Error{Code: CodeInvalidRequest, Message: "invalid request: message exceeds " + strconv.Itoa(max) + " bytes"}))
				continue
			}
			if err != nil {
				errc <- err
				return
			}
			select {
			case lines <- line:
				<-lines // wait until the line is consumed: it aliases the read buffer
			case <-sess.ctx.Done():
				errc <- sess.ctx.Err()
				return
			}
		}
	}()

	for {
		select {
		case line := <-lines:
			s.handleLine(sess, line, ls, &wg)
			lines <- nil
		case err := <-errc:
			if err == io.EOF || errors.Is(err, io.ErrClosedPipe) {
				// The client is done sending: let the requests already in
				// flight finish and answer (a piped batch of requests gets
				// every answer; an order being placed is not cut off), for at
				// most stdioDrain, then cancel what is left.
				drained := make(chan struct{})
				go func() { wg.Wait(); close(drained) }()
				select {
				case <-drained:
				case <-time.After(drain):
				case <-ctx.Done():
				}
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// handleLine handles one stdio line: a message or a batch.
func (s *Server) handleLine(sess *Session, line []byte, out stream, wg *sync.WaitGroup) {
	if line[0] == '[' {
		s.handleBatch(sess, line, out, wg)
		return
	}
	s.handleMessage(sess, line, out, out, wg)
}

// handleMessage parses one message and dispatches it; requests run in their
// own goroutine. Notifications and server requests go to out, the response
// to reply.
func (s *Server) handleMessage(sess *Session, data []byte, out, reply stream, wg *sync.WaitGroup) {
	m := inMsgPool.Get().(*inMsg)
	m.reset()
	defer inMsgPool.Put(m)
	if id, e := parseMsg(data, m); e != nil {
		_ = reply.write(errorBytes(id, e))
		return
	}
	switch {
	case m.Method == nil:
		sess.deliver(m)
	case len(m.ID) == 0:
		s.serveNotification(sess, *m.Method, m.Params)
	case *m.Method == "initialize":
		// Inline, so that a client that sends its next requests without waiting
		// for the answer finds the session initialized.
		s.handleRequest(sess.ctx, nil, sess, m.ID, *m.Method, m.Params, out, reply)
	default:
		id, method, params := m.ID, *m.Method, m.Params
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handleRequest(sess.ctx, nil, sess, id, method, params, out, reply)
		}()
	}
}

// batchStream collects the responses of a batch.
type batchStream struct {
	mu  sync.Mutex
	buf bytes.Buffer
	n   int
}

func (b *batchStream) write(msg []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n > 0 {
		b.buf.WriteByte(',')
	}
	b.n++
	b.buf.Write(msg)
	return nil
}

// array returns the collected responses as one JSON array. Call it once
// every message of the batch has been answered.
func (b *batchStream) array() []byte {
	out := make([]byte, 0, b.buf.Len()+2)
	return append(append(append(out, '['), b.buf.Bytes()...), ']')
}

// handleBatch serves a JSON array of messages on 2025-03-26, the only
// revision with batching; later revisions answer -32600.
func (s *Server) handleBatch(sess *Session, line []byte, out stream, wg *sync.WaitGroup) {
	elems, e := decodeBatch(line)
	if e == nil {
		e = checkBatch(elems, sess.ProtocolVersion(), DefaultMaxBatch)
	}
	if e != nil {
		_ = out.write(errorBytes(nullID, e))
		return
	}
	bs := &batchStream{}
	var bwg sync.WaitGroup
	for _, msg := range elems {
		s.handleMessage(sess, msg, out, bs, &bwg)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		bwg.Wait()
		if bs.n == 0 {
			return
		}
		_ = out.write(bs.array())
	}()
}

// decodeBatch splits a JSON-RPC batch into its messages; the error is the
// one to answer instead (-32700 or -32600).
func decodeBatch(body []byte) ([]json.RawMessage, *Error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		if !json.Valid(body) {
			return nil, &Error{Code: CodeParseError, Message: "parse error: the batch is not valid JSON"}
		}
		return nil, &Error{Code: CodeInvalidRequest, Message: "invalid request: " + err.Error()}
	}
	return elems, nil
}

// checkBatch returns the -32600 error for a batch a session on version may
// not send: batches exist only in 2025-03-26, must not be empty, and hold at
// most max entries (max <= 0: no bound).
func checkBatch(elems []json.RawMessage, version string, max int) *Error {
	if version != Version20250326 {
		uses := "has not negotiated one"
		if version != "" {
			uses = "uses " + version
		}
		return &Error{Code: CodeInvalidRequest, Message: "invalid request: JSON-RPC batches exist only in protocol revision " + Version20250326 + " and this session " + uses + "; send the messages one by one"}
	}
	if len(elems) == 0 {
		return &Error{Code: CodeInvalidRequest, Message: "invalid request: empty batch"}
	}
	if max > 0 && len(elems) > max {
		return &Error{Code: CodeInvalidRequest, Message: "invalid request: a batch holds at most " + strconv.Itoa(max) + " messages and this one has " +
			strconv.Itoa(len(elems)) + "; nothing in it was run: split it", Data: map[string]int{"max_batch": max, "entries": len(elems)}}
	}
	return nil
}
