package mcp

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestStdioNegotiation(t *testing.T) {
	for _, tc := range []struct{ ask, want string }{
		{"2025-03-26", "2025-03-26"},
		{"2025-06-18", "2025-06-18"},
		{"2025-11-25", "2025-11-25"},
		{"2024-11-05", "2025-11-25"},
		{"2099-01-01", "2025-11-25"},
		{"2026-07-28", "2025-11-25"},
	} {
		t.Run(tc.ask, func(t *testing.T) {
			c := startStdio(t, testServer(t))
			m := c.initialize(tc.ask)
			if m.Error != nil {
				t.Fatalf("initialize: %v", m.Error)
			}
			r := mustJSON(t, m.Result)
			if got := r["protocolVersion"]; got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			caps := r["capabilities"].(map[string]any)
			for _, k := range []string{"tools", "resources", "prompts", "logging", "completions"} {
				if _, ok := caps[k]; !ok {
					t.Errorf("capability %s missing in %v", k, caps)
				}
			}
			if r["instructions"] != "be nice" {
				t.Errorf("instructions: got %v", r["instructions"])
			}
		})
	}
}

func TestStdioBeforeInitialize(t *testing.T) {
	c := startStdio(t, testServer(t))
	c.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	m := c.next()
	if m.Error == nil || m.Error.Code != CodeInvalidRequest || !strings.Contains(m.Error.Message, "initialize") {
		t.Fatalf("got %s, want -32600 naming initialize", m.raw)
	}
	c.send(`{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	if m := c.next(); m.Error != nil || string(m.Result) != "{}" {
		t.Fatalf("ping before initialize: got %s", m.raw)
	}
	c.initialize("2025-11-25")
	c.send(`{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`)
	if m := c.next(); m.Error == nil || m.Error.Code != CodeInvalidRequest {
		t.Fatalf("second initialize: got %s, want -32600", m.raw)
	}
}

func TestStdioBadInput(t *testing.T) {
	c := startStdio(t, testServer(t))
	c.initialize("2025-11-25")
	for _, tc := range []struct {
		name, line string
		code       int64
		id         string
	}{
		{"malformed", `{"jsonrpc":"2.0","id":1,"method":`, CodeParseError, "null"},
		{"garbage", `hello`, CodeParseError, "null"},
		{"no jsonrpc", `{"id":2,"method":"ping"}`, CodeInvalidRequest, "2"},
		{"wrong jsonrpc", `{"jsonrpc":"1.0","id":3,"method":"ping"}`, CodeInvalidRequest, "3"},
		{"id object", `{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}`, CodeInvalidRequest, "null"},
		{"id bool", `{"jsonrpc":"2.0","id":true,"method":"ping"}`, CodeInvalidRequest, "null"},
		{"id float", `{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, CodeInvalidRequest, "null"},
		{"method number", `{"jsonrpc":"2.0","id":4,"method":5}`, CodeInvalidRequest, "null"},
		{"batch", `[{"jsonrpc":"2.0","id":5,"method":"ping"}]`, CodeInvalidRequest, "null"},
		{"not object", `42`, CodeInvalidRequest, "null"},
		{"unknown method", `{"jsonrpc":"2.0","id":6,"method":"nope"}`, CodeMethodNotFound, "6"},
		{"unknown tool", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"nope"}}`, CodeInvalidParams, "7"},
		{"tool name missing", `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{}}`, CodeInvalidParams, "8"},
		{"params array", `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":[1]}`, CodeInvalidParams, "9"},
		{"params string", `{"jsonrpc":"2.0","id":10,"method":"tools/call","params":"x"}`, CodeInvalidRequest, "10"},
		{"arguments not object", `{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"echo","arguments":[1]}}`, CodeInvalidParams, "11"},
		{"name wrong type", `{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":5}}`, CodeInvalidParams, "12"},
		{"bad cursor", `{"jsonrpc":"2.0","id":13,"method":"tools/list","params":{"cursor":"zzz"}}`, CodeInvalidParams, "13"},
		{"bad log level", `{"jsonrpc":"2.0","id":14,"method":"logging/setLevel","params":{"level":"loud"}}`, CodeInvalidParams, "14"},
		{"unknown prompt", `{"jsonrpc":"2.0","id":15,"method":"prompts/get","params":{"name":"x"}}`, CodeInvalidParams, "15"},
		{"prompt arg missing", `{"jsonrpc":"2.0","id":16,"method":"prompts/get","params":{"name":"greet"}}`, CodeInvalidParams, "16"},
		{"unknown resource", `{"jsonrpc":"2.0","id":17,"method":"resources/read","params":{"uri":"test://nope"}}`, CodeResourceNotFound, "17"},
		{"string id", `{"jsonrpc":"2.0","id":"abc","method":"nope"}`, CodeMethodNotFound, `"abc"`},
		{"negative id", `{"jsonrpc":"2.0","id":-3,"method":"nope"}`, CodeMethodNotFound, `-3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.send(tc.line)
			m := c.next()
			if m.Error == nil {
				t.Fatalf("got %s, want error %d", m.raw, tc.code)
			}
			if m.Error.Code != tc.code {
				t.Errorf("code: got %d, want %d (%s)", m.Error.Code, tc.code, m.Error.Message)
			}
			if string(m.ID) != tc.id {
				t.Errorf("id: got %s, want %s", m.ID, tc.id)
			}
			// The session keeps serving.
			c.send(`{"jsonrpc":"2.0","id":"after","method":"ping"}`)
			if m := c.next(); m.Error != nil || string(m.ID) != `"after"` {
				t.Fatalf("ping after bad input: got %s", m.raw)
			}
		})
	}
	t.Run("unknown tool names it", func(t *testing.T) {
		c.send(`{"jsonrpc":"2.0","id":30,"method":"tools/call","params":{"name":"nope"}}`)
		if m := c.next(); !strings.Contains(m.Error.Message, `"nope"`) {
			t.Errorf("got %q, want the tool named", m.Error.Message)
		}
	})
}

func TestStdioOversizeLine(t *testing.T) {
	s := testServer(t)
	s.opts.MaxMessageBytes = 100 << 10
	c := startStdio(t, s)
	c.initialize("2025-11-25")
	c.send(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("a", 200<<10) + `"}}`)
	if m := c.next(); m.Error == nil || m.Error.Code != CodeInvalidRequest || !strings.Contains(m.Error.Message, "exceeds") {
		t.Fatalf("got %s, want -32600 too large", m.raw)
	}
	c.send(`{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	if m := c.next(); string(m.ID) != "2" || m.Error != nil {
		t.Fatalf("after oversize: got %s", m.raw)
	}
	// Lines longer than the read buffer but under the limit work.
	c.send(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"` + strings.Repeat("b", 80<<10) + `"}}}`)
	if m := c.next(); m.Error != nil || !strings.Contains(string(m.Result), "bbbb") {
		t.Fatalf("long line: got error %v", m.Error)
	}
}

func TestStdioBatch20250326(t *testing.T) {
	c := startStdio(t, testServer(t))
	c.initialize("2025-03-26")
	c.send(`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":2,"method":"nope"}]`)
	m := c.next()
	var arr []msg
	if err := json.Unmarshal([]byte(m.raw), &arr); err != nil || len(arr) != 2 {
		t.Fatalf("got %s, want an array of 2 responses", m.raw)
	}
}

func TestStdioToolsCall(t *testing.T) {
	c := startStdio(t, testServer(t))
	c.initialize("2025-11-25")
	for _, tc := range []struct{ name, params, want string }{
		{"ok", `{"name":"echo","arguments":{"text":"hi <&>"}}`, `{"content":[{"type":"text","text":"hi <&>"}]}`},
		{"invalid args", `{"name":"echo","arguments":{}}`, `{"content":[{"type":"text","text":"{\"error\":{\"code\":\"invalid\",\"message\":\"missing required argument \\\"text\\\"\",\"field\":\"text\",\"retryable\":false}}"}],"structuredContent":{"error":{"code":"invalid","message":"missing required argument \"text\"","field":"text","retryable":false}},"isError":true}`},
		{"wrong type", `{"name":"echo","arguments":{"text":5}}`, `{"content":[{"type":"text","text":"{\"error\":{\"code\":\"invalid\",\"message\":\"text must be a string (got 5)\",\"field\":\"text\",\"retryable\":false}}"}],"structuredContent":{"error":{"code":"invalid","message":"text must be a string (got 5)","field":"text","retryable":false}},"isError":true}`},
		{"panic", `{"name":"panics"}`, `{"content":[{"type":"text","text":"{\"error\":{\"code\":\"internal\",\"message\":\"internal error\",\"retryable\":false}}"}],"structuredContent":{"error":{"code":"internal","message":"internal error","retryable":false}},"isError":true}`},
		{"error", `{"name":"fails"}`, `{"content":[{"type":"text","text":"unexpected EOF"}],"isError":true}`},
		{"empty result", `{"name":"logs"}`, `{"content":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":` + tc.params + `}`)
			m := c.nextResponse()
			if m.Error != nil {
				t.Fatalf("got error %v", m.Error)
			}
			if string(m.Result) != tc.want {
				t.Errorf("got  %s\nwant %s", m.Result, tc.want)
			}
		})
	}
}

