package schema

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestCheck(t *testing.T) {
	type pr struct{ Path, Rule string }
	tests := []struct {
		name string
		in   string
		want []pr // Path and Rule of each violation, in order
	}{
		{
			name: "portable schema passes",
			in:   `{"type":"object","properties":{"a":{"type":"array","description":"d","items":{"type":"object","properties":{"b":{"type":"integer","description":"b","minimum":1,"maximum":1}}}}}}`,
			want: nil,
		},
		{
			name: "top level not object",
			in:   `{"type":"string"}`,
			want: []pr{{"", RuleTopLevelObject}, {"", RuleTopLevelObject}},
		},
		{
			name: "top level without properties",
			in:   `{"type":"object"}`,
			want: []pr{{"", RuleTopLevelObject}},
		},
		{
			name: "top level not a JSON object",
			in:   `true`,
			want: []pr{{"", RuleTopLevelObject}},
		},
		{
			name: "invalid JSON",
			in:   `{"type":`,
			want: []pr{{"", RuleJSON}},
		},
		{
			name: "$ref and $defs",
			in:   `{"type":"object","properties":{"a":{"$ref":"#/$defs/A","description":"d"}},"$defs":{"A":{"type":"string"}}}`,
			want: []pr{{"", RuleNoDefs}, {"/properties/a", RuleNoRef}},
		},
		{
			name: "definitions",
			in:   `{"type":"object","properties":{},"definitions":{"A":{"type":"string"}}}`,
			want: []pr{{"", RuleNoDefs}},
		},
		{
			name: "type array",
			in:   `{"type":"object","properties":{"a":{"type":["null","string"],"description":"d"}}}`,
			want: []pr{{"/properties/a", RuleNoTypeArray}},
		},
		{
			name: "array without items, also inside a type array and in items",
			in:   `{"type":"object","properties":{"a":{"type":"array","description":"d"},"b":{"type":["array","null"],"description":"d"},"c":{"type":"array","description":"d","items":{"type":"array"}}}}`,
			want: []pr{{"/properties/a", RuleArrayItems}, {"/properties/b", RuleNoTypeArray}, {"/properties/b", RuleArrayItems}, {"/properties/c/items", RuleArrayItems}},
		},
		{
			name: "prefixItems counts as items",
			in:   `{"type":"object","properties":{"a":{"type":"array","description":"d","prefixItems":[{"type":"string"}]}}}`,
			want: nil,
		},
		{
			name: "$schema",
			in:   `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{}}`,
			want: []pr{{"", RuleNoSchemaKeyword}},
		},
		{
			name: "missing, empty and non-string descriptions, nested too",
			in:   `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string","description":"  "},"c":{"type":"string","description":5},"d/e":{"type":"object","description":"ok","properties":{"f":{"type":"string"}}}}}`,
			want: []pr{{"/properties/a", RulePropertyDescription}, {"/properties/b", RulePropertyDescription}, {"/properties/c", RulePropertyDescription}, {"/properties/d~1e/properties/f", RulePropertyDescription}},
		},
		{
			name: "descriptions inside array items",
			in:   `{"type":"object","properties":{"l":{"type":"array","description":"d","items":{"type":"object","properties":{"p":{"type":"number"}}}}}}`,
			want: []pr{{"/properties/l/items/properties/p", RulePropertyDescription}},
		},
		{
			name: "bounds inverted",
			in: `{"type":"object","properties":{
				"a":{"type":"number","description":"d","minimum":2,"maximum":1},
				"b":{"type":"number","description":"d","exclusiveMinimum":1,"exclusiveMaximum":1},
				"c":{"type":"string","description":"d","minLength":5,"maxLength":4},
				"d":{"type":"array","description":"d","items":{},"minItems":3,"maxItems":2},
				"e":{"type":"number","description":"d","minimum":1e400,"exclusiveMaximum":1e400},
				"f":{"type":"string","description":"d","maxLength":-1},
				"g":{"type":"number","description":"d","minimum":"0","maximum":1}}}`,
			want: []pr{{"/properties/a", RuleBounds}, {"/properties/b", RuleBounds}, {"/properties/c", RuleBounds}, {"/properties/d", RuleBounds}, {"/properties/e", RuleBounds}, {"/properties/f", RuleBounds}, {"/properties/g", RuleBounds}},
		},
		{
			name: "bounds equal or sane",
			in:   `{"type":"object","properties":{"a":{"type":"number","description":"d","minimum":0.5,"maximum":0.5},"b":{"type":"integer","description":"d","exclusiveMinimum":0,"maximum":100000000000000000000000}}}`,
			want: nil,
		},
		{
			name: "data keywords are not schemas",
			in:   `{"type":"object","properties":{"a":{"type":"string","description":"d","default":{"$ref":"x","type":["a"]},"examples":[{"properties":{"x":{}}}]}}}`,
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := Check(json.RawMessage(tt.in))
			var got []pr
			for _, v := range vs {
				got = append(got, pr{v.Path, v.Rule})
				if v.Message == "" {
					t.Errorf("violation %+v has no message", v)
				}
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Check (-want +got):\n%s\nviolations: %v", diff, vs)
			}
		})
	}
}

func TestCheckToolName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"get_market", true},
		{"a", true},
		{"place_order2", true},
		{"a" + strings.Repeat("b", 47), true},
		{"a" + strings.Repeat("b", 48), false},
		{"", false},
		{"Get_market", false},
		{"get-market", false},
		{"get.market", false},
		{"_private", false},
		{"1tool", false},
		{"get market", false},
		{"café", false},
		{"ümlaut", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckToolName(tt.name)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckToolName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "^[a-z][a-z0-9_]{0,47}$") {
				t.Errorf("error %q does not state the rule", err)
			}
		})
	}
}
