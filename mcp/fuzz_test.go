package mcp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

var intID = regexp.MustCompile(`^-?[0-9]+$`)

// requestID reports whether line is a well-formed JSON-RPC request (one that
// must get exactly one response) and returns its id, decoded.
func requestID(line []byte) (any, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(line, &m) != nil {
		return nil, false
	}
	var v, method string
	if json.Unmarshal(m["jsonrpc"], &v) != nil || v != "2.0" {
		return nil, false
	}
	if json.Unmarshal(m["method"], &method) != nil || method == "" {
		return nil, false
	}
	raw, ok := m["id"]
	if !ok {
		return nil, false
	}
	raw = bytes.TrimSpace(raw)
	var id any
	switch {
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		id = s
	case intID.Match(raw):
		var f float64
		json.Unmarshal(raw, &f)
		id = f
	default:
		return nil, false
	}
	if p, ok := m["params"]; ok {
		p = bytes.TrimSpace(p)
		if len(p) == 0 || (p[0] != '{' && string(p) != "null") {
			return nil, false // answered, but as invalid: counted below
		}
	}
	return id, true
}

// fuzzServer has only tools that never wait for the client.
func fuzzServer(tb testing.TB) *Server {
	s := testServer(tb)
	s.mu.Lock()
	for _, name := range []string{"slow", "sample"} {
		delete(s.tools, name)
		for i, e := range s.toolOrder {
			if e.tool.Name == name {
				s.toolOrder = append(s.toolOrder[:i], s.toolOrder[i+1:]...)
				break
			}
		}
	}
	s.toolPages, s.toolPages26 = nil, nil
	s.mu.Unlock()
	return s
}

var fuzzSeeds = []string{
	`{"jsonrpc":"2.0","id":1,"method":"ping"}`,
	`{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}`,
	`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"progress","_meta":{"progressToken":1}}}`,
	`{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"cursor":"bzI"}}`,
	`{"jsonrpc":"2.0","id":4,"method":"resources/read","params":{"uri":"test://t/1/data"}}`,
	`{"jsonrpc":"2.0","id":5,"method":"prompts/get","params":{"name":"greet","arguments":{"who":"x"}}}`,
	`{"jsonrpc":"2.0","id":6,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"who","value":"a"}}}`,
	`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"panics"}}`,
	`{"jsonrpc":"2.0","id":8,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`,
	`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`,
	`{"jsonrpc":"2.0","id":"s1","result":{}}`,
	`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`,
	`{"jsonrpc":"2.0","id":-1,"method":"logging/setLevel","params":{"level":"error"}}`,
	`{"jsonrpc":"2.0","id":null,"method":"ping"}`,
	`{"id":1}`, `{`, `null`, `""`, `[]`, `{"jsonrpc":"2.0","id":1.5,"method":"x"}`,
}

// FuzzStdio feeds one line to a session over pipes: the server must not panic,
// must write only JSON lines, and must answer a well-formed request exactly
// once and anything else at most once.
func FuzzStdio(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	srv := fuzzServer(f)
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.ContainsAny(line, "\n\r") || len(line) > 64<<10 {
			return
		}
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- srv.ServeStdio(context.Background(), inR, outW)
			outW.Close()
		}()
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		io.WriteString(inW, `{"jsonrpc":"2.0","id":"__init__","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}`+"\n")
		if !sc.Scan() {
			t.Fatal("no initialize response")
		}
		go func() {
			inW.Write(append(line, '\n'))
			io.WriteString(inW, `{"jsonrpc":"2.0","id":"__sentinel__","method":"ping"}`+"\n")
			inW.Close()
		}()
		responses := map[string]int{}
		other := 0
		for sc.Scan() {
			var m struct {
				ID     json.RawMessage `json:"id"`
				Method *string         `json:"method"`
			}
			b := sc.Bytes()
			if len(b) > 0 && b[0] == '[' && json.Valid(b) {
				other++
				continue
			}
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("server wrote a non-JSON line %q", b)
			}
			if m.Method != nil {
				continue // a notification or a server request
			}
			var id any
			json.Unmarshal(m.ID, &id)
			key, _ := json.Marshal(id)
			responses[string(key)]++
		}
		if err := <-done; err != nil {
			t.Fatalf("ServeStdio: %v", err)
		}
		if responses[`"__sentinel__"`] != 1 {
			t.Fatalf("sentinel ping answered %d times", responses[`"__sentinel__"`])
		}
		delete(responses, `"__sentinel__"`)
		total := other
		for _, n := range responses {
			total += n
		}
		if id, ok := requestID(bytes.TrimSpace(line)); ok && id != "__sentinel__" {
			key, _ := json.Marshal(id)
			if responses[string(key)] != 1 || total != 1 {
				t.Fatalf("request %s: responses %v, want exactly one for id %s", line, responses, key)
			}
			return
		}
		if total > 1 {
			t.Fatalf("line %q got %d responses, want at most one", line, total)
		}
	})
}