func TestStdioPagination(t *testing.T) {
	c := startStdio(t, testServer(t))
	c.initialize("2025-11-25")
	var names []string
	cursor := ""
	for i := 0; i < 10; i++ {
		p := `{}`
		if cursor != "" {
			p = `{"cursor":"` + cursor + `"}`
		}
		c.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":` + p + `}`)
		m := c.next()
		var r struct {
			Tools      []Tool
			NextCursor string
		}
		if err := json.Unmarshal(m.Result, &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Tools) > 2 {
			t.Fatalf("page of %d, want at most 2", len(r.Tools))
		}
		for _, tl := range r.Tools {
			names = append(names, tl.Name)
		}
		if r.NextCursor == "" {
			break
		}
		cursor = r.NextCursor
	}
	want := "echo slow progress logs panics fails sample"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestStdioResourcesPromptsCompletion(t *testing.T) {
	c := startStdio(t, testServer(t))
	c.initialize("2025-11-25")
	for _, tc := range []struct{ name, req, want string }{
		{"list", `{"method":"resources/list"}`, `{"resources":[{"uri":"test://a","name":"a"}]}`},
		{"templates", `{"method":"resources/templates/list"}`, `{"resourceTemplates":[{"uriTemplate":"test://t/{id}/data","name":"t"}]}`},
		{"read", `{"method":"resources/read","params":{"uri":"test://a"}}`, `{"contents":[{"uri":"test://a","text":"A"}]}`},
		{"read template", `{"method":"resources/read","params":{"uri":"test://t/42/data"}}`, `{"contents":[{"uri":"test://t/42/data","text":"T"}]}`},
		{"subscribe", `{"method":"resources/subscribe","params":{"uri":"test://a"}}`, `{}`},
		{"unsubscribe", `{"method":"resources/unsubscribe","params":{"uri":"test://a"}}`, `{}`},
		{"prompts", `{"method":"prompts/list"}`, `{"prompts":[{"name":"greet","arguments":[{"name":"who","required":true}]}]}`},
		{"prompt", `{"method":"prompts/get","params":{"name":"greet","arguments":{"who":"bob"}}}`, `{"messages":[{"role":"user","content":{"type":"text","text":"hi bob"}}]}`},
		{"complete", `{"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"who","value":"b"}}}`, `{"completion":{"hasMore":false,"total":2,"values":["b1","b2"]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.send(`{"jsonrpc":"2.0","id":1,` + tc.req[1:])
			m := c.next()
			if m.Error != nil {
				t.Fatalf("got error %v", m.Error)
			}
			if string(m.Result) != tc.want {
				t.Errorf("got  %s\nwant %s", m.Result, tc.want)
			}
		})
	}
}

func TestStdioCancellation(t *testing.T) {
	c := startStdio(t, testServer(t))
	c.initialize("2025-11-25")
	c.send(`{"jsonrpc":"2.0","id":"slow1","method":"tools/call","params":{"name":"slow"}}`)
	// A slow tool does not block a ping.
	c.send(`{"jsonrpc":"2.0","id":"p","method":"ping"}`)
	if m := c.next(); string(m.ID) != `"p"` {
		t.Fatalf("got %s, want the ping response first", m.raw)
	}
	c.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"slow1","reason":"test"}}`)
	// The cancelled request gets no response: the next message is the ping's.
	c.send(`{"jsonrpc":"2.0","id":"p2","method":"ping"}`)
	if m := c.next(); string(m.ID) != `"p2"` {
		t.Fatalf("got %s, want no response for the cancelled request", m.raw)
	}
}

func TestStdioCancelReachesHandler(t *testing.T) {
	s := testServer(t)
	started, stopped := make(chan struct{}), make(chan error, 1)
	s.AddTool(Tool{Name: "watch", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *CallToolRequest) (*CallToolResult, error) {
			close(started)
			<-ctx.Done()
			stopped <- ctx.Err()
			return &CallToolResult{}, nil
		})
	c := startStdio(t, s)
	c.initialize("2025-11-25")
	c.send(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"watch"}}`)
	<-started
	c.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}`)
	if err := <-stopped; err != context.Canceled {
		t.Fatalf("handler ctx: got %v, want context.Canceled", err)
	}
	c.send(`{"jsonrpc":"2.0","id":8,"method":"ping"}`)
	if m := c.next(); string(m.ID) != "8" {
		t.Fatalf("got %s, want no response for the cancelled request", m.raw)
	}
}

func TestStdioProgressBeforeResponse(t *testing.T) {
	c := startStdio(t, testServer(t))
	c.initialize("2025-11-25")
	c.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"progress","_meta":{"progressToken":"tok"}}}`)
	var got []float64
	for {
		m := c.next()
		if m.Method == "notifications/progress" {
			p := mustJSON(t, m.Params)
			if p["progressToken"] != "tok" || p["total"] != 3.0 {
				t.Errorf("progress params: %s", m.Params)
			}
			got = append(got, p["progress"].(float64))
			continue
		}
		if string(m.ID) != "1" {
			t.Fatalf("got %s", m.raw)
		}
		break
	}
	if len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Errorf("progress: got %v, want [1 2 3] before the response", got)
	}
	// Without a token: no notifications.
	c.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"progress"}}`)
	if m := c.next(); m.Method != "" {
		t.Fatalf("got %s, want the response only", m.raw)
	}
}

