package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// fakeTokenMetrics is an httptest Token Metrics API built from the shapes its
// public MCP server (github.com/token-metrics/mcp) documents: the envelope
// {success, message, length, data} with UPPERCASE fields. Error bodies (401,
// 429, quota) are not documented; they use the same envelope. fail maps a
// requested symbol to "429" or "quota".
func fakeTokenMetrics(key string, fail map[string]string, calls *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("x-api-key") != key {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"success":false,"message":"Invalid API key","length":0,"data":[]}`))
			return
		}
		switch fail[r.URL.Query().Get("symbol")] {
		case "429":
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"success":false,"message":"Too many requests","length":0,"data":[]}`))
			return
		case "quota":
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"success":false,"message":"Monthly API quota exhausted for your plan","length":0,"data":[]}`))
			return
		}
		switch r.URL.Path {
		case "/v2/trader-grades":
			w.Write([]byte(`{"success":true,"message":"ok","length":2,"data":[
{"TOKEN_ID":3375,"TOKEN_NAME":"Bitcoin","TOKEN_SYMBOL":"BTC","DATE":"2026-12-02T00:00:00.000Z","TA_GRADE":62.0,"QUANT_GRADE":56.0,"TM_TRADER_GRADE":60.5,"TM_TRADER_GRADE_24H_PCT_CHANGE":3.6},
{"TOKEN_ID":3306,"TOKEN_NAME":"Ethereum","TOKEN_SYMBOL":"ETH","DATE":"2026-12-02T00:00:00.000Z","TA_GRADE":40.0,"QUANT_GRADE":44.0,"TM_TRADER_GRADE":41.25,"TM_TRADER_GRADE_24H_PCT_CHANGE":-2.0}]}`))
		case "/v2/investor-grades":
			w.Write([]byte(`{"success":true,"message":"ok","length":1,"data":[
{"TOKEN_ID":3375,"TOKEN_NAME":"Bitcoin","TOKEN_SYMBOL":"BTC","DATE":"2026-12-02T00:00:00.000Z","TM_INVESTOR_GRADE":71.9,"FUNDAMENTAL_GRADE":80.1}]}`))
		case "/v2/tm-grade":
			w.Write([]byte(`{"success":true,"message":"ok","length":1,"data":[
{"TOKEN_ID":3375,"TOKEN_NAME":"Bitcoin","TOKEN_SYMBOL":"BTC","TM_GRADE":"63.4","TM_GRADE_SIGNAL":"bullish","MOMENTUM":"up"}]}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
}