// FuzzHTTP posts one body to an initialized session: the handler must not
// panic, must answer with a JSON-RPC body or 202, and must answer a
// well-formed request exactly once.
func FuzzHTTP(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	srv := fuzzServer(f)
	h := NewHTTPHandler(srv, &HTTPOptions{JSONResponse: true})
	post := func(body []byte, sid string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "http://localhost/mcp", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		if sid != "" {
			r.Header.Set("Mcp-Session-Id", sid)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	init := post([]byte(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}`), "")
	sid := init.Header().Get("Mcp-Session-Id")
	if init.Code != 200 || sid == "" {
		f.Fatalf("initialize: %d %s", init.Code, init.Body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := post(body, sid)
		ct := w.Header().Get("Content-Type")
		var msgs [][]byte
		switch {
		case w.Code == http.StatusAccepted:
			if w.Body.Len() != 0 {
				t.Fatalf("202 with a body %q", w.Body)
			}
		case strings.HasPrefix(ct, "text/event-stream"):
			for _, l := range strings.Split(w.Body.String(), "\n") {
				if d, ok := strings.CutPrefix(l, "data: "); ok {
					msgs = append(msgs, []byte(d))
				}
			}
		case ct == "application/json":
			msgs = append(msgs, w.Body.Bytes())
		default:
			t.Fatalf("status %d content type %q body %q", w.Code, ct, w.Body)
		}
		responses := 0
		var lastID json.RawMessage
		for _, b := range msgs {
			var m struct {
				ID     json.RawMessage `json:"id"`
				Method *string         `json:"method"`
				Error  *Error          `json:"error"`
			}
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("non-JSON message %q", b)
			}
			if m.Method == nil {
				responses++
				lastID = m.ID
			}
			if w.Code >= 400 && (m.Error == nil || m.Error.Message == "") {
				t.Fatalf("status %d without a JSON-RPC error: %q", w.Code, b)
			}
		}
		if id, ok := requestID(bytes.TrimSpace(body)); ok {
			var got any
			json.Unmarshal(lastID, &got)
			if responses != 1 || got != id {
				t.Fatalf("request %q: %d responses (last id %s), want one for %v", body, responses, lastID, id)
			}
		} else if responses > 1 {
			t.Fatalf("body %q got %d responses", body, responses)
		}
	})
}

// FuzzParse checks that the fast envelope decoder agrees with encoding/json.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"jsonrpc":"2.0","id":null,"method":"a","params":null}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":"a\"b","meth\u006fd":"x","params":{"a":[1,{"b":"}"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// encoding/json matches keys case-insensitively ("ID" sets id); the
		// fast decoder, like JSON-RPC, does not. Skip inputs where it matters.
		lower := bytes.ToLower(data)
		for _, k := range []string{"jsonrpc", "id", "method", "params", "result", "error"} {
			if bytes.Count(lower, []byte(k)) != bytes.Count(data, []byte(k)) || bytes.Contains(data, []byte(`\u`)) {
				return
			}
		}
		var a, b inMsg
		ida, ea := parseMsg(data, &a)
		idb, eb := parseMsgStd(data, &b)
		if (ea == nil) != (eb == nil) || (ea != nil && ea.Code != eb.Code) || string(ida) != string(idb) {
			t.Fatalf("%q: fast %v %s, std %v %s", data, ea, ida, eb, idb)
		}
		if ea != nil {
			return
		}
		if string(a.ID) != string(b.ID) || string(a.Params) != string(b.Params) || a.JSONRPC != b.JSONRPC ||
			(a.Method == nil) != (b.Method == nil) || (a.Method != nil && *a.Method != *b.Method) ||
			string(a.Result) != string(b.Result) || (a.Error == nil) != (b.Error == nil) {
			t.Fatalf("%q: fast %+v, std %+v", data, a, b)
		}
	})
}

// FuzzAppendString checks that appendString writes what an encoding/json
// Encoder without HTML escaping writes, for any string.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote\back`, "\b\f\n\r\t\x00\x1f\x7f", "<a&b>", "\u2028\u2029", "caf\xc3", "\xff\xfe", "emoji 🦉", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want bytes.Buffer
		appendString(&got, s)
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if w := strings.TrimSuffix(want.String(), "\n"); got.String() != w {
			t.Fatalf("appendString(%q): got %s, want %s", s, got.String(), w)
		}
	})
}
