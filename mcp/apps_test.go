package mcp

import (
	"context"
	"strings"
	"testing"
)

func appsServer(tb testing.TB) *Server {
	s := testServer(tb)
	s.AddUIResource(Resource{URI: "ui://t/echo", Name: "echo-view"}, func(context.Context, string, *Session) ([]ResourceContents, error) {
		return []ResourceContents{{URI: "ui://t/echo", MimeType: UIMimeType, Text: "<!doctype html><p>view</p>"}}, nil
	})
	if !s.LinkToolUI("echo", "ui://t/echo") {
		tb.Fatal("LinkToolUI(echo): tool not found")
	}
	if s.LinkToolUI("no_such_tool", "ui://t/echo") {
		tb.Fatal("LinkToolUI linked a tool that is not registered")
	}
	return s
}

const uiCapsJSON = `{"extensions":{"io.modelcontextprotocol/ui":{"mimeTypes":["text/html;profile=mcp-app"]}}}`

// TestUIExtensionStateless: on the stateless revision the extension is
// negotiated per request from _meta's client capabilities.
func TestUIExtensionStateless(t *testing.T) {
	c := startStdio(t, appsServer(t))
	meta := func(caps string) string {
		return `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":` + caps + `}`
	}
	for _, tc := range []struct {
		caps string
		ui   bool
	}{{`{}`, false}, {`{"extensions":{"io.modelcontextprotocol/ui":{"mimeTypes":["text/html"]}}}`, false}, {uiCapsJSON, true}} {
		c.send(`{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{` + meta(tc.caps) + `}}`)
		disc := c.nextResponse()
		c.send(`{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{` + meta(tc.caps) + `}}`)
		tools := c.nextResponse()
		c.send(`{"jsonrpc":"2.0","id":3,"method":"resources/list","params":{` + meta(tc.caps) + `}}`)
		res := c.nextResponse()
		c.send(`{"jsonrpc":"2.0","id":4,"method":"resources/read","params":{"uri":"ui://t/echo",` + meta(tc.caps) + `}}`)
		read := c.nextResponse()
		got := []bool{strings.Contains(string(disc.Result), UIExtension), strings.Contains(string(tools.Result), `"_meta":{"ui":{"resourceUri":"ui://t/echo"}`),
			strings.Contains(string(res.Result), `"uri":"ui://t/echo"`), read.Error == nil && strings.Contains(string(read.Result), UIMimeType)}
		for i, g := range got {
			if g != tc.ui {
				t.Errorf("caps %s: check %d (discover, tools/list _meta, resources/list, resources/read) = %v, want %v\n%s\n%s", tc.caps, i, g, tc.ui, tools.Result, read.raw)
			}
		}
	}
}

// TestUIExtensionHandshake: on a session the extension follows initialize's
// capabilities; a session that did not declare it sees the server as before.
func TestUIExtensionHandshake(t *testing.T) {
	for _, declare := range []bool{false, true} {
		c := startStdio(t, appsServer(t))
		caps := `{}`
		if declare {
			caps = uiCapsJSON
		}
		c.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":` + caps + `,"clientInfo":{"name":"t","version":"1"}}}`)
		init := c.nextResponse()
		c.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		c.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
		tools := c.nextResponse()
		hasExt := strings.Contains(string(init.Result), UIExtension)
		hasMeta := strings.Contains(string(tools.Result), `"_meta"`)
		if hasExt != declare || hasMeta != declare {
			t.Errorf("declared %v: extension in capabilities %v, _meta on tools %v", declare, hasExt, hasMeta)
		}
	}
}
