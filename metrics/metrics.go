// Package metrics holds sibyl's Prometheus metrics (github.com/prometheus/client_golang)
// and serves them in the Prometheus text format. It is fed through small seams
// that cmd/sibyl wires: tools.CallObserver (tool calls), store.Options.OnCommit
// (group commits and the order outcomes of the audit entries they commit),
// Transport (venue and feed HTTP requests), WrapHTTP (auth and rate-limit
// refusals) and a sessions function.
//
// Labels hold only bounded sets (tool names, error codes, venue names, endpoint
// templates, HTTP statuses): never an argument, a key, a token or an id. This
// package knows nothing of markets, orders or the protocol.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one registry of sibyl's metrics. Its methods are safe for
// concurrent use; a nil *Metrics ignores every observation, so code that
// serves without metrics need not check.
type Metrics struct {
	reg *prometheus.Registry

	toolCalls    *prometheus.CounterVec
	toolSeconds  *prometheus.HistogramVec
	orders       *prometheus.CounterVec
	venueReqs    *prometheus.CounterVec
	venueSeconds *prometheus.HistogramVec
	commitBatch  prometheus.Histogram
	commitSync   prometheus.Histogram
	refusals     *prometheus.CounterVec
}

// New returns a registry with every sibyl metric, the Go runtime's and the
// process's. sessions, when not nil, reports the MCP sessions open (read at each
// scrape).
func New(sessions func() int) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.toolCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sibyl_tool_calls_total",
		Help: "MCP tool calls by tool and outcome (ok, input_required, or the error code of the isError result).",
	}, []string{"tool", "outcome"})
	m.toolSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sibyl_tool_call_duration_seconds",
		Help:    "Time from a tool handler's start to its result, by tool.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"tool"})
	m.orders = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sibyl_orders_total",
		Help: "Outcomes of state-changing calls, one per audit entry committed with the state it describes: " +
			"intent, placed, cancelled, replay, reconciled, recover, rejected (refused, with code), key_reused, possible_duplicate, halted, unknown, invalid.",
	}, []string{"tool", "outcome", "code"})
	m.venueReqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sibyl_venue_requests_total",
		Help: "HTTP requests to venues and price feeds by venue, endpoint (method and path template) and status (the HTTP status, or error when none came).",
	}, []string{"venue", "endpoint", "status"})
	m.venueSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sibyl_venue_request_duration_seconds",
		Help:    "Time until a venue's or feed's response headers arrived (or the request failed), by venue and endpoint.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20},
	}, []string{"venue", "endpoint"})
	m.commitBatch = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "sibyl_store_commit_batch_size",
		Help:    "Commit functions carried by each committed group-commit transaction (one fsync each).",
		Buckets: prometheus.ExponentialBuckets(1, 2, 10), // 1 .. 512
	})
	m.commitSync = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "sibyl_store_commit_sync_seconds",
		Help:    "Time from the end of a group-commit transaction's functions to durable: page writes and fsyncs.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sibyl_http_refusals_total",
		Help: "HTTP requests refused before MCP: auth (401: no, bad or revoked API key), forbidden (403) and rate_limit (429).",
	}, []string{"reason"})
	m.reg.MustRegister(m.toolCalls, m.toolSeconds, m.orders, m.venueReqs, m.venueSeconds, m.commitBatch, m.commitSync, m.refusals,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"auth", "forbidden", "rate_limit"} {
		m.refusals.WithLabelValues(r) // shown at zero from the start
	}
	if sessions != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sibyl_sessions_open",
			Help: "MCP sessions open now (stdio and HTTP).",
		}, func() float64 { return float64(sessions()) }))
	}
	return m
}

// Handler serves the registry in the Prometheus exposition format (a nil
// *Metrics answers 404).
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ToolCall counts one finished tool call; it has the tools.CallObserver shape.
func (m *Metrics) ToolCall(tool, outcome string, elapsed time.Duration) {
	if m == nil {
		return
	}
	m.toolCalls.WithLabelValues(tool, outcome).Inc()
	m.toolSeconds.WithLabelValues(tool).Observe(elapsed.Seconds())
}

// Commit records one committed group-commit transaction: its batch size and
// the time its pages and fsyncs took.
func (m *Metrics) Commit(functions int, sync time.Duration) {
	if m == nil {
		return
	}
	m.commitBatch.Observe(float64(functions))
	m.commitSync.Observe(sync.Seconds())
}

// Order counts one committed outcome of a state-changing call (an audit entry
// of the orders service): tool, outcome and error code ("" when none).
func (m *Metrics) Order(tool, outcome, code string) {
	if m == nil {
		return
	}
	m.orders.WithLabelValues(tool, outcome, code).Inc()
}

// Refused counts an HTTP request refused before MCP, by reason (auth,
// forbidden, rate_limit).
func (m *Metrics) Refused(reason string) {
	if m == nil {
		return
	}
	m.refusals.WithLabelValues(reason).Inc()
}

// WrapHTTP returns h counting its 401, 403 and 429 answers as refusals. It reads
// only the status h writes, so it counts whatever layer inside h refused (API
// keys, scopes, rate limits, Origin checks).
func (m *Metrics) WrapHTTP(h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		switch sw.status {
		case http.StatusUnauthorized:
			m.Refused("auth")
		case http.StatusForbidden:
			m.Refused("forbidden")
		case http.StatusTooManyRequests:
			m.Refused("rate_limit")
		}
	})
}

// statusWriter remembers the status written through it. It keeps Flush (SSE
// streams) and the rest reachable through Unwrap (http.ResponseController).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
