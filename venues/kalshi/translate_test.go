package kalshi

import (
	"strings"
	"testing"

	sibyl "github.com/sibylmcp/sibyl"
)

func TestBookSideMapping(t *testing.T) {
	cases := []struct {
		yes, buy  bool
		price     string
		side, ysp string
	}{
		{true, true, "0.56", SideBid, "0.56"},
		{true, false, "0.56", SideAsk, "0.56"},
		{false, true, "0.30", SideAsk, "0.70"},
		{false, false, "0.30", SideBid, "0.70"},
		{false, true, "0.0001", SideAsk, "0.9999"},
	}
	for _, c := range cases {
		side, yp := toBookSide(c.yes, c.buy, d(c.price))
		if side != c.side || !yp.Equal(d(c.ysp)) {
			t.Errorf("yes=%v buy=%v %s: got %s %v, want %s %s", c.yes, c.buy, c.price, side, yp, c.side, c.ysp)
		}
		buy, p := fromBookSide(side, yp, c.yes)
		if buy != c.buy || !p.Equal(d(c.price)) {
			t.Errorf("inverse of %s %v: got buy=%v %v", side, yp, buy, p)
		}
	}
}

func TestCheckPrice(t *testing.T) {
	md := MarketDetail{Market: sibyl.Market{NativeID: "KXT-1"}, Ranges: tapered(t)}
	if err := checkPrice(md, true, d("0.15"), "limit_price"); err != nil {
		t.Errorf("on-step price refused: %v", err)
	}
	if err := checkPrice(md, false, d("0.005"), "limit_price"); err != nil {
		t.Errorf("NO at 0.005 is YES at 0.995, on the 0.001 grid: %v", err)
	}
	err := checkPrice(md, true, d("0.155"), "limit_price")
	if sibyl.ErrorCode(err) != sibyl.Invalid || sibyl.ErrorField(err) != "limit_price" {
		t.Fatalf("got %v", err)
	}
	msg := sibyl.ErrorMessage(err)
	for _, want := range []string{"0.01 from 0.10 to 0.90", "0.15 and 0.16"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	// NO at 0.845 is YES at 0.155: the neighbours are given as NO prices.
	msg = sibyl.ErrorMessage(checkPrice(md, false, d("0.845"), "limit_price"))
	if !strings.Contains(msg, "0.84 and 0.85") {
		t.Errorf("NO neighbours: %q", msg)
	}
	for _, bad := range []string{"0", "1", "-0.2"} {
		if checkPrice(md, true, d(bad), "limit_price") == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	fine := MarketDetail{Ranges: ranges(t, wirePriceRange{"0", "1", "0.000001"})}
	if sibyl.ErrorCode(checkPrice(fine, true, d("0.123456"), "limit_price")) != sibyl.Invalid {
		t.Error("a 6-decimal price was accepted though requests take at most 4")
	}
}

func TestMarketOrderPrice(t *testing.T) {
	md := MarketDetail{Ranges: tapered(t)}
	if p, _ := marketOrderPrice(md, true); !p.Equal(d("0.999")) {
		t.Errorf("buy: got %v", p)
	}
	if p, _ := marketOrderPrice(md, false); !p.Equal(d("0.001")) {
		t.Errorf("sell: got %v", p)
	}
}
