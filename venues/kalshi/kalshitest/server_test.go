package kalshitest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

type rawClient struct {
	t   *testing.T
	s   *Server
	key *rsa.PrivateKey
}

func (c rawClient) do(method, path, body string, sign bool) (int, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.s.URL()+path, strings.NewReader(body))
	if sign {
		ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
		p, _, _ := strings.Cut(APIPrefix+path, "?")
		digest := sha256.Sum256([]byte(ts + method + p))
		sig, err := rsa.SignPSS(rand.Reader, c.key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256})
		if err != nil {
			c.t.Fatal(err)
		}
		req.Header.Set("KALSHI-ACCESS-KEY", "k")
		req.Header.Set("KALSHI-ACCESS-TIMESTAMP", ts)
		req.Header.Set("KALSHI-ACCESS-SIGNATURE", base64.StdEncoding.EncodeToString(sig))
	}
	resp, err := c.s.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func newRaw(t *testing.T, opts Options) rawClient {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	opts.KeyID, opts.PublicKey = "k", &key.PublicKey
	s := New(opts)
	t.Cleanup(s.Close)
	return rawClient{t, s, key}
}

const body = `{"ticker":"KXBTCD-26DEC3117-T119999.99","side":"bid","count":"1.00","price":"0.4300","client_order_id":"c1","time_in_force":"immediate_or_cancel","self_trade_prevention_type":"taker_at_cross"}`

func TestServerAuthAndShapes(t *testing.T) {
	c := newRaw(t, Options{})
	if code, _ := c.do("GET", "/portfolio/balance", "", false); code != http.StatusUnauthorized {
		t.Errorf("unsigned: got %d, want 401", code)
	}
	if code, _ := c.do("GET", "/portfolio/balance?x=1", "", true); code != http.StatusOK {
		t.Errorf("signed (query not signed): got %d, want 200", code)
	}
	if code, _ := c.do("POST", "/portfolio/orders", `{}`, true); code != http.StatusGone {
		t.Errorf("legacy create: got %d, want 410", code)
	}
	code, m := c.do("POST", "/portfolio/events/orders", `{"ticker":"X","yes_price":50}`, true)
	if code != http.StatusBadRequest || m["code"] != "bad_request" {
		t.Errorf("legacy field: got %d %v, want 400 with a top-level code", code, m)
	}
	code, m = c.do("POST", "/portfolio/events/orders", strings.Replace(body, `"0.4300"`, `"0.43000"`, 1), true)
	if e, _ := m["error"].(map[string]any); code != http.StatusBadRequest || e["code"] != "invalid_order" {
		t.Errorf("5-decimal price: got %d %v", code, m)
	}
	if c.s.BadSignatures() != 1 {
		t.Errorf("bad signatures: got %d, want 1", c.s.BadSignatures())
	}
}

// Under DedupeOpen a repeated client_order_id is refused only while the first
// order rests: after it filled, a resend makes a second order. That is the
// hazard sibyl's reconciliation exists for.
func TestServerDedupeOpen(t *testing.T) {
	c := newRaw(t, Options{})
	for i := 0; i < 2; i++ {
		if code, m := c.do("POST", "/portfolio/events/orders", body, true); code != http.StatusCreated {
			t.Fatalf("create %d: got %d %v", i, code, m)
		}
	}
	if n := c.s.OrdersByClientID()["c1"]; n != 2 {
		t.Errorf("orders with c1: got %d, want 2", n)
	}
	d := newRaw(t, Options{Dedupe: DedupeAny})
	d.do("POST", "/portfolio/events/orders", body, true)
	if code, _ := d.do("POST", "/portfolio/events/orders", body, true); code != http.StatusConflict {
		t.Errorf("DedupeAny resend: got %d, want 409", code)
	}
}

func TestServerFaultQueue(t *testing.T) {
	c := newRaw(t, Options{})
	c.s.Inject(Fault{Route: "GET /markets", Kind: UnavailableBefore, Times: 2})
	for i, want := range []int{503, 503, 200} {
		if code, _ := c.do("GET", "/markets", "", false); code != want {
			t.Errorf("request %d: got %d, want %d", i, code, want)
		}
	}
	if got := c.s.Requests("GET /markets"); got != 3 {
		t.Errorf("count: got %d, want 3", got)
	}
	c.s.SetFaultFunc(func(route string) Fault { return Fault{Kind: RateLimit} })
	if code, m := c.do("GET", "/markets/KXFINE-27JAN01-T1", "", false); code != 429 || m["error"] != "too many requests" {
		t.Errorf("429: got %d %v", code, m)
	}
	c.s.ClearFaults()
	if code, _ := c.do("GET", "/markets/KXFINE-27JAN01-T1", "", false); code != 200 {
		t.Errorf("after ClearFaults: got %d", code)
	}
}
