package kalshi

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadSettings(t *testing.T) {
	key := sharedKey(t)
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "kalshi.pem")
	pemText := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyPath, pemText, 0o600); err != nil {
		t.Fatal(err)
	}
	junkPath := filepath.Join(dir, "junk.pem")
	_ = os.WriteFile(junkPath, []byte("-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LXN0dWZm\n-----END RSA PRIVATE KEY-----\n"), 0o600)
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	cases := []struct {
		name    string
		getenv  func(string) string
		wantEnv string
		wantURL string
		creds   bool
		live    bool
		errHas  string
	}{
		{"defaults", env(), "demo", DemoURL, false, false, ""},
		{"prod read-only", env(EnvKalshiEnv, "prod"), "prod", ProdURL, false, false, ""},
		{"demo creds", env(EnvAPIKeyID, "id", EnvPrivateKeyPth, keyPath), "demo", DemoURL, true, false, ""},
		{"prod creds", env(EnvKalshiEnv, "PROD", EnvAPIKeyID, "id", EnvPrivateKeyPth, keyPath), "prod", ProdURL, true, true, ""},
		{"url override", env(EnvKalshiURL, "http://127.0.0.1:9/trade-api/v2/"), "demo", "http://127.0.0.1:9/trade-api/v2", false, false, ""},
		{"url without prefix", env(EnvKalshiURL, "http://127.0.0.1:9"), "", "", false, false, "/trade-api/v2"},
		{"bad env", env(EnvKalshiEnv, "staging"), "", "", false, false, "want demo or prod"},
		{"id only", env(EnvAPIKeyID, "id"), "", "", false, false, EnvPrivateKeyPth},
		{"path only", env(EnvPrivateKeyPth, keyPath), "", "", false, false, EnvAPIKeyID},
		{"missing file", env(EnvAPIKeyID, "id", EnvPrivateKeyPth, filepath.Join(dir, "nope")), "", "", false, false, "cannot read"},
		{"junk key", env(EnvAPIKeyID, "id", EnvPrivateKeyPth, junkPath), "", "", false, false, "does not parse"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := LoadSettings(c.getenv)
			if c.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), c.errHas) {
					t.Fatalf("got %v, want an error containing %q", err, c.errHas)
				}
				if strings.Contains(err.Error(), "c2VjcmV0") {
					t.Errorf("error quotes the key file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Env != c.wantEnv || s.BaseURL != c.wantURL || (s.Signer != nil) != c.creds || s.Live() != c.live {
				t.Errorf("got %+v live=%v", s, s.Live())
			}
		})
	}
}
