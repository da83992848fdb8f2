package schema

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"

	"github.com/invopop/jsonschema"
)

// For returns the portable JSON Schema of T for use as a tool's inputSchema: an
// object schema generated with github.com/invopop/jsonschema from T's json and
// jsonschema struct tags (see the package doc), with additionalProperties:false on
// every struct so unknown arguments are rejected, then made portable with Portable.
//
// It returns an error when T cannot be described portably: T is not a struct (or a
// pointer to one, or a map), T refers to itself (a recursive type), a field has a
// type JSON cannot carry (chan, func, complex), or a type array has several
// non-null types. Callers register tools at start-up; see MustFor.
func For[T any]() (json.RawMessage, error) {
	return reflectSchema(reflect.TypeFor[T](), false)
}

// ForOutput returns the portable JSON Schema of T for use as a tool's
// outputSchema. It is For without additionalProperties:false: clients validate
// structuredContent against it, and an older client must not reject a result
// because a newer server added a field.
func ForOutput[T any]() (json.RawMessage, error) {
	return reflectSchema(reflect.TypeFor[T](), true)
}

// MustFor is For that panics, for tool registration: a schema that cannot be
// generated is a programming error that must stop the server at start-up.
func MustFor[T any]() json.RawMessage {
	s, err := For[T]()
	if err != nil {
		panic(err)
	}
	return s
}

// MustForOutput is ForOutput that panics, for tool registration.
func MustForOutput[T any]() json.RawMessage {
	s, err := ForOutput[T]()
	if err != nil {
		panic(err)
	}
	return s
}

func reflectSchema(t reflect.Type, output bool) (raw json.RawMessage, err error) {
	// invopop panics on types it cannot describe (chan, func, complex).
	defer func() {
		if r := recover(); r != nil {
			raw, err = nil, fmt.Errorf("schema: reflecting %v: %v", t, r)
		}
	}()
	r := &jsonschema.Reflector{
		Anonymous:                 true, // no $id
		AllowAdditionalProperties: output,
		// References are kept and inlined by Portable rather than using
		// DoNotReference: with DoNotReference a recursive type makes invopop
		// recurse until the stack overflows (a fatal error, not a panic), while
		// Portable reports the cycle as an error. ExpandedStruct stays false for the
		// same reason: it deletes the root definition, so a reference back to the
		// root type would dangle instead of being reported as recursion.
		Namer:  qualifiedName,
		Mapper: unsignedMinimum,
	}
	s := r.ReflectFromType(t)
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("schema: encoding schema of %v: %w", t, err)
	}
	out, err := Portable(b)
	if err != nil {
		return nil, fmt.Errorf("schema: %v: %w", t, err)
	}
	return out, nil
}

// unsignedMinimum gives unsigned integer fields "minimum":0, a bound the Go type
// already enforces (encoding/json rejects -1 for a uint), so the model learns it
// from the schema instead of from a decoding error. A minimum= tag still applies
// on top. Types with their own JSONSchema method are left to it.
func unsignedMinimum(t reflect.Type) *jsonschema.Schema {
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
	default:
		return nil
	}
	for _, m := range []string{"JSONSchema", "JSONSchemaExtend", "JSONSchemaAlias"} {
		if _, ok := reflect.PointerTo(t).MethodByName(m); ok {
			return nil
		}
	}
	return &jsonschema.Schema{Type: "integer", Minimum: json.Number("0")}
}

// qualifiedName names definitions by package path and type name, so that two
// types called Market in different packages do not share one definition (invopop
// keys definitions by bare type name). Characters that would break the JSON
// pointer in "#/$defs/<name>" are replaced.
func qualifiedName(t reflect.Type) string {
	if t.Name() == "" {
		return ""
	}
	name := t.PkgPath() + "." + t.Name()
	return strings.NewReplacer("/", "_", "~", "_", "#", "_", "%", "_").Replace(name)
}

