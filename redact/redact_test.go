package redact

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestName: the names the security probe found kept in the clear, and the
// ordinary ones, including every argument name sibyl's tools declare.
func TestName(t *testing.T) {
	secret := []string{
		"clientsecret", "client_secret", "secretkey", "secret_key", "apitoken", "api_token", "authtoken",
		"accesstoken", "access_token", "AccessToken", "privkey", "priv_key", "private_key", "privateKey",
		"signingkey", "signing_key", "signingKey", "seed_phrase", "seedPhrase", "bearer", "jwt", "id_jwt",
		"pwd", "user_pwd", "otp", "totp", "otp_code", "password", "passwd", "passphrase", "apiKey", "api-key",
		"key", "KEY", "wallet_key", "walletkey", "token", "refresh_token", "Authorization", "cookie",
		"mnemonic", "credentials", "signature", "x.api.key", "pin", "mfa_code", "auth",
	}
	for _, n := range secret {
		if !Name(n) {
			t.Errorf("Name(%q) = false, want true", n)
		}
	}
	plain := []string{
		// every input argument of sibyl's tools
		"idempotency_key", "order_id", "venue", "market", "outcome", "quantity", "side", "venues",
		"after_seq", "limit", "tool", "verify", "depth", "from", "interval", "source", "symbol", "to",
		"as_of", "budget", "by", "entry_price", "execute", "max_loss", "protect_below", "cursor",
		"status", "category", "query", "allow_duplicate", "cancel_on_disconnect", "limit_price",
		"time_in_force", "worst_price", "universe",
		// crypto tokens are not secrets
		"token_id", "tokenIds", "token_symbol", "tokens",
		// words that contain a short secret word inside another word
		"stopped", "monkey_count", "spinner", "author_name",
	}
	for _, n := range plain {
		if Name(n) {
			t.Errorf("Name(%q) = true, want false", n)
		}
	}
}

// TestSecretValue: secrets sent in ordinary fields are caught by their shape.
func TestSecretValue(t *testing.T) {
	hexKey := strings.Repeat("4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d", 1)
	for _, tc := range []struct {
		name, field, value string
		want               bool
	}{
		{"sibyl token", "query", "sibyl_0a1b2c3d4e5f_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdefg", true},
		{"sibyl token inside text", "query", "please use sibyl_0a1b2c3d4e5f_AbCdEfGhIjKlMnOpQrStUvWx for this", true},
		{"jwt", "category", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", true},
		{"bearer header", "query", "Bearer abcdefghijklmnop1234", true},
		{"0x private key", "query", "0x" + hexKey, true},
		{"bare hex private key", "symbol", hexKey, true},
		{"pem block", "query", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----", true},
		{"pem certificate", "query", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", true},
		{"polymarket condition id as market", "market", "0x" + hexKey, false},
		{"order id", "order_id", "0x" + hexKey, false},
		{"market id with venue", "query", "polymarket:0x" + hexKey, false},
		{"ordinary text", "query", "Will BTC close above $120,000 on 2026-12-31?", false},
		{"the word bearer alone", "query", "bearer bonds", false},
		{"short hex", "query", "0xdeadbeef", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SecretValue(tc.field, tc.value); got != tc.want {
				t.Errorf("SecretValue(%q, %q) = %v, want %v", tc.field, tc.value, got, tc.want)
			}
		})
	}
}

// TestValue: nested secrets, secret shapes and oversized values in one call's
// arguments; nothing secret survives in the encoded result.
func TestValue(t *testing.T) {
	junk := strings.Repeat("A", 3<<20)
	big := make([]any, 5000)
	for i := range big {
		big[i] = float64(i)
	}
	in := map[string]any{
		"market":       "paper:BTC-ABOVE-120000-2026-12-31",
		"quantity":     json.Number("2"),
		"clientsecret": "cs-1",
		"nested":       map[string]any{"apitoken": "at-1", "list": []any{"ok", "sibyl_0a1b2c3d4e5f_AbCdEfGhIjKlMnOpQrStUvWx"}},
		"junk":         junk,
		"big":          big,
		"note":         "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----",
	}
	out, err := json.Marshal(Value(in))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, leak := range []string{"cs-1", "at-1", "AbCdEfGh", "BEGIN RSA", "AAAAAAAAAA"} {
		if strings.Contains(s, leak) {
			t.Errorf("redacted arguments contain %q: %s", leak, s)
		}
	}
	if len(s) > 1000 {
		t.Errorf("redacted arguments are %d bytes, want the oversized values replaced by markers: %.300s", len(s), s)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if want := Oversized([]byte(junk)); got["junk"] != want {
		t.Errorf("junk: got %v, want %v", got["junk"], want)
	}
	if !strings.HasPrefix(got["big"].(string), "[oversized: ") {
		t.Errorf("big: got %.80v, want an oversized marker", got["big"])
	}
	if got["market"] != "paper:BTC-ABOVE-120000-2026-12-31" || got["quantity"] != 2.0 {
		t.Errorf("ordinary arguments changed: %v", got)
	}
}
