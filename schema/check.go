package schema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Violation is one broken portability rule in a schema.
type Violation struct {
	Path    string // JSON pointer of the schema at fault, e.g. "/properties/limit"; "" is the top level
	Rule    string // one of the Rule* constants
	Message string // what is wrong and how to fix it
}

func (v Violation) String() string {
	return fmt.Sprintf("%s: %s: %s", displayPath(v.Path), v.Rule, v.Message)
}

// The portability rules that Check enforces (DESIGN.md section 3).
const (
	RuleJSON                = "json"                 // the schema is not valid JSON
	RuleTopLevelObject      = "top-level-object"     // top level is "type":"object" with "properties"
	RuleNoRef               = "no-ref"               // no $ref
	RuleNoDefs              = "no-defs"              // no $defs or definitions
	RuleNoTypeArray         = "no-type-array"        // "type" is one string, never an array
	RuleArrayItems          = "array-items"          // every array schema has "items"
	RuleNoSchemaKeyword     = "no-schema-keyword"    // no "$schema"
	RulePropertyDescription = "property-description" // every property has a non-empty description
	RuleBounds              = "bounds"               // minimum <= maximum and the like
)

// Check returns every portability violation in a schema, in document order, or nil
// when the schema is portable. Use it in a test over every registered tool's input
// and output schemas; For and ForOutput output can still violate
// RulePropertyDescription when a field has no description tag.
func Check(raw json.RawMessage) []Violation {
	root, err := parseNode(raw)
	if err != nil {
		return []Violation{{Path: "", Rule: RuleJSON, Message: err.Error()}}
	}
	c := &checker{}
	if !root.isObject() {
		c.add("", RuleTopLevelObject, "the schema must be a JSON object with \"type\":\"object\", got "+describeNode(root))
		return c.vs
	}
	if t := root.get("type"); t == nil || t.kind != kindString || t.str != "object" {
		got := "none"
		if t != nil {
			got = t.lit
		}
		c.add("", RuleTopLevelObject, "the top level must have \"type\":\"object\" (got "+got+")")
	}
	if p := root.get("properties"); !p.isObject() {
		c.add("", RuleTopLevelObject, "the top level must have \"properties\" (use {} when there are none); some clients reject an object schema without it")
	}
	c.schema(root, "")
	return c.vs
}

type checker struct {
	vs []Violation
}

func (c *checker) add(path, rule, msg string) {
	c.vs = append(c.vs, Violation{Path: path, Rule: rule, Message: msg})
}

func (c *checker) schema(n *node, path string) {
	if !n.isObject() {
		return // boolean schemas carry no keywords to check
	}
	if n.get("$ref") != nil {
		c.add(path, RuleNoRef, "$ref "+n.get("$ref").lit+" must be inlined (schema.Portable does this)")
	}
	for _, k := range []string{"$defs", "definitions"} {
		if n.get(k) != nil {
			c.add(path, RuleNoDefs, k+" must be removed after inlining its schemas (schema.Portable does this)")
		}
	}
	if s := n.get("$schema"); s != nil {
		c.add(path, RuleNoSchemaKeyword, "$schema "+s.lit+" must be removed; some clients reject draft-07 and others any $schema")
	}
	isArray := false
	if t := n.get("type"); t != nil {
		switch t.kind {
		case kindArray:
			names := make([]string, len(t.elems))
			for i, e := range t.elems {
				names[i] = e.lit
				if e.kind == kindString && e.str == "array" {
					isArray = true
				}
			}
			c.add(path, RuleNoTypeArray, "type must be a single string, not ["+strings.Join(names, ",")+"]; optional means not in \"required\", not nullable")
		case kindString:
			isArray = t.str == "array"
		}
	}
	if isArray && n.get("items") == nil && n.get("prefixItems") == nil {
		c.add(path, RuleArrayItems, "an array schema must have \"items\" describing its elements")
	}
	c.bounds(n, path)

	eachSubschema(n, path, func(keyword, name string, sub *node, subPath string) {
		if keyword == "properties" {
			if d := sub.get("description"); d == nil || d.kind != kindString || strings.TrimSpace(d.str) == "" {
				c.add(subPath, RulePropertyDescription, fmt.Sprintf("property %q needs a non-empty description written for the model (tag: jsonschema_description:\"...\")", name))
			}
		}
		c.schema(sub, subPath)
	})
}