func TestStdioLogging(t *testing.T) {
	c := startStdio(t, testServer(t))
	c.initialize("2025-11-25")
	count := func() []string {
		c.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"logs"}}`)
		var levels []string
		for {
			m := c.next()
			if m.Method == "notifications/message" {
				levels = append(levels, mustJSON(t, m.Params)["level"].(string))
				continue
			}
			return levels
		}
	}
	if got := strings.Join(count(), ","); got != "debug,info,warning,error" {
		t.Errorf("default: got %s, want all levels", got)
	}
	c.send(`{"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"warning"}}`)
	if m := c.next(); m.Error != nil {
		t.Fatal(m.Error)
	}
	if got := strings.Join(count(), ","); got != "warning,error" {
		t.Errorf("after setLevel warning: got %s", got)
	}
}

func TestStdioSamplingElicitation(t *testing.T) {
	c := startStdio(t, testServer(t))
	c.initialize("2025-11-25")
	c.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"sample"}}`)
	m := c.next()
	if m.Method != "sampling/createMessage" {
		t.Fatalf("got %s, want sampling/createMessage", m.raw)
	}
	c.send(`{"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":{"role":"assistant","content":{"type":"text","text":"hello"},"model":"m"}}`)
	m = c.next()
	if m.Method != "elicitation/create" {
		t.Fatalf("got %s, want elicitation/create", m.raw)
	}
	c.send(`{"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":{"action":"accept","content":{"x":1}}}`)
	m = c.next()
	if m.Error != nil || !strings.Contains(string(m.Result), `hello`) || !strings.Contains(string(m.Result), `accept`) {
		t.Fatalf("got %s", m.raw)
	}
}

func TestStdioSamplingWithoutCapability(t *testing.T) {
	c := startStdio(t, testServer(t))
	c.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	c.next()
	c.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"sample"}}`)
	m := c.next()
	if m.Error != nil || !strings.Contains(string(m.Result), "sampling capability") || !strings.Contains(string(m.Result), `"isError":true`) {
		t.Fatalf("got %s, want an isError result naming the capability", m.raw)
	}
}

