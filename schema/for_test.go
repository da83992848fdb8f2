package schema

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

type testLeg struct {
	Outcome string  `json:"outcome" jsonschema:"enum=yes,enum=no" jsonschema_description:"Which outcome to trade: yes or no."`
	Price   float64 `json:"price" jsonschema:"minimum=0.01,maximum=0.99" jsonschema_description:"Limit price in dollars, between 0.01 and 0.99."`
	Count   int     `json:"count,omitempty" jsonschema:"minimum=1,default=1" jsonschema_description:"Contracts, default 1."`
}

type testOrderIn struct {
	Market    string    `json:"market" jsonschema:"minLength=1" jsonschema_description:"Market ID, e.g. KXBTC-26DEC31-T120000."`
	Side      string    `json:"side" jsonschema:"enum=buy,enum=sell" jsonschema_description:"buy or sell."`
	Legs      []testLeg `json:"legs,omitempty" jsonschema:"maxItems=4" jsonschema_description:"Up to four legs."`
	Tags      []string  `json:"tags,omitempty" jsonschema_description:"Free-form labels."`
	ExpiresAt time.Time `json:"expires_at,omitempty" jsonschema_description:"When the order lapses (RFC 3339)."`
	Note      *string   `json:"note,omitempty" jsonschema:"nullable" jsonschema_description:"Optional note, kept with the order."`
	Key       string    `json:"idempotency_key" jsonschema:"minLength=8,maxLength=128,pattern=^[A-Za-z0-9_.:/-]+$" jsonschema_description:"One per intended action; reuse it verbatim on every retry."`
	Internal  string    `json:"-"`
	hidden    string    //nolint:unused // unexported fields are never in the schema
}

type testNode struct {
	Name string     `json:"name" jsonschema_description:"n"`
	Kids []testNode `json:"kids" jsonschema_description:"k"`
}

type testRootRef struct {
	Parent *testRootRef `json:"parent,omitempty" jsonschema_description:"p"`
}

type testBadField struct {
	C chan int `json:"c"`
}

type testDescriptions struct {
	Tag     string `json:"tag" jsonschema_description:"Price, in dollars; may include commas, and = signs."`
	Escaped string `json:"escaped" jsonschema:"description=Price\\, in dollars"`
	Cut     string `json:"cut" jsonschema:"description=Price, in dollars"`
	Both    string `json:"both" jsonschema:"description=from jsonschema" jsonschema_description:"from jsonschema_description"`
	Forced  string `json:"forced,omitempty" jsonschema:"required" jsonschema_description:"f"`
	Zero    int    `json:"zero,omitzero" jsonschema_description:"z"`
}

type testEmbedded struct {
	testLeg
	Extra string `json:"extra" jsonschema_description:"e"`
}

type testUnsigned struct {
	N  uint   `json:"n" jsonschema_description:"n"`
	M  uint8  `json:"m" jsonschema:"minimum=1,maximum=9" jsonschema_description:"m"`
	I  int    `json:"i" jsonschema_description:"i"`
	Ns []uint `json:"ns" jsonschema_description:"ns"`
}

type testGeneric[T any] struct {
	Item T `json:"item" jsonschema_description:"the item"`
}

func TestForGolden(t *testing.T) {
	got, err := For[testOrderIn]()
	if err != nil {
		t.Fatalf("For: %v", err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", "order_in.schema.json")
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), pretty.String()); diff != "" {
		t.Errorf("schema differs from %s (-want +got); run go test ./schema -run TestForGolden -update if intended:\n%s", path, diff)
	}
	if vs := Check(got); len(vs) != 0 {
		t.Errorf("Check(For[testOrderIn]) = %v, want none", vs)
	}
}

