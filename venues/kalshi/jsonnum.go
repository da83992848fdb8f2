package kalshi

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// jsonNumber keeps a JSON string or number as its literal text, so a level
// like ["0.7000", 61957] or [70, 61957] is read without a float.
type jsonNumber string

// UnmarshalJSON implements json.Unmarshaler.
func (n *jsonNumber) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = jsonNumber(s)
		return nil
	}
	var num json.Number
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&num); err != nil {
		return fmt.Errorf("not a number: %s", b)
	}
	*n = jsonNumber(num.String())
	return nil
}

// jsonErrorField is the "error" member of an error body: an object
// {code,message,details} or a bare string.
type jsonErrorField struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details string `json:"details"`
	Text    string `json:"-"`
}

// UnmarshalJSON implements json.Unmarshaler.
func (e *jsonErrorField) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &e.Text)
	}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	type plain jsonErrorField
	return json.Unmarshal(b, (*plain)(e))
}
