package store

import (
	"errors"
	"github.com/sibylmcp/sibyl/canon"
	"strconv"
	"time"
	"unicode/utf8"
)

// Hand-written JSON encoding for the two values the group committer encodes on
// every order: audit entries and idempotency records. It produces the bytes
// encoding/json would (TestAuditEncodingMatchesEncodingJSON and
// FuzzAppendJSONString hold that), without reflection, because the committer is
// the one goroutine every order waits for.

// appendJSONString appends s as encoding/json's Marshal writes a string (see
// canon.AppendString).
func appendJSONString(b []byte, s string) []byte { return canon.AppendString(b, s) }

const hexDigits = "0123456789abcdef"

var errTimeRange = errors.New("time outside the years 0-9999 cannot be encoded as JSON")

// appendJSONTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, quoted).
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, errTimeRange
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// jsonObject appends the members of one object; its methods mirror
// encoding/json's rules for the field kinds they take.
type jsonObject struct {
	b     []byte
	empty bool
	jcs   bool // strings as RFC 8785 writes them (appendJCSString)
}

func (o *jsonObject) name(n string) {
	if !o.empty {
		o.b = append(o.b, ',')
	}
	o.empty = false
	o.b = append(o.b, '"')
	o.b = append(o.b, n...)
	o.b = append(o.b, '"', ':')
}

// str appends a string member; omitEmpty drops it when s is "".
func (o *jsonObject) str(n, s string, omitEmpty bool) {
	if omitEmpty && s == "" {
		return
	}
	o.name(n)
	o.b = o.appendString(o.b, s)
}

func (o *jsonObject) appendString(b []byte, s string) []byte {
	if o.jcs {
		return appendJCSString(b, s)
	}
	return appendJSONString(b, s)
}

func (o *jsonObject) raw(n string, v []byte) {
	if len(v) == 0 {
		return // omitempty
	}
	o.name(n)
	o.b = append(o.b, v...)
}

func (o *jsonObject) strs(n string, v []string) {
	if len(v) == 0 {
		return // omitempty
	}
	o.name(n)
	o.b = append(o.b, '[')
	for i, s := range v {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = o.appendString(o.b, s)
	}
	o.b = append(o.b, ']')
}

func (o *jsonObject) uint(n string, v uint64) {
	o.name(n)
	o.b = strconv.AppendUint(o.b, v, 10)
}

func (o *jsonObject) int(n string, v int64) {
	o.name(n)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *jsonObject) bool(n string, v, omitEmpty bool) {
	if omitEmpty && !v {
		return
	}
	o.name(n)
	o.b = strconv.AppendBool(o.b, v)
}

func (o *jsonObject) time(n string, t time.Time) error {
	o.name(n)
	var err error
	o.b, err = appendJSONTime(o.b, t)
	return err
}

// appendJCSString appends s as RFC 8785 (JCS) writes a string: '"' and '\\'
// escaped, the control characters U+0000-U+001F as \b, \t, \n, \f, \r or
// \u00xx (lower-case hex), everything else as UTF-8; invalid UTF-8 (which JCS
// does not allow) is replaced by U+FFFD, as encoding/json replaces it.
func appendJCSString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
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
			b = append(b, "\uFFFD"...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
