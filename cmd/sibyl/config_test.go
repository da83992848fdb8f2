package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sibyl.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigFile: the file sets flags by name (tables prefix their keys), the
// environment and the command line win over it, and a bad file is refused with
// the key named.
func TestConfigFile(t *testing.T) {
	t.Setenv("SIBYL_SEED", "")
	t.Setenv("SIBYL_RATE_LIMIT", "")
	cfg := writeConfig(t, `
http = "127.0.0.1:7788"
seed = 42
rate-limit = 7.5
tls-key = "/etc/sibyl/key.pem"
tls-cert = "/etc/sibyl/cert.pem"
feed = "paper"

[risk]
max-order = 25
allow-markets = ["paper:BTC", "kalshi:KXBTC"]
`)
	m := &Main{Stderr: io.Discard}
	if err := m.ParseFlags([]string{"--config", cfg}); err != nil {
		t.Fatal(err)
	}
	if m.HTTPAddr != "127.0.0.1:7788" || m.Seed != 42 || m.RateLimit != 7.5 || m.ops.tlsKey != "/etc/sibyl/key.pem" ||
		m.risk.maxOrder != "25" || m.risk.allow != "paper:BTC,kalshi:KXBTC" {
		t.Errorf("from the file: got http %q seed %d rate %v tls-key %q max-order %q allow %q", m.HTTPAddr, m.Seed, m.RateLimit, m.ops.tlsKey, m.risk.maxOrder, m.risk.allow)
	}

	t.Setenv("SIBYL_SEED", "7")
	m = &Main{Stderr: io.Discard}
	if err := m.ParseFlags([]string{"--config=" + cfg, "--http", "127.0.0.1:9999"}); err != nil {
		t.Fatal(err)
	}
	if m.Seed != 7 || m.HTTPAddr != "127.0.0.1:9999" || m.RateLimit != 7.5 {
		t.Errorf("env and flag over the file: got seed %d http %q rate %v, want 7, 127.0.0.1:9999, 7.5", m.Seed, m.HTTPAddr, m.RateLimit)
	}

	t.Setenv("SIBYL_SEED", "")
	t.Setenv("SIBYL_CONFIG", cfg)
	m = &Main{Stderr: io.Discard}
	if err := m.ParseFlags(nil); err != nil || m.Seed != 42 {
		t.Errorf("SIBYL_CONFIG: got seed %d (%v), want 42", m.Seed, err)
	}
	t.Setenv("SIBYL_CONFIG", "")

	for _, c := range []struct{ name, body, want string }{
		{"a secret value", `audit-key = "hunter2"`, `"audit-key" looks like a secret`},
		{"an API key", `[token-metrics]` + "\n" + `api-key = "tm-123"`, `"token-metrics-api-key" looks like a secret`},
		{"a password", `password = "x"`, `looks like a secret`},
		{"a PEM block in a path key", `tls-key = "-----BEGIN PRIVATE KEY-----\nMII"`, "holds a PEM block"},
		{"a URL with credentials", `binance-url = "https://user:hunter2@proxy.example"`, "URL with credentials"},
		{"an unknown key", `htp = "x"`, `unknown key "htp"`},
		{"a flag that is not a setting", `print-config = true`, `unknown key "print-config"`},
		{"a bad value", `seed = "many"`, "seed"},
		{"a table value", `[http]` + "\n" + `x = [{a = 1}]`, "http-x"},
		{"bad TOML", `http = `, "--config"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := &Main{Stderr: io.Discard}
			err := m.ParseFlags([]string{"--config", writeConfig(t, c.body)})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "tm-123") {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

// TestPrintConfig: --print-config shows every setting with its source, masks
// secrets, names the environment's secrets without their values, and its
// output is a config file that gives the same configuration.
func TestPrintConfig(t *testing.T) {
	t.Setenv("SIBYL_AUDIT_KEY", "audit-secret-value")
	t.Setenv("TOKEN_METRICS_API_KEY", "")
	t.Setenv("SIBYL_RATE_LIMIT", "")
	t.Setenv("SIBYL_LOG_LEVEL", "warn")
	cfg := writeConfig(t, "seed = 42\nrate-limit = 3\n")
	code, out, errOut := runCLI(t, "serve", "--config", cfg, "--paper-cash", "500", "--print-config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"seed = 42 # config", "rate-limit = 3 # config", "paper-cash = 500 # flag", `log-level = "warn" # env SIBYL_LOG_LEVEL`,
		`http = "" # default`, "SIBYL_AUDIT_KEY: set", "TOKEN_METRICS_API_KEY: not set",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--print-config output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "audit-secret-value") || strings.Contains(out, "print-config =") || strings.Contains(out, "config =") && !strings.Contains(out, "# ") {
		t.Errorf("--print-config shows a secret or itself:\n%s", out)
	}
	// Round trip: the printed configuration, as a file, prints the same.
	t.Setenv("SIBYL_LOG_LEVEL", "")
	again := writeConfig(t, out)
	code, out2, errOut := runCLI(t, "serve", "--config", again, "--print-config")
	if code != 0 {
		t.Fatalf("re-reading the printed configuration: exit %d: %s", code, errOut)
	}
	strip := func(s string) string {
		var b bytes.Buffer
		for _, l := range strings.Split(s, "\n") {
			l, _, _ = strings.Cut(l, " #")
			b.WriteString(l + "\n")
		}
		return b.String()
	}
	if strip(out) != strip(out2) {
		t.Errorf("the printed configuration read back differs:\n%s\nvs\n%s", out, out2)
	}
}

// A text flag whose name looks secret (none of sibyl serve's today; a venue's
// could be one day) is masked by --print-config and refused in the file, while
// a path flag of the same family is shown and accepted.
func TestPrintConfigMasksSecretFlags(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var tok, keyFile string
	fs.StringVar(&tok, "venue-api-token", "", "a token [SIBYL_TEST_VENUE_TOKEN]")
	fs.StringVar(&keyFile, "venue-key", "", "the key in `FILE` [SIBYL_TEST_VENUE_KEY]")
	var o opsFlags
	o.register(fs)
	if err := o.loadConfig(fs, []string{"--config", writeConfig(t, `venue-key = "/etc/k.pem"`)}); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--venue-api-token", "tok-very-secret"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := o.print(fs, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "tok-very-secret") || !strings.Contains(out.String(), `venue-api-token = "[redacted]" # flag`) ||
		!strings.Contains(out.String(), `venue-key = "/etc/k.pem" # config`) {
		t.Errorf("got:\n%s\nwant the token masked and the key file shown", out.String())
	}
	if err := o.loadConfig(fs, []string{"--config", writeConfig(t, `venue-api-token = "x"`)}); err == nil || !strings.Contains(err.Error(), "looks like a secret") {
		t.Errorf("a secret text flag in the file: got %v, want a refusal", err)
	}
}
