package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// freeLoopback returns a loopback address that was free a moment ago.
func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// scrapeMetrics GETs url (with token when not empty) and parses the body with
// the Prometheus text parser.
func scrapeMetrics(t *testing.T, url, token string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return resp.StatusCode, fams
}

// sample returns the value (counter, gauge, or histogram sample count) of the
// sample of family name whose labels include want; 0 when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return 0
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
	return 0
}

// TestHealthAndMetricsDuringLoad: a real sibyl serve --http with API keys and
// --metrics-addr. /healthz and /readyz answer without a session; /metrics on
// the --http listener needs a read key; during a load of concurrent
// place_order calls (first attempts, retries, reused keys) from the official
// SDK client, scrapes parse and the counters move by exactly the calls made.
func TestHealthAndMetricsDuringLoad(t *testing.T) {
	data := t.TempDir()
	mk := func(scopes string) string {
		out, err := exec.Command(sibylBin, "keys", "create", "--name", "k-"+scopes, "--scopes", scopes, "--data-dir", data).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	readKey, tradeKey := mk("read"), mk("read,trade")
	maddr := freeLoopback(t)
	url := startHTTPDir(t, data, "--metrics-addr", maddr, "--rate-limit", "0")
	base := strings.TrimSuffix(url, "/mcp")
	local := "http://" + maddr

	for _, b := range []string{base, local} {
		resp, err := http.Get(b + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
			t.Errorf("%s/healthz: got %d %q, want 200 ok", b, resp.StatusCode, body)
		}
		resp, err = http.Get(b + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Ready  bool `json:"ready"`
			Checks []struct {
				Name string `json:"name"`
				OK   bool   `json:"ok"`
			} `json:"checks"`
		}
		err = json.NewDecoder(resp.Body).Decode(&rep)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !rep.Ready || len(rep.Checks) != 2 || rep.Checks[0].Name != "store" || rep.Checks[1].Name != "venue:paper" {
			t.Errorf("%s/readyz: got %d %+v (%v), want 200, ready, store and venue:paper checks", b, resp.StatusCode, rep, err)
		}
	}
	if code, _ := scrapeMetrics(t, base+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics on --http without a key: got %d, want 401", code)
	}
	if code, fams := scrapeMetrics(t, base+"/metrics", readKey); code != 200 || fams["sibyl_tool_calls_total"] == nil && fams["go_goroutines"] == nil {
		t.Errorf("/metrics with a read key: got %d, want 200 and a parsed exposition", code)
	}
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	connect := func() *sdk.ClientSession {
		c := sdk.NewClient(&sdk.Implementation{Name: "load", Version: "1"}, nil)
		cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url, MaxRetries: -1,
			HTTPClient: &http.Client{Transport: bearer{tradeKey, http.DefaultTransport}}},
			// A session-based revision: the SDK's default may be the
			// stateless one, which opens no session to count.
			&sdk.ClientSessionOptions{ProtocolVersion: "2025-06-18"})
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	first := connect()
	defer first.Close()
	res, err := first.CallTool(ctx, &sdk.CallToolParams{Name: "search_markets", Arguments: map[string]any{"query": "BTC above", "status": "open", "limit": 1}})
	if err != nil || res.IsError {
		t.Fatalf("search_markets: %v %s", err, text(res))
	}
	var found struct {
		Markets []struct {
			ID string `json:"id"`
		} `json:"markets"`
	}
	if err := json.Unmarshal([]byte(text(res)), &found); err != nil || len(found.Markets) == 0 {
		t.Fatalf("no market: %v %s", err, text(res))
	}
	market := found.Markets[0].ID

	const clients, orders = 6, 5
	sessions := make([]*sdk.ClientSession, clients)
	for i := range sessions {
		sessions[i] = connect()
		defer sessions[i].Close()
	}
	_, before := scrapeMetrics(t, local+"/metrics", "")
	if got := sample(before, "sibyl_sessions_open", nil); got != clients+1 {
		t.Errorf("sessions open: got %v, want %d", got, clients+1)
	}
	stop := make(chan struct{})
	var scrapes sync.WaitGroup
	var mid []map[string]*dto.MetricFamily
	scrapes.Add(1)
	go func() { // scrape while the load runs
		defer scrapes.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, f := scrapeMetrics(t, local+"/metrics", ""); f != nil {
				mid = append(mid, f)
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, clients*orders*3)
	for c, cs := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call := func(key string, qty int, wantErr bool) {
				res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "place_order", Arguments: map[string]any{
					"market": market, "outcome": "Yes", "side": "buy", "quantity": qty, "limit_price": 0.01, "idempotency_key": key}})
				if err != nil {
					errs <- err
				} else if res.IsError != wantErr {
					errs <- fmt.Errorf("%s qty %d: %s", key, qty, text(res))
				}
			}
			for o := 0; o < orders; o++ {
				// Each order its own quantity: identical orders under
				// other keys would be refused as possible duplicates.
				key, qty := fmt.Sprintf("load-%02d-%02d", c, o), 10+c*orders+o
				call(key, qty, false) // placed
				call(key, qty, false) // replayed
			}
			call(fmt.Sprintf("load-%02d-00", c), 1, true) // same key, other arguments: refused
		}()
	}
	wg.Wait()
	close(stop)
	scrapes.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	_, after := scrapeMetrics(t, local+"/metrics", "")
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"sibyl_tool_calls_total", map[string]string{"tool": "place_order", "outcome": "ok"}, clients * orders * 2},
		{"sibyl_tool_calls_total", map[string]string{"tool": "place_order", "outcome": "idempotency_key_reused"}, clients},
		{"sibyl_tool_call_duration_seconds", map[string]string{"tool": "place_order"}, clients * (orders*2 + 1)},
		{"sibyl_orders_total", map[string]string{"tool": "place_order", "outcome": "intent"}, clients * orders},
		{"sibyl_orders_total", map[string]string{"tool": "place_order", "outcome": "placed"}, clients * orders},
		{"sibyl_orders_total", map[string]string{"tool": "place_order", "outcome": "replay"}, clients * orders},
		{"sibyl_orders_total", map[string]string{"tool": "place_order", "outcome": "key_reused", "code": "idempotency_key_reused"}, clients},
		{"sibyl_http_refusals_total", map[string]string{"reason": "auth"}, 2}, // /metrics and ping without a key
		{"sibyl_sessions_open", nil, clients + 1},
	} {
		got := sample(after, c.name, c.labels) - sample(before, c.name, c.labels)
		if c.name == "sibyl_sessions_open" || c.name == "sibyl_http_refusals_total" {
			got = sample(after, c.name, c.labels)
		}
		if got != c.want {
			t.Errorf("%s%v: got %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := sample(after, "sibyl_store_commit_batch_size", nil) - sample(before, "sibyl_store_commit_batch_size", nil); n < 1 {
		t.Errorf("group commits during the load: got %v, want some", n)
	}
	if sample(after, "sibyl_store_commit_sync_seconds", nil) != sample(after, "sibyl_store_commit_batch_size", nil) {
		t.Errorf("every commit has a batch size and a sync time")
	}
	if len(mid) == 0 {
		t.Error("no scrape during the load")
	}
	for _, f := range mid { // counters only grow
		k := map[string]string{"tool": "place_order", "outcome": "ok"}
		if got := sample(f, "sibyl_tool_calls_total", k); got > sample(after, "sibyl_tool_calls_total", k) {
			t.Errorf("a scrape during the load saw %v calls, more than the %v after it", got, sample(after, "sibyl_tool_calls_total", k))
		}
	}
	t.Logf("%d scrapes during the load; batch sizes observed: %v commits", len(mid), sample(after, "sibyl_store_commit_batch_size", nil))
}
