package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/sibylmcp/sibyl/store"
	"golang.org/x/time/rate"
)

// keyAuth authenticates HTTP requests with the API keys in the data file and
// limits each key's request rate. It wraps the MCP handler; mcp's Authenticate
// hook then reads the key it put in the request's context.
type keyAuth struct {
	store *store.Store
	log   *slog.Logger
	rps   float64 // requests per second per key; <= 0: unlimited
	live  int     // API keys not revoked when serving began

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

type keyCtx struct{}

// wrap returns h behind bearer-token authentication and per-key rate limits.
func (a *keyAuth) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme name is case-insensitive (RFC 9110, section 11.1).
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			rpcHTTPError(w, http.StatusUnauthorized, "this server needs an API key: send Authorization: Bearer <token> (sibyl keys create makes one)")
			return
		}
		key, err := a.store.AuthenticateAPIKey(strings.TrimSpace(token))
		if errors.Is(err, store.ErrBadAPIKey) {
			rpcHTTPError(w, http.StatusUnauthorized, "invalid or revoked API key: send a live key's token (the server's operator makes one with 'sibyl keys create')")
			return
		}
		if err != nil {
			// The token is fine as far as we know: a 401 would tell the client
			// to drop it. The cause goes to the log, not to the caller.
			a.log.Error("checking an API key", "err", err)
			w.Header().Set("Retry-After", "1")
			rpcHTTPError(w, http.StatusServiceUnavailable, "could not check the API key just now; retry")
			return
		}
		if !a.limiter(key.ID).Allow() {
			w.Header().Set("Retry-After", "1")
			rpcHTTPError(w, http.StatusTooManyRequests, fmt.Sprintf("rate limit: %g requests per second per API key; retry after a pause", a.rps))
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyCtx{}, key)))
	})
}

func (a *keyAuth) limiter(id string) *rate.Limiter {
	a.mu.Lock()
	defer a.mu.Unlock()
	l, ok := a.limiters[id]
	if !ok {
		lim := rate.Inf
		if a.rps > 0 {
			lim = rate.Limit(a.rps)
		}
		l = rate.NewLimiter(lim, max(1, int(2*a.rps)))
		a.limiters[id] = l
	}
	return l
}

// authenticate is mcp's Authenticate hook: the key wrap put in the context.
func (a *keyAuth) authenticate(r *http.Request) (string, []string, error) {
	key, ok := r.Context().Value(keyCtx{}).(store.APIKey)
	if !ok {
		return "", nil, errors.New("no API key")
	}
	return key.Principal(), key.Scopes, nil
}

// rpcHTTPError answers an HTTP-level refusal with a JSON-RPC error body, so MCP
// clients show the message.
func rpcHTTPError(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sibyl"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":%q}}`+"\n", msg)
}

// isLoopback reports whether addr (host:port) binds only the loopback interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
