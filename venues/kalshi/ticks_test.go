package kalshi

import (
	"strings"
	"testing"
)

func ranges(t *testing.T, w ...wirePriceRange) PriceRanges {
	t.Helper()
	r, err := parsePriceRanges(w)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A tapered structure like Kalshi's: fine steps in the tails, cents in the body.
func tapered(t *testing.T) PriceRanges {
	return ranges(t,
		wirePriceRange{"0.0000", "0.1000", "0.0010"},
		wirePriceRange{"0.1000", "0.9000", "0.0100"},
		wirePriceRange{"0.9000", "1.0000", "0.0010"},
	)
}

func TestPriceRangesValid(t *testing.T) {
	tp := tapered(t)
	sub := ranges(t, wirePriceRange{"0.0000", "1.0000", "0.0001"})
	cases := []struct {
		r     PriceRanges
		price string
		want  bool
	}{
		{tp, "0.001", true}, {tp, "0.055", true}, {tp, "0.1", true}, {tp, "0.15", true}, {tp, "0.155", false},
		{tp, "0.905", true}, {tp, "0.999", true}, {tp, "0.0005", false}, {tp, "0", false}, {tp, "1", false},
		{sub, "0.0001", true}, {sub, "0.5432", true}, {sub, "0.54321", false}, {sub, "0.9999", true},
	}
	for _, c := range cases {
		if got := c.r.Valid(d(c.price)); got != c.want {
			t.Errorf("%s on %s: got %v, want %v", c.price, c.r.Describe(), got, c.want)
		}
	}
	if got := tp.MinStep(); !got.Equal(d("0.001")) {
		t.Errorf("min step: got %v", got)
	}
	if got := tp.Describe(); got != "0.001 from 0.00 to 0.10; 0.01 from 0.10 to 0.90; 0.001 from 0.90 to 1.00" {
		t.Errorf("describe: got %q", got)
	}
}

func TestPriceRangesNeighbours(t *testing.T) {
	tp := tapered(t)
	cases := []struct{ p, below, above string }{
		{"0.155", "0.15", "0.16"},
		{"0.0995", "0.099", "0.1"},
		{"0.1", "0.099", "0.11"},
		{"0.0005", "0", "0.001"},
		{"0.9995", "0.999", "0"},
		{"0.8951", "0.89", "0.9"},
	}
	for _, c := range cases {
		b, a := tp.Neighbours(d(c.p))
		if !b.Equal(d(c.below)) || !a.Equal(d(c.above)) {
			t.Errorf("%s: got %v / %v, want %s / %s", c.p, b, a, c.below, c.above)
		}
	}
}

func TestPriceRangesRefused(t *testing.T) {
	for _, w := range [][]wirePriceRange{
		{{"0.0000", "1.0000", "0.0000"}},
		{{"0.5000", "0.4000", "0.0100"}},
		{{"0.0000", "1.5000", "0.0100"}},
		{{"a", "1", "0.01"}},
	} {
		if _, err := parsePriceRanges(w); err == nil {
			t.Errorf("%v: got nil, want an error", w)
		}
	}
}

func TestOrderRulesFromRanges(t *testing.T) {
	r := orderRules(tapered(t), nil)
	if err := r.Valid(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pr := range r.PriceRanges {
		got = append(got, pr.String())
	}
	want := []string{"0.001-0.1 step 0.001", "0.1-0.9 step 0.01", "0.9-0.999 step 0.001"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("got %v, want %v", got, want)
	}
	// Every price the rules accept is a price the YES grid accepts, and back.
	for p := d("0.0001"); p.LessThan(one); p = p.Add(d("0.0001")) {
		if (r.CheckPrice(p) == nil) != tapered(t).Valid(p) {
			t.Fatalf("%s: rules and grid disagree", p)
		}
	}
}
