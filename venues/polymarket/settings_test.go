package polymarket

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sibylmcp/sibyl/venues/polymarket/clob"
)

func TestLoadSettings(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	t.Run("read-only", func(t *testing.T) {
		s, err := LoadSettings(env())
		if err != nil || s.Wallet != nil || s.Credentials != nil {
			t.Fatalf("got %+v %v", s, err)
		}
	})
	t.Run("urls", func(t *testing.T) {
		s, err := LoadSettings(env(EnvGammaURL, "http://127.0.0.1:1/", EnvClobURL, "http://127.0.0.1:2", EnvDataURL, "http://127.0.0.1:3"))
		if err != nil || s.GammaURL != "http://127.0.0.1:1/" || s.ClobURL != "http://127.0.0.1:2" {
			t.Fatalf("got %+v %v", s, err)
		}
	})
	t.Run("eoa", func(t *testing.T) {
		s, err := LoadSettings(env(EnvPrivateKey, keyFile))
		if err != nil || s.Wallet == nil || s.Wallet.SignatureType != clob.EOA || s.Wallet.Maker().Hex() != "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" {
			t.Fatalf("got %+v %v", s, err)
		}
	})
	t.Run("deposit wallet with credentials", func(t *testing.T) {
		s, err := LoadSettings(env(EnvPrivateKey, keyFile, EnvSignatureType, "3", EnvFunder, testFunder,
			EnvAPIKey, testCreds.Key, EnvAPISecret, testCreds.Secret, EnvAPIPassphrase, testCreds.Passphrase))
		if err != nil || s.Wallet.SignatureType != clob.Poly1271 || s.Wallet.Maker().Hex() != testFunder || s.Credentials == nil || s.Credentials.Key != testCreds.Key {
			t.Fatalf("got %+v %v", s, err)
		}
	})
	for name, e := range map[string]func(string) string{
		"funder without key":    env(EnvFunder, testFunder),
		"secret without key":    env(EnvAPISecret, "c2VjcmV0"),
		"missing key file":      env(EnvPrivateKey, filepath.Join(dir, "absent")),
		"type 2 without funder": env(EnvPrivateKey, keyFile, EnvSignatureType, "2"),
		"type 0 with funder":    env(EnvPrivateKey, keyFile, EnvFunder, testFunder),
		"type 4":                env(EnvPrivateKey, keyFile, EnvSignatureType, "4", EnvFunder, testFunder),
		"bad funder checksum":   env(EnvPrivateKey, keyFile, EnvSignatureType, "1", EnvFunder, "0x70997970c51812dc3A010C7d01b50e0d17dc79C8"),
		"half the credentials":  env(EnvPrivateKey, keyFile, EnvAPIKey, "k"),
		"clob url with a query": env(EnvClobURL, "http://127.0.0.1:2/?x=1"),
		"gamma url not http(s)": env(EnvGammaURL, "ftp://127.0.0.1"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadSettings(e)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), testKey[2:12]) || strings.Contains(err.Error(), testCreds.Secret) {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}
