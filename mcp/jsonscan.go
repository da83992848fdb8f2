package mcp

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// A small scanner over JSON already known to be valid (json.Valid): it walks
// the members of one object without decoding the values, so the hot path
// reads a message envelope and tools/call params without reflection.

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	i++
	for i < len(b) {
		switch b[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		default:
			i++
		}
	}
	return i
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // number, true, false, null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// eachMember calls fn with the raw key (quotes included) and raw value of
// every member of the object b. b must be valid JSON; it reports false when b
// is not an object.
func eachMember(b []byte, fn func(key, val []byte)) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for i < len(b) {
		ks := i
		i = skipString(b, i)
		key := b[ks:i]
		i = skipWS(b, i)
		i = skipWS(b, i+1) // ':'
		vs := i
		i = skipValue(b, i)
		fn(key, b[vs:i])
		i = skipWS(b, i)
		if i >= len(b) || b[i] == '}' {
			break
		}
		i = skipWS(b, i+1) // ','
	}
	return true
}

// keyIs reports whether the raw key equals name (escapes are decoded).
func keyIs(key []byte, name string) bool {
	if len(key) == len(name)+2 && string(key[1:len(key)-1]) == name {
		return true
	}
	if bytes.IndexByte(key, '\\') < 0 {
		return false
	}
	var s string
	return json.Unmarshal(key, &s) == nil && s == name
}

// rawString decodes a raw JSON string value; ok is false for other values.
func rawString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

// parseFast decodes a message envelope like parseMsg, for valid JSON. It
// copies what it keeps so that data may be reused.
func parseFast(data []byte, m *inMsg) (ok bool) {
	ok = true
	isObj := eachMember(data, func(key, val []byte) {
		if !ok {
			return
		}
		switch {
		case keyIs(key, "jsonrpc"):
			s, good := rawString(val)
			if !good {
				s = "\x00" // present but not a string
			}
			m.JSONRPC = s
		case keyIs(key, "id"):
			m.ID = append(json.RawMessage(nil), val...) // "null" kept, as encoding/json does
		case keyIs(key, "method"):
			if k, ok := knownMethods[string(val)]; ok { // no allocation
				m.Method = k
				return
			}
			s, good := rawString(val)
			if !good {
				ok = false // let encoding/json produce the error
				return
			}
			m.Method = &s
		case keyIs(key, "params"):
			m.Params = append(json.RawMessage(nil), val...)
		case keyIs(key, "result"):
			m.Result = append(json.RawMessage(nil), val...)
		case keyIs(key, "error"):
			if bytes.Equal(val, nullID) {
				return
			}
			var e rpcError
			if json.Unmarshal(val, &e) != nil {
				ok = false
				return
			}
			m.Error = &e
		}
	})
	return isObj && ok
}

// toolCallParams reads tools/call params on the fast path: name, arguments and
// _meta (decoded with encoding/json only when present). It reports false when
// params hold anything it does not handle, and the caller falls back to the
// general decoder.
func toolCallParams(params []byte, p *reqParams) bool {
	ok := true
	eachMember(params, func(key, val []byte) {
		if !ok {
			return
		}
		switch {
		case keyIs(key, "name"):
			s, good := rawString(val)
			if !good {
				ok = false
				return
			}
			p.Name = s
		case keyIs(key, "arguments"):
			if bytes.Equal(val, nullID) {
				p.Arguments = nil
				return
			}
			p.Arguments = val // aliases params, which the request owns
		case keyIs(key, "_meta"):
			if bytes.Equal(val, nullID) {
				return
			}
			p.Meta = new(reqMeta)
			if json.Unmarshal(val, p.Meta) != nil {
				ok = false
			}
		default:
			// inputResponses, requestState, unknown extras: general path.
			ok = false
		}
	})
	return ok
}

// knownMethods maps the quoted names of common methods to shared strings, so
// decoding them allocates nothing.
var knownMethods = func() map[string]*string {
	m := map[string]*string{}
	for _, name := range []string{"tools/call", "tools/list", "ping", "initialize", "notifications/initialized",
		"notifications/cancelled", "notifications/progress", "resources/read", "resources/list", "prompts/get",
		"prompts/list", "completion/complete", "server/discover", "logging/setLevel"} {
		n := name
		m[`"`+name+`"`] = &n
	}
	return m
}()
