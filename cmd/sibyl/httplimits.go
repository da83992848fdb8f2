package main

import (
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sibylmcp/sibyl/mcp"
)

// httpLimits are the resource limits of sibyl serve --http, each with an
// environment twin. Documented in README.md ("Limits").
type httpLimits struct {
	readTimeout  time.Duration // headers within it, then the body within it
	idleTimeout  time.Duration // keep-alive connections idle this long are closed
	sessionIdle  time.Duration // sessions without traffic this long end
	sseKeepAlive time.Duration // an idle SSE stream gets a comment this often
	maxSessions  int           // open sessions per principal
	maxStreams   int           // open GET streams per principal
}

// Defaults of the HTTP limits (README.md, "Limits").
const (
	defaultReadTimeout = 15 * time.Second
	defaultIdleTimeout = 2 * time.Minute
	defaultSessionIdle = 10 * time.Minute
	// maxSessionsTotal bounds the sessions of every principal together: a
	// session costs a few KiB, so this keeps a flood of them under ~50 MB.
	maxSessionsTotal = 10000
	// authFailBurst failed authentications from one client address are
	// answered 401; then it gets 429 (whatever it sends) until it earns
	// the right to fail again, at authFailRate per second (one every 10 s).
	authFailBurst = 20
	authFailRate  = 0.1
)

func (l *httpLimits) register(fs *flag.FlagSet) error {
	dur := func(p *time.Duration, name, env string, def time.Duration, usage string) error {
		v := def
		if s := envString(env, ""); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return fmt.Errorf("%s=%q: want a positive duration such as 30s", env, s)
			}
			v = d
		}
		fs.DurationVar(p, name, v, usage+" ["+env+"]")
		return nil
	}
	num := func(p *int, name, env string, def int, usage string) error {
		v := def
		if s := envString(env, ""); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return fmt.Errorf("%s=%q: want a whole number, 0 for no limit", env, s)
			}
			v = n
		}
		fs.IntVar(p, name, v, usage+" ["+env+"]")
		return nil
	}
	for _, err := range []error{
		dur(&l.readTimeout, "read-timeout", "SIBYL_READ_TIMEOUT", defaultReadTimeout,
			"HTTP: a request's headers must arrive within `DURATION`, and its body within DURATION more; slower ones are cut (408) and the connection closed"),
		dur(&l.idleTimeout, "idle-timeout", "SIBYL_IDLE_TIMEOUT", defaultIdleTimeout,
			"HTTP: close keep-alive connections idle for `DURATION`"),
		dur(&l.sseKeepAlive, "sse-keepalive", "SIBYL_SSE_KEEPALIVE", mcp.DefaultSSEKeepAlive,
			"HTTP: send a comment line on an SSE stream (GET stream, subscriptions/listen, a slow POST) silent for `DURATION`, so proxies and load balancers with idle timeouts (60 s in HAProxy's and nginx's usual configs) keep it open"),
		dur(&l.sessionIdle, "session-idle", "SIBYL_SESSION_IDLE", defaultSessionIdle,
			"HTTP: end MCP sessions without a request or open GET stream for `DURATION` (the client must initialize again)"),
		num(&l.maxSessions, "max-sessions", "SIBYL_MAX_SESSIONS", mcp.DefaultMaxSessionsPerPrincipal,
			"HTTP: open MCP sessions per API key (per principal), `N`; initialize beyond it gets 429; 0: no limit"),
		num(&l.maxStreams, "max-streams", "SIBYL_MAX_STREAMS", mcp.DefaultMaxStreamsPerPrincipal,
			"HTTP: open GET (SSE) streams and subscriptions/listen requests per API key (per principal), `N`; one beyond it gets 429; 0: no limit"),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// check refuses values the flag parser let through.
func (l *httpLimits) check() error {
	for name, d := range map[string]time.Duration{"--read-timeout": l.readTimeout, "--idle-timeout": l.idleTimeout, "--session-idle": l.sessionIdle, "--sse-keepalive": l.sseKeepAlive} {
		if d <= 0 {
			return fmt.Errorf("%s %s: want a positive duration", name, d)
		}
	}
	if l.maxSessions < 0 || l.maxStreams < 0 {
		return fmt.Errorf("--max-sessions and --max-streams: want a whole number, 0 for no limit")
	}
	return nil
}

// apply sets the limits on the MCP handler's options.
func (l *httpLimits) apply(o *mcp.HTTPOptions) {
	unbounded := func(n int) int {
		if n == 0 {
			return -1 // mcp's "no bound"
		}
		return n
	}
	o.BodyTimeout = l.readTimeout
	o.SessionIdleTimeout = l.sessionIdle
	o.SSEKeepAlive = l.sseKeepAlive
	o.MaxSessionsPerPrincipal = unbounded(l.maxSessions)
	o.MaxStreamsPerPrincipal = unbounded(l.maxStreams)
	o.MaxSessions = maxSessionsTotal
	o.MaxBatch = mcp.DefaultMaxBatch
}

// server returns the http.Server for handler with the connection limits.
func (l *httpLimits) server(handler http.Handler) *http.Server {
	return &http.Server{Handler: handler, ReadHeaderTimeout: l.readTimeout, IdleTimeout: l.idleTimeout}
}
