package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mustCompile compiles a schema or fails the test.
func mustCompile(tb testing.TB, raw string) *Validator {
	tb.Helper()
	v, err := Compile(json.RawMessage(raw))
	if err != nil {
		tb.Fatalf("Compile: %v", err)
	}
	return v
}

// kitchenSink exercises keywords the struct tags do not reach.
const kitchenSink = `{"type":"object","properties":{
	"limit_price":{"type":"number","description":"d","minimum":0.01,"maximum":0.99},
	"qty":{"type":"integer","description":"d","exclusiveMinimum":0,"exclusiveMaximum":1000000,"multipleOf":5},
	"mode":{"const":"paper","description":"d"},
	"ids":{"type":"array","description":"d","items":{"type":"string","format":"uuid"},"minItems":1,"maxItems":2,"uniqueItems":true},
	"url":{"type":"string","format":"uri","description":"d"},
	"day":{"type":"string","format":"date","description":"d"},
	"weights":{"type":"object","description":"d","additionalProperties":{"type":"number"},"minProperties":1,"maxProperties":2},
	"never":{"description":"d","not":{}},
	"either":{"description":"d","oneOf":[{"type":"string"},{"type":"integer"}]},
	"nothing":{"type":"object","description":"d","properties":{},"additionalProperties":false},
	"big":{"type":"integer","description":"d","maximum":100000000000000000000},
	"label":{"type":"string","description":"d","minLength":3,"maxLength":4}
},"additionalProperties":false}`