// Portable rewrites a JSON Schema to follow the portability rules that MCP clients
// enforce (DESIGN.md section 3) and returns the compact result:
//
//   - every local $ref ("#", "#/$defs/X", "#/definitions/X", nested pointers) is
//     replaced by a copy of its target, keywords beside the $ref overriding the
//     target's; a recursive reference is an error naming the cycle, and a remote
//     $ref is an error;
//   - $defs, definitions, $schema, $id, $anchor and $comment are dropped;
//   - a type array such as ["null","string"] becomes the single non-null type, and
//     oneOf/anyOf alternatives that are just {"type":"null"} are removed (a
//     remaining single alternative is merged into its parent), since optional means
//     "not in required"; several non-null types are an error;
//   - every array schema gets "items" ({} when it had none), boolean true
//     subschemas under properties/items become {};
//   - additionalProperties:true is dropped as noise, additionalProperties:false kept;
//   - the top level gets "type":"object" and "properties" ({} when it had none); a
//     top level of another type is an error.
//
// Portable does not add descriptions or bounds; Check reports what is missing.
func Portable(raw json.RawMessage) (json.RawMessage, error) {
	root, err := parseNode(raw)
	if err != nil {
		return nil, fmt.Errorf("portable: %w", err)
	}
	if !root.isObject() {
		return nil, fmt.Errorf("portable: a tool schema must be a JSON object, got %s", describeNode(root))
	}
	p := &portabler{root: root}
	out, err := p.schema(root, "", nil)
	if err != nil {
		return nil, fmt.Errorf("portable: %w", err)
	}
	if !out.isObject() { // a top-level $ref to a boolean schema
		return nil, fmt.Errorf("portable: top-level schema must be an object schema, got %s", describeNode(out))
	}
	switch t := out.get("type"); {
	case t == nil:
		out.set("type", strNode("object"))
		orderKeywords(out)
	case t.kind != kindString || t.str != "object":
		return nil, fmt.Errorf("portable: top-level schema must have \"type\":\"object\" (tool arguments and structured results are JSON objects), got %s", t.lit)
	}
	if props := out.get("properties"); props == nil {
		out.set("properties", objNode())
		orderKeywords(out)
	} else if !props.isObject() {
		return nil, fmt.Errorf("portable: top-level \"properties\" must be an object, got %s", describeNode(props))
	}
	return out.bytes(), nil
}

type portabler struct {
	root *node
}

// dropped keywords never appear in a portable schema.
var dropped = map[string]bool{
	"$defs": true, "definitions": true, "$schema": true, "$id": true,
	"$anchor": true, "$dynamicAnchor": true, "$comment": true,
}

// Keywords whose value is one subschema, an object of subschemas, or an array of
// subschemas. Everything else (enum, const, default, examples, ...) is data and is
// copied untouched.
var (
	singleSchemaKeywords = map[string]bool{
		"items": true, "additionalProperties": true, "not": true, "if": true,
		"then": true, "else": true, "contains": true, "propertyNames": true,
		"unevaluatedProperties": true, "unevaluatedItems": true,
		"additionalItems": true, "contentSchema": true,
	}
	mapSchemaKeywords   = map[string]bool{"properties": true, "patternProperties": true, "dependentSchemas": true}
	arraySchemaKeywords = map[string]bool{"allOf": true, "anyOf": true, "oneOf": true, "prefixItems": true}
)

