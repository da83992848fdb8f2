package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// appendJCS appends the RFC 8785 (JCS) form of a value decoded by
// encoding/json with UseNumber: object members sorted by their names' UTF-16
// code units, numbers written by the JCS library's ES6 formatter, strings by
// appendJCSString, no whitespace. It is the JCS library's Transform without
// the re-parse, for the order path; FuzzAppendJCSMatchesLibrary holds the two
// equal, and VerifyAudit checks every stored entry with the library itself.
func appendJCS(b []byte, v any) ([]byte, error) {
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
		s, err := jcs.NumberToJSON(f)
		if err != nil {
			return b, fmt.Errorf("canonical json: number %s: %w", v, err)
		}
		b = append(b, s...)
	case float64:
		s, err := jcs.NumberToJSON(v)
		if err != nil {
			return b, fmt.Errorf("canonical json: %w", err)
		}
		b = append(b, s...)
	case string:
		b = appendJCSString(b, v)
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJCS(b, e); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareUTF16)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendJCSString(b, k), ':')
			var err error
			if b, err = appendJCS(b, v[k]); err != nil {
				return b, err
			}
		}
		b = append(b, '}')
	default:
		return b, fmt.Errorf("canonical json: unexpected %T", v)
	}
	return b, nil
}

// compareUTF16 orders strings by their UTF-16 code units, as JCS sorts
// member names. It differs from byte order only where a character above
// U+FFFF meets one in U+E000-U+FFFF. Invalid UTF-8 compares as U+FFFD, as it
// is written.
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			ua, ub := utf16Units(ra), utf16Units(rb)
			if ua[0] != ub[0] {
				return int(ua[0]) - int(ub[0])
			}
			return int(ua[1]) - int(ub[1])
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

// utf16Units returns r's first and second UTF-16 code units (0 for a
// character in the Basic Multilingual Plane).
func utf16Units(r rune) [2]uint16 {
	if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError || r2 != utf8.RuneError {
		return [2]uint16{uint16(r1), uint16(r2)}
	}
	return [2]uint16{uint16(r), 0}
}
