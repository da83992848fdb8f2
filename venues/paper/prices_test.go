package paper

import (
	"math"
	"testing"
	"time"
)

func TestPriceDeterminism(t *testing.T) {
	a, _ := MustNew(t, Options{Seed: 7}, t0)
	b, _ := MustNew(t, Options{Seed: 7}, t0)
	c, _ := MustNew(t, Options{Seed: 8}, t0)
	times := []time.Time{t0, t0.Add(-400 * 24 * time.Hour), t0.Add(-37 * time.Minute), t0.Add(-3*time.Hour - 17*time.Second)}
	// a asks newest first, b oldest first: order of calls must not matter.
	for _, sym := range a.Tokens() {
		for i := range times {
			if _, err := a.PriceAt(sym, times[i]); err != nil {
				t.Fatal(err)
			}
			if _, err := b.PriceAt(sym, times[len(times)-1-i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	differ := 0
	for _, sym := range a.Tokens() {
		for _, tm := range times {
			pa, _ := a.PriceAt(sym, tm)
			pb, _ := b.PriceAt(sym, tm)
			pc, _ := c.PriceAt(sym, tm)
			if pa != pb {
				t.Errorf("%s at %v: got %v and %v from the same seed", sym, tm, pa, pb)
			}
			if pa != pc {
				differ++
			}
		}
	}
	if differ == 0 {
		t.Error("seeds 7 and 8 gave identical prices")
	}
	// A later clock extends the path without changing the past.
	late, _ := MustNew(t, Options{Seed: 7}, t0.Add(200*24*time.Hour))
	if _, err := late.PriceAt("BTC", t0.Add(150*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, tm := range times {
		pa, _ := a.PriceAt("BTC", tm)
		pl, _ := late.PriceAt("BTC", tm)
		if pa != pl {
			t.Errorf("BTC at %v: got %v, want %v after extending the path", tm, pl, pa)
		}
	}
}

func TestPriceModelSanity(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		v, _ := MustNew(t, Options{Seed: seed}, t0)
		for _, spec := range tokenSpecs {
			cs, err := v.DailyCandles(spec.Symbol, time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), t0)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) < 600 {
				t.Fatalf("%s: got %d daily candles, want years of history", spec.Symbol, len(cs))
			}
			var sum, sum2 float64
			for i, c := range cs {
				if !(c.Low > 0 && c.Low <= math.Min(c.Open, c.Close) && c.High >= math.Max(c.Open, c.Close) && c.Volume > 0) {
					t.Fatalf("%s seed %d: bad candle %+v", spec.Symbol, seed, c)
				}
				if i > 0 {
					if c.Open != cs[i-1].Close {
						t.Fatalf("%s: open %v != previous close %v", spec.Symbol, c.Open, cs[i-1].Close)
					}
					if !c.Time.Equal(cs[i-1].Time.Add(24 * time.Hour)) {
						t.Fatalf("%s: gap at %v", spec.Symbol, c.Time)
					}
					r := math.Log(c.Close / c.Open)
					sum += r
					sum2 += r * r
				}
			}
			n := float64(len(cs) - 1)
			vol := math.Sqrt((sum2/n - (sum/n)*(sum/n)) * 365)
			if vol < 0.75*spec.Vol || vol > 1.3*spec.Vol {
				t.Errorf("%s seed %d: annualised vol %.3f, want within [0.75, 1.3] x %.2f", spec.Symbol, seed, vol, spec.Vol)
			}
			// The path passes through its anchors.
			for _, an := range spec.Anchors {
				p, err := v.PriceAt(spec.Symbol, mustDate(an.date))
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(p/an.price-1) > 1e-9 {
					t.Errorf("%s at %s: got %v, want anchor %v", spec.Symbol, an.date, p, an.price)
				}
			}
		}
	}
}

func TestCandlesAndSpot(t *testing.T) {
	v, clk := MustNew(t, Options{Seed: 1}, t0)
	day0 := t0.Truncate(24 * time.Hour)
	ds, err := v.DailyCandles("btc", day0.Add(-3*24*time.Hour), t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 {
		t.Fatalf("got %d daily candles, want 3 completed days", len(ds))
	}
	hs, err := v.HourlyCandles("BTC", day0.Add(-24*time.Hour), t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 24+4 {
		t.Fatalf("got %d hourly candles, want 28", len(hs))
	}
	for i := 1; i < len(hs); i++ {
		if math.Abs(hs[i].Open/hs[i-1].Close-1) > 1e-12 {
			t.Fatalf("hour %d: open %v, previous close %v", i, hs[i].Open, hs[i-1].Close)
		}
	}
	if got, want := hs[23].Close, ds[2].Close; math.Abs(got/want-1) > 1e-12 {
		t.Errorf("last hourly close of the day %v, want daily close %v", got, want)
	}
	s1, at, err := v.Spot("BTC")
	if err != nil || !at.Equal(t0) {
		t.Fatalf("Spot: %v %v %v", s1, at, err)
	}
	clk.Add(30 * time.Second)
	s2, _, _ := v.Spot("BTC")
	if s1 == s2 {
		t.Errorf("spot did not move in 30s: %v", s1)
	}
	if math.Abs(s2/s1-1) > 0.01 {
		t.Errorf("spot jumped from %v to %v in 30s", s1, s2)
	}
	if p, _ := v.PriceAt("MATIC", t0); p <= 0 {
		t.Errorf("MATIC alias: got %v", p)
	}
	_, _, err = v.Spot("NOPE")
	wantCode(t, err, "not_found", "symbol")
	if n := len(v.Tokens()); n < 20 {
		t.Errorf("got %d tokens, want 20+", n)
	}
}
