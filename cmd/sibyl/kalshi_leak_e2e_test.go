package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/venues/kalshi/kalshitest"
)

// TestKalshiServeKeyNeverLeaks plants a Kalshi RSA key, trades through the
// whole server on the httptest Kalshi — a resting order, a marketable one, a
// lost answer retried, get/list/cancel, positions, refused orders — and then
// looks for the key material (PEM body, private exponent, primes) in
// everything sibyl wrote: its log, every tool answer, the audit export and the
// data file itself.
func TestKalshiServeKeyNeverLeaks(t *testing.T) {
	key, keyPath := kalshiKeyFile(t)
	srv := kalshitest.New(kalshitest.Options{KeyID: "leak-key-id", PublicKey: &key.PublicKey})
	defer srv.Close()
	dir := t.TempDir()
	p := mustLaunchHTTP(t, dir, []string{"SIBYL_VENUES=paper,kalshi", "SIBYL_KALSHI_URL=" + srv.URL(),
		"KALSHI_API_KEY_ID=leak-key-id", "KALSHI_PRIVATE_KEY_PATH=" + keyPath})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := dialE2E(ctx, t, p)
	var answers bytes.Buffer
	call := func(name string, args map[string]any) toolAnswer {
		t.Helper()
		a, err := s.callTool(ctx, name, args)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		answers.WriteString(a.String() + "\n" + string(a.Structured) + "\n")
		return a
	}
	const mkt = "kalshi:KXBTCD-26DEC3117-T119999.99"
	rest := call("place_order", map[string]any{"market": mkt, "outcome": "Yes", "side": "buy", "quantity": 3, "limit_price": 0.40, "idempotency_key": "ks-leak-rest-01"})
	var o ctOrder
	if rest.IsError || rest.decode(&o) != nil || o.Status != "open" {
		t.Fatalf("resting order: %v (%+v)", rest, o)
	}
	if fill := call("place_order", map[string]any{"market": mkt, "outcome": "Yes", "side": "buy", "quantity": 2, "limit_price": 0.43, "time_in_force": "ioc", "idempotency_key": "ks-leak-fill-01"}); fill.IsError {
		t.Fatalf("marketable order: %v", fill)
	}
	srv.Inject(kalshitest.Fault{Route: "POST /portfolio/events/orders", Kind: kalshitest.DropAfter})
	args := map[string]any{"market": mkt, "outcome": "No", "side": "buy", "quantity": 1, "limit_price": 0.55, "idempotency_key": "ks-leak-lost-01"}
	if lost := call("place_order", args); !lost.IsError || !lost.Retryable {
		t.Fatalf("lost answer: %v, want a retryable error", lost)
	}
	var o2 ctOrder
	if again := call("place_order", args); again.IsError || again.decode(&o2) != nil || !o2.Replayed {
		t.Fatalf("retry after a lost answer: %v, want the reconciled order, replayed", again)
	}
	call("get_order", map[string]any{"venue": "kalshi", "order_id": o.OrderID})
	call("list_orders", map[string]any{"venue": "kalshi"})
	call("get_positions", map[string]any{"venue": "kalshi"})
	if c := call("cancel_order", map[string]any{"venue": "kalshi", "order_id": o.OrderID, "idempotency_key": "ks-leak-cancel-01"}); c.IsError {
		t.Fatalf("cancel: %v", c)
	}
	if bad := call("place_order", map[string]any{"market": mkt, "outcome": "Yes", "side": "buy", "quantity": 100000, "limit_price": 0.43, "idempotency_key": "ks-leak-funds-01"}); !bad.IsError {
		t.Fatalf("an order beyond the balance: %v, want a refusal", bad)
	}
	if bad := call("place_order", map[string]any{"market": "kalshi:NO-SUCH-TICKER", "outcome": "Yes", "side": "buy", "quantity": 1, "limit_price": 0.43, "idempotency_key": "ks-leak-nomkt-01"}); !bad.IsError {
		t.Fatalf("an unknown market: %v, want a refusal", bad)
	}
	if err := p.stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	code, export, err := runSibylStdout(ctx, "audit", "export", "--jsonl", "--data-dir", dir)
	if err != nil || code != 0 || !strings.Contains(export, "ks-leak-rest-01") {
		t.Fatalf("audit export: code %d err %v: %.300s", code, err, export)
	}
	db, err := os.ReadFile(filepath.Join(dir, "sibyl.db"))
	if err != nil {
		t.Fatal(err)
	}
	if srv.BadSignatures() != 0 || len(srv.Orders()) < 3 {
		t.Errorf("venue: %d bad signatures, %d orders (want 0 and at least 3)", srv.BadSignatures(), len(srv.Orders()))
	}
	pemBytes, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(pemBytes)), "\n")
	der := x509.MarshalPKCS1PrivateKey(key)
	secrets := map[string]string{
		"PEM body (first line)":  lines[1],
		"PEM body (middle line)": lines[len(lines)/2],
		"DER (base64, raw)":      base64.RawStdEncoding.EncodeToString(der)[64:128],
		"private exponent (hex)": fmt.Sprintf("%x", key.D)[:48],
		"private exponent (dec)": key.D.String()[:48],
		"prime (hex)":            fmt.Sprintf("%x", key.Primes[0])[:48],
	}
	if b, _ := pem.Decode(pemBytes); b == nil {
		t.Fatal("the key file is not PEM")
	}
	for where, text := range map[string][]byte{"server log": []byte(p.stderr.String()), "tool answers": answers.Bytes(), "audit export": []byte(export), "data file": db} {
		low := bytes.ToLower(text)
		for what, secret := range secrets {
			if bytes.Contains(low, bytes.ToLower([]byte(secret))) {
				t.Errorf("the %s appears in the %s", what, where)
			}
		}
	}
	if !strings.Contains(answers.String(), "ks-leak") && !strings.Contains(export, "ks-leak-fill-01") {
		t.Error("the run left no trace to search")
	}
}
