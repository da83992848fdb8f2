package mcp

import (
	"encoding/json"
	"errors"

	"github.com/sibylmcp/sibyl/schema"
)

// argValidator validates tool arguments before the handler runs.
type argValidator interface {
	Validate(args json.RawMessage) error
}

// validationDetails extracts the field and message of a validation failure
// (a *schema.ValidationError).
func validationDetails(err error) (field, message string) {
	var ve *schema.ValidationError
	if errors.As(err, &ve) {
		return ve.Field, ve.Error()
	}
	return "", err.Error()
}

// compileSchema compiles an input schema. It returns a nil validator for a
// schema that accepts every object (no properties, no constraints), so calls
// of argument-less tools skip validation: tools/call has already checked that
// the arguments are an object.
func compileSchema(raw json.RawMessage) (argValidator, error) {
	v, err := schema.Compile(raw)
	if err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, err
	}
	if t := string(top["type"]); t != `"object"` {
		return nil, errors.New(`the input schema's top-level "type" must be "object"`)
	}
	if acceptsAnyObject(top) {
		return nil, nil
	}
	return v, nil
}

func acceptsAnyObject(top map[string]json.RawMessage) bool {
	for k, v := range top {
		switch k {
		case "type", "title", "description", "$schema", "$id", "$comment":
		case "properties":
			if string(v) != "{}" {
				return false
			}
		case "additionalProperties":
			if string(v) != "true" && string(v) != "{}" {
				return false
			}
		default:
			return false
		}
	}
	return true
}
