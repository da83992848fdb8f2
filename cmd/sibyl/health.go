package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/mcp"
	"github.com/sibylmcp/sibyl/metrics"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/tools"
)

// Health, readiness and metrics: what an operator's probes and Prometheus
// scrape. None of them needs an MCP session.
//
//	/healthz  200 "ok" while the process serves HTTP (liveness)
//	/readyz   200 when the data file is open and every configured venue answers,
//	          503 otherwise; the JSON body names each check and why it failed
//	/metrics  the Prometheus exposition (package metrics)
//
// On the --http listener /metrics needs an API key with the read scope when the
// data file has keys (the same rule as /mcp); --metrics-addr serves all three on
// a separate loopback listener without keys, for a local Prometheus.

// newMetrics builds the registry; the session count is read from m.srv once
// Open has built the server.
func (m *Main) newMetrics() *metrics.Metrics {
	return metrics.New(func() int {
		m.srvMu.Lock()
		srv := m.srv
		m.srvMu.Unlock()
		if srv == nil {
			return 0
		}
		return srv.SessionCount()
	})
}

// onCommit feeds the store's group commits and the order outcomes they commit
// to the metrics.
func (m *Main) onCommit(ci store.CommitInfo) {
	m.metrics.Commit(ci.Functions, ci.Sync)
	for _, a := range ci.Audit {
		m.metrics.Order(a.Tool, a.Outcome, a.Error)
	}
}

// toolObserver is the tools.CallObserver counting tool calls.
func (m *Main) toolObserver() tools.CallObserver { return m.metrics.ToolCall }

// setServer records the MCP server for the sessions gauge.
func (m *Main) setServer(srv *mcp.Server) {
	m.srvMu.Lock()
	m.srv = srv
	m.srvMu.Unlock()
}

// readyTTL is how long a readiness answer is reused, so that frequent probes do
// not turn into a stream of venue requests.
const readyTTL = 5 * time.Second

// readyTimeout bounds each venue's check.
const readyTimeout = 3 * time.Second

// readiness checks the data file and the venues, caching the answer for readyTTL.
type readiness struct {
	store  store.Store
	venues map[string]sibyl.Venue
	log    *slog.Logger

	mu   sync.Mutex
	at   time.Time
	last readyReport
}

// readyReport is /readyz's body.
type readyReport struct {
	Ready  bool          `json:"ready"`
	Checks []readyCheck  `json:"checks"`
	Time   time.Time     `json:"time"`
	Took   time.Duration `json:"-"`
}

type readyCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Reason string `json:"reason,omitempty"`
}

// pinger is a venue with a cheap reachability check of its own.
type pinger interface {
	Ping(ctx context.Context) error
}

func (r *readiness) check(ctx context.Context) readyReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.at.IsZero() && time.Since(r.at) < readyTTL {
		return r.last
	}
	rep := readyReport{Ready: true, Time: time.Now().UTC()}
	st := readyCheck{Name: "store", OK: true}
	if r.store == nil {
		st = readyCheck{Name: "store", Reason: "the data file is not open"}
	} else if _, err := r.store.AuditHead(); err != nil {
		// On etcd: no member answers, or the cluster has lost its quorum;
		// orders are refused as unavailable meanwhile.
		st = readyCheck{Name: "store", Reason: "the state store cannot be read (" + r.store.Describe() + ")"}
		r.log.Error("readiness: reading the state store", "err", err)
	}
	rep.Checks = append(rep.Checks, st)
	names := make([]string, 0, len(r.venues))
	for n := range r.venues {
		names = append(names, n)
	}
	slices.Sort(names)
	checks := make([]readyCheck, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			checks[i] = r.venue(ctx, n, r.venues[n])
		}()
	}
	wg.Wait()
	rep.Checks = append(rep.Checks, checks...)
	for _, c := range rep.Checks {
		rep.Ready = rep.Ready && c.OK
	}
	r.at, r.last = time.Now(), rep
	return rep
}

// venue checks one venue: its own Ping when it has one, else a one-market
// search. The reason is the venue error's message (safe to show), never a cause.
func (r *readiness) venue(ctx context.Context, name string, v sibyl.Venue) readyCheck {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var err error
	if p, ok := v.(pinger); ok {
		err = p.Ping(ctx)
	} else {
		_, err = v.SearchMarkets(ctx, sibyl.MarketQuery{Limit: 1})
	}
	if err == nil {
		return readyCheck{Name: "venue:" + name, OK: true}
	}
	reason := sibyl.ErrorMessage(err)
	if errors.Is(err, context.DeadlineExceeded) {
		reason = fmt.Sprintf("no answer within %s", readyTimeout)
	}
	r.log.Warn("readiness: venue not reachable", "venue", name, "err", err)
	return readyCheck{Name: "venue:" + name, Reason: reason}
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, "ok")
}

func (r *readiness) serveHTTP(w http.ResponseWriter, req *http.Request) {
	rep := r.check(req.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !rep.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(rep)
}

// mountOps adds /healthz, /readyz and /metrics to mux. With auth (the data file
// has API keys), /metrics needs a key with the read scope, as /mcp does.
func (m *Main) mountOps(mux *http.ServeMux, auth *keyAuth) {
	mux.HandleFunc("/healthz", healthz)
	mux.HandleFunc("/readyz", m.ready.serveHTTP)
	if auth == nil {
		mux.Handle("/metrics", m.metrics.Handler())
		return
	}
	mux.Handle("/metrics", m.metrics.WrapHTTP(auth.wrap(readScope(auth, m.metrics.Handler()))))
}

// readScope refuses (403) a request whose API key lacks the read scope (trade
// implies read).
func readScope(auth *keyAuth, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, scopes, err := auth.authenticate(r)
		if err != nil || !(slices.Contains(scopes, tools.ScopeRead) || slices.Contains(scopes, tools.ScopeTrade)) {
			rpcHTTPError(w, http.StatusForbidden, "/metrics needs an API key with the read scope")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// serveMetricsAddr serves /healthz, /readyz and /metrics on --metrics-addr (a
// loopback address, checked by ParseFlags) until ctx ends.
func (m *Main) serveMetricsAddr(ctx context.Context) (stop func(), err error) {
	if m.ops.metricsAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", m.ops.metricsAddr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", m.ops.metricsAddr, err)
	}
	mux := http.NewServeMux()
	m.mountOps(mux, nil)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(m.Stderr, "  metrics and health: http://%s/metrics, /healthz, /readyz\n", ln.Addr())
	go func() { _ = hs.Serve(ln) }()
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}, nil
}
