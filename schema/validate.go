package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// schemaURL is the name the one compiled resource is known by; it appears in the
// compiled schema's locations, never to the agent.
const schemaURL = "mem:///input.json"

// Validator validates tool arguments against one compiled input schema. It is
// immutable after Compile and safe for concurrent use.
type Validator struct {
	sch *jsonschema.Schema
	// props maps the JSON pointer of each object schema to its property names in
	// declaration order, for the "allowed: ..." list of an unknown argument.
	props map[string][]string
}

// Compile compiles an input schema with draft 2020-12 semantics (a "$schema" in
// the document may select another draft). Formats such as date-time are asserted,
// not just annotated, so a malformed time is rejected before the handler runs.
// Remote references are refused. It returns an error when the schema is not valid
// JSON or not a valid JSON Schema; callers compile at registration and treat an
// error as a bug (panic at start-up).
func Compile(raw json.RawMessage) (*Validator, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("compiling schema: %w", err)
	}
	tree, err := parseNode(raw)
	if err != nil {
		return nil, fmt.Errorf("compiling schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(jsonschema.SchemeURLLoader{}) // no file or network access
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("compiling schema: %w", err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("compiling schema: %w", err)
	}
	v := &Validator{sch: sch, props: map[string][]string{}}
	collectProps(tree, "", v.props)
	return v, nil
}

// MustCompile is Compile that panics, for tool registration.
func MustCompile(raw json.RawMessage) *Validator {
	v, err := Compile(raw)
	if err != nil {
		panic(err)
	}
	return v
}

func collectProps(n *node, path string, out map[string][]string) {
	if !n.isObject() {
		return
	}
	if p := n.get("properties"); p.isObject() {
		out[path] = slices.Clone(p.keys)
	}
	eachSubschema(n, path, func(_, _ string, sub *node, subPath string) {
		collectProps(sub, subPath, out)
	})
}

// ValidationError names the first failure of a tool's arguments against its input
// schema. When several arguments are wrong, the one reported is chosen
// deterministically: missing arguments first, then unknown ones, then wrong types,
// then values outside enums, formats, patterns and bounds; ties go to the argument
// that comes first in the arguments. The mcp layer turns it into an isError result
// with code "invalid" and Field as the error's field.
type ValidationError struct {
	Field   string // path of the argument at fault, e.g. "limit_price" or "legs[0].price"; "" for the whole object
	Rule    string // the schema keyword that failed: "type", "required", "minimum", "enum", "pattern", "additionalProperties", ...
	Message string // plain words for the model: what was wrong and what is allowed
}

// Error returns Message.
func (e *ValidationError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	if e.Field == "" {
		return "invalid arguments (" + e.Rule + ")"
	}
	return e.Field + " is invalid (" + e.Rule + ")"
}

// Validate checks a tools/call arguments value (raw JSON). It returns nil when the
// arguments are valid and otherwise a *ValidationError. Absent arguments (empty
// input) count as {}, since MCP lets a client omit them; any other non-object,
// null included, or malformed JSON is a "type" error.
func (v *Validator) Validate(args json.RawMessage) error {
	var inst any
	if len(bytes.TrimSpace(args)) == 0 {
		inst = map[string]any{}
	} else {
		var err error
		inst, err = jsonschema.UnmarshalJSON(bytes.NewReader(args))
		if err != nil {
			return &ValidationError{Rule: "type", Message: "arguments must be a JSON object (the arguments are not valid JSON)"}
		}
	}
	if _, ok := inst.(map[string]any); !ok {
		return &ValidationError{Rule: "type", Message: "arguments must be a JSON object"}
	}
	err := v.sch.Validate(inst)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return &ValidationError{Rule: "schema", Message: "arguments could not be validated: " + err.Error()}
	}
	var leaves []*jsonschema.ValidationError
	collectLeaves(verr, &leaves)
	if len(leaves) == 0 {
		return &ValidationError{Rule: "schema", Message: "arguments are invalid"}
	}
	best := leaves[0]
	for _, l := range leaves[1:] {
		if lessLeaf(l, best) {
			best = l
		}
	}
	return v.describe(best, inst)
}

// collectLeaves gathers the errors that name a concrete failure, looking through
// the wrappers the validator adds for the schema, groups, $ref and allOf.
func collectLeaves(e *jsonschema.ValidationError, out *[]*jsonschema.ValidationError) {
	switch e.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.Reference, *kind.AllOf:
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				collectLeaves(c, out)
			}
			return
		}
	}
	*out = append(*out, e)
}

