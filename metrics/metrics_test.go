package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape serves m's handler and parses the exposition with the Prometheus text
// parser.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parsing the exposition: %v", err)
	}
	return fams
}

// value returns the counter, gauge or histogram count of the sample of family
// name whose labels include want (-1 when there is none).
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func TestTransportCountsByVenueEndpointStatus(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/trade-api/v2/markets/KXBTC-26DEC31-T120000":
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer up.Close()
	m := New(nil)
	c := &http.Client{Transport: m.Transport("kalshi", nil, nil)}
	for _, p := range []string{"/trade-api/v2/markets/KXBTC-26DEC31-T120000", "/trade-api/v2/markets/KXETH-26DEC31-T5000", "/trade-api/v2/portfolio/orders?cursor=abc123"} {
		resp, err := c.Get(up.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	up.Close()
	if _, err := c.Get(up.URL + "/trade-api/v2/exchange/status"); err == nil {
		t.Fatal("request to a closed server: want an error")
	}
	fams := scrape(t, m)
	for _, c := range []struct {
		endpoint, status string
		want             float64
	}{
		{"GET /trade-api/v2/markets/{id}", "200", 1},
		{"GET /trade-api/v2/markets/{id}", "429", 1},
		{"GET /trade-api/v2/portfolio/orders", "429", 1},
		{"GET /trade-api/v2/exchange/status", "error", 1},
	} {
		if got := value(fams, "sibyl_venue_requests_total", map[string]string{"venue": "kalshi", "endpoint": c.endpoint, "status": c.status}); got != c.want {
			t.Errorf("%s %s: got %v requests, want %v", c.endpoint, c.status, got, c.want)
		}
	}
	if got := value(fams, "sibyl_venue_request_duration_seconds", map[string]string{"venue": "kalshi", "endpoint": "GET /trade-api/v2/markets/{id}"}); got != 2 {
		t.Errorf("latency samples: got %v, want 2", got)
	}
}

func TestWrapHTTPCountsRefusals(t *testing.T) {
	m := New(func() int { return 3 })
	h := m.WrapHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/401":
			w.WriteHeader(http.StatusUnauthorized)
		case "/403":
			w.WriteHeader(http.StatusForbidden)
		case "/429":
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.Write([]byte("ok"))
		}
	}))
	for _, p := range []string{"/401", "/401", "/403", "/429", "/ok"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", p, nil))
	}
	m.ToolCall("place_order", "ok", time.Millisecond)
	m.ToolCall("place_order", "risk_limit", time.Millisecond)
	m.Commit(7, time.Millisecond)
	m.Order("place_order", "rejected", "risk_limit")
	fams := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"sibyl_http_refusals_total", map[string]string{"reason": "auth"}, 2},
		{"sibyl_http_refusals_total", map[string]string{"reason": "forbidden"}, 1},
		{"sibyl_http_refusals_total", map[string]string{"reason": "rate_limit"}, 1},
		{"sibyl_sessions_open", nil, 3},
		{"sibyl_tool_calls_total", map[string]string{"tool": "place_order", "outcome": "risk_limit"}, 1},
		{"sibyl_tool_call_duration_seconds", map[string]string{"tool": "place_order"}, 2},
		{"sibyl_store_commit_batch_size", nil, 1},
		{"sibyl_store_commit_sync_seconds", nil, 1},
		{"sibyl_orders_total", map[string]string{"tool": "place_order", "outcome": "rejected", "code": "risk_limit"}, 1},
	} {
		if got := value(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v: got %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

func TestNilMetricsIgnoresEverything(t *testing.T) {
	var m *Metrics
	m.ToolCall("x", "ok", 0)
	m.Commit(1, 0)
	m.Order("x", "placed", "")
	m.Refused("auth")
	if rt := m.Transport("v", http.DefaultTransport, nil); rt != http.DefaultTransport {
		t.Errorf("nil Metrics: got a wrapped transport, want the base")
	}
}
