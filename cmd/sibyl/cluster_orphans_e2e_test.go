package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/sibylmcp/sibyl/internal/etcdtest"
)

// TestClusterOrphansOneLeader: on etcd one instance, elected through the
// store's lock, looks for the cancel-on-disconnect watches of instances that
// died, not every instance; when a stdio instance dies with a watched order,
// the leader cancels it; when the leader dies, another instance leads within
// the dead one's etcd lease and cancels the next orphan.
func TestClusterOrphansOneLeader(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	eps := strings.Join(c.Endpoints(), ",")
	flags := []string{"--store", "etcd", "--etcd-endpoints", eps, "--etcd-session-ttl", "2s"}
	const leads = "leads the check for orphaned watches"
	var servers []*serverProc
	for range 2 {
		p, err := launchHTTPServer(t.TempDir(), nil, flags...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.kill)
		servers = append(servers, p)
	}
	logged := func(p *serverProc, s string) bool { return strings.Contains(p.stderr.String(), s) }
	leader := func(within time.Duration) []int {
		deadline := time.Now().Add(within)
		for {
			var idx []int
			for i, s := range servers {
				if logged(s, leads) {
					idx = append(idx, i)
				}
			}
			if len(idx) > 0 || time.Now().After(deadline) {
				return idx
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	first := leader(10 * time.Second)
	if len(first) != 1 {
		t.Fatalf("instances that lead the orphan check: %v, want exactly one", first)
	}
	time.Sleep(2 * time.Second) // the other had the time to lead too, had it been free to
	if now := leader(0); len(now) != 1 {
		t.Fatalf("instances that lead the orphan check: %v, want exactly one", now)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// openOrders is what `sibyl paper show` says of local's open orders, on etcd.
	openOrders := func() string {
		out, err := exec.Command(sibylBin, append([]string{"paper", "show", "--principal", "local", "--data-dir", t.TempDir()}, flags[:4]...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("paper show: %v\n%s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) >= 5 && f[0] == "local" {
				return f[3]
			}
		}
		return "0" // no account yet
	}
	// orphan places a watched and an unwatched order through a stdio
	// instance on the same etcd, then SIGKILLs it, and waits until only the
	// unwatched order is open.
	orphan := func(tag string, qty int) {
		t.Helper()
		cmd := exec.Command(sibylBin, append([]string{"serve", "--data-dir", t.TempDir()}, flags...)...)
		cmd.Env = ctEnv(nil)
		cs, err := sdk.NewClient(&sdk.Implementation{Name: "stdio-" + tag, Version: "1"}, nil).Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
		if err != nil {
			t.Fatal(err)
		}
		before := openOrders()
		var found struct {
			Markets []quotedMarket `json:"markets"`
		}
		if e := callJSON(ctx, t, cs, "search_markets", map[string]any{"query": "BTC", "status": "open", "limit": 1}, &found); e != nil || len(found.Markets) == 0 {
			t.Fatalf("search_markets: %+v", e)
		}
		for i, watch := range []bool{true, false} {
			args := map[string]any{"market": found.Markets[0].ID, "outcome": "Yes", "side": "buy", "quantity": qty + i, "limit_price": 0.01,
				"idempotency_key": tag + "-order-" + string(rune('a'+i)), "cancel_on_disconnect": watch}
			if e := callJSON(ctx, t, cs, "place_order", args, nil); e != nil {
				t.Fatalf("place_order: %+v", e)
			}
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		cs.Close()
		start := time.Now()
		for {
			after := openOrders()
			if atoi(after) == atoi(before)+1 {
				t.Logf("%s: the dead instance's watched order cancelled %v after its death", tag, time.Since(start).Round(100*time.Millisecond))
				return
			}
			if time.Since(start) > 45*time.Second {
				t.Fatalf("%s: open orders %s -> %s 45 s after the stdio instance died, want one more (the unwatched one): the watched order was not cancelled", tag, before, after)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	orphan("first", 1)

	// The leader dies: the other leads once its lease lapses.
	_ = servers[first[0]].cmd.Process.Kill()
	other := 1 - first[0]
	deadline := time.Now().Add(30 * time.Second)
	for !logged(servers[other], leads) {
		if time.Now().After(deadline) {
			t.Fatal("the other instance does not lead the orphan check 30 s after the leader died")
		}
		time.Sleep(100 * time.Millisecond)
	}
	orphan("second", 3)
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return -1
		}
		n = n*10 + int(r-'0')
	}
	return n
}
