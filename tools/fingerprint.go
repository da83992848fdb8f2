package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// withDefaults returns args (a JSON object) with every member of defaults that
// args leaves out (or sets to null) filled in: what a state-changing tool's
// fingerprint covers, so that a retry that spells out a default
// (time_in_force "gtc" on a limit order) is the same request as the call that
// left it out. Numbers are kept as sent; the fingerprint canonicalizes them.
func withDefaults(args json.RawMessage, defaults map[string]any) (json.RawMessage, error) {
	if len(bytes.TrimSpace(args)) == 0 {
		args = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("arguments are not a JSON object: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	for k, v := range defaults {
		if cur, ok := m[k]; !ok || cur == nil {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// withoutDefaults returns args with every member equal to its value in
// defaults left out: the spelling an earlier version fingerprinted when the
// agent left the defaults out. It returns nil when nothing was left out (the
// arguments as sent are already covered).
func withoutDefaults(args json.RawMessage, defaults map[string]any) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil || m == nil {
		return nil
	}
	removed := false
	for k, v := range defaults {
		if cur, ok := m[k]; ok && cur == v {
			delete(m, k)
			removed = true
		}
	}
	if !removed {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return b
}