func TestStdioStateless2026(t *testing.T) {
	c := startStdio(t, testServer(t))
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
	c.send(`{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{` + meta + `}}`)
	m := c.next()
	r := mustJSON(t, m.Result)
	if r["resultType"] != "complete" || r["supportedVersions"] == nil {
		t.Fatalf("discover: got %s", m.raw)
	}
	c.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"},` + meta + `}}`)
	if m := c.next(); !strings.Contains(string(m.Result), `"resultType":"complete"`) {
		t.Fatalf("tools/call: got %s", m.raw)
	}
	c.send(`{"jsonrpc":"2.0","id":3,"method":"ping","params":{` + meta + `}}`)
	if m := c.next(); m.Error == nil || m.Error.Code != CodeMethodNotFound {
		t.Fatalf("ping: got %s, want -32601", m.raw)
	}
	c.send(`{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"1999-01-01","io.modelcontextprotocol/clientCapabilities":{}}}}`)
	if m := c.next(); m.Error == nil || m.Error.Code != CodeUnsupportedProtocolVersion {
		t.Fatalf("bad version: got %s, want -32022", m.raw)
	}
	c.send(`{"jsonrpc":"2.0","id":5,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`)
	if m := c.next(); m.Error == nil || m.Error.Code != CodeInvalidParams {
		t.Fatalf("no caps: got %s, want -32602", m.raw)
	}
	c.send(`{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"sample",` + meta + `}}`)
	if m := c.next(); m.Error == nil || m.Error.Code != CodeMissingClientCapability || !strings.Contains(m.raw, `"requiredCapabilities":{"sampling":{}}`) {
		t.Fatalf("sampling without the capability: got %s, want -32021", m.raw)
	}
}

