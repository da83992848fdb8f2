package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlock returns the first ```sh block after heading in README.md.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.Index(s, heading)
	if i < 0 {
		t.Fatalf("README.md has no %q", heading)
	}
	s = s[i:]
	j := strings.Index(s, "```sh\n")
	if j < 0 {
		t.Fatalf("no sh block after %q", heading)
	}
	s = s[j+len("```sh\n"):]
	return s[:strings.Index(s, "```")]
}

// TestREADMETranscript runs the README's curl transcript as pasted, under
// bash and under zsh (which does not split unquoted words), against the
// sibyl binary on a fresh data dir and a free port.
func TestREADMETranscript(t *testing.T) {
	script := readmeBlock(t, "### A first tools/call over HTTP with curl")
	if strings.Contains(script, "...") {
		t.Fatalf("the transcript has a placeholder to fill in by hand:\n%s", script)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	for _, shell := range []string{"bash", "zsh"} {
		t.Run(shell, func(t *testing.T) {
			path, err := exec.LookPath(shell)
			if err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatalf("%s is not installed (scripts/install-tools.sh installs it under CI)", shell)
				}
				t.Skipf("%s is not installed: the transcript is not checked under it here (CI installs it)", shell)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, path, "-c", strings.ReplaceAll(script, "127.0.0.1:7777", addr))
			cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(sibylBin)+string(os.PathListSeparator)+os.Getenv("PATH"), "SIBYL_DATA_DIR="+t.TempDir())
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			t.Cleanup(func() {
				if cmd.Process != nil {
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the background server, if the script left it
				}
			})
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v\n%s", shell, err, out)
			}
			got := string(out)
			if !regexp.MustCompile(`session: \S{8,}`).MatchString(got) {
				t.Errorf("%s: no session id:\n%s", shell, got)
			}
			if !strings.Contains(got, `"structuredContent"`) || !strings.Contains(got, `"id":"paper:BTC-`) || strings.Contains(got, `"isError":true`) {
				t.Errorf("%s: no search result:\n%s", shell, got)
			}
		})
	}
}

// TestDocsReferenceOnlyRepoFiles: every relative link in the repository's
// Markdown files points at a file in the repository, and no document sends
// the reader to a path outside it.
func TestDocsReferenceOnlyRepoFiles(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	var docs []string
	_ = filepath.WalkDir("../..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".tools" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			docs = append(docs, p)
		}
		return nil
	})
	if len(docs) < 3 {
		t.Fatalf("found %d Markdown files", len(docs))
	}
	for _, doc := range docs {
		raw, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "../shared") {
			t.Errorf("%s refers to ../shared, outside the repository", doc)
		}
		for _, m := range link.FindAllStringSubmatch(string(raw), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(doc), target)); err != nil {
				t.Errorf("%s links to %s, which is not in the repository", doc, target)
			}
		}
	}
}
