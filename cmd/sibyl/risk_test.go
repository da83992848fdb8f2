package main

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
)

func parseRisk(t *testing.T, args ...string) (*riskFlags, error) {
	t.Helper()
	var r riskFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	r.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return &r, r.check()
}

func TestRiskFlagsDefaultsByMode(t *testing.T) {
	r, err := parseRisk(t)
	if err != nil {
		t.Fatal(err)
	}
	paper, _ := r.limits(sibyl.ModePaper)
	if paper.Active() {
		t.Errorf("paper defaults: %+v, want no limits", paper)
	}
	for _, mode := range []string{sibyl.ModeLive, sibyl.ModeDemo} {
		l, _ := r.limits(mode)
		c, _ := r.confirmAboveFor(mode)
		if !l.MaxOrder.Equal(decimal.NewFromInt(100)) || l.MaxOpen != 20 || !l.Collar.Equal(decimal.RequireFromString("0.10")) || !l.RequireWorstPrice || !c.Equal(decimal.NewFromInt(50)) {
			t.Errorf("%s defaults: %+v confirm %s, want the documented ones", mode, l, c)
		}
	}
}

func TestRiskFlagsAndEnvTwins(t *testing.T) {
	t.Setenv("SIBYL_RISK_MAX_DAILY", "12.5")
	t.Setenv("SIBYL_RISK_DENY_MARKETS", "kalshi:KXBTC, paper:ETH")
	r, err := parseRisk(t, "--risk-max-order", "0", "--risk-max-open", "3", "--confirm-above", "off")
	if err != nil {
		t.Fatal(err)
	}
	live, _ := r.limits(sibyl.ModeLive)
	c, _ := r.confirmAboveFor(sibyl.ModeLive)
	if !live.MaxOrder.IsZero() || live.MaxOpen != 3 || !live.MaxDaily.Equal(decimal.RequireFromString("12.5")) || !c.IsZero() ||
		strings.Join(live.Deny, "|") != "kalshi:KXBTC|paper:ETH" || !live.MaxMarket.Equal(decimal.NewFromInt(250)) {
		t.Errorf("live: %+v confirm %s: want max-order off, max-open 3, daily 12.5 from the env, the deny list, max-market's default", live, c)
	}
	paper, _ := r.limits(sibyl.ModePaper)
	if paper.MaxOpen != 3 || !paper.MaxDaily.Equal(decimal.RequireFromString("12.5")) || !paper.MaxMarket.IsZero() {
		t.Errorf("paper: %+v, want the flags given and nothing else", paper)
	}
}

func TestRiskFlagsRefuseBadValues(t *testing.T) {
	for _, args := range [][]string{
		{"--risk-max-order", "-1"}, {"--risk-max-order", "ten"}, {"--risk-max-open", "1.5"},
		{"--risk-price-collar", "1"}, {"--confirm-above", "x"},
	} {
		if _, err := parseRisk(t, args...); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(args[0], "--")) {
			t.Errorf("%v: got %v, want an error naming the flag", args, err)
		}
	}
}

func TestRiskDefaultsForEveryVenueButPaper(t *testing.T) {
	r, err := parseRisk(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range []sibyl.VenueInfo{{Mode: sibyl.ModeReadOnly}, {Mode: sibyl.ModeDemo}, {Mode: sibyl.ModePaper, RealMoney: true}} {
		l, _ := r.limits(modeOf(info))
		if !l.MaxOrder.Equal(decimal.NewFromInt(100)) {
			t.Errorf("%+v: limits %+v, want the defaults", info, l)
		}
	}
}