// eachSubschema calls fn, in document order, with every direct subschema of
// the schema object n: the keyword it sits under, its name under an object
// keyword such as properties ("" otherwise), and its JSON pointer. It is the
// one walk over subschemas that Check and Compile share.
func eachSubschema(n *node, path string, fn func(keyword, name string, sub *node, subPath string)) {
	for i, k := range n.keys {
		v := n.vals[i]
		sub := path + "/" + pointerToken(k)
		switch {
		case mapSchemaKeywords[k] || k == "$defs" || k == "definitions":
			if v.isObject() {
				for j, name := range v.keys {
					fn(k, name, v.vals[j], sub+"/"+pointerToken(name))
				}
			}
		case singleSchemaKeywords[k] && v.kind != kindArray:
			fn(k, "", v, sub)
		case singleSchemaKeywords[k] || arraySchemaKeywords[k]: // arrays of subschemas, draft-07 tuple items included
			if v.kind == kindArray {
				for j, e := range v.elems {
					fn(k, "", e, sub+"/"+strconv.Itoa(j))
				}
			}
		}
	}
}

// bounds reports lower bounds above upper bounds: such a schema accepts nothing,
// and a model cannot produce a valid argument.
func (c *checker) bounds(n *node, path string) {
	pairs := []struct {
		lo, hi string
		strict bool // the range is empty when lo == hi
	}{
		{"minimum", "maximum", false},
		{"exclusiveMinimum", "exclusiveMaximum", true},
		{"minimum", "exclusiveMaximum", true},
		{"exclusiveMinimum", "maximum", true},
		{"minLength", "maxLength", false},
		{"minItems", "maxItems", false},
		{"minProperties", "maxProperties", false},
	}
	for _, p := range pairs {
		lo, hi := n.get(p.lo), n.get(p.hi)
		if lo == nil || hi == nil {
			continue
		}
		l, okL := numberOf(lo)
		h, okH := numberOf(hi)
		if !okL || !okH {
			if !okL {
				c.add(path, RuleBounds, p.lo+" must be a number, got "+describeNode(lo))
			}
			if !okH {
				c.add(path, RuleBounds, p.hi+" must be a number, got "+describeNode(hi))
			}
			continue
		}
		cmp := l.Cmp(h)
		if cmp > 0 || (p.strict && cmp == 0) {
			c.add(path, RuleBounds, fmt.Sprintf("%s %s and %s %s leave no valid value", p.lo, lo.lit, p.hi, hi.lit))
		}
	}
	for _, k := range []string{"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"} {
		if v := n.get(k); v != nil {
			if r, ok := numberOf(v); ok && (r.Sign() < 0 || !r.IsInt()) {
				c.add(path, RuleBounds, k+" must be a non-negative integer, got "+v.lit)
			}
		}
	}
}

func numberOf(n *node) (*big.Rat, bool) {
	if n.kind != kindNumber {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(n.lit)
	return r, ok
}

// CheckToolName returns nil when name is a portable tool name, one that matches
// ^[a-z][a-z0-9_]{0,47}$, and otherwise an error that states the rule and what
// is wrong with name.
func CheckToolName(name string) error {
	const rule = "must match ^[a-z][a-z0-9_]{0,47}$ (a lowercase letter, then up to 47 lowercase letters, digits or underscores)"
	switch {
	case name == "":
		return fmt.Errorf("tool name is empty; it %s", rule)
	case len(name) > 48:
		return fmt.Errorf("tool name %q is %d bytes long; it %s", name, len(name), rule)
	case name[0] < 'a' || name[0] > 'z':
		r, _ := utf8.DecodeRuneInString(name)
		return fmt.Errorf("tool name %q starts with %q; it %s", name, r, rule)
	}
	for i := 1; i < len(name); i++ {
		b := name[i]
		if (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '_' {
			continue
		}
		r, _ := utf8.DecodeRuneInString(name[i:])
		return fmt.Errorf("tool name %q has %q at byte %d; it %s", name, r, i, rule)
	}
	return nil
}
