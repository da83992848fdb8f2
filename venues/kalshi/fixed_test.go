package kalshi

import (
	"testing"

	"github.com/shopspring/decimal"
)

func TestParseFixed(t *testing.T) {
	cases := []struct {
		in    string
		count bool
		want  string // "" means an error
	}{
		{"10.00", true, "10"}, {"2.5", true, "2.5"}, {"-3.50", true, "-3.5"}, {"", true, "0"},
		{"0.001", true, ""}, {"1e2", true, ""}, {" 1", true, ""}, {"NaN", true, ""}, {"1.", true, ""}, {"+1", true, ""},
		{"0.5600", false, "0.56"}, {"0.123456", false, "0.123456"}, {"0.1234567", false, ""}, {"12.345678", false, "12.345678"},
		{"0x10", false, ""}, {"1,5", false, ""},
	}
	for _, c := range cases {
		var got decimal.Decimal
		var err error
		if c.count {
			got, err = ParseCount(c.in)
		} else {
			got, err = ParseDollars(c.in)
		}
		if c.want == "" {
			if err == nil {
				t.Errorf("%q: got %v, want an error", c.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(d(c.want)) {
			t.Errorf("%q: got %v, %v; want %s", c.in, got, err, c.want)
		}
	}
}

func TestFormatFixed(t *testing.T) {
	for in, want := range map[string]string{"10": "10.00", "0.01": "0.01", "2.5": "2.50"} {
		if got, err := FormatCount(d(in)); err != nil || got != want {
			t.Errorf("FormatCount(%s): got %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"0", "-1", "0.001", "1.005"} {
		if got, err := FormatCount(d(bad)); err == nil {
			t.Errorf("FormatCount(%s): got %q, want an error", bad, got)
		}
	}
	for in, want := range map[string]string{"0.56": "0.5600", "0.0001": "0.0001", "0.9999": "0.9999"} {
		if got, err := FormatPrice(d(in)); err != nil || got != want {
			t.Errorf("FormatPrice(%s): got %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"0", "1", "1.2", "-0.5", "0.00005", "0.12345"} {
		if got, err := FormatPrice(d(bad)); err == nil {
			t.Errorf("FormatPrice(%s): got %q, want an error", bad, got)
		}
	}
}

// FuzzFormatRoundTrip: whatever decimal goes in, what comes out of the
// formatters is either refused or a plain fixed-point string that parses back
// to exactly the same value (nothing is rounded on the way to the wire).
func FuzzFormatRoundTrip(f *testing.F) {
	for _, s := range []string{"0.56", "10", "0.0001", "0.00005", "1", "99.99", "-1", "0.123456789"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := decimal.NewFromString(s)
		if err != nil {
			return
		}
		if out, err := FormatPrice(v); err == nil {
			back, perr := ParseDollars(out)
			if perr != nil || !back.Equal(v) || len(out) != 6 {
				t.Fatalf("price %s -> %q -> %v %v", s, out, back, perr)
			}
		}
		if out, err := FormatCount(v); err == nil {
			back, perr := ParseCount(out)
			if perr != nil || !back.Equal(v) {
				t.Fatalf("count %s -> %q -> %v %v", s, out, back, perr)
			}
		}
	})
}
