package tools

import (
	"encoding/json"
	"testing"
)

func TestFingerprintSpellings(t *testing.T) {
	defaults := map[string]any{"time_in_force": "gtc", "cancel_on_disconnect": false}
	for _, tc := range []struct {
		name, args, with, without string
	}{
		{"omitted", `{"quantity":2,"idempotency_key":"k"}`,
			`{"cancel_on_disconnect":false,"idempotency_key":"k","quantity":2,"time_in_force":"gtc"}`, ``},
		{"spelled out", `{"quantity":2,"time_in_force":"gtc","cancel_on_disconnect":false}`,
			`{"cancel_on_disconnect":false,"quantity":2,"time_in_force":"gtc"}`, `{"quantity":2}`},
		{"other value kept", `{"time_in_force":"ioc","cancel_on_disconnect":true}`,
			`{"cancel_on_disconnect":true,"time_in_force":"ioc"}`, ``},
		{"null is omitted", `{"time_in_force":null}`,
			`{"cancel_on_disconnect":false,"time_in_force":"gtc"}`, ``},
		{"number spelling kept", `{"quantity":2.0}`,
			`{"cancel_on_disconnect":false,"quantity":2.0,"time_in_force":"gtc"}`, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := withDefaults(json.RawMessage(tc.args), defaults)
			if err != nil || string(got) != tc.with {
				t.Errorf("withDefaults: got %s, %v, want %s", got, err, tc.with)
			}
			if got := withoutDefaults(json.RawMessage(tc.args), defaults); string(got) != tc.without {
				t.Errorf("withoutDefaults: got %s, want %q", got, tc.without)
			}
		})
	}
}
