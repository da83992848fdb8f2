package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sibylmcp/sibyl/internal/etcdtest"
)

// launchEtcdTLS starts `sibyl serve --http 127.0.0.1:0 --data-dir dir` with env
// and flags and waits for its banner; a cleanup kills it. Its stdout and
// stderr are kept (serverProc), to be searched for the password.
func launchEtcdTLS(t *testing.T, dir string, env []string, flags ...string) *serverProc {
	t.Helper()
	p, err := launchHTTPServer(dir, env, flags...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	return p
}

// runWith runs a sibyl subcommand with env and returns its exit code, stdout and stderr.
func runWith(ctx context.Context, env []string, args ...string) (int, string, string) {
	cmd := exec.CommandContext(ctx, sibylBin, args...)
	cmd.Env = ctEnv(env)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
		stderr.WriteString(err.Error())
	}
	return code, stdout.String(), stderr.String()
}

// TestEtcdTLSAuthServe: sibyl on a real 3-member etcd cluster that serves
// clients over TLS only, requires a client certificate (etcdtest
// WithClientCertAuth) and has auth on, as the user "sibyl" whose role may read
// and write under /sibyl-tls/ only, its password in SIBYL_ETCD_PASSWORD. `sibyl
// keys create` makes an API key there; `sibyl serve --http --store etcd
// --etcd-endpoints https://... --etcd-ca --etcd-cert --etcd-key --etcd-username
// sibyl` (whose --print-config says the password is set, never what it is)
// serves the official MCP Go SDK client, which places a paper order; a
// second process (the first stopped) replays the same key: the same order,
// replayed, one order in list_orders. `sibyl audit verify` with the same flags
// passes and `sibyl audit export` holds the order. The password is in none of
// the processes' stdout or stderr, the files of their data dirs, the tool
// results, or the audit export. A wrong password, a wrong CA, and a user name
// without SIBYL_ETCD_PASSWORD are refused with a message saying which.
func TestEtcdTLSAuthServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := etcdtest.StartCluster(t, 3, etcdtest.WithClientCertAuth())
	files, _ := c.TLSFiles()
	const prefix = "/sibyl-tls/"
	const password = "Etcd-pw-7Qz4-e2e-sibyl" // planted: must appear nowhere
	if err := c.AddUser(ctx, "sibyl", password, prefix); err != nil {
		t.Fatal(err)
	}
	if err := c.EnableAuth(ctx, "root-"+password); err != nil {
		t.Fatal(err)
	}
	eps := strings.Join(c.Endpoints(), ",")
	storeArgs := func(ca string) []string {
		return []string{"--store", "etcd", "--etcd-endpoints", eps, "--etcd-prefix", prefix,
			"--etcd-ca", ca, "--etcd-cert", files.ClientCert, "--etcd-key", files.ClientKey, "--etcd-username", "sibyl"}
	}
	env := []string{"SIBYL_ETCD_PASSWORD=" + password}
	var seen []string // every output and answer, searched for the password at the end
	leaks := func(what, s string) {
		seen = append(seen, s)
		if strings.Contains(s, password) {
			t.Errorf("%s holds the etcd password:\n%.2000s", what, s)
		}
	}

	code, out, errOut := runWith(ctx, env, append([]string{"serve", "--print-config"}, storeArgs(files.CA)...)...)
	leaks("serve --print-config", out+errOut)
	if code != 0 || !strings.Contains(out, "SIBYL_ETCD_PASSWORD: set") || !strings.Contains(out, `etcd-username = "sibyl"`) {
		t.Errorf("sibyl serve --print-config: exit %d, want the user and SIBYL_ETCD_PASSWORD: set:\n%s%s", code, out, errOut)
	}
	code, out, errOut = runWith(ctx, env, append([]string{"keys", "create", "--name", "tls-agent", "--scopes", "read,trade", "--data-dir", shortTempDir(t)}, storeArgs(files.CA)...)...)
	leaks("keys create output", out+errOut)
	token := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(token, "sibyl_") {
		t.Fatalf("sibyl keys create over TLS and auth: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}

	call := func(cs *sdk.ClientSession, name string, args map[string]any) *sdk.CallToolResult {
		t.Helper()
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		raw, _ := json.Marshal(res)
		leaks(name+" result", string(raw))
		if res.IsError {
			t.Fatalf("%s: %s", name, text(res))
		}
		return res
	}
	connect := func(p *serverProc) *sdk.ClientSession {
		t.Helper()
		cs, err := sdk.NewClient(&sdk.Implementation{Name: "etcd-tls-e2e", Version: "1"}, nil).Connect(ctx,
			&sdk.StreamableClientTransport{Endpoint: p.endpoint, MaxRetries: -1,
				HTTPClient: &http.Client{Transport: bearer{token, http.DefaultTransport}}}, nil)
		if err != nil {
			t.Fatalf("connect: %v; stderr:\n%s", err, p.stderr)
		}
		return cs
	}
	type answer struct {
		OrderID  string `json:"order_id"`
		Status   string `json:"status"`
		Replayed bool   `json:"replayed"`
	}
	decode := func(res *sdk.CallToolResult) answer {
		t.Helper()
		raw, _ := json.Marshal(res.StructuredContent)
		var a answer
		if err := json.Unmarshal(raw, &a); err != nil || a.OrderID == "" {
			t.Fatalf("place_order answer %s: %v", raw, err)
		}
		return a
	}

	dirs := []string{shortTempDir(t), shortTempDir(t)}
	first := launchEtcdTLS(t, dirs[0], env, storeArgs(files.CA)...)
	cs := connect(first)
	market := pickMarket(t, call(cs, "search_markets", map[string]any{"query": "BTC above", "status": "open", "limit": 100}))
	order := map[string]any{"market": market, "outcome": "No", "side": "buy", "quantity": 3, "limit_price": 0.02, "idempotency_key": "etcd-tls-e2e-1"}
	placed := decode(call(cs, "place_order", order))
	if placed.Replayed {
		t.Fatalf("first place_order: %+v, want a new order", placed)
	}
	cs.Close()
	if err := first.stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}

	second := launchEtcdTLS(t, dirs[1], env, storeArgs(files.CA)...)
	cs = connect(second)
	again := decode(call(cs, "place_order", order))
	if !again.Replayed || again.OrderID != placed.OrderID {
		t.Fatalf("the retry on another process: %+v, want order %s replayed", again, placed.OrderID)
	}
	listed := call(cs, "list_orders", map[string]any{})
	raw, _ := json.Marshal(listed.StructuredContent)
	var list struct {
		Orders []answer `json:"orders"`
	}
	if err := json.Unmarshal(raw, &list); err != nil || len(list.Orders) != 1 || list.Orders[0].OrderID != placed.OrderID {
		t.Fatalf("list_orders: %s (%v), want the one order %s", raw, err, placed.OrderID)
	}
	cs.Close()
	if err := second.stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}

	code, out, errOut = runWith(ctx, env, append([]string{"audit", "verify", "--data-dir", shortTempDir(t)}, storeArgs(files.CA)...)...)
	leaks("audit verify output", out+errOut)
	if code != 0 || !strings.Contains(out+errOut, "audit chain intact") {
		t.Fatalf("sibyl audit verify over TLS and auth: exit %d:\n%s%s", code, out, errOut)
	}
	t.Logf("audit verify: %s", strings.TrimSpace(out+errOut))
	code, out, errOut = runWith(ctx, env, append([]string{"audit", "export", "--jsonl", "--data-dir", shortTempDir(t)}, storeArgs(files.CA)...)...)
	leaks("audit export", out+errOut)
	if code != 0 || !strings.Contains(out, placed.OrderID) {
		t.Fatalf("sibyl audit export: exit %d, want the order %s in:\n%.3000s\n%s", code, placed.OrderID, out, errOut)
	}

	for i, p := range []*serverProc{first, second} {
		leaks(fmt.Sprintf("serve %d stdout", i), p.stdout.String())
		leaks(fmt.Sprintf("serve %d stderr", i), p.stderr.String())
		err := filepath.WalkDir(dirs[i], func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err == nil {
				leaks("file "+path, string(b))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) < 10 || !strings.Contains(strings.Join(seen, "\n"), placed.OrderID) {
		t.Fatalf("searched %d outputs for the password, want every output and answer", len(seen))
	}

	// Refusals: each names what is wrong, none holds the password.
	refusals := []struct {
		name string
		env  []string
		ca   string
		want string
	}{
		{"wrong password", []string{"SIBYL_ETCD_PASSWORD=" + password + "-wrong"}, files.CA, "wrong user name or password"},
		{"wrong CA", env, files.OtherCA, "TLS handshake failed"},
		{"user without password", nil, files.CA, "SIBYL_ETCD_PASSWORD"},
	}
	for _, r := range refusals {
		code, out, errOut := runWith(ctx, r.env, append([]string{"audit", "verify", "--data-dir", shortTempDir(t), "--etcd-dial-timeout", "2s", "--etcd-op-timeout", "2s"}, storeArgs(r.ca)...)...)
		leaks(r.name+" output", out+errOut)
		if code == 0 || !strings.Contains(out+errOut, r.want) {
			t.Errorf("%s: exit %d, want a failure saying %q:\n%s%s", r.name, code, r.want, out, errOut)
		}
		t.Logf("%s: exit %d: %s", r.name, code, strings.TrimSpace(out+errOut))
	}
}
