package tokenmetrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sibylmcp/sibyl"
)

const testKey = "tm-test-key-123"

// fakeTM is an httptest Token Metrics API built from the shapes its public MCP
// server (github.com/token-metrics/mcp, src/tools/*.ts) documents: the envelope
// {success, message, length, data} with UPPERCASE fields, trader and investor
// grades by symbol (numbers), the TM grade by token_id (numbers as strings).
// The error answers (401, 429, quota) use the same envelope with a message;
// Token Metrics does not document their bodies, so the client relies only on
// the status and on quota words in the message.
func fakeTM(t *testing.T, mode *atomic.Value, calls *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("x-api-key") != testKey {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"success":false,"message":"Invalid API key","length":0,"data":[]}`))
			return
		}
		switch mode.Load().(string) {
		case "429":
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"success":false,"message":"Too many requests","length":0,"data":[]}`))
			return
		case "quota":
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"success":false,"message":"Monthly API quota exhausted for your plan","length":0,"data":[]}`))
			return
		case "500":
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		switch r.URL.Path {
		case "/v2/trader-grades":
			if r.URL.Query().Get("symbol") == "" {
				t.Errorf("trader-grades without symbol: %s", r.URL.RawQuery)
			}
			w.Write([]byte(`{"success":true,"message":"Data fetched successfully","length":3,"data":[
{"TOKEN_ID":3375,"TOKEN_NAME":"Bitcoin","TOKEN_SYMBOL":"BTC","DATE":"2026-12-01T00:00:00.000Z","TA_GRADE":61.2,"QUANT_GRADE":55.1,"TM_TRADER_GRADE":58.37,"TM_TRADER_GRADE_24H_PCT_CHANGE":1.2},
{"TOKEN_ID":3375,"TOKEN_NAME":"Bitcoin","TOKEN_SYMBOL":"BTC","DATE":"2026-12-02T00:00:00.000Z","TA_GRADE":62.0,"QUANT_GRADE":56.0,"TM_TRADER_GRADE":60.5,"TM_TRADER_GRADE_24H_PCT_CHANGE":3.6},
{"TOKEN_ID":3306,"TOKEN_NAME":"Ethereum","TOKEN_SYMBOL":"ETH","DATE":"2026-12-02T00:00:00.000Z","TA_GRADE":40.0,"QUANT_GRADE":44.0,"TM_TRADER_GRADE":41.25,"TM_TRADER_GRADE_24H_PCT_CHANGE":-2.0}]}`))
		case "/v2/investor-grades":
			w.Write([]byte(`{"success":true,"message":"Data fetched successfully","length":2,"data":[
{"TOKEN_ID":3375,"TOKEN_NAME":"Bitcoin","TOKEN_SYMBOL":"BTC","DATE":"2026-12-02T00:00:00.000Z","TM_INVESTOR_GRADE":71.9,"TM_INVESTOR_GRADE_7D_PCT_CHANGE":0.4,"FUNDAMENTAL_GRADE":80.1,"TECHNOLOGY_GRADE":77.0,"VALUATION_GRADE":60.0,"DEFI_USAGE_SCORE":null},
{"TOKEN_ID":3306,"TOKEN_NAME":"Ethereum","TOKEN_SYMBOL":"ETH","DATE":"2026-12-02T00:00:00.000Z","TM_INVESTOR_GRADE":68.0,"TM_INVESTOR_GRADE_7D_PCT_CHANGE":-0.1,"FUNDAMENTAL_GRADE":79.0,"TECHNOLOGY_GRADE":81.0,"VALUATION_GRADE":55.0,"DEFI_USAGE_SCORE":12.5}]}`))
		case "/v2/tm-grade":
			if got := r.URL.Query().Get("token_id"); got != "3306,3375" {
				t.Errorf("tm-grade token_id: got %q, want 3306,3375", got)
			}
			w.Write([]byte(`{"success":true,"message":"Data fetched successfully","length":2,"data":[
{"TOKEN_ID":3375,"TOKEN_NAME":"Bitcoin","TOKEN_SYMBOL":"BTC","FUNDAMENTAL_GRADE":"80.1","TM_GRADE":"63.4","TM_GRADE_24h_PCT_CHANGE":"1.1","TM_TRADER_GRADE_24H_CHANGE":"3.6","FUNDAMENTAL_GRADE_CLASS":"Strong","TM_GRADE_SIGNAL":"bullish","MOMENTUM":"up"},
{"TOKEN_ID":3306,"TOKEN_NAME":"Ethereum","TOKEN_SYMBOL":"ETH","FUNDAMENTAL_GRADE":"79","TM_GRADE":"48","TM_GRADE_24h_PCT_CHANGE":"-0.5","TM_TRADER_GRADE_24H_CHANGE":"-2","FUNDAMENTAL_GRADE_CLASS":"Strong","TM_GRADE_SIGNAL":"neutral","MOMENTUM":"down"}]}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
}

func TestGradesAndErrors(t *testing.T) {
	var mode atomic.Value
	mode.Store("ok")
	var calls atomic.Int32
	srv := fakeTM(t, &mode, &calls)
	defer srv.Close()
	ctx := context.Background()
	c := &Client{BaseURL: srv.URL, APIKey: testKey}
	got, err := c.Grades(ctx, []string{"BTC", "eth", "NOPE"})
	if err != nil {
		t.Fatal(err)
	}
	btc, eth := got["BTC"], got["ETH"]
	if btc.TraderGrade == nil || *btc.TraderGrade != 60.5 || btc.Date != "2026-12-02" || *btc.InvestorGrade != 71.9 || *btc.TMGrade != 63.4 || btc.Signal != "bullish" {
		t.Errorf("BTC: got %+v, want the latest day's grades", btc)
	}
	if eth.TraderGrade == nil || *eth.TraderGrade != 41.25 || *eth.TMGrade != 48 {
		t.Errorf("ETH: got %+v", eth)
	}
	if _, ok := got["NOPE"]; ok || len(got) != 2 {
		t.Errorf("got %d tokens, want BTC and ETH only", len(got))
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("got %d requests, want 3 (one per endpoint)", n)
	}
	if _, err := c.Grades(ctx, []string{"BTC", "ETH", "NOPE"}); err != nil || calls.Load() != 3 {
		t.Errorf("a second ask: %v after %d requests, want the cache (3 requests)", err, calls.Load())
	}

	for _, tc := range []struct {
		name, mode, key string
		code            sibyl.Code
		msg             string
	}{
		{"no key", "ok", "", sibyl.Unauthorized, "TOKEN_METRICS_API_KEY"},
		{"bad key", "ok", "wrong-key-456", sibyl.Unauthorized, "refused this server's API key (HTTP 401)"},
		{"rate limit", "429", testKey, sibyl.RateLimited, "retry after 60 seconds"},
		{"quota", "quota", testKey, sibyl.Unavailable, "quota is used up"},
		{"server error", "500", testKey, sibyl.Unavailable, "HTTP 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mode.Store(tc.mode)
			c := &Client{BaseURL: srv.URL, APIKey: tc.key}
			_, err := c.Grades(ctx, []string{"BTC"})
			if sibyl.ErrorCode(err) != tc.code || !strings.Contains(sibyl.ErrorMessage(err), tc.msg) {
				t.Errorf("got %v (%s), want %s containing %q", err, sibyl.ErrorCode(err), tc.code, tc.msg)
			}
			if tc.key != "" && strings.Contains(err.Error(), tc.key) {
				t.Errorf("the error shows the key: %v", err)
			}
		})
	}
}
