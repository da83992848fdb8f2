// Package canon computes the canonical JSON form of tool arguments and the
// request fingerprints of state-changing calls computed over it: the
// fingerprint is what tells a retry (same arguments, same key) from a reused
// key (other arguments) and an identical order under a new key (a possible
// duplicate). It has no state and does no I/O.
package canon

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
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
	b, err := Append(buf.AvailableBuffer(), v)
	buf.Write(b)
	return err
}

// Append appends the canonical form of a value decoded by
// encoding/json with UseNumber.
func Append(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		b = append(b, "null"...)
	case bool:
		b = strconv.AppendBool(b, v)
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return b, fmt.Errorf("canonical json: number %s: %w", v, err)
		}
		b = AppendFloat(b, f)
	case string:
		b = AppendString(b, v)
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = Append(b, e); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(AppendString(b, k), ':')
			var err error
			if b, err = Append(b, v[k]); err != nil {
				return b, err
			}
		}
		b = append(b, '}')
	default:
		return b, fmt.Errorf("canonical json: unexpected %T", v)
	}
	return b, nil
}

// AppendFloat appends f as encoding/json writes a float64 (ES6-like:
// plain digits unless below 1e-6 or at least 1e21 in magnitude; the exponent
// without leading zeros). f must be finite, as numbers parsed from JSON are.
func AppendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// Fingerprint returns the request fingerprint of a state-changing tool call:
// the hex SHA-256 of the canonical JSON (see Canonical) of args with the
// top-level members named in omit (normally "idempotency_key") removed. args
// must be a JSON object; empty args count as {}.
func Fingerprint(args json.RawMessage, omit ...string) (string, error) {
	m, _, err := DecodeObject(args)
	if err != nil {
		return "", err
	}
	return FingerprintObject(m, omit)
}

// DecodeObject decodes tool arguments that must be a JSON object (numbers
// as json.Number). Empty arguments and null count as {}; wasNull tells null
// apart.
func DecodeObject(args json.RawMessage) (m map[string]any, wasNull bool, err error) {
	if len(bytes.TrimSpace(args)) == 0 {
		args = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, false, fmt.Errorf("fingerprint: arguments are not a JSON object: %w", err)
	}
	if m == nil {
		return map[string]any{}, true, nil
	}
	return m, false, nil
}

// FingerprintObject is Fingerprint of decoded arguments. It leaves m as it was.
func FingerprintObject(m map[string]any, omit []string) (string, error) {
	var saved []any
	for _, k := range omit {
		v, ok := m[k]
		if !ok {
			v = absent{}
		}
		saved = append(saved, v)
		delete(m, k)
	}
	c, err := Append(nil, m)
	for i, k := range omit {
		if _, gone := saved[i].(absent); !gone {
			m[k] = saved[i]
		}
	}
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]), nil
}

// absent marks an omitted member that was not there.
type absent struct{}

const hexDigits = "0123456789abcdef"

// AppendString appends s as encoding/json's Marshal writes a string: with
// HTML escaping (<, > and & as \u003c, \u003e and \u0026), U+2028 and U+2029
// escaped, and invalid UTF-8 replaced by U+FFFD.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
