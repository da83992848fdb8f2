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

// TestReadKeySeesNoTradeTools: tools/list shows a read-only API key only the
// tools it may call; a trade key sees place_order.
func TestReadKeySeesNoTradeTools(t *testing.T) {
	data := t.TempDir()
	key := func(name, scopes string) string {
		out, err := exec.Command(sibylBin, "keys", "create", "--name", name, "--scopes", scopes, "--data-dir", data).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	reader, trader := key("reader", "read"), key("trader", "read,trade")
	url := startHTTPDir(t, data)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	names := func(tok string) map[string]bool {
		cs, err := sdk.NewClient(&sdk.Implementation{Name: "scopes", Version: "1"}, nil).Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url, MaxRetries: -1,
			HTTPClient: &http.Client{Transport: bearer{tok, http.DefaultTransport}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		got := map[string]bool{}
		for tool, err := range cs.Tools(ctx, nil) {
			if err != nil {
				t.Fatal(err)
			}
			got[tool.Name] = true
		}
		return got
	}
	r, w := names(reader), names(trader)
	if r["place_order"] || r["cancel_order"] || !r["search_markets"] || !r["get_market"] {
		t.Errorf("read key sees %v, want the read tools and not place_order or cancel_order", r)
	}
	if !w["place_order"] || !w["cancel_order"] || len(w) <= len(r) {
		t.Errorf("trade key sees %v, want place_order too", w)
	}
}
