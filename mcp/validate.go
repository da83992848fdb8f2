package mcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// This file is the seam to package schema (argument validation and the tool
// name rule). Until schema lands, a minimal validator checks the top level:
// arguments are an object, required properties are present, and properties
// have the declared JSON type.

// argValidator validates tool arguments before the handler runs.
type argValidator interface {
	Validate(args json.RawMessage) error
}

// ValidationError mirrors schema.ValidationError.
type validationError struct {
	Field, Rule, Message string
}

func (e *validationError) Error() string { return e.Message }

// validationDetails extracts the field and message of a validation failure.
func validationDetails(err error) (field, message string) {
	var ve *validationError
	if errors.As(err, &ve) {
		return ve.Field, ve.Message
	}
	return "", err.Error()
}

var toolNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

func checkToolName(name string) error {
	if !toolNameRE.MatchString(name) {
		return fmt.Errorf("tool name must match %s", toolNameRE)
	}
	return nil
}

type topLevelSchema struct {
	Type       any                        `json:"type"`
	Required   []string                   `json:"required"`
	Properties map[string]json.RawMessage `json:"properties"`
	propTypes  map[string]string
}

func compileSchema(raw json.RawMessage) (argValidator, error) {
	var s topLevelSchema
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if s.Type != "object" {
		return nil, errors.New(`top-level "type" must be "object"`)
	}
	s.propTypes = map[string]string{}
	for name, p := range s.Properties {
		var t struct {
			Type any `json:"type"`
		}
		if err := json.Unmarshal(p, &t); err != nil {
			return nil, fmt.Errorf("property %q: %w", name, err)
		}
		if ts, ok := t.Type.(string); ok {
			s.propTypes[name] = ts
		}
	}
	if len(s.Required) == 0 && len(s.propTypes) == 0 {
		return nil, nil
	}
	return &s, nil
}

func (s *topLevelSchema) Validate(args json.RawMessage) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(args, &m); err != nil {
		return &validationError{Rule: "type", Message: "arguments must be a JSON object"}
	}
	for _, r := range s.Required {
		if _, ok := m[r]; !ok {
			return &validationError{Field: r, Rule: "required", Message: fmt.Sprintf("%s is required", r)}
		}
	}
	for name, v := range m {
		t, ok := s.propTypes[name]
		if !ok || len(v) == 0 {
			continue
		}
		if !jsonHasType(v, t) {
			return &validationError{Field: name, Rule: "type", Message: fmt.Sprintf("%s must be of type %s", name, t)}
		}
	}
	return nil
}

func jsonHasType(v json.RawMessage, t string) bool {
	c := v[0]
	switch t {
	case "string":
		return c == '"'
	case "object":
		return c == '{'
	case "array":
		return c == '['
	case "boolean":
		return c == 't' || c == 'f'
	case "null":
		return c == 'n'
	case "number":
		return c == '-' || (c >= '0' && c <= '9')
	case "integer":
		var f float64
		if json.Unmarshal(v, &f) != nil {
			return false
		}
		return f == float64(int64(f))
	}
	return true
}