func rank(k jsonschema.ErrorKind) int {
	switch k.(type) {
	case *kind.Required:
		return 0
	case *kind.AdditionalProperties:
		return 1
	case *kind.Type, *kind.InvalidJsonValue:
		return 2
	case *kind.Enum, *kind.Const:
		return 3
	case *kind.Format, *kind.Pattern:
		return 4
	case *kind.MinLength, *kind.MaxLength, *kind.Minimum, *kind.Maximum,
		*kind.ExclusiveMinimum, *kind.ExclusiveMaximum, *kind.MultipleOf,
		*kind.MinItems, *kind.MaxItems, *kind.UniqueItems,
		*kind.MinProperties, *kind.MaxProperties:
		return 5
	}
	return 9
}

func lessLeaf(a, b *jsonschema.ValidationError) bool {
	if ra, rb := rank(a.ErrorKind), rank(b.ErrorKind); ra != rb {
		return ra < rb
	}
	if c := compareLocations(a.InstanceLocation, b.InstanceLocation); c != 0 {
		return c < 0
	}
	if ka, kb := ruleOf(a.ErrorKind), ruleOf(b.ErrorKind); ka != kb {
		return ka < kb
	}
	return a.SchemaURL < b.SchemaURL
}

// compareLocations orders instance locations token by token, array indexes
// numerically, a parent before its children.
func compareLocations(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		ai, errA := strconv.Atoi(a[i])
		bi, errB := strconv.Atoi(b[i])
		if errA == nil && errB == nil {
			if ai < bi {
				return -1
			}
			return 1
		}
		return strings.Compare(a[i], b[i])
	}
	return len(a) - len(b)
}

func ruleOf(k jsonschema.ErrorKind) string {
	switch k.(type) {
	case *kind.FalseSchema:
		return "false"
	case *kind.Not:
		return "not"
	case *kind.InvalidJsonValue:
		return "type"
	}
	if p := k.KeywordPath(); len(p) > 0 {
		return p[0]
	}
	return "schema"
}

// fieldPath renders an instance location as "legs[0].price", using the instance to
// tell array indexes from object keys.
func fieldPath(inst any, loc []string) string {
	var b strings.Builder
	cur := inst
	for _, tok := range loc {
		switch c := cur.(type) {
		case []any:
			b.WriteByte('[')
			b.WriteString(tok)
			b.WriteByte(']')
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(c) {
				cur = c[i]
			} else {
				cur = nil
			}
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(tok)
			if m, ok := cur.(map[string]any); ok {
				cur = m[tok]
			} else {
				cur = nil
			}
		}
	}
	return b.String()
}

func valueAt(inst any, loc []string) any {
	cur := inst
	for _, tok := range loc {
		switch c := cur.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		case map[string]any:
			cur = c[tok]
		default:
			return nil
		}
	}
	return cur
}