// schema returns a portable copy of the schema n found at path (a JSON pointer in
// the output); stack holds the $refs being expanded, to detect recursion.
func (p *portabler) schema(n *node, path string, stack []string) (*node, error) {
	if n.kind == kindBool {
		return n, nil
	}
	if !n.isObject() {
		return nil, fmt.Errorf("schema at %q must be an object or a boolean, got %s", displayPath(path), describeNode(n))
	}
	var base *node
	if ref := n.get("$ref"); ref != nil {
		if ref.kind != kindString {
			return nil, fmt.Errorf("$ref at %q must be a string", displayPath(path))
		}
		for i, s := range stack {
			if s == ref.str {
				cycle := append(append([]string(nil), stack[i:]...), ref.str)
				return nil, fmt.Errorf("recursive schema at %q: $ref cycle %s; portable schemas cannot express recursive types, so break the cycle (for example refer to children by ID)", displayPath(path), strings.Join(cycle, " -> "))
			}
		}
		target, err := p.resolve(ref.str, path)
		if err != nil {
			return nil, err
		}
		base, err = p.schema(target, path, append(stack, ref.str))
		if err != nil {
			return nil, err
		}
		if base.kind == kindBool {
			if len(n.keys) == 1 {
				return base, nil
			}
			if base.isTrue() {
				base = objNode()
			} else {
				return nil, fmt.Errorf("$ref at %q points to the false schema", displayPath(path))
			}
		}
	}

	out := objNode()
	if base != nil {
		for i, k := range base.keys {
			out.set(k, base.vals[i])
		}
	}
	for i, k := range n.keys {
		v := n.vals[i]
		sub := path + "/" + pointerToken(k)
		switch {
		case k == "$ref" || dropped[k]:
			continue
		case k == "type":
			t, err := collapseType(v, path)
			if err != nil {
				return nil, err
			}
			out.set(k, t)
		case k == "items" && v.kind == kindArray:
			// draft-07 tuple form: items:[...] + additionalItems.
			arr, err := p.schemaArray(v, path+"/prefixItems", stack)
			if err != nil {
				return nil, err
			}
			out.set("prefixItems", arr)
		case k == "additionalItems" && n.get("items") != nil && n.get("items").kind == kindArray:
			s, err := p.schema(v, path+"/items", stack)
			if err != nil {
				return nil, err
			}
			out.set("items", s)
		case k == "additionalProperties" && v.isTrue():
			continue
		case singleSchemaKeywords[k]:
			s, err := p.schema(v, sub, stack)
			if err != nil {
				return nil, err
			}
			if k == "items" && s.isTrue() {
				s = objNode()
			}
			out.set(k, s)
		case mapSchemaKeywords[k]:
			if !v.isObject() {
				return nil, fmt.Errorf("%q at %q must be an object, got %s", k, displayPath(path), describeNode(v))
			}
			m := objNode()
			for j, name := range v.keys {
				s, err := p.schema(v.vals[j], sub+"/"+pointerToken(name), stack)
				if err != nil {
					return nil, err
				}
				if s.isTrue() {
					s = objNode()
				}
				m.set(name, s)
			}
			out.set(k, m)
		case arraySchemaKeywords[k]:
			arr, err := p.schemaArray(v, sub, stack)
			if err != nil {
				return nil, err
			}
			out.set(k, arr)
		default:
			out.set(k, v)
		}
	}

	if err := dropNullAlternatives(out, path); err != nil {
		return nil, err
	}
	if t := out.get("type"); t != nil && t.kind == kindString && t.str == "array" {
		if out.get("items") == nil && out.get("prefixItems") == nil {
			out.set("items", objNode())
		}
	}
	orderKeywords(out)
	return out, nil
}

// keywordOrder lists the keywords a reader (model or reviewer) wants first; other
// keywords follow in their original order.
var keywordOrder = func() map[string]int {
	m := map[string]int{}
	for i, k := range []string{
		"type", "title", "description", "enum", "const", "format", "pattern",
		"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf",
		"minLength", "maxLength", "minItems", "maxItems", "uniqueItems",
		"default", "examples", "items", "prefixItems", "properties", "required",
		"additionalProperties",
	} {
		m[k] = i + 1
	}
	return m
}()

// orderKeywords sorts a schema object's keywords stably by keywordOrder, so the
// output reads the same whatever order the generator emitted.
func orderKeywords(n *node) {
	idx := make([]int, len(n.keys))
	for i := range idx {
		idx[i] = i
	}
	pos := func(k string) int {
		if p, ok := keywordOrder[k]; ok {
			return p
		}
		return len(keywordOrder) + 1
	}
	sort.SliceStable(idx, func(a, b int) bool { return pos(n.keys[idx[a]]) < pos(n.keys[idx[b]]) })
	keys := make([]string, len(idx))
	vals := make([]*node, len(idx))
	for i, j := range idx {
		keys[i], vals[i] = n.keys[j], n.vals[j]
	}
	n.keys, n.vals = keys, vals
}