func TestFor(t *testing.T) {
	s, err := For[testOrderIn]()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Type                 string                     `json:"type"`
		Required             []string                   `json:"required"`
		AdditionalProperties *bool                      `json:"additionalProperties"`
		Properties           map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(s, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Type != "object" {
		t.Errorf("type = %q, want object", doc.Type)
	}
	if diff := cmp.Diff([]string{"market", "side", "idempotency_key"}, doc.Required); diff != "" {
		t.Errorf("required (-want +got):\n%s", diff)
	}
	if doc.AdditionalProperties == nil || *doc.AdditionalProperties {
		t.Errorf("additionalProperties = %v, want false", doc.AdditionalProperties)
	}
	for _, hidden := range []string{"Internal", "hidden", "-"} {
		if _, ok := doc.Properties[hidden]; ok {
			t.Errorf("property %q present, want it hidden", hidden)
		}
	}
	wantProps := map[string]string{
		"expires_at": `{"type":"string","description":"When the order lapses (RFC 3339).","format":"date-time"}`,
		"note":       `{"type":"string","description":"Optional note, kept with the order."}`,
		"tags":       `{"type":"array","description":"Free-form labels.","items":{"type":"string"}}`,
	}
	for name, want := range wantProps {
		if diff := cmp.Diff(mustJSON(t, []byte(want)), mustJSON(t, doc.Properties[name])); diff != "" {
			t.Errorf("property %s (-want +got):\n%s", name, diff)
		}
	}
	for _, bad := range []string{"$ref", "$defs", "$schema", "$id", "definitions"} {
		if strings.Contains(string(s), `"`+bad+`"`) {
			t.Errorf("schema contains %q: %s", bad, s)
		}
	}
}

func TestForTagConventions(t *testing.T) {
	s, err := For[testDescriptions]()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Required   []string `json:"required"`
		Properties map[string]struct {
			Description string `json:"description"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(s, &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ prop, want string }{
		{"tag", "Price, in dollars; may include commas, and = signs."},
		{"escaped", "Price, in dollars"},
		{"cut", "Price"}, // documents the pitfall: an unescaped comma ends description=
		{"both", "from jsonschema"},
	}
	for _, tt := range tests {
		if got := doc.Properties[tt.prop].Description; got != tt.want {
			t.Errorf("description of %s = %q, want %q", tt.prop, got, tt.want)
		}
	}
	if diff := cmp.Diff([]string{"tag", "escaped", "cut", "both", "forced"}, doc.Required); diff != "" {
		t.Errorf("required (-want +got):\n%s", diff)
	}
}

func TestForOutput(t *testing.T) {
	s, err := ForOutput[testOrderIn]()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(s), `"additionalProperties"`) {
		t.Errorf("output schema has additionalProperties: %s", s)
	}
	in := MustFor[testOrderIn]()
	if !strings.Contains(string(in), `"additionalProperties":false`) {
		t.Errorf("input schema lacks additionalProperties:false: %s", in)
	}
	if vs := Check(s); len(vs) != 0 {
		t.Errorf("Check(ForOutput) = %v, want none", vs)
	}
}

func TestForShapes(t *testing.T) {
	t.Run("embedded struct fields are inherited", func(t *testing.T) {
		s, err := For[testEmbedded]()
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Properties map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(s, &doc); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"outcome", "price", "count", "extra"} {
			if _, ok := doc.Properties[p]; !ok {
				t.Errorf("property %q missing from %s", p, s)
			}
		}
	})
	t.Run("generic type with package path in its name", func(t *testing.T) {
		s, err := For[testGeneric[testLeg]]()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(s), `"outcome"`) || strings.Contains(string(s), "$ref") {
			t.Errorf("generic item not inlined: %s", s)
		}
	})
	t.Run("pointer type", func(t *testing.T) {
		a, err := For[*testLeg]()
		if err != nil {
			t.Fatal(err)
		}
		b := MustFor[testLeg]()
		if string(a) != string(b) {
			t.Errorf("For[*T] = %s, want %s", a, b)
		}
	})
	t.Run("unsigned integers get minimum 0", func(t *testing.T) {
		s, err := For[testUnsigned]()
		if err != nil {
			t.Fatal(err)
		}
		want := `{"type":"object","properties":{"n":{"type":"integer","description":"n","minimum":0},"m":{"type":"integer","description":"m","minimum":1,"maximum":9},"i":{"type":"integer","description":"i"},"ns":{"type":"array","description":"ns","items":{"type":"integer","minimum":0}}},"required":["n","m","i","ns"],"additionalProperties":false}`
		if string(s) != want {
			t.Errorf("got %s, want %s", s, want)
		}
	})
	t.Run("map type gets empty properties", func(t *testing.T) {
		s, err := For[map[string]int]()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(mustJSON(t, []byte(`{"type":"object","properties":{},"additionalProperties":{"type":"integer"}}`)), mustJSON(t, s)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestForErrors(t *testing.T) {
	tests := []struct {
		name string
		f    func() (json.RawMessage, error)
		want string
	}{
		{"recursive through slice", For[testNode], "recursive"},
		{"recursive through pointer to root", For[testRootRef], "recursive"},
		{"chan field", For[testBadField], "unsupported type"},
		{"not an object", For[string], "top-level"},
		{"slice at top level", ForOutput[[]testLeg], "top-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.f()
			if err == nil {
				t.Fatalf("got %s, nil; want error containing %q", s, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestMustForPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustFor[testNode] did not panic")
		}
	}()
	MustFor[testNode]()
}
