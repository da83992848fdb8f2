package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/venues/kalshi/kalshitest"
)

// kalshiKeyFile writes a fresh RSA key as PEM and returns it with its path.
func kalshiKeyFile(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kalshi.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	return key, path
}

type e2eVenue struct {
	Name, Mode, Reason string
	Available          bool
	Capabilities       []string
}

func listVenuesE2E(ctx context.Context, t *testing.T, s *rawHTTPSession) map[string]e2eVenue {
	t.Helper()
	a, err := s.callTool(ctx, "list_venues", map[string]any{})
	if err != nil || a.IsError {
		t.Fatalf("list_venues: %v %v", a, err)
	}
	var out struct {
		Venues []e2eVenue `json:"venues"`
	}
	if err := a.decode(&out); err != nil {
		t.Fatal(err)
	}
	m := map[string]e2eVenue{}
	for _, v := range out.Venues {
		m[v.Name] = v
	}
	return m
}

func dialE2E(ctx context.Context, t *testing.T, p *serverProc) *rawHTTPSession {
	t.Helper()
	s, err := dialRawHTTP(ctx, newCTHTTPClient(), p.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sibyl serve --venues paper,kalshi in each configuration: without
// credentials (read-only: market data works, trading tools say why and send
// nothing), demo credentials (trades on the demo exchange), prod without
// --live (refused naming --live, nothing sent), and an unreachable Kalshi
// (list_venues says why).
func TestKalshiServeModes(t *testing.T) {
	key, keyPath := kalshiKeyFile(t)
	srv := kalshitest.New(kalshitest.Options{KeyID: "e2e-key", PublicKey: &key.PublicKey})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"SIBYL_VENUES=paper,kalshi", "SIBYL_KALSHI_URL=" + srv.URL()}
	creds := []string{"KALSHI_API_KEY_ID=e2e-key", "KALSHI_PRIVATE_KEY_PATH=" + keyPath}
	order := map[string]any{"market": "kalshi:KXBTCD-26DEC3117-T119999.99", "outcome": "Yes", "side": "buy",
		"quantity": 2, "limit_price": 0.43, "time_in_force": "ioc"}
	withKey := func(k string) map[string]any {
		o := map[string]any{}
		for a, b := range order {
			o[a] = b
		}
		o["idempotency_key"] = k
		return o
	}

	t.Run("no credentials", func(t *testing.T) {
		p := mustLaunchHTTP(t, t.TempDir(), append(base, "KALSHI_API_KEY_ID=", "KALSHI_PRIVATE_KEY_PATH="))
		s := dialE2E(ctx, t, p)
		vs := listVenuesE2E(ctx, t, s)
		if k := vs["kalshi"]; k.Mode != "read-only" || !k.Available {
			t.Errorf("kalshi: %+v", k)
		}
		a, err := s.callTool(ctx, "search_markets", map[string]any{"venue": "kalshi", "query": "bitcoin"})
		if err != nil || a.IsError || !strings.Contains(string(a.Structured), "kalshi:KXBTCD-26DEC3117-T119999.99") {
			t.Errorf("search_markets: %v %v", a, err)
		}
		a, err = s.callTool(ctx, "get_orderbook", map[string]any{"market": "kalshi:KXBTCD-26DEC3117-T119999.99", "outcome": "No"})
		if err != nil || a.IsError {
			t.Errorf("get_orderbook: %v %v", a, err)
		}
		before := srv.Requests("POST /portfolio/events/orders")
		a, err = s.callTool(ctx, "place_order", withKey("no-creds-0001"))
		if err != nil || !a.IsError || a.Code != "unauthorized" || !strings.Contains(a.Message, "KALSHI_API_KEY_ID") {
			t.Errorf("place_order without credentials: %v %v", a, err)
		}
		if n := srv.Requests("POST /portfolio/events/orders") - before; n != 0 {
			t.Errorf("creates sent without credentials: %d", n)
		}
	})

	t.Run("demo", func(t *testing.T) {
		p := mustLaunchHTTP(t, t.TempDir(), append(base, creds...))
		s := dialE2E(ctx, t, p)
		if k := listVenuesE2E(ctx, t, s)["kalshi"]; k.Mode != "demo" || !k.Available {
			t.Errorf("kalshi: %+v", k)
		}
		a, err := s.callTool(ctx, "place_order", withKey("demo-order-0001"))
		if err != nil || a.IsError {
			t.Fatalf("place_order on demo: %v %v", a, err)
		}
		var o ctOrder
		if err := a.decode(&o); err != nil || o.Status != "filled" {
			t.Errorf("order: %+v %v", o, err)
		}
		again, err := s.callTool(ctx, "place_order", withKey("demo-order-0001"))
		var o2 ctOrder
		if err != nil || again.IsError || again.decode(&o2) != nil || !o2.Replayed || o2.OrderID != o.OrderID {
			t.Errorf("retry: %v %v", again, err)
		}
		if n := len(srv.Orders()); n != 1 {
			t.Errorf("orders at the exchange: %d, want 1", n)
		}
	})

	t.Run("prod without --live", func(t *testing.T) {
		p := mustLaunchHTTP(t, t.TempDir(), append(append(base, creds...), "SIBYL_KALSHI_ENV=prod"))
		s := dialE2E(ctx, t, p)
		if k := listVenuesE2E(ctx, t, s)["kalshi"]; k.Mode != "live" {
			t.Errorf("kalshi: %+v", k)
		}
		creates, cancels := srv.Requests("POST /portfolio/events/orders"), srv.Requests("DELETE /portfolio/events/orders/{id}")
		orderReads := srv.Requests("GET /portfolio/orders/{id}")
		a, err := s.callTool(ctx, "place_order", withKey("prod-order-0001"))
		if err != nil || !a.IsError || !strings.Contains(a.Message, "--live") {
			t.Errorf("place_order on prod without --live: %v %v", a, err)
		}
		a, err = s.callTool(ctx, "cancel_order", map[string]any{"order_id": "some-order", "venue": "kalshi", "idempotency_key": "prod-cancel-0001"})
		if err != nil || !a.IsError || !strings.Contains(a.Message, "--live") {
			t.Errorf("cancel_order on prod without --live: %v %v", a, err)
		}
		if srv.Requests("POST /portfolio/events/orders") != creates || srv.Requests("DELETE /portfolio/events/orders/{id}") != cancels || srv.Requests("GET /portfolio/orders/{id}") != orderReads {
			t.Errorf("requests reached the exchange")
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := "http://" + ln.Addr().String() + "/trade-api/v2"
		ln.Close()
		p := mustLaunchHTTP(t, t.TempDir(), []string{"SIBYL_VENUES=paper,kalshi", "SIBYL_KALSHI_URL=" + dead})
		s := dialE2E(ctx, t, p)
		if k := listVenuesE2E(ctx, t, s)["kalshi"]; k.Available || !strings.Contains(k.Reason, "did not answer") {
			t.Errorf("kalshi: %+v", k)
		}
	})

	t.Run("bad configuration", func(t *testing.T) {
		_, err := launchHTTPServer(t.TempDir(), append(base, "KALSHI_API_KEY_ID=only-the-id"))
		if err == nil || !strings.Contains(err.Error(), "KALSHI_PRIVATE_KEY_PATH") {
			t.Errorf("got %v, want a start-up error naming KALSHI_PRIVATE_KEY_PATH", err)
		}
	})
}

// hedge_position can use Kalshi's price markets: plan_hedge for BTC on the
// kalshi venue alone picks the KXBTCD-style market (Underlying filled from
// strike_type/floor_strike) of the httptest Kalshi.
func TestKalshiHedgePlan(t *testing.T) {
	srv := kalshitest.New(kalshitest.Options{})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := mustLaunchHTTP(t, t.TempDir(), []string{"SIBYL_VENUES=paper,kalshi", "SIBYL_KALSHI_URL=" + srv.URL()})
	s := dialE2E(ctx, t, p)
	a, err := s.callTool(ctx, "get_spot_price", map[string]any{"symbol": "BTC"})
	if err != nil || a.IsError {
		t.Fatalf("get_spot_price: %v %v", a, err)
	}
	var spot struct {
		Price float64 `json:"price"`
	}
	if err := a.decode(&spot); err != nil || spot.Price <= 0 {
		t.Fatalf("spot: %s %v", a.Structured, err)
	}
	// The one strike listed is $120,000 (floor_strike 119999.99): protect below it.
	a, err = s.callTool(ctx, "plan_hedge", map[string]any{"symbol": "BTC", "quantity": 1, "protect_below": min(spot.Price*0.95, 115000),
		"by": "2026-12-31", "venues": []string{"kalshi"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("spot %.2f; plan_hedge: %s", spot.Price, a)
	if a.IsError || !strings.Contains(string(a.Structured), "kalshi:KXBTCD-26DEC3117-T119999.99") {
		t.Errorf("the plan does not use the Kalshi BTC market: %v", a)
	}
}