func TestValidate(t *testing.T) {
	order := mustCompile(t, string(MustFor[testOrderIn]()))
	sink := mustCompile(t, kitchenSink)
	const ok = `"market":"M","side":"buy","idempotency_key":"key-12345"`
	tests := []struct {
		name string
		v    *Validator
		args string
		want *ValidationError // nil: valid
	}{
		{"valid minimal", order, `{` + ok + `}`, nil},
		{"valid full", order, `{` + ok + `,"legs":[{"outcome":"yes","price":0.5,"count":3}],"tags":["a"],"expires_at":"2026-12-31T23:59:59Z","note":"n"}`, nil},
		{"absent arguments count as {}", sink, ``, nil},
		{"whitespace arguments count as {}", sink, " \n", nil},
		{"unicode values", order, `{"market":"市場-€","side":"buy","idempotency_key":"key-12345","note":"😀 naïve","tags":["日本"]}`, nil},
		{"integer-valued float accepted as integer", order, `{` + ok + `,"legs":[{"outcome":"no","price":0.5,"count":2.0}]}`, nil},

		{"not an object: array", order, `[]`, &ValidationError{Rule: "type", Message: "arguments must be a JSON object"}},
		{"not an object: string", order, `"x"`, &ValidationError{Rule: "type", Message: "arguments must be a JSON object"}},
		{"not an object: null", order, `null`, &ValidationError{Rule: "type", Message: "arguments must be a JSON object"}},
		{"not an object: number", order, `12`, &ValidationError{Rule: "type", Message: "arguments must be a JSON object"}},
		{"malformed JSON", order, `{"market":`, &ValidationError{Rule: "type", Message: "arguments must be a JSON object (the arguments are not valid JSON)"}},
		{"two values", order, `{} {}`, &ValidationError{Rule: "type", Message: "arguments must be a JSON object (the arguments are not valid JSON)"}},

		{"missing required", order, `{"side":"buy","idempotency_key":"key-12345"}`,
			&ValidationError{Field: "market", Rule: "required", Message: `missing required argument "market"`}},
		{"several missing: first in schema order named", order, `{"side":"buy"}`,
			&ValidationError{Field: "market", Rule: "required", Message: `missing required arguments "market", "idempotency_key"`}},
		{"missing nested", order, `{` + ok + `,"legs":[{"outcome":"yes","price":0.5},{"outcome":"no"}]}`,
			&ValidationError{Field: "legs[1].price", Rule: "required", Message: `missing required argument "legs[1].price"`}},
		{"unknown argument", order, `{` + ok + `,"foo":1}`,
			&ValidationError{Field: "foo", Rule: "additionalProperties", Message: `unknown argument "foo"; allowed: market, side, legs, tags, expires_at, note, idempotency_key`}},
		{"unknown arguments sorted", order, `{` + ok + `,"zz":1,"aa":2}`,
			&ValidationError{Field: "aa", Rule: "additionalProperties", Message: `unknown arguments "aa", "zz"; allowed: market, side, legs, tags, expires_at, note, idempotency_key`}},
		{"unknown nested", order, `{` + ok + `,"legs":[{"outcome":"yes","price":0.5,"size":1}]}`,
			&ValidationError{Field: "legs[0].size", Rule: "additionalProperties", Message: `unknown argument "legs[0].size"; allowed: outcome, price, count`}},
		{"unknown in an object that takes none", sink, `{"nothing":{"x":1}}`,
			&ValidationError{Field: "nothing.x", Rule: "additionalProperties", Message: `unknown argument "nothing.x"; no arguments are allowed here`}},
		{"wrong type string for number", order, `{` + ok + `,"legs":[{"outcome":"yes","price":"0.5"}]}`,
			&ValidationError{Field: "legs[0].price", Rule: "type", Message: `legs[0].price must be a number (got "0.5")`}},
		{"wrong type float for integer", order, `{` + ok + `,"legs":[{"outcome":"yes","price":0.5,"count":1.5}]}`,
			&ValidationError{Field: "legs[0].count", Rule: "type", Message: `legs[0].count must be an integer (got 1.5)`}},
		{"wrong type object for string", order, `{"market":{"id":1},"side":"buy","idempotency_key":"key-12345"}`,
			&ValidationError{Field: "market", Rule: "type", Message: `market must be a string (got an object)`}},
		{"null for optional string", order, `{` + ok + `,"note":null}`,
			&ValidationError{Field: "note", Rule: "type", Message: `note must be a string (got null)`}},
		{"enum", order, `{"market":"M","side":"hold","idempotency_key":"key-12345"}`,
			&ValidationError{Field: "side", Rule: "enum", Message: `side must be one of: buy, sell (got "hold")`}},
		{"enum is case sensitive", order, `{"market":"M","side":"BUY","idempotency_key":"key-12345"}`,
			&ValidationError{Field: "side", Rule: "enum", Message: `side must be one of: buy, sell (got "BUY")`}},
		{"pattern", order, `{"market":"M","side":"buy","idempotency_key":"has spaces!"}`,
			&ValidationError{Field: "idempotency_key", Rule: "pattern", Message: `idempotency_key must match the regular expression ^[A-Za-z0-9_.:/-]+$ (got "has spaces!")`}},
		{"pattern beats minLength", order, `{"market":"M","side":"buy","idempotency_key":"ééé"}`,
			&ValidationError{Field: "idempotency_key", Rule: "pattern", Message: `idempotency_key must match the regular expression ^[A-Za-z0-9_.:/-]+$ (got "ééé")`}},
		{"minLength", order, `{"market":"M","side":"buy","idempotency_key":"short"}`,
			&ValidationError{Field: "idempotency_key", Rule: "minLength", Message: `idempotency_key must be at least 8 characters long (got 5)`}},
		{"maxLength", order, `{"market":"M","side":"buy","idempotency_key":"` + strings.Repeat("k", 129) + `"}`,
			&ValidationError{Field: "idempotency_key", Rule: "maxLength", Message: `idempotency_key must be at most 128 characters long (got 129)`}},
		{"date-time format", order, `{` + ok + `,"expires_at":"tomorrow"}`,
			&ValidationError{Field: "expires_at", Rule: "format", Message: `expires_at must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z (got "tomorrow")`}},
		{"maxItems", order, `{` + ok + `,"legs":[{"outcome":"yes","price":0.5},{"outcome":"yes","price":0.5},{"outcome":"yes","price":0.5},{"outcome":"yes","price":0.5},{"outcome":"yes","price":0.5}]}`,
			&ValidationError{Field: "legs", Rule: "maxItems", Message: `legs must have at most 4 items (got 5)`}},
		{"required beats type beats bounds", order, `{"side":"hold","idempotency_key":"x","legs":[{"outcome":"yes","price":2}]}`,
			&ValidationError{Field: "market", Rule: "required", Message: `missing required argument "market"`}},
		{"type beats enum", order, `{"market":1,"side":"hold","idempotency_key":"key-12345"}`,
			&ValidationError{Field: "market", Rule: "type", Message: `market must be a string (got 1)`}},

		{"maximum", sink, `{"limit_price":1.5}`,
			&ValidationError{Field: "limit_price", Rule: "maximum", Message: `limit_price must be at most 0.99 (got 1.5)`}},
		{"minimum keeps the number as sent", sink, `{"limit_price":0.0010}`,
			&ValidationError{Field: "limit_price", Rule: "minimum", Message: `limit_price must be at least 0.01 (got 0.0010)`}},
		{"huge number", sink, `{"limit_price":1e400}`,
			&ValidationError{Field: "limit_price", Rule: "maximum", Message: `limit_price must be at most 0.99 (got 1e400)`}},
		{"huge negative number", sink, `{"limit_price":-1e400}`,
			&ValidationError{Field: "limit_price", Rule: "minimum", Message: `limit_price must be at least 0.01 (got -1e400)`}},
		{"big integer bound compared exactly", sink, `{"big":100000000000000000001}`,
			&ValidationError{Field: "big", Rule: "maximum", Message: `big must be at most 100000000000000000000 (got 100000000000000000001)`}},
		{"big integer at the bound is valid", sink, `{"big":100000000000000000000}`, nil},
		{"maxLength counts characters, not bytes", sink, `{"label":"日本語語語"}`,
			&ValidationError{Field: "label", Rule: "maxLength", Message: `label must be at most 4 characters long (got 5)`}},
		{"multi-byte string within length", sink, `{"label":"日本語"}`, nil},
		{"unicode property name", sink, `{"ラベル":1}`,
			&ValidationError{Field: "ラベル", Rule: "additionalProperties", Message: `unknown argument "ラベル"; allowed: limit_price, qty, mode, ids, url, day, weights, never, either, nothing, big, label`}},
		{"exclusiveMinimum", sink, `{"qty":0}`,
			&ValidationError{Field: "qty", Rule: "exclusiveMinimum", Message: `qty must be greater than 0 (got 0)`}},
		{"exclusiveMaximum", sink, `{"qty":1000000}`,
			&ValidationError{Field: "qty", Rule: "exclusiveMaximum", Message: `qty must be less than 1000000 (got 1000000)`}},
		{"multipleOf", sink, `{"qty":7}`,
			&ValidationError{Field: "qty", Rule: "multipleOf", Message: `qty must be a multiple of 5 (got 7)`}},
		{"const", sink, `{"mode":"live"}`,
			&ValidationError{Field: "mode", Rule: "const", Message: `mode must be exactly "paper" (got "live")`}},
		{"minItems", sink, `{"ids":[]}`,
			&ValidationError{Field: "ids", Rule: "minItems", Message: `ids must have at least 1 item (got 0)`}},
		{"uniqueItems", sink, `{"ids":["123e4567-e89b-12d3-a456-426614174000","123e4567-e89b-12d3-a456-426614174000"]}`,
			&ValidationError{Field: "ids", Rule: "uniqueItems", Message: `ids must not repeat items (items 0 and 1 are equal)`}},
		{"uuid format in items", sink, `{"ids":["nope"]}`,
			&ValidationError{Field: "ids[0]", Rule: "format", Message: `ids[0] must be a UUID such as 123e4567-e89b-12d3-a456-426614174000 (got "nope")`}},
		{"uri format", sink, `{"url":"not a uri"}`,
			&ValidationError{Field: "url", Rule: "format", Message: `url must be an absolute URI such as https://example.com/x (got "not a uri")`}},
		{"date format", sink, `{"day":"2026-13-01"}`,
			&ValidationError{Field: "day", Rule: "format", Message: `day must be a date such as 2026-01-02 (got "2026-13-01")`}},
		{"map values and keys with dots", sink, `{"weights":{"a.b":"x"}}`,
			&ValidationError{Field: "weights.a.b", Rule: "type", Message: `weights.a.b must be a number (got "x")`}},
		{"minProperties", sink, `{"weights":{}}`,
			&ValidationError{Field: "weights", Rule: "minProperties", Message: `weights must have at least 1 field (got 0)`}},
		{"maxProperties", sink, `{"weights":{"a":1,"b":2,"c":3}}`,
			&ValidationError{Field: "weights", Rule: "maxProperties", Message: `weights must have at most 2 fields (got 3)`}},
		{"not", sink, `{"never":1}`,
			&ValidationError{Field: "never", Rule: "not", Message: `never must not match the excluded form (got 1)`}},
		{"oneOf", sink, `{"either":true}`,
			&ValidationError{Field: "either", Rule: "oneOf", Message: `either does not match any of the allowed forms (got true)`}},
		{"long string shortened", sink, `{"mode":"` + strings.Repeat("x", 100) + `"}`,
			&ValidationError{Field: "mode", Rule: "const", Message: `mode must be exactly "paper" (got "` + strings.Repeat("x", 59) + `…")`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.v.Validate(json.RawMessage(tt.args))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate(%s) = %v, want nil", tt.args, err)
				}
				return
			}
			var got *ValidationError
			if !errors.As(err, &got) {
				t.Fatalf("Validate(%s) = %#v, want *ValidationError", tt.args, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate(%s) (-want +got):\n%s", tt.args, diff)
			}
			if got.Error() != got.Message {
				t.Errorf("Error() = %q, want %q", got.Error(), got.Message)
			}
		})
	}
}

