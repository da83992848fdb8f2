package schema_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sibylmcp/sibyl/schema"
)

type GetOrderbookIn struct {
	Market  string `json:"market" jsonschema_description:"Market ID, e.g. KXBTC-26DEC31-T120000."`
	Outcome string `json:"outcome" jsonschema:"enum=yes,enum=no" jsonschema_description:"Which side of the market: yes or no."`
	Depth   int    `json:"depth,omitempty" jsonschema:"minimum=1,maximum=50" jsonschema_description:"Price levels per side, 1 to 50; default 10."`
}

func ExampleFor() {
	in := schema.MustFor[GetOrderbookIn]()
	fmt.Println(string(in))
	fmt.Println(len(schema.Check(in)), "violations")
	// Output:
	// {"type":"object","properties":{"market":{"type":"string","description":"Market ID, e.g. KXBTC-26DEC31-T120000."},"outcome":{"type":"string","description":"Which side of the market: yes or no.","enum":["yes","no"]},"depth":{"type":"integer","description":"Price levels per side, 1 to 50; default 10.","minimum":1,"maximum":50}},"required":["market","outcome"],"additionalProperties":false}
	// 0 violations
}

func ExampleValidator_Validate() {
	v := schema.MustCompile(schema.MustFor[GetOrderbookIn]())
	for _, args := range []string{
		`{"market":"KXBTC","outcome":"yes"}`,
		`{"market":"KXBTC","outcome":"maybe"}`,
		`{"market":"KXBTC","outcome":"no","depth":500}`,
		`{"outcome":"no"}`,
		`{"market":"KXBTC","outcome":"no","limit":5}`,
	} {
		err := v.Validate(json.RawMessage(args))
		var ve *schema.ValidationError
		if errors.As(err, &ve) {
			fmt.Printf("%s %s: %s\n", ve.Rule, ve.Field, ve.Message)
			continue
		}
		fmt.Println("ok")
	}
	// Output:
	// ok
	// enum outcome: outcome must be one of: yes, no (got "maybe")
	// maximum depth: depth must be at most 50 (got 500)
	// required market: missing required argument "market"
	// additionalProperties limit: unknown argument "limit"; allowed: market, outcome, depth
}

func ExampleCheck() {
	for _, v := range schema.Check(json.RawMessage(`{"type":"object","properties":{"tags":{"type":["array","null"]}}}`)) {
		fmt.Println(v.Path, v.Rule)
	}
	// Output:
	// /properties/tags property-description
	// /properties/tags no-type-array
	// /properties/tags array-items
}
