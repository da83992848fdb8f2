package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// node is a JSON value that remembers the order of object keys, so that a schema
// rewritten by Portable lists its properties in the order the Go struct declares
// them (map[string]any would sort them, which reads worse for a model and makes
// golden files churn when a field is added).
type node struct {
	kind  nodeKind
	keys  []string // object keys, in order
	vals  []*node  // object values, parallel to keys
	elems []*node  // array elements
	lit   string   // scalar: the JSON text (numbers keep their exact text)
	str   string   // scalar string: the decoded value
}

type nodeKind uint8

const (
	kindObject nodeKind = iota + 1
	kindArray
	kindString
	kindNumber
	kindBool
	kindNull
)

// parseNode decodes one JSON document.
func parseNode(raw []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	n, err := decodeNode(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the top-level value")
	}
	return n, nil
}

func decodeNode(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: kindObject}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("invalid JSON: %w", err)
				}
				key, ok := kt.(string)
				if !ok {
					return nil, errors.New("invalid JSON: object key is not a string")
				}
				v, err := decodeNode(dec)
				if err != nil {
					return nil, err
				}
				n.set(key, v) // a duplicate key keeps the last value, as encoding/json does
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("invalid JSON: %w", err)
			}
			return n, nil
		case '[':
			n := &node{kind: kindArray}
			for dec.More() {
				v, err := decodeNode(dec)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("invalid JSON: %w", err)
			}
			return n, nil
		}
		return nil, fmt.Errorf("invalid JSON: unexpected %v", t)
	case string:
		return strNode(t), nil
	case json.Number:
		return &node{kind: kindNumber, lit: t.String()}, nil
	case bool:
		return &node{kind: kindBool, lit: strconv.FormatBool(t)}, nil
	case nil:
		return &node{kind: kindNull, lit: "null"}, nil
	}
	return nil, fmt.Errorf("invalid JSON: unexpected token %v", tok)
}

func strNode(s string) *node {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	return &node{kind: kindString, lit: strings.TrimSuffix(b.String(), "\n"), str: s}
}

func objNode() *node { return &node{kind: kindObject} }

func (n *node) isObject() bool { return n != nil && n.kind == kindObject }

func (n *node) isTrue() bool { return n != nil && n.kind == kindBool && n.lit == "true" }

// get returns the value of key in an object, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// set replaces key's value in place or appends the key.
func (n *node) set(key string, v *node) {
	for i, k := range n.keys {
		if k == key {
			n.vals[i] = v
			return
		}
	}
	n.keys = append(n.keys, key)
	n.vals = append(n.vals, v)
}

// encode writes compact JSON.
func (n *node) encode(b *bytes.Buffer) {
	switch n.kind {
	case kindObject:
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strNode(k).lit)
			b.WriteByte(':')
			n.vals[i].encode(b)
		}
		b.WriteByte('}')
	case kindArray:
		b.WriteByte('[')
		for i, e := range n.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.encode(b)
		}
		b.WriteByte(']')
	default:
		b.WriteString(n.lit)
	}
}

func (n *node) bytes() json.RawMessage {
	var b bytes.Buffer
	n.encode(&b)
	return b.Bytes()
}

// pointerToken escapes one JSON pointer reference token (RFC 6901).
func pointerToken(s string) string {
	s = strings.ReplaceAll(s, "~", "~0")
	return strings.ReplaceAll(s, "/", "~1")
}

// lookupPointer resolves a JSON pointer ("" or "/a/b") against n.
func lookupPointer(n *node, ptr string) (*node, bool) {
	if ptr == "" {
		return n, true
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, false
	}
	cur := n
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch cur.kind {
		case kindObject:
			next := cur.get(tok)
			if next == nil {
				return nil, false
			}
			cur = next
		case kindArray:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(cur.elems) {
				return nil, false
			}
			cur = cur.elems[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