// startLogged runs sibyl serve --http with env and returns its endpoint and a
// function returning everything it wrote to stderr so far.
func startLogged(t *testing.T, env []string, extra ...string) (string, func() string) {
	t.Helper()
	cmd := exec.Command(sibylBin, append([]string{"serve", "--http", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-level", "debug"}, extra...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var log bytes.Buffer
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		<-done
	})
	found := make(chan string, 1)
	go func() {
		defer close(done)
		re := regexp.MustCompile(`http://127\.0\.0\.1:\d+/mcp`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if u := re.FindString(sc.Text()); u != "" {
				select {
				case found <- u:
				default:
				}
			}
		}
	}()
	select {
	case u := <-found:
		return u, func() string { mu.Lock(); defer mu.Unlock(); return log.String() }
	case <-time.After(30 * time.Second):
		t.Fatal("no endpoint within 30s")
		return "", nil
	}
}

// TestTokenMetricsSecondOpinion: with second_opinion, get_token_grade and
// rank_tokens show Token Metrics' grades beside sibyl's, labelled by source;
// without a key, with a refused key, on 429 and with the quota used up, the
// second opinion says why and sibyl's own grade still answers. The key never
// reaches the log or an answer.
func TestTokenMetricsSecondOpinion(t *testing.T) {
	const key = "tm-live-key-e2e-0123456789"
	var calls atomic.Int32
	up := fakeTokenMetrics(key, map[string]string{"ETH": "429", "SOL": "quota"}, &calls)
	defer up.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	connect := func(url string) *sdk.ClientSession {
		c := sdk.NewClient(&sdk.Implementation{Name: "tm", Version: "1"}, nil)
		cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.Close() })
		return cs
	}
	type opinion struct {
		Source        string   `json:"source"`
		TraderGrade   *float64 `json:"trader_grade"`
		InvestorGrade *float64 `json:"investor_grade"`
		Grade         *float64 `json:"grade"`
		Signal        string   `json:"signal"`
		AsOf          string   `json:"as_of"`
		Error         *struct {
			Code, Message string
		} `json:"error"`
	}
	grade := func(cs *sdk.ClientSession, sym string) (float64, opinion, string) {
		t.Helper()
		res := callTool(ctx, t, cs, "get_token_grade", map[string]any{"symbol": sym, "second_opinion": true})
		if res.IsError {
			t.Fatalf("%s: sibyl's own grade failed: %s", sym, text(res))
		}
		var a struct {
			TraderGrade   float64  `json:"trader_grade"`
			Source        string   `json:"source"`
			SecondOpinion *opinion `json:"second_opinion"`
		}
		if err := json.Unmarshal([]byte(text(res)), &a); err != nil || a.SecondOpinion == nil || a.Source != "paper" {
			t.Fatalf("%s: got %s (%v), want sibyl's grade from paper and a second_opinion", sym, text(res), err)
		}
		return a.TraderGrade, *a.SecondOpinion, text(res)
	}

	url, logs := startLogged(t, []string{"TOKEN_METRICS_API_KEY=" + key}, "--token-metrics-url", up.URL)
	cs := connect(url)
	own, op, body := grade(cs, "BTC")
	if op.Source != "token_metrics" || op.TraderGrade == nil || *op.TraderGrade != 60.5 || *op.InvestorGrade != 71.9 || *op.Grade != 63.4 ||
		op.Signal != "bullish" || op.AsOf != "2026-12-02" || op.Error != nil || !(own >= 0 && own <= 100) {
		t.Errorf("BTC: got sibyl %v and %+v, want Token Metrics' 60.5/71.9/63.4 beside sibyl's", own, op)
	}
	if res := callTool(ctx, t, cs, "get_token_grade", map[string]any{"symbol": "BTC"}); strings.Contains(text(res), "second_opinion") {
		t.Errorf("without second_opinion: got %s, want no second opinion", text(res))
	}
	n := calls.Load()
	grade(cs, "BTC")
	if calls.Load() != n {
		t.Errorf("a second ask for BTC made %d requests, want the cache", calls.Load()-n)
	}
	for _, c := range []struct{ sym, code, msg string }{
		{"ETH", "rate_limited", "retry after 60 seconds"},
		{"SOL", "unavailable", "quota is used up"},
	} {
		_, op, _ := grade(cs, c.sym)
		if op.Error == nil || op.Error.Code != c.code || !strings.Contains(op.Error.Message, c.msg) {
			t.Errorf("%s: got %+v, want %s containing %q", c.sym, op, c.code, c.msg)
		}
	}
	res := callTool(ctx, t, cs, "rank_tokens", map[string]any{"universe": []string{"BTC", "DOGE"}, "second_opinion": true})
	var rank struct {
		Ranking []struct {
			Symbol        string   `json:"symbol"`
			SecondOpinion *opinion `json:"second_opinion"`
		} `json:"ranking"`
	}
	json.Unmarshal([]byte(text(res)), &rank)
	if len(rank.Ranking) != 2 {
		t.Fatalf("rank_tokens: %s", text(res))
	}
	for _, r := range rank.Ranking {
		switch {
		case r.SecondOpinion == nil:
			t.Errorf("rank_tokens %s: no second opinion", r.Symbol)
		case r.Symbol == "BTC" && (r.SecondOpinion.TraderGrade == nil || *r.SecondOpinion.TraderGrade != 60.5):
			t.Errorf("rank_tokens BTC: got %+v", r.SecondOpinion)
		case r.Symbol == "DOGE" && (r.SecondOpinion.Error == nil || r.SecondOpinion.Error.Code != "not_found"):
			t.Errorf("rank_tokens DOGE (not graded by Token Metrics): got %+v, want not_found", r.SecondOpinion)
		}
	}
	if strings.Contains(logs(), key) || strings.Contains(body, key) || strings.Contains(text(res), key) {
		t.Error("the Token Metrics key reached the log or an answer")
	}

	t.Run("no key", func(t *testing.T) {
		url, _ := startLogged(t, []string{"TOKEN_METRICS_API_KEY="}, "--token-metrics-url", up.URL)
		_, op, _ := grade(connect(url), "BTC")
		if op.Error == nil || op.Error.Code != "unauthorized" || !strings.Contains(op.Error.Message, "TOKEN_METRICS_API_KEY") {
			t.Errorf("got %+v, want unauthorized naming TOKEN_METRICS_API_KEY", op)
		}
	})
	t.Run("bad key", func(t *testing.T) {
		const bad = "tm-wrong-key-987654321"
		url, logs := startLogged(t, []string{"TOKEN_METRICS_API_KEY=" + bad}, "--token-metrics-url", up.URL)
		_, op, body := grade(connect(url), "BTC")
		if op.Error == nil || op.Error.Code != "unauthorized" || !strings.Contains(op.Error.Message, "refused this server's API key (HTTP 401)") {
			t.Errorf("got %+v, want unauthorized saying the key was refused", op)
		}
		if strings.Contains(logs(), bad) || strings.Contains(body, bad) {
			t.Error("the refused key reached the log or the answer")
		}
	})
}
