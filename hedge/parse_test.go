package hedge

import (
	"testing"
	"time"

	"github.com/sibylmcp/sibyl"
)

func TestParsePriceQuestion(t *testing.T) {
	d := func(y int, m time.Month, day, h, min, s int) time.Time {
		return time.Date(y, m, day, h, min, s, 0, time.UTC)
	}
	tests := []struct {
		name string
		in   string
		want sibyl.PriceCondition
		ok   bool
	}{
		{"paper above", "Will BTC close above $120,000 on 2026-12-31?", sibyl.PriceCondition{Symbol: "BTC", Strike: 120000, Direction: Above, Expiry: d(2026, 12, 31, 23, 59, 59)}, true},
		{"paper below decimal", "Will XRP close below $2.25 on 2027-03-31?", sibyl.PriceCondition{Symbol: "XRP", Strike: 2.25, Direction: Below, Expiry: d(2027, 3, 31, 23, 59, 59)}, true},
		{"paper tiny strike", "Will DOGE close above $0.12 on 2026-12-04?", sibyl.PriceCondition{Symbol: "DOGE", Strike: 0.12, Direction: Above, Expiry: d(2026, 12, 4, 23, 59, 59)}, true},
		{"polymarket no year", "Bitcoin above 100,000 on December 31?", sibyl.PriceCondition{Symbol: "BTC", Strike: 100000, Direction: Above, Expiry: d(0, 12, 31, 23, 59, 59)}, true},
		{"polymarket with year", "Will the price of Ethereum be above $4,000 on January 31, 2027?", sibyl.PriceCondition{Symbol: "ETH", Strike: 4000, Direction: Above, Expiry: d(2027, 1, 31, 23, 59, 59)}, true},
		{"polymarket less than", "Will Solana be less than $150 on Dec 5?", sibyl.PriceCondition{Symbol: "SOL", Strike: 150, Direction: Below, Expiry: d(0, 12, 5, 23, 59, 59)}, true},
		{"k suffix", "Bitcoin above $120k on March 31, 2027?", sibyl.PriceCondition{Symbol: "BTC", Strike: 120000, Direction: Above, Expiry: d(2027, 3, 31, 23, 59, 59)}, true},
		{"noon ET in winter", "Bitcoin above 100,000 on December 31, 2026 at 12:00 PM ET?", sibyl.PriceCondition{Symbol: "BTC", Strike: 100000, Direction: Above, Expiry: d(2026, 12, 31, 17, 0, 0)}, true},
		{"5pm EDT in summer", "Will ETH be above 3,500 on July 4, 2026 at 5pm ET?", sibyl.PriceCondition{Symbol: "ETH", Strike: 3500, Direction: Above, Expiry: d(2026, 7, 4, 21, 0, 0)}, true},
		{"kalshi title and subtitle", "Bitcoin price on Dec 31, 2026? $120,000 or above", sibyl.PriceCondition{Symbol: "BTC", Strike: 120000, Direction: Above, Expiry: d(2026, 12, 31, 23, 59, 59)}, true},
		{"kalshi subtitle below", "Ethereum price on Jan 30, 2027? $2,999.99 or below", sibyl.PriceCondition{Symbol: "ETH", Strike: 2999.99, Direction: Below, Expiry: d(2027, 1, 30, 23, 59, 59)}, true},
		{"day month year", "Will BTC close under $90,000 on 31 December 2026?", sibyl.PriceCondition{Symbol: "BTC", Strike: 90000, Direction: Below, Expiry: d(2026, 12, 31, 23, 59, 59)}, true},
		{"kalshi ticker no hour", "KXBTC-26DEC31-T120000", sibyl.PriceCondition{Symbol: "BTC", Strike: 120000, Direction: Above, Expiry: d(2026, 12, 31, 23, 59, 59)}, true},
		{"kalshi daily ticker 5pm EST", "KXBTCD-25DEC3117-T100249.99", sibyl.PriceCondition{Symbol: "BTC", Strike: 100249.99, Direction: Above, Expiry: d(2025, 12, 31, 22, 0, 0)}, true},
		{"kalshi eth ticker EDT", "KXETHD-26JUL0117-T3500", sibyl.PriceCondition{Symbol: "ETH", Strike: 3500, Direction: Above, Expiry: d(2026, 7, 1, 21, 0, 0)}, true},
		{"kalshi range bucket", "KXBTC-25DEC3117-B100250", sibyl.PriceCondition{}, false},
		{"kalshi unknown series", "KXFOO-26DEC31-T5", sibyl.PriceCondition{}, false},
		{"path dependent reach", "Will Bitcoin reach $150,000 by December 31?", sibyl.PriceCondition{}, false},
		{"path dependent dip", "Will Bitcoin dip to $80,000 in December?", sibyl.PriceCondition{}, false},
		{"range", "Will BTC be between $100,000 and $110,000 on 2026-12-31?", sibyl.PriceCondition{}, false},
		{"no date", "Will BTC close above $120,000?", sibyl.PriceCondition{}, false},
		{"no token", "Will the Fed cut rates on 2026-12-16?", sibyl.PriceCondition{}, false},
		{"bad day", "Will BTC close above $1 on 2026-02-30?", sibyl.PriceCondition{}, false},
		{"common word is not a token", "Will the index close near 5,000 above $5,000 on 2026-12-31?", sibyl.PriceCondition{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParsePriceQuestion(tt.in)
			if ok != tt.ok || got != tt.want {
				t.Errorf("ParsePriceQuestion(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCondition(t *testing.T) {
	close31 := time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		m    sibyl.Market
		want sibyl.PriceCondition
		ok   bool
	}{
		{"underlying wins", sibyl.Market{Question: "Will ETH close above $1 on 2020-01-01?", Underlying: &sibyl.PriceCondition{Symbol: "btc", Strike: 5, Direction: Below, Expiry: close31}},
			sibyl.PriceCondition{Symbol: "BTC", Strike: 5, Direction: Below, Expiry: close31}, true},
		{"bad underlying", sibyl.Market{Underlying: &sibyl.PriceCondition{Symbol: "BTC", Strike: 5, Direction: "sideways"}}, sibyl.PriceCondition{}, false},
		{"polymarket year from close time", sibyl.Market{Question: "Bitcoin above 100,000 on December 31?", CloseTime: close31},
			sibyl.PriceCondition{Symbol: "BTC", Strike: 100000, Direction: Above, Expiry: close31}, true},
		{"polymarket january close in december", sibyl.Market{Question: "Bitcoin above 100,000 on January 2?", CloseTime: time.Date(2026, 12, 30, 0, 0, 0, 0, time.UTC)},
			sibyl.PriceCondition{Symbol: "BTC", Strike: 100000, Direction: Above, Expiry: time.Date(2027, 1, 2, 23, 59, 59, 0, time.UTC)}, true},
		{"kalshi native id", sibyl.Market{NativeID: "KXBTCD-26DEC31-T120000", Question: "Bitcoin price on Dec 31, 2026?", CloseTime: close31},
			sibyl.PriceCondition{Symbol: "BTC", Strike: 120000, Direction: Above, Expiry: close31}, true},
		{"year-less without close time", sibyl.Market{Question: "Bitcoin above 100,000 on December 31?"}, sibyl.PriceCondition{}, false},
		{"event market", sibyl.Market{Question: "Will the Fed cut rates in December 2026?"}, sibyl.PriceCondition{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Condition(tt.m)
			if ok != tt.ok || got != tt.want {
				t.Errorf("Condition = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestConditionKalshiTailBelow(t *testing.T) {
	m := sibyl.Market{NativeID: "KXBTC-26DEC3117-T80000", Question: "Bitcoin price on Dec 31, 2026? $80,000 or below"}
	got, ok := Condition(m)
	want := sibyl.PriceCondition{Symbol: "BTC", Strike: 80000, Direction: Below, Expiry: time.Date(2026, 12, 31, 22, 0, 0, 0, time.UTC)}
	if !ok || got != want {
		t.Errorf("Condition = %+v, %v; want %+v, true", got, ok, want)
	}
}