func TestStdioMultiRoundTrip(t *testing.T) {
	c := startStdio(t, testServer(t))
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"sampling":{},"elicitation":{}}}`
	type irr struct {
		ResultType    string                  `json:"resultType"`
		InputRequests map[string]InputRequest `json:"inputRequests"`
		RequestState  string                  `json:"requestState"`
		Content       []Content               `json:"content"`
	}
	round := func(extra string) (irr, msg) {
		c.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"sample",` + extra + meta + `}}`)
		m := c.next()
		var r irr
		json.Unmarshal(m.Result, &r)
		return r, m
	}
	r1, m := round("")
	if r1.ResultType != "input_required" || r1.InputRequests["sampling_createMessage_1"].Method != "sampling/createMessage" || r1.RequestState == "" {
		t.Fatalf("round 1: got %s", m.raw)
	}
	r2, m := round(`"inputResponses":{"sampling_createMessage_1":{"role":"assistant","content":{"type":"text","text":"S"},"model":"m"}},"requestState":"` + r1.RequestState + `",`)
	if r2.ResultType != "input_required" || r2.InputRequests["elicitation_create_2"].Method != "elicitation/create" {
		t.Fatalf("round 2: got %s", m.raw)
	}
	// The client sends only the latest answers: the first one rides in the state.
	r3, m := round(`"inputResponses":{"elicitation_create_2":{"action":"accept"}},"requestState":"` + r2.RequestState + `",`)
	if r3.ResultType != "complete" || len(r3.Content) != 1 || !strings.Contains(r3.Content[0].Text, `"text":"S"`) || !strings.Contains(r3.Content[0].Text, "accept") {
		t.Fatalf("round 3: got %s", m.raw)
	}
	_, m = round(`"inputResponses":{"elicitation_create_2":{"action":"accept"}},"requestState":"` + r2.RequestState[:len(r2.RequestState)-2] + `xx",`)
	if m.Error == nil || m.Error.Code != CodeInvalidParams || !strings.Contains(m.Error.Message, "integrity") {
		t.Fatalf("tampered state: got %s, want -32602", m.raw)
	}
}

func TestStdioEOFCancelsHandlers(t *testing.T) {
	s := testServer(t)
	s.opts.StdioDrain = 50 * time.Millisecond // the slow tool never finishes by itself
	c := startStdio(t, s)
	c.initialize("2025-11-25")
	c.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow"}}`)
	c.send(`{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	c.next()
	c.w.Close()
	if err := <-c.done; err != nil {
		t.Fatalf("ServeStdio: got %v, want nil at EOF", err)
	}
}
