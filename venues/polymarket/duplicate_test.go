package polymarket

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl"
)

// TestDuplicateUnreadableIsUnknown: when the CLOB refuses a resend as a
// duplicate (it has the order) but the order cannot be read back yet, the
// outcome is unknown (Unavailable, reconcile later), never a refusal such as
// not_found that sibyl would store and replay as "nothing was placed".
func TestDuplicateUnreadableIsUnknown(t *testing.T) {
	srv, signer := fakeWorld(t)
	target, _ := url.Parse(srv.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	var hide atomic.Bool
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hide.Load() && r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/data/order/") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("null")) // the order is not readable yet
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	c, err := NewClient(Config{GammaURL: proxy.URL, ClobURL: proxy.URL, DataURL: proxy.URL, Signer: signer, HTTP: &http.Client{Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(Options{Client: c, Wallet: &Wallet{Signer: signer}, Live: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := req(condV2, "No", sibyl.Buy, sibyl.LimitOrder, sibyl.GTC, "10", "0.35")
	p, err := v.PrepareOrder(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	r.Prepared = &p
	if _, err := v.PlaceOrder(ctx, r); err != nil {
		t.Fatal(err)
	}
	hide.Store(true)
	_, err = v.PlaceOrder(ctx, r) // the resend: the venue says duplicate
	if got := sibyl.ErrorCode(err); got != sibyl.Unavailable {
		t.Fatalf("duplicate whose order cannot be read: got %q (%v), want unavailable (outcome unknown)", got, err)
	}
	if n := len(srv.Orders()); n != 1 {
		t.Errorf("%d orders at the venue, want 1", n)
	}
}
