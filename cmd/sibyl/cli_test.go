package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/store"
	"golang.org/x/time/rate"
)

// runCLI runs the command line in-process and returns its exit code, stdout
// and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestKeysCommandLine: flags may follow the key id, as the usage shows, and a
// mistake is reported without creating a data file.
func TestKeysCommandLine(t *testing.T) {
	dir := t.TempDir()
	code, token, stderr := runCLI(t, "keys", "create", "--name", "bot", "--scopes", "read,trade", "--data-dir", dir)
	if code != 0 || !strings.HasPrefix(token, "sibyl_") {
		t.Fatalf("keys create: got %d %q %q, want 0 and a token", code, token, stderr)
	}
	id := strings.Split(token, "_")[1]
	if code, out, stderr := runCLI(t, "keys", "revoke", id, "--data-dir", dir); code != 0 || !strings.Contains(out, "revoked "+id) {
		t.Errorf("keys revoke ID --data-dir DIR: got %d %q %q, want 0 and revoked %s", code, out, stderr, id)
	}
	if code, out, _ := runCLI(t, "keys", "list", "--data-dir", dir); code != 0 || !strings.Contains(out, "revoked 2") {
		t.Errorf("keys list: got %d %q, want 0 and a revoked key", code, out)
	}

	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"list without a data file", []string{"keys", "list"}, 1, "no data file"},
		{"revoke without a data file", []string{"keys", "revoke", "abc"}, 1, "no data file"},
		{"create without a name", []string{"keys", "create"}, 1, "--name is required"},
		{"create with a bad scope", []string{"keys", "create", "--name", "x", "--scopes", "admin"}, 1, `unknown scope "admin"`},
		{"revoke without an id", []string{"keys", "revoke"}, 1, "exactly one key id"},
		{"unknown subcommand", []string{"keys", "rotate"}, 2, `unknown subcommand "rotate"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			empty := t.TempDir()
			code, _, stderr := runCLI(t, append(tc.args, "--data-dir", empty)...)
			if code != tc.code || !strings.Contains(stderr, tc.inStderr) {
				t.Errorf("got %d %q, want %d and %q", code, stderr, tc.code, tc.inStderr)
			}
			if _, err := os.Stat(filepath.Join(empty, "sibyl.db")); err == nil {
				t.Error("got a data file created, want none")
			}
		})
	}
}

// TestAuditCommandLine: a stray argument or a missing data file is reported,
// not ignored.
func TestAuditCommandLine(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"stray argument", []string{"audit", "tail", "50"}, 1, `unexpected argument "50"`},
		{"no data file", []string{"audit", "verify"}, 1, "no data file"},
		{"export without --jsonl", []string{"audit", "export"}, 1, "--jsonl"},
		{"unknown subcommand", []string{"audit", "check"}, 2, `unknown subcommand "check"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			empty := t.TempDir()
			code, _, stderr := runCLI(t, append(tc.args, "--data-dir", empty)...)
			if code != tc.code || !strings.Contains(stderr, tc.inStderr) {
				t.Errorf("got %d %q, want %d and %q", code, stderr, tc.code, tc.inStderr)
			}
		})
	}
}

// TestServeFlagsPaperCash: --paper-cash is checked like SIBYL_PAPER_CASH.
func TestServeFlagsPaperCash(t *testing.T) {
	m := &Main{Stderr: io.Discard}
	if err := m.ParseFlags([]string{"--paper-cash", "-5"}); err == nil || !strings.Contains(err.Error(), "positive") {
		t.Errorf("--paper-cash -5: got %v, want an error asking for a positive number", err)
	}
}

// TestAuthMiddleware: the answers keyAuth gives before the MCP handler runs.
func TestAuthMiddleware(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "sibyl.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	token, _, err := st.CreateAPIKey("bot", []string{"read"}, now)
	if err != nil {
		t.Fatal(err)
	}
	revoked, rk, err := st.CreateAPIKey("old", []string{"read"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeAPIKey(rk.ID, now); err != nil {
		t.Fatal(err)
	}
	a := &keyAuth{store: st, log: slog.New(slog.DiscardHandler), rps: 0.5, limiters: map[string]*rate.Limiter{}}
	h := a.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _, err := a.authenticate(r)
		if err != nil {
			t.Errorf("authenticate after wrap: %v", err)
		}
		io.WriteString(w, p)
	}))
	serve := func(auth string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader("{}"))
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, tc := range []struct {
		name, auth string
		status     int
		inBody     string
	}{
		{"no header", "", http.StatusUnauthorized, "Authorization: Bearer"},
		{"basic scheme", "Basic dXNlcjpwYXNz", http.StatusUnauthorized, "Authorization: Bearer"},
		{"wrong secret", "Bearer " + token + "x", http.StatusUnauthorized, "invalid or revoked"},
		{"revoked key", "Bearer " + revoked, http.StatusUnauthorized, "invalid or revoked"},
		{"lower-case scheme", "bearer " + token, http.StatusOK, "key:"},
		{"over the rate", "Bearer " + token, http.StatusTooManyRequests, "rate limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(tc.auth)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.inBody) {
				t.Errorf("got %d %s, want %d and %q", w.Code, w.Body, tc.status, tc.inBody)
			}
			if strings.Contains(w.Body.String(), token) {
				t.Errorf("got the token echoed in %s", w.Body)
			}
		})
	}

	t.Run("store error", func(t *testing.T) {
		st.Close()
		w := serve("Bearer " + token)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Errorf("got %d %s, want 503 with Retry-After", w.Code, w.Body)
		}
		// The refusal is machine-readable as a retryable unavailable.
		var body struct {
			Error struct {
				Code int `json:"code"`
				Data struct {
					Code      string `json:"code"`
					Retryable bool   `json:"retryable"`
				} `json:"data"`
			} `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Data.Code != "unavailable" || !body.Error.Data.Retryable {
			t.Errorf("got body %s (%v), want error.data {code: unavailable, retryable: true}", w.Body, err)
		}
	})
}
