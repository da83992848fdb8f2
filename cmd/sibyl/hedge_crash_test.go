package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/sibylmcp/sibyl/orders"
)

// connectHTTP connects the official SDK client, named name, to a sibyl serve
// endpoint over streamable HTTP, failing t when it cannot.
func connectHTTP(ctx context.Context, t *testing.T, url, name string) *sdk.ClientSession {
	t.Helper()
	c := sdk.NewClient(&sdk.Implementation{Name: name, Version: "1"}, nil)
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// hedgeServer starts `sibyl serve --http` on dataDir with a paper balance large
// enough for a 2 BTC hedge and extra environment.
func hedgeServer(t *testing.T, dataDir string, env ...string) (string, *exec.Cmd) {
	t.Helper()
	return startServer(t, dataDir, env, "--paper-cash", "1000000")
}

type hedgeLeg struct {
	Market   string `json:"market"`
	OrderID  string `json:"order_id"`
	Replayed bool   `json:"replayed"`
	Status   string `json:"status"`
}

type hedgeAnswer struct {
	Legs     []hedgeLeg `json:"legs"`
	Executed bool       `json:"executed"`
	Complete bool       `json:"complete"`
	Status   string     `json:"status"`
}

// TestHedgeCrashBetweenLegs executes a hedge on a server that dies right after
// its first leg is on disk, restarts it on the same data file, and retries with
// the same key: the first leg is replayed, the others are placed once, and the
// venue holds exactly one order per leg.
func TestHedgeCrashBetweenLegs(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	connect := func(url string) *sdk.ClientSession { return connectHTTP(ctx, t, url, "hedge-crash") }

	url, proc := hedgeServer(t, data, "SIBYL_TEST_CRASH=after-complete:1")
	cs := connect(url)
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_price_history", Arguments: map[string]any{"symbol": "BTC"}})
	if err != nil || res.IsError {
		t.Fatalf("get_price_history: %v", err)
	}
	raw, _ := json.Marshal(res.StructuredContent)
	var hist struct {
		Candles []struct {
			Close float64 `json:"close"`
		} `json:"candles"`
	}
	_ = json.Unmarshal(raw, &hist)
	spot := hist.Candles[len(hist.Candles)-1].Close
	const key = "hedge-crash-0001"
	args := map[string]any{"symbol": "BTC", "quantity": 2, "protect_below": float64(int(spot * 0.85)),
		"by": time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly), "execute": true, "idempotency_key": key}

	// The server dies after the first leg is complete: the call gets no answer.
	if res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "hedge_position", Arguments: args}); err == nil {
		t.Fatalf("the first call answered (%s); want the server to die after leg 1", text(res))
	}
	if err := proc.Wait(); err == nil || proc.ProcessState.ExitCode() != 137 {
		t.Fatalf("server exit: %v, want status 137 from the crash hook", err)
	}
	cs.Close()

	url, _ = hedgeServer(t, data)
	cs = connect(url)
	defer cs.Close()
	call := func() hedgeAnswer {
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "hedge_position", Arguments: args})
		if err != nil || res.IsError {
			t.Fatalf("hedge_position retry: %v %s", err, text(res))
		}
		raw, _ := json.Marshal(res.StructuredContent)
		var a hedgeAnswer
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	retry := call()
	// Every leg placed: filled in full, or resting beyond the book's depth.
	if !retry.Executed || (retry.Status != "filled" && retry.Status != "resting") || len(retry.Legs) < 2 {
		t.Fatalf("retry: got %+v, want every leg of 2+ placed", retry)
	}
	for i, l := range retry.Legs {
		if wantReplayed := i == 0; l.Replayed != wantReplayed {
			t.Errorf("leg %d: replayed %v, want %v (only the leg placed before the crash is replayed)", i+1, l.Replayed, wantReplayed)
		}
	}
	again := call()
	for i, l := range again.Legs {
		if !l.Replayed || l.OrderID != retry.Legs[i].OrderID {
			t.Errorf("third call, leg %d: order %s replayed %v; want %s replayed", i+1, l.OrderID, l.Replayed, retry.Legs[i].OrderID)
		}
	}

	// The venue holds exactly one order per leg, each with its leg key's client id.
	res, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "list_orders", Arguments: map[string]any{"limit": 200}})
	if err != nil || res.IsError {
		t.Fatalf("list_orders: %v", err)
	}
	raw, _ = json.Marshal(res.StructuredContent)
	var list struct {
		Orders []struct {
			OrderID       string `json:"order_id"`
			ClientOrderID string `json:"client_order_id"`
		} `json:"orders"`
	}
	_ = json.Unmarshal(raw, &list)
	if len(list.Orders) != len(retry.Legs) {
		t.Fatalf("the venue holds %d orders for a %d-leg hedge", len(list.Orders), len(retry.Legs))
	}
	byClient := map[string]string{}
	for _, o := range list.Orders {
		byClient[o.ClientOrderID] = o.OrderID
	}
	for i, l := range retry.Legs {
		coid := orders.ClientOrderID("anonymous", orders.ToolPlaceOrder, orders.LegKey(key, i+1))
		if byClient[coid] != l.OrderID {
			t.Errorf("leg %d: venue order for client id %s is %q, want %s", i+1, coid, byClient[coid], l.OrderID)
		}
	}
}
