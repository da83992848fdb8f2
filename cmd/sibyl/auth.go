package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sibylmcp/sibyl/store"
	"golang.org/x/time/rate"
)

// keyAuth authenticates HTTP requests with the API keys in the data file and
// limits each key's request rate. It wraps the MCP handler; mcp's Authenticate
// hook then reads the key it put in the request's context.
type keyAuth struct {
	store store.Store
	log   *slog.Logger
	rps   float64 // requests per second per key; <= 0: unlimited
	live  int     // API keys not revoked when serving began

	mu        sync.Mutex
	limiters  map[string]*rate.Limiter
	instances int // instances sharing the budget (peers.go); 0 or 1: this one alone

	// fails limits failed authentications per client address (nil: none).
	fails *failLimiter
}

type keyCtx struct{}

// wrap returns h behind bearer-token authentication and per-key rate limits.
func (a *keyAuth) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A client address that failed too often is refused before its token
		// is looked at: guessing, and the store reads it costs, stop there.
		addr := clientAddr(r)
		if a.fails != nil && a.fails.blocked(addr) {
			w.Header().Set("Retry-After", strconv.Itoa(a.fails.retryAfter()))
			rpcHTTPError(w, http.StatusTooManyRequests, "too many failed authentications from this address; retry later with a valid API key")
			return
		}
		// The scheme name is case-insensitive (RFC 9110, section 11.1).
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			a.failed(addr)
			rpcHTTPError(w, http.StatusUnauthorized, "this server needs an API key: send Authorization: Bearer <token> (sibyl keys create makes one)")
			return
		}
		key, err := a.store.AuthenticateAPIKey(strings.TrimSpace(token))
		if errors.Is(err, store.ErrBadAPIKey) {
			a.failed(addr)
			rpcHTTPError(w, http.StatusUnauthorized, "invalid or revoked API key: send a live key's token (the server's operator makes one with 'sibyl keys create')")
			return
		}
		if err != nil {
			// The token is fine as far as we know: a 401 would tell the client
			// to drop it. The cause goes to the log, not to the caller. On a
			// shared store this is what an etcd cluster without quorum gives:
			// the request is refused as unavailable (retryable), never served
			// on a guess about the key.
			a.log.Error("checking an API key", "err", err)
			w.Header().Set("Retry-After", "1")
			rpcHTTPUnavailable(w, "could not check the API key just now (the state store did not answer); nothing was done: retry in a few seconds")
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

func (a *keyAuth) failed(addr string) {
	if a.fails != nil {
		a.fails.fail(addr)
	}
}

// admitBatch is mcp's AdmitBatch hook: every entry of a batch counts against
// the key's rate limit, as if sent alone. wrap counted the POST carrying them
// as one already.
func (a *keyAuth) admitBatch(r *http.Request, _ string, entries int) error {
	key, ok := r.Context().Value(keyCtx{}).(store.APIKey)
	if !ok || a.rps <= 0 || entries <= 1 {
		return nil
	}
	l := a.limiter(key.ID)
	if entries > l.Burst() {
		return fmt.Errorf("rate limit: a batch of %d entries counts as %d requests, more than this key's burst of %d (%g requests per second); send smaller batches", entries, entries, l.Burst(), a.rps)
	}
	if !l.AllowN(time.Now(), entries-1) {
		return fmt.Errorf("rate limit: a batch of %d entries counts as %d requests; %g requests per second per API key; retry after a pause", entries, entries, a.rps)
	}
	return nil
}

func (a *keyAuth) limiter(id string) *rate.Limiter {
	a.mu.Lock()
	defer a.mu.Unlock()
	l, ok := a.limiters[id]
	if !ok {
		l = rate.NewLimiter(a.share())
		a.limiters[id] = l
	}
	return l
}

// share returns this instance's part of a key's budget: rps/N per second
// with a burst of two seconds of it (at least 1). Caller holds a.mu.
func (a *keyAuth) share() (rate.Limit, int) {
	if a.rps <= 0 {
		return rate.Inf, 1
	}
	r := a.rps / float64(max(1, a.instances))
	return rate.Limit(r), max(1, int(2*r))
}

// setInstances makes every key's limiter enforce rps/n from now on.
func (a *keyAuth) setInstances(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.instances = n
	lim, burst := a.share()
	for _, l := range a.limiters {
		l.SetLimit(lim)
		l.SetBurst(burst)
	}
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

// rpcHTTPUnavailable answers 503 with a JSON-RPC error whose data is the
// error object tool results carry ({code: "unavailable", message, retryable:
// true}), so a client reads the refusal as the same retryable unavailable a
// tool would give.
func rpcHTTPUnavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, `{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":%q,"data":{"code":"unavailable","message":%q,"retryable":true}}}`+"\n", msg, msg)
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

// clientAddr is the address a request came from, without the port. Behind a
// proxy every client shares the proxy's address.
// An IPv6 client is counted by its /64 network, which one host commonly owns whole.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return host
}

// failTableMax bounds the client addresses failLimiter remembers.
const failTableMax = 4096

// failLimiter counts failed authentications per client address: burst
// failures are allowed, then the address is blocked until the budget refills
// at rate per second. Addresses whose budget is full again are forgotten, so
// the table stays small.
type failLimiter struct {
	rate  rate.Limit
	burst int

	mu    sync.Mutex
	addrs map[string]*rate.Limiter
}

func newFailLimiter(perSecond float64, burst int) *failLimiter {
	return &failLimiter{rate: rate.Limit(perSecond), burst: burst, addrs: map[string]*rate.Limiter{}}
}

// blocked reports whether addr has no failure left to spend.
func (f *failLimiter) blocked(addr string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.addrs[addr]
	return ok && l.Tokens() < 1
}

// fail spends one of addr's failures.
func (f *failLimiter) fail(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.addrs) >= failTableMax {
		for a, l := range f.addrs {
			if l.Tokens() >= float64(f.burst) {
				delete(f.addrs, a)
			}
		}
		// Still full (many addresses failing at once): forget arbitrary
		// ones, so memory stays bounded; they may fail a burst again.
		for a := range f.addrs {
			if len(f.addrs) < failTableMax*3/4 {
				break
			}
			delete(f.addrs, a)
		}
	}
	l, ok := f.addrs[addr]
	if !ok {
		l = rate.NewLimiter(f.rate, f.burst)
		f.addrs[addr] = l
	}
	l.Allow()
}

// retryAfter is the seconds a blocked address waits for one more try.
func (f *failLimiter) retryAfter() int {
	return max(1, int(1/float64(f.rate)+0.999))
}