func join(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

var printer = message.NewPrinter(language.English)

// describe turns one validator error into a ValidationError for the model.
func (v *Validator) describe(e *jsonschema.ValidationError, inst any) *ValidationError {
	field := fieldPath(inst, e.InstanceLocation)
	subject := field
	if subject == "" {
		subject = "arguments"
	}
	got := valueAt(inst, e.InstanceLocation)
	out := &ValidationError{Field: field, Rule: ruleOf(e.ErrorKind)}
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		missing := make([]string, len(k.Missing))
		for i, m := range k.Missing {
			missing[i] = join(field, m)
		}
		out.Field = missing[0]
		if len(missing) == 1 {
			out.Message = fmt.Sprintf("missing required argument %q", missing[0])
		} else {
			out.Message = "missing required arguments " + quoteAll(missing)
		}
	case *kind.AdditionalProperties:
		names := slices.Clone(k.Properties)
		sort.Strings(names)
		unknown := make([]string, len(names))
		for i, n := range names {
			unknown[i] = join(field, n)
		}
		out.Field = unknown[0]
		if len(unknown) == 1 {
			out.Message = fmt.Sprintf("unknown argument %q", unknown[0])
		} else {
			out.Message = "unknown arguments " + quoteAll(unknown)
		}
		if allowed := v.allowed(e.SchemaURL); len(allowed) > 0 {
			out.Message += "; allowed: " + strings.Join(allowed, ", ")
		} else {
			out.Message += "; no arguments are allowed here"
		}
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = article(w)
		}
		out.Message = fmt.Sprintf("%s must be %s (got %s)", subject, strings.Join(want, " or "), gotText(got))
	case *kind.Enum:
		vals := make([]string, len(k.Want))
		for i, w := range k.Want {
			vals[i] = plain(w)
		}
		out.Message = fmt.Sprintf("%s must be one of: %s (got %s)", subject, strings.Join(vals, ", "), gotText(got))
	case *kind.Const:
		out.Message = fmt.Sprintf("%s must be exactly %s (got %s)", subject, jsonText(k.Want), gotText(got))
	case *kind.Format:
		out.Message = fmt.Sprintf("%s must be %s (got %s)", subject, formatText(k.Want), gotText(got))
	case *kind.Pattern:
		out.Message = fmt.Sprintf("%s must match the regular expression %s (got %s)", subject, k.Want, gotText(got))
	case *kind.MinLength:
		out.Message = fmt.Sprintf("%s must be at least %s long (got %d)", subject, plural(k.Want, "character"), k.Got)
	case *kind.MaxLength:
		out.Message = fmt.Sprintf("%s must be at most %s long (got %d)", subject, plural(k.Want, "character"), k.Got)
	case *kind.Minimum:
		out.Message = fmt.Sprintf("%s must be at least %s (got %s)", subject, ratText(k.Want), gotText(got))
	case *kind.Maximum:
		out.Message = fmt.Sprintf("%s must be at most %s (got %s)", subject, ratText(k.Want), gotText(got))
	case *kind.ExclusiveMinimum:
		out.Message = fmt.Sprintf("%s must be greater than %s (got %s)", subject, ratText(k.Want), gotText(got))
	case *kind.ExclusiveMaximum:
		out.Message = fmt.Sprintf("%s must be less than %s (got %s)", subject, ratText(k.Want), gotText(got))
	case *kind.MultipleOf:
		out.Message = fmt.Sprintf("%s must be a multiple of %s (got %s)", subject, ratText(k.Want), gotText(got))
	case *kind.MinItems:
		out.Message = fmt.Sprintf("%s must have at least %s (got %d)", subject, plural(k.Want, "item"), k.Got)
	case *kind.MaxItems:
		out.Message = fmt.Sprintf("%s must have at most %s (got %d)", subject, plural(k.Want, "item"), k.Got)
	case *kind.UniqueItems:
		out.Message = fmt.Sprintf("%s must not repeat items (items %d and %d are equal)", subject, k.Duplicates[0], k.Duplicates[1])
	case *kind.MinProperties:
		out.Message = fmt.Sprintf("%s must have at least %s (got %d)", subject, plural(k.Want, "field"), k.Got)
	case *kind.MaxProperties:
		out.Message = fmt.Sprintf("%s must have at most %s (got %d)", subject, plural(k.Want, "field"), k.Got)
	case *kind.FalseSchema:
		out.Message = fmt.Sprintf("%s is not allowed", subject)
	case *kind.Not:
		out.Message = fmt.Sprintf("%s must not match the excluded form (got %s)", subject, gotText(got))
	case *kind.OneOf, *kind.AnyOf:
		out.Message = fmt.Sprintf("%s does not match any of the allowed forms (got %s)", subject, gotText(got))
	default:
		out.Message = fmt.Sprintf("%s is invalid: %s", subject, e.ErrorKind.LocalizedString(printer))
	}
	return out
}

// allowed returns the declared property names of the object schema at schemaURL.
func (v *Validator) allowed(schemaURL string) []string {
	_, frag, ok := strings.Cut(schemaURL, "#")
	if !ok {
		return v.props[""]
	}
	if p, ok := v.props[frag]; ok {
		return p
	}
	if un, err := url.PathUnescape(frag); err == nil {
		return v.props[un]
	}
	return nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func article(t string) string {
	switch t {
	case "integer", "object", "array":
		return "an " + t
	case "null":
		return "null"
	}
	return "a " + t
}

// gotText shows the offending value: scalars as JSON text (numbers exactly as
// sent), containers by kind, long strings shortened.
func gotText(v any) string {
	switch v := v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return strconv.Quote(truncate(v, 60))
	}
	return truncate(jsonText(v), 60)
}

func jsonText(v any) string {
	switch v := v.(type) {
	case json.Number:
		return v.String()
	case nil:
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// plain shows an enum value: strings unquoted, as a model reads a list.
func plain(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return jsonText(v)
}

func ratText(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	if f, _ := r.Float64(); !math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return r.FloatString(6)
}

func formatText(name string) string {
	switch name {
	case "date-time":
		return "an RFC 3339 date-time such as 2026-01-02T15:04:05Z"
	case "date":
		return "a date such as 2026-01-02"
	case "time":
		return "a time such as 15:04:05Z"
	case "duration":
		return "an ISO 8601 duration such as P1D or PT15M"
	case "email":
		return "an email address"
	case "uri":
		return "an absolute URI such as https://example.com/x"
	case "uuid":
		return "a UUID such as 123e4567-e89b-12d3-a456-426614174000"
	case "ipv4", "ipv6", "hostname":
		return "a valid " + name
	}
	return "a valid " + name + " string"
}
