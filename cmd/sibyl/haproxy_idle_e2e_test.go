package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestHAProxyIdleSession: behind HAProxy with its idle timeouts cut to 1 s
// (the README's config has 60 s), a 2025-11-25 session of the official SDK
// client stays usable for 24 s of calls 2 s apart: sibyl's keepalive comments
// (--sse-keepalive 100ms, ten to a timeout, so that a loaded machine does not
// miss one) keep its GET stream from being cut. Without them
// HAProxy cuts the silent stream at each timeout, and the SDK, after five
// reopened streams that brought nothing, closes the whole session (with
// --sse-keepalive 1h this test fails about 14 s in).
func TestHAProxyIdleSession(t *testing.T) {
	bin := haproxyBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	endpoint, _ := startServer(t, t.TempDir(), nil, "--sse-keepalive", "100ms")
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	ports := freeLoopbackPorts(t, 2)
	cfg := readmeHAProxyConfig(t, fmt.Sprintf("127.0.0.1:%d", ports[0]), []string{u.Host, u.Host, u.Host})
	for _, timeout := range []string{"timeout client", "timeout server"} {
		i := strings.Index(cfg, timeout+" 60s")
		if i < 0 {
			t.Fatalf("the README's HAProxy config has no %q 60s:\n%s", timeout, cfg)
		}
		cfg = strings.Replace(cfg, timeout+" 60s", timeout+" 1s", 1)
	}
	cfg += fmt.Sprintf("\nfrontend stats\n    mode http\n    bind 127.0.0.1:%d\n    stats enable\n    stats uri /stats\n", ports[1])
	hp := startHAProxy(t, bin, cfg, ports[0], ports[1])
	for _, n := range []string{"s1", "s2", "s3"} {
		if _, err := hp.waitServer(ctx, n, "UP", 15*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "idle-agent", Version: "1"}, nil).Connect(ctx,
		&sdk.StreamableClientTransport{Endpoint: hp.endpoint}, &sdk.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	start := time.Now()
	for calls := 1; time.Since(start) < 24*time.Second; calls++ {
		time.Sleep(2 * time.Second)
		if _, err := cs.ListTools(ctx, nil); err != nil {
			t.Fatalf("tools/list %d, %v into the session: %v", calls, time.Since(start).Round(100*time.Millisecond), err)
		}
	}
}