// TestValidateDeterministic runs the same multi-error arguments many times: the
// validator walks objects in map order, so a random pick would show here.
func TestValidateDeterministic(t *testing.T) {
	v := mustCompile(t, kitchenSink)
	args := json.RawMessage(`{"limit_price":5,"qty":7,"mode":"live","url":"x","day":"y","ids":[]}`)
	first := v.Validate(args)
	for i := range 200 {
		if got := v.Validate(args); got.Error() != first.Error() {
			t.Fatalf("run %d: got %v, want %v", i, got, first)
		}
	}
	if want := `mode must be exactly "paper" (got "live")`; first.Error() != want {
		t.Errorf("got %v, want %v", first, want)
	}
}

func TestValidateConcurrent(t *testing.T) {
	v := mustCompile(t, string(MustFor[testOrderIn]()))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				args := fmt.Sprintf(`{"market":"M%d","side":"buy","idempotency_key":"key-%08d"}`, i, j)
				if err := v.Validate(json.RawMessage(args)); err != nil {
					t.Errorf("Validate(%s) = %v", args, err)
					return
				}
				if err := v.Validate(json.RawMessage(`{"side":"x"}`)); err == nil {
					t.Error("Validate of bad args = nil")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"invalid JSON", `{"type":`},
		{"invalid schema", `{"type":"object","properties":{"a":{"type":"strin"}}}`},
		{"bad regex", `{"type":"object","properties":{"a":{"type":"string","pattern":"("}}}`},
		{"remote ref refused", `{"type":"object","properties":{"a":{"$ref":"file:///etc/hostname"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, err := Compile(json.RawMessage(tt.in)); err == nil {
				t.Errorf("Compile = %v, nil; want error", v)
			}
		})
	}
}

func TestMustCompilePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustCompile did not panic")
		}
	}()
	MustCompile(json.RawMessage(`{"type":1}`))
}

func FuzzValidate(f *testing.F) {
	v := mustCompile(f, string(MustFor[testOrderIn]()))
	sink := mustCompile(f, kitchenSink)
	for _, s := range []string{
		``, `{}`, `[]`, `null`, `"x"`, `1e999`, `{"market":"M","side":"buy","idempotency_key":"key-12345"}`,
		`{"legs":[{"price":"x"},{}],"zz":1}`, `{"limit_price":1e400,"qty":-0,"ids":[1,1]}`,
		`{"weights":{"":null},"either":[],"never":{}}`, `{"a":`, "{\"\xff\":1}", `{"legs":{"0":{}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, args []byte) {
		for _, val := range []*Validator{v, sink} {
			err := val.Validate(args)
			if err == nil {
				continue
			}
			ve, ok := err.(*ValidationError)
			if !ok {
				t.Fatalf("Validate(%q) returned %T, want *ValidationError", args, err)
			}
			if ve.Rule == "" || ve.Message == "" {
				t.Fatalf("Validate(%q) = %#v: empty Rule or Message", args, ve)
			}
			if json.Valid(args) && ve.Rule != "type" && !strings.HasPrefix(strings.TrimSpace(string(args)), "{") {
				t.Fatalf("Validate(%q) = %#v: a non-object must fail with rule type", args, ve)
			}
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	v := mustCompile(b, string(MustFor[testOrderIn]()))
	cases := []struct{ name, args string }{
		{"valid", `{"market":"KXBTC-26DEC31-T120000","side":"buy","idempotency_key":"0b6f2c1e-9c1a-4b7e-8f00-123456789abc","legs":[{"outcome":"yes","price":0.42,"count":3}]}`},
		{"invalid", `{"market":"KXBTC-26DEC31-T120000","side":"hold","idempotency_key":"0b6f2c1e-9c1a-4b7e-8f00-123456789abc","legs":[{"outcome":"yes","price":1.42,"count":3}],"foo":1}`},
	}
	if err := v.Validate(json.RawMessage(cases[0].args)); err != nil {
		b.Fatalf("valid case: %v", err)
	}
	if err := v.Validate(json.RawMessage(cases[1].args)); err == nil {
		b.Fatal("invalid case passed")
	}
	for _, c := range cases {
		args := json.RawMessage(c.args)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = v.Validate(args)
			}
		})
	}
	// A yardstick for the machine: plain encoding/json decoding of the same
	// arguments, which any handler pays anyway.
	b.Run("baseline_json_unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			_ = json.Unmarshal([]byte(cases[0].args), &m)
		}
	})
}

// TestValidateTupleItemsAllowed: an unknown argument inside a draft-07 tuple
// item lists the item's own properties, found by the same walk Check uses.
func TestValidateTupleItemsAllowed(t *testing.T) {
	v := mustCompile(t, `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"pair":{"type":"array",
		"items":[{"type":"object","properties":{"outcome":{"type":"string"},"price":{"type":"number"}},"additionalProperties":false}]}}}`)
	err := v.Validate(json.RawMessage(`{"pair":[{"outcome":"yes","size":1}]}`))
	want := &ValidationError{Field: "pair[0].size", Rule: "additionalProperties", Message: `unknown argument "pair[0].size"; allowed: outcome, price`}
	var got *ValidationError
	if !errors.As(err, &got) {
		t.Fatalf("Validate = %#v, want *ValidationError", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}
}
