package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// Canonical returns the canonical JSON form of data, the form that fingerprints
// and audit hashes are computed over:
//
//   - object keys sorted by their bytes (UTF-8), at every level;
//   - no insignificant whitespace;
//   - strings escaped exactly as Go's encoding/json escapes them (so <, > and &
//     appear as \u003c, \u003e and \u0026, and invalid UTF-8 becomes U+FFFD);
//   - numbers parsed as float64 and written as encoding/json writes a float64:
//     the shortest digits that read back to the same value, in plain notation
//     unless the magnitude is below 1e-6 or at least 1e21 (then 1e+21 style),
//     so 10, 10.0 and 1e1 are all written 10 (close to RFC 8785's rule);
//   - true, false and null as themselves.
//
// Canonical(Canonical(x)) == Canonical(x). It fails on invalid JSON, on trailing
// data, and on numbers outside float64's range.
func Canonical(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("canonical json: trailing data")
	}
	var buf bytes.Buffer
	if err := writeCanonical(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeCanonical(buf *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		if v {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return fmt.Errorf("canonical json: number %s: %w", v, err)
		}
		b, err := json.Marshal(f) // ES6-like: plain digits unless < 1e-6 or >= 1e21
		if err != nil {
			return fmt.Errorf("canonical json: number %s: %w", v, err)
		}
		buf.Write(b)
	case string:
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		buf.Write(b)
	case []any:
		buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCanonical(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			b, err := json.Marshal(k)
			if err != nil {
				return err
			}
			buf.Write(b)
			buf.WriteByte(':')
			if err := writeCanonical(buf, v[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("canonical json: unexpected %T", v)
	}
	return nil
}

// Fingerprint returns the request fingerprint of a state-changing tool call:
// the hex SHA-256 of the canonical JSON (see Canonical) of args with the
// top-level members named in omit (normally "idempotency_key") removed. args
// must be a JSON object; empty args count as {}.
func Fingerprint(args json.RawMessage, omit ...string) (string, error) {
	if len(bytes.TrimSpace(args)) == 0 {
		args = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return "", fmt.Errorf("fingerprint: arguments are not a JSON object: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	for _, k := range omit {
		delete(m, k)
	}
	var buf bytes.Buffer
	if err := writeCanonical(&buf, m); err != nil {
		return "", err
	}
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:]), nil
}