func (p *portabler) schemaArray(v *node, path string, stack []string) (*node, error) {
	if v.kind != kindArray {
		return nil, fmt.Errorf("schema list at %q must be an array, got %s", displayPath(path), describeNode(v))
	}
	arr := &node{kind: kindArray}
	for j, e := range v.elems {
		s, err := p.schema(e, fmt.Sprintf("%s/%d", path, j), stack)
		if err != nil {
			return nil, err
		}
		arr.elems = append(arr.elems, s)
	}
	return arr, nil
}

// resolve finds the target of a local $ref in the original document.
func (p *portabler) resolve(ref, path string) (*node, error) {
	frag, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("$ref %q at %q is not local; portable schemas must be self-contained", ref, displayPath(path))
	}
	if t, ok := lookupPointer(p.root, frag); ok {
		return t, nil
	}
	if un, err := url.PathUnescape(frag); err == nil && un != frag {
		if t, ok := lookupPointer(p.root, un); ok {
			return t, nil
		}
	}
	return nil, fmt.Errorf("$ref %q at %q does not resolve to anything in the schema", ref, displayPath(path))
}

// collapseType turns a type array into its single non-null type.
func collapseType(v *node, path string) (*node, error) {
	if v.kind != kindArray {
		return v, nil
	}
	var nonNull []*node
	hasNull := false
	for _, e := range v.elems {
		if e.kind == kindString && e.str == "null" {
			hasNull = true
			continue
		}
		nonNull = append(nonNull, e)
	}
	switch {
	case len(nonNull) == 1:
		return nonNull[0], nil
	case len(nonNull) == 0 && hasNull:
		return strNode("null"), nil
	case len(nonNull) == 0:
		return nil, fmt.Errorf("empty type array at %q", displayPath(path))
	}
	names := make([]string, len(nonNull))
	for i, e := range nonNull {
		names[i] = e.lit
	}
	return nil, fmt.Errorf("type at %q allows several types (%s); portable schemas have one type per value", displayPath(path), strings.Join(names, ", "))
}

// dropNullAlternatives removes {"type":"null"} from oneOf/anyOf (what invopop's
// `jsonschema:"nullable"` produces) and merges a single remaining alternative into
// the schema itself.
func dropNullAlternatives(out *node, path string) error {
	for _, k := range []string{"oneOf", "anyOf"} {
		alts := out.get(k)
		if alts == nil || alts.kind != kindArray {
			continue
		}
		var keep []*node
		for _, a := range alts.elems {
			if isNullSchema(a) {
				continue
			}
			keep = append(keep, a)
		}
		if len(keep) == len(alts.elems) {
			continue
		}
		if len(keep) != 1 || !keep[0].isObject() {
			if len(keep) == 0 {
				return fmt.Errorf("%s at %q allows only null", k, displayPath(path))
			}
			out.set(k, &node{kind: kindArray, elems: keep})
			continue
		}
		// Merge the one alternative; keywords already beside oneOf win.
		merged := objNode()
		for i, key := range keep[0].keys {
			merged.set(key, keep[0].vals[i])
		}
		for i, key := range out.keys {
			if key == k {
				continue
			}
			merged.set(key, out.vals[i])
		}
		*out = *merged
	}
	return nil
}

func isNullSchema(n *node) bool {
	if !n.isObject() || len(n.keys) != 1 {
		return false
	}
	t := n.get("type")
	return t != nil && t.kind == kindString && t.str == "null"
}

func describeNode(n *node) string {
	switch n.kind {
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	case kindString:
		return "a string " + truncate(n.lit, 40)
	case kindNumber:
		return "the number " + n.lit
	case kindBool:
		return n.lit
	}
	return "null"
}

func displayPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func truncate(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + "…"
}
