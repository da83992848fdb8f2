package sibyl_test

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// kalshiLike has Kalshi's "deci_cent" structure: tenths of a cent at the tails.
var kalshiLike = sibyl.OrderRules{
	PriceRanges: []sibyl.PriceRange{
		{Start: d("0.001"), End: d("0.1"), Step: d("0.001")},
		{Start: d("0.1"), End: d("0.9"), Step: d("0.01")},
		{Start: d("0.9"), End: d("0.999"), Step: d("0.001")},
	},
	QuantityStep: d("0.01"),
}

func TestCheckPrice(t *testing.T) {
	for _, tt := range []struct {
		price   string
		ok      bool
		wantMsg string
	}{
		{"0.001", true, ""}, {"0.055", true, ""}, {"0.1", true, ""}, {"0.42", true, ""}, {"0.9", true, ""}, {"0.999", true, ""},
		{"0.425", false, "use 0.42 or 0.43"},
		{"0.0505", false, "use 0.05 or 0.051"},
		{"0", false, "between 0.001 and 0.999"},
		{"1", false, "between 0.001 and 0.999"},
		{"-0.5", false, "between 0.001 and 0.999"},
	} {
		err := kalshiLike.CheckPrice(d(tt.price))
		if (err == nil) != tt.ok {
			t.Errorf("CheckPrice(%s): got %v, want ok=%v", tt.price, err, tt.ok)
			continue
		}
		if err != nil && (sibyl.ErrorField(err) != "limit_price" || !strings.Contains(sibyl.ErrorMessage(err), tt.wantMsg) ||
			!strings.Contains(sibyl.ErrorMessage(err), "0.1-0.9 step 0.01")) {
			t.Errorf("CheckPrice(%s): %v; want field limit_price, %q and the steps named", tt.price, err, tt.wantMsg)
		}
	}
	for _, tt := range []struct {
		qty string
		ok  bool
	}{{"0.01", true}, {"10", true}, {"2.55", true}, {"0.005", false}, {"1.001", false}, {"0", false}, {"-1", false}} {
		if err := kalshiLike.CheckQuantity(d(tt.qty)); (err == nil) != tt.ok || (err != nil && sibyl.ErrorField(err) != "quantity") {
			t.Errorf("CheckQuantity(%s): %v, want ok=%v", tt.qty, err, tt.ok)
		}
	}
	if err := (sibyl.OrderRules{}).Valid(); err == nil {
		t.Error("empty rules are valid; want an error (no quantity step)")
	}
	if err := kalshiLike.Valid(); err != nil {
		t.Errorf("Kalshi-like rules: %v", err)
	}
}

// FuzzOrderSteps: a price or count leaves the order path only when it is an
// exact decimal on the market's steps. For random bands and a random price
// (given as the float64 an agent's JSON holds, converted the way the tools
// convert it), CheckPrice agrees with the integer arithmetic of the steps, and
// an accepted price's decimal string has no more places than its step: what
// an adapter formats onto the wire is exactly the price that was checked.
func FuzzOrderSteps(f *testing.F) {
	f.Add(uint16(1), uint16(99), uint16(1), 0.42, 2.0)
	f.Add(uint16(10), uint16(900), uint16(10), 0.425, 1.5)
	f.Add(uint16(1), uint16(9999), uint16(1), 0.1+0.2, 0.01)
	f.Fuzz(func(t *testing.T, start, end, step uint16, price, qty float64) {
		// Bands in ten-thousandths of a dollar (Kalshi's finest step).
		if step == 0 || start == 0 || end >= 10000 || start > end {
			return
		}
		unit := decimal.New(1, -4)
		r := sibyl.OrderRules{
			PriceRanges:  []sibyl.PriceRange{{Start: decimal.NewFromInt(int64(start)).Mul(unit), End: decimal.NewFromInt(int64(end)).Mul(unit), Step: decimal.NewFromInt(int64(step)).Mul(unit)}},
			QuantityStep: d("0.01"),
		}
		p := decimal.NewFromFloat(price)
		err := r.CheckPrice(p)
		// The truth, in integers: p is k ten-thousandths with start <= k <= end
		// and (k-start) a multiple of step.
		scaled := p.Shift(4)
		want := scaled.IsInteger() && scaled.GreaterThanOrEqual(decimal.NewFromInt(int64(start))) &&
			scaled.LessThanOrEqual(decimal.NewFromInt(int64(end))) && (scaled.IntPart()-int64(start))%int64(step) == 0
		if (err == nil) != want {
			t.Fatalf("CheckPrice(%s) in %s: %v, want ok=%v", p, r.PriceRanges[0], err, want)
		}
		if err != nil {
			if sibyl.ErrorCode(err) != sibyl.Invalid || sibyl.ErrorField(err) != "limit_price" || !strings.Contains(sibyl.ErrorMessage(err), "step "+r.PriceRanges[0].Step.String()) {
				t.Fatalf("refusal %v: want invalid limit_price naming step %s", err, r.PriceRanges[0].Step)
			}
		} else if -p.Exponent() > 4 {
			t.Fatalf("accepted %s has more than 4 decimal places", p)
		}
		q := decimal.NewFromFloat(qty)
		if qerr := r.CheckQuantity(q); qerr == nil && (!q.Shift(2).IsInteger() || !q.IsPositive()) {
			t.Fatalf("quantity %s accepted off the 0.01 step", q)
		}
	})
}
