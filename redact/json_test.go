package redact

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJSON(t *testing.T) {
	in := `{"idempotency_key":"k-12345678","api_key":"sk1","apiKey":"sk2","secret":"s","token":"t","token_id":"123",
		"password":"p","passphrase":"pp","signature":"sig","private_key":"pk","privateKey":"pk2","key":"k","market_id":"paper:X",
		"nested":{"kalshi_access_key":"x","list":[{"auth_token":"y","ok":1}]},"pem":"-----BEGIN PRIVATE KEY-----abc","idempotencyKey":"k2"}`
	var got map[string]any
	if err := json.Unmarshal(JSON(json.RawMessage(in)), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"idempotency_key": "k-12345678", "api_key": Redacted, "apiKey": Redacted, "secret": Redacted, "token": Redacted,
		"token_id": "123", "password": Redacted, "passphrase": Redacted, "signature": Redacted, "private_key": Redacted,
		"privateKey": Redacted, "key": Redacted, "market_id": "paper:X",
		"nested": map[string]any{"kalshi_access_key": Redacted, "list": []any{map[string]any{"auth_token": Redacted, "ok": float64(1)}}},
		"pem":    Redacted, "idempotencyKey": "k2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	if got := string(JSON(json.RawMessage(`{"password": "hunter2"`))); strings.Contains(got, "hunter2") {
		t.Errorf("invalid JSON leaked: %s", got)
	}
}
