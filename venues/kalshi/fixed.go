package kalshi

import (
	"fmt"
	"regexp"

	"github.com/shopspring/decimal"
)

// Kalshi's fixed-point strings: counts have at most 2 decimals (0.01 contract is
// the smallest step) and prices are dollars with up to 6 decimals in responses
// and 2-4 decimals in requests.
const (
	countDecimals         = 2
	requestPriceDecimals  = 4
	responsePriceDecimals = 6
)

// plainDecimal is the only syntax accepted from the wire: an optional sign,
// digits, an optional fraction. No exponents, no spaces, no "NaN".
var plainDecimal = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

func parseFixed(s string, maxDecimals int32) (decimal.Decimal, error) {
	if !plainDecimal.MatchString(s) {
		return decimal.Decimal{}, fmt.Errorf("%q is not a fixed-point decimal", s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%q: %w", s, err)
	}
	if !d.Equal(d.Truncate(maxDecimals)) {
		return decimal.Decimal{}, fmt.Errorf("%q has more than %d decimals", s, maxDecimals)
	}
	return d, nil
}

// ParseCount parses a Kalshi contract count ("10.00", "-3.50"); an empty string
// is zero. It refuses more than 2 decimals and anything but plain decimal syntax.
func ParseCount(s string) (decimal.Decimal, error) {
	if s == "" {
		return decimal.Zero, nil
	}
	return parseFixed(s, countDecimals)
}

// ParseDollars parses a Kalshi dollar amount or price ("0.5600", "12.345678");
// an empty string is zero. It refuses more than 6 decimals.
func ParseDollars(s string) (decimal.Decimal, error) {
	if s == "" {
		return decimal.Zero, nil
	}
	return parseFixed(s, responsePriceDecimals)
}

// FormatCount writes a count as Kalshi expects it in requests ("10.00"). It
// returns an error when n is not a positive multiple of 0.01: a count is never
// rounded on its way out.
func FormatCount(n decimal.Decimal) (string, error) {
	if !n.IsPositive() {
		return "", fmt.Errorf("count %s is not positive", n)
	}
	if !n.Equal(n.Truncate(countDecimals)) {
		return "", fmt.Errorf("count %s is finer than 0.01 contract", n)
	}
	return n.StringFixed(countDecimals), nil
}

// FormatPrice writes a YES price as Kalshi expects it in requests ("0.5600").
// It returns an error when p is not strictly between 0 and 1 or has more than
// 4 decimals: a price is never rounded on its way out.
func FormatPrice(p decimal.Decimal) (string, error) {
	if !p.IsPositive() || !p.LessThan(decimal.NewFromInt(1)) {
		return "", fmt.Errorf("price %s is not strictly between 0 and 1", p)
	}
	if !p.Equal(p.Truncate(requestPriceDecimals)) {
		return "", fmt.Errorf("price %s has more than %d decimals", p, requestPriceDecimals)
	}
	return p.StringFixed(requestPriceDecimals), nil
}
