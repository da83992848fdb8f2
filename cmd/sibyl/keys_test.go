package main

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

type bearer struct {
	token string
	rt    http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.rt.RoundTrip(r)
}

// TestHTTPAPIKeys: once the data file holds a key, HTTP needs it; a read-scoped
// key reads but cannot trade; a wrong token is refused.
func TestHTTPAPIKeys(t *testing.T) {
	data := t.TempDir()
	out, err := exec.Command(sibylBin, "keys", "create", "--name", "reader", "--scopes", "read", "--data-dir", data).Output()
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(out))
	url := startHTTPDir(t, data)

	resp, err := http.Post(url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: got %d, want 401 with WWW-Authenticate", resp.StatusCode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := func(tok string) (*sdk.ClientSession, error) {
		c := sdk.NewClient(&sdk.Implementation{Name: "keys", Version: "1"}, nil)
		return c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url, MaxRetries: -1,
			HTTPClient: &http.Client{Transport: bearer{tok, http.DefaultTransport}}}, nil)
	}
	if _, err := connect(token + "x"); err == nil {
		t.Error("wrong token: connected, want a refusal")
	}
	cs, err := connect(token)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "list_venues", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Fatalf("read tool with a read key: %v %s", err, text(res))
	}
	res, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "place_order", Arguments: map[string]any{
		"market": "paper:X", "outcome": "Yes", "side": "buy", "quantity": 1, "limit_price": 0.5, "idempotency_key": "keys-test-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || !strings.Contains(text(res), `"code":"unauthorized"`) {
		t.Errorf("place_order with a read key: got %s, want an unauthorized tool error", text(res))
	}
}
