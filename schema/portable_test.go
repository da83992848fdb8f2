package schema

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mustJSON decodes JSON for a semantic comparison (key order ignored).
func mustJSON(tb testing.TB, raw []byte) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		tb.Fatalf("invalid JSON %s: %v", raw, err)
	}
	return v
}

func TestPortable(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "ref to $defs inlined and $defs dropped",
			in: `{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://x/y","$ref":"#/$defs/In",
				"$defs":{"In":{"type":"object","properties":{"leg":{"$ref":"#/$defs/Leg","description":"the leg"}},"required":["leg"]},
				"Leg":{"type":"object","properties":{"price":{"type":"number","description":"p"}}}}}`,
			want: `{"type":"object","properties":{"leg":{"type":"object","description":"the leg","properties":{"price":{"type":"number","description":"p"}}}},"required":["leg"]}`,
		},
		{
			name: "draft-07 definitions inlined",
			in:   `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"$ref":"#/definitions/A"}},"definitions":{"A":{"type":"string","description":"a"}}}`,
			want: `{"type":"object","properties":{"a":{"type":"string","description":"a"}}}`,
		},
		{
			name: "nested $defs resolved by pointer",
			in:   `{"type":"object","properties":{"b":{"$ref":"#/$defs/A/$defs/B"}},"$defs":{"A":{"$defs":{"B":{"type":"integer","minimum":1}}}}}`,
			want: `{"type":"object","properties":{"b":{"type":"integer","minimum":1}}}`,
		},
		{
			name: "ref chain and shared definition used twice",
			in:   `{"type":"object","properties":{"x":{"$ref":"#/$defs/X"},"y":{"$ref":"#/$defs/X"}},"$defs":{"X":{"$ref":"#/$defs/Y"},"Y":{"type":"boolean"}}}`,
			want: `{"type":"object","properties":{"x":{"type":"boolean"},"y":{"type":"boolean"}}}`,
		},
		{
			name: "percent-encoded ref",
			in:   `{"type":"object","properties":{"x":{"$ref":"#/$defs/A%20B"}},"$defs":{"A B":{"type":"string"}}}`,
			want: `{"type":"object","properties":{"x":{"type":"string"}}}`,
		},
		{
			name: "type arrays collapsed",
			in:   `{"type":["object","null"],"properties":{"s":{"type":["null","string"]},"n":{"type":["null"]},"i":{"type":["integer"]}}}`,
			want: `{"type":"object","properties":{"s":{"type":"string"},"n":{"type":"null"},"i":{"type":"integer"}}}`,
		},
		{
			name: "nullable oneOf collapsed into parent",
			in:   `{"type":"object","properties":{"p":{"oneOf":[{"type":"string","description":"d"},{"type":"null"}]},"q":{"anyOf":[{"type":"string"},{"type":"integer"},{"type":"null"}]}}}`,
			want: `{"type":"object","properties":{"p":{"type":"string","description":"d"},"q":{"anyOf":[{"type":"string"},{"type":"integer"}]}}}`,
		},
		{
			name: "arrays given items, true items become {}",
			in:   `{"type":"object","properties":{"a":{"type":"array"},"b":{"type":"array","items":true},"c":{"type":"array","items":{"type":"array"}},"d":true}}`,
			want: `{"type":"object","properties":{"a":{"type":"array","items":{}},"b":{"type":"array","items":{}},"c":{"type":"array","items":{"type":"array","items":{}}},"d":{}}}`,
		},
		{
			name: "draft-07 tuple items become prefixItems",
			in:   `{"type":"object","properties":{"t":{"type":"array","items":[{"type":"string"}],"additionalItems":{"type":"number"}}}}`,
			want: `{"type":"object","properties":{"t":{"type":"array","prefixItems":[{"type":"string"}],"items":{"type":"number"}}}}`,
		},
		{
			name: "top level gets type and properties",
			in:   `{}`,
			want: `{"type":"object","properties":{}}`,
		},
		{
			name: "additionalProperties true dropped, false kept",
			in:   `{"type":"object","properties":{"o":{"type":"object","additionalProperties":true}},"additionalProperties":false}`,
			want: `{"type":"object","properties":{"o":{"type":"object"}},"additionalProperties":false}`,
		},
		{
			name: "data keywords untouched",
			in:   `{"type":"object","properties":{"x":{"type":"object","default":{"$ref":"#/nope","type":["a","b"]},"enum":[{"$defs":1}]}}}`,
			want: `{"type":"object","properties":{"x":{"type":"object","enum":[{"$defs":1}],"default":{"$ref":"#/nope","type":["a","b"]}}}}`,
		},
		{
			name: "refs inside allOf, not, additionalProperties and patternProperties",
			in: `{"type":"object","properties":{"m":{"type":"object","additionalProperties":{"$ref":"#/$defs/S"},"patternProperties":{"^x":{"$ref":"#/$defs/S"}}},
				"a":{"allOf":[{"$ref":"#/$defs/S"}],"not":{"$ref":"#/$defs/S"}}},"$defs":{"S":{"type":"string"}}}`,
			want: `{"type":"object","properties":{"m":{"type":"object","additionalProperties":{"type":"string"},"patternProperties":{"^x":{"type":"string"}}},"a":{"allOf":[{"type":"string"}],"not":{"type":"string"}}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Portable(json.RawMessage(tt.in))
			if err != nil {
				t.Fatalf("Portable: %v", err)
			}
			if diff := cmp.Diff(mustJSON(t, []byte(tt.want)), mustJSON(t, got)); diff != "" {
				t.Errorf("Portable mismatch (-want +got):\n%s\ngot %s", diff, got)
			}
			again, err := Portable(got)
			if err != nil || string(again) != string(got) {
				t.Errorf("Portable is not idempotent: Portable(%s) = %s, %v", got, again, err)
			}
			if vs := Check(got); hasRule(vs, RuleNoRef, RuleNoDefs, RuleNoTypeArray, RuleArrayItems, RuleNoSchemaKeyword, RuleTopLevelObject) {
				t.Errorf("Check(Portable output) = %v, want no structural violations", vs)
			}
		})
	}
}

func hasRule(vs []Violation, rules ...string) bool {
	for _, v := range vs {
		for _, r := range rules {
			if v.Rule == r {
				return true
			}
		}
	}
	return false
}

func TestPortableKeepsOrder(t *testing.T) {
	in := `{"properties":{"zeta":{"description":"z","type":"string"},"alpha":{"type":"string"},"mid":{"type":"string"}},"required":["zeta"],"type":"object"}`
	want := `{"type":"object","properties":{"zeta":{"type":"string","description":"z"},"alpha":{"type":"string"},"mid":{"type":"string"}},"required":["zeta"]}`
	got, err := Portable(json.RawMessage(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestPortableErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"direct recursion", `{"$ref":"#/$defs/N","$defs":{"N":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/N"}}}}}}`, "recursive"},
		{"mutual recursion", `{"type":"object","properties":{"a":{"$ref":"#/$defs/A"}},"$defs":{"A":{"type":"object","properties":{"b":{"$ref":"#/$defs/B"}}},"B":{"type":"object","properties":{"a":{"$ref":"#/$defs/A"}}}}}`, "#/$defs/A -> #/$defs/B -> #/$defs/A"},
		{"root recursion", `{"type":"object","properties":{"self":{"$ref":"#"}}}`, "recursive"},
		{"remote ref", `{"type":"object","properties":{"a":{"$ref":"https://example.com/s.json"}}}`, "not local"},
		{"dangling ref", `{"type":"object","properties":{"a":{"$ref":"#/$defs/Missing"}}}`, "does not resolve"},
		{"several types", `{"type":"object","properties":{"a":{"type":["string","integer","null"]}}}`, "several types"},
		{"top level not object", `{"type":"string"}`, "top-level"},
		{"not a JSON object", `[1]`, "must be a JSON object"},
		{"invalid JSON", `{"type":`, "invalid JSON"},
		{"trailing data", `{} {}`, "invalid JSON"},
		{"schema that is a number", `{"type":"object","properties":{"a":3}}`, "must be an object or a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Portable(json.RawMessage(tt.in))
			if err == nil {
				t.Fatalf("Portable = %s, nil; want error containing %q", got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}
