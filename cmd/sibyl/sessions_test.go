package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/mcp"
	"github.com/sibylmcp/sibyl/store"
)

// sharedBolt is a Bolt that says it is shared (as etcd does), for the parts
// that only run on a shared store.
type sharedBolt struct{ store.Store }

func (sharedBolt) Owner() string { return "test-instance" }

func mustBolt(t *testing.T) *store.Bolt {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "sibyl.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestStoreSessions(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	ss := &storeSessions{st: mustBolt(t), idle: 10 * time.Minute, now: func() time.Time { return now }}
	id := strings.Repeat("ab", 16)
	meta := mcp.SessionMeta{Principal: "key:k1", ProtocolVersion: "2025-11-25", ClientInfo: mcp.Implementation{Name: "c", Version: "1"},
		ClientCapabilities: json.RawMessage(`{"elicitation":{}}`), Initialized: true, Created: now, LastUsed: now}

	if err := ss.Create(ctx, id, meta); err != nil {
		t.Fatal(err)
	}
	got, ok, err := ss.Load(ctx, id)
	if err != nil || !ok || got.Principal != "key:k1" || got.ProtocolVersion != "2025-11-25" || !got.LastUsed.Equal(now) ||
		string(got.ClientCapabilities) != `{"elicitation":{}}` {
		t.Fatalf("Load: got %+v %v %v", got, ok, err)
	}
	found, err := ss.Update(ctx, id, func(m *mcp.SessionMeta) { m.LogLevel = "error" })
	if err != nil || !found {
		t.Fatalf("Update: got %v %v, want found", found, err)
	}
	if got, _, _ := ss.Load(ctx, id); got.LogLevel != "error" {
		t.Errorf("LogLevel after Update: got %q, want error", got.LogLevel)
	}

	for _, bad := range []string{"", "../etc", "ABCDEF", strings.Repeat("a", 65), "ab\x00cd"} {
		if _, ok, err := ss.Load(ctx, bad); ok || err != nil {
			t.Errorf("Load(%q): got %v %v, want not found", bad, ok, err)
		}
		if found, err := ss.Update(ctx, bad, func(*mcp.SessionMeta) {}); found || err != nil {
			t.Errorf("Update(%q): got %v %v, want not found", bad, found, err)
		}
		if err := ss.Create(ctx, bad, meta); err == nil {
			t.Errorf("Create(%q): no error", bad)
		}
	}

	// Update never brings back a deleted session; Delete reports once.
	if found, err := ss.Delete(ctx, id); !found || err != nil {
		t.Fatalf("Delete: got %v %v, want found", found, err)
	}
	if found, _ := ss.Delete(ctx, id); found {
		t.Error("second Delete: found, want not")
	}
	if found, _ := ss.Update(ctx, id, func(m *mcp.SessionMeta) { m.LastUsed = now }); found {
		t.Error("Update of a deleted session: found, want not")
	}
	if _, ok, _ := ss.Load(ctx, id); ok {
		t.Error("Update brought a deleted session back")
	}
}

func TestStoreSessionsSweep(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	ss := &storeSessions{st: mustBolt(t), idle: 10 * time.Minute, now: func() time.Time { return now }}
	fresh, stale := strings.Repeat("a", 32), strings.Repeat("b", 32)
	ss.Create(ctx, fresh, mcp.SessionMeta{Principal: "p", Initialized: true, LastUsed: now.Add(-9 * time.Minute)})
	ss.Create(ctx, stale, mcp.SessionMeta{Principal: "p", Initialized: true, LastUsed: now.Add(-11 * time.Minute)})
	gone, err := ss.sweep()
	if err != nil || len(gone) != 1 || gone[0] != stale {
		t.Fatalf("sweep: got %v %v, want [%s]", gone, err, stale)
	}
	if _, ok, _ := ss.Load(ctx, fresh); !ok {
		t.Error("sweep removed a session used 9 minutes ago (idle 10)")
	}
	if _, ok, _ := ss.Load(ctx, stale); ok {
		t.Error("sweep left a session idle for 11 minutes")
	}
}

func TestSharedStateKey(t *testing.T) {
	st := mustBolt(t)
	if k, err := sharedStateKey(st); k != nil || err != nil {
		t.Errorf("on a store of one process: got %x %v, want nil (a key per process)", k, err)
	}
	k1, err := sharedStateKey(sharedBolt{st})
	if err != nil || len(k1) != 32 {
		t.Fatalf("first instance: got %x %v", k1, err)
	}
	k2, err := sharedStateKey(sharedBolt{st})
	if err != nil || !bytes.Equal(k1, k2) {
		t.Errorf("second instance: got %x, want the first's %x", k2, k1)
	}
}

// TestStoreSessionsServeAcross: two MCP handlers (two Servers) over one
// bbolt file through storeSessions: a session initialized on one is used
// and ended on the other.
func TestStoreSessionsServeAcross(t *testing.T) {
	ss := &storeSessions{st: mustBolt(t), idle: time.Hour, now: time.Now}
	start := func() string {
		srv := mcp.NewServer(mcp.Implementation{Name: "t", Version: "1"}, nil)
		srv.AddTool(mcp.Tool{Name: "ping_tool", InputSchema: json.RawMessage(`{"type":"object"}`)},
			func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("pong " + req.Session.ClientInfo().Name)}}, nil
			})
		h := mcp.NewHTTPHandler(srv, &mcp.HTTPOptions{JSONResponse: true, Sessions: ss, SessionIdleTimeout: time.Hour})
		ts := httptest.NewServer(h)
		t.Cleanup(func() { h.Shutdown(context.Background()); ts.Close() })
		return ts.URL
	}
	a, b := start(), start()
	post := func(url, sid, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
			req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		resp.Body.Close()
		return resp, buf.String()
	}
	resp, _ := post(a, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"agent7","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || sid == "" {
		t.Fatalf("initialize on A: %d %q", resp.StatusCode, sid)
	}
	resp, body := post(b, sid, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ping_tool","arguments":{}}}`)
	if resp.StatusCode != 200 || !strings.Contains(body, "pong agent7") {
		t.Fatalf("tools/call on B: %d %s, want pong agent7", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("DELETE", b, nil)
	req.Header.Set("Mcp-Session-Id", sid)
	dresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	dresp.Body.Close()
	if dresp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE on B: %d", dresp.StatusCode)
	}
	if resp, _ := post(a, sid, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`); resp.StatusCode != http.StatusNotFound {
		t.Errorf("tools/list on A after DELETE on B: %d, want 404", resp.StatusCode)
	}
}

func TestSessionLiveForOrphans(t *testing.T) {
	st := mustBolt(t)
	m := &Main{}
	m.limits.sessionIdle = 10 * time.Minute
	if m.sessionLive(st) != nil {
		t.Error("on a store of one process: got a SessionLive, want nil (sessions end with the process)")
	}
	live := m.sessionLive(sharedBolt{st})
	ss := &storeSessions{st: st, idle: 10 * time.Minute, now: time.Now}
	fresh, idle := strings.Repeat("c", 32), strings.Repeat("d", 32)
	ss.Create(context.Background(), fresh, mcp.SessionMeta{Principal: "p", Initialized: true, LastUsed: time.Now()})
	ss.Create(context.Background(), idle, mcp.SessionMeta{Principal: "p", Initialized: true, LastUsed: time.Now().Add(-11 * time.Minute)})
	for id, want := range map[string]bool{fresh: true, idle: false, strings.Repeat("e", 32): false} {
		if got := live(id); got != want {
			t.Errorf("SessionLive(%s...): got %v, want %v", id[:4], got, want)
		}
	}
}
