package canon

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestCanonical(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"sorted keys and no space", `{ "b": 1, "a": {"d": [1, 2], "c": null} }`, `{"a":{"c":null,"d":[1,2]},"b":1}`},
		{"numbers", `[10, 10.0, 1e1, 0.1, 1e21, 1e-7, -0, 1234567]`, `[10,10,10,0.1,1e+21,1e-7,-0,1234567]`},
		{"html escaped as encoding/json", `{"s":"<a&b>"}`, `{"s":"\u003ca\u0026b\u003e"}`},
		{"unicode kept", `"\u00e9"`, `"é"`},
		{"literals", `[true,false,null]`, `[true,false,null]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonical([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			again, _ := Canonical(got)
			if !bytes.Equal(again, got) {
				t.Errorf("not idempotent: %s -> %s", got, again)
			}
		})
	}
	for _, bad := range []string{`{`, `{"a":1} {}`, ``, `[1e400]`} {
		if _, err := Canonical([]byte(bad)); err == nil {
			t.Errorf("Canonical(%q): got nil error, want one", bad)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a, err := Fingerprint(json.RawMessage(`{"market_id":"paper:X","quantity":10,"idempotency_key":"k-1234567"}`), "idempotency_key")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Fingerprint(json.RawMessage(`{ "quantity": 10.0, "market_id": "paper:X", "idempotency_key": "other-key-1"}`), "idempotency_key")
	c, _ := Fingerprint(json.RawMessage(`{"market_id":"paper:X","quantity":11}`), "idempotency_key")
	if a != b {
		t.Errorf("same arguments with a different key and layout: got %s and %s, want equal", a, b)
	}
	if a == c {
		t.Errorf("different quantity: got equal fingerprints %s", a)
	}
	if _, err := Fingerprint(json.RawMessage(`[1]`)); err == nil {
		t.Error("array arguments: got nil error, want one")
	}
}
