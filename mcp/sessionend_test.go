package mcp

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// endRecorder counts OnSessionEnd calls by session id.
type endRecorder struct {
	mu   sync.Mutex
	ends map[string]int
	ch   chan string
}

func recordEnds(s *Server) *endRecorder {
	r := &endRecorder{ends: map[string]int{}, ch: make(chan string, 10)}
	s.OnSessionEnd(func(sess *Session) {
		r.mu.Lock()
		r.ends[sess.ID()]++
		r.mu.Unlock()
		r.ch <- sess.ID()
	})
	return r
}

func (r *endRecorder) wait(t *testing.T) string {
	t.Helper()
	select {
	case id := <-r.ch:
		return id
	case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("no session end reported")
		return ""
	}
}

func TestOnSessionEndStdio(t *testing.T) {
	s := testServer(t)
	r := recordEnds(s)
	c := startStdio(t, s)
	c.initialize("2025-11-25")
	c.w.Close()
	if id := r.wait(t); id != "" {
		t.Errorf("stdio session id: got %q, want empty", id)
	}
}

func TestOnSessionEndHTTPDelete(t *testing.T) {
	s := testServer(t)
	r := recordEnds(s)
	ts, _ := startHTTP(t, s, &HTTPOptions{JSONResponse: true})
	c := &httpClient{tb: t, url: ts.URL}
	c.initialize("2025-11-25")
	resp := c.do("DELETE", "", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	if id := r.wait(t); id == "" || id != c.sid {
		t.Errorf("ended session %q, want %q", id, c.sid)
	}
	resp = c.do("DELETE", "", nil) // the session is gone: no second report
	resp.Body.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ends[c.sid] != 1 {
		t.Errorf("session %s reported ended %d times, want 1", c.sid, r.ends[c.sid])
	}
}
