package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sibylmcp/sibyl/mcp"
)

// Every tools/call reaches the observer once with its outcome: successes, calls
// refused by the input schema (before any handler), by the tool, and order
// calls that the orders service audits itself (the registry does not audit
// them, but they are still counted).
func TestCallObserverSeesEveryCall(t *testing.T) {
	d := MustDeps(t)
	id, _ := openMarket(t, d)
	var mu sync.Mutex
	var got []string
	obs := func(tool, outcome string, elapsed time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if elapsed < 0 {
			t.Errorf("%s: negative elapsed %v", tool, elapsed)
		}
		got = append(got, tool+"/"+outcome)
	}
	srv := mcp.NewServer(mcp.Implementation{Name: "t", Version: "1"}, nil)
	RegisterObserved(srv, All(d), StoreAuditor{Store: d.Store}, obs, nil)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.ServeStdio(ctx, inR, outW)
	dec := json.NewDecoder(outR)
	send := func(id int, method, params string) {
		t.Helper()
		fmt.Fprintf(inW, `{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`+"\n", id, method, params)
		var m json.RawMessage
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
	}
	send(1, "initialize", `{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}`)
	fmt.Fprintln(inW, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	calls := []string{
		`{"name":"list_venues","arguments":{}}`,
		`{"name":"get_market","arguments":{"market":"paper:NOPE"}}`,
		`{"name":"place_order","arguments":{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":-1,"limit_price":0.5,"idempotency_key":"obs-00001"}}`,
		`{"name":"place_order","arguments":{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":1,"limit_price":0.01,"idempotency_key":"obs-00002"}}`,
		`{"name":"place_order","arguments":{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":2,"limit_price":0.01,"idempotency_key":"obs-00002"}}`,
	}
	for i, c := range calls {
		send(10+i, "tools/call", c)
	}
	want := []string{"list_venues/ok", "get_market/not_found", "place_order/invalid", "place_order/ok", "place_order/idempotency_key_reused"}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("observed calls (-want +got):\n%s", diff)
	}
}
