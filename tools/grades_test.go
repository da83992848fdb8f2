package tools

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sibylmcp/sibyl"
)

func TestGetTokenGrade(t *testing.T) {
	ts := All(MustDeps(t))
	tool := toolByName(t, ts, "get_token_grade")
	body, err := call(t, tool, `{"symbol":"eth"}`)
	if err != nil {
		t.Fatal(err)
	}
	var g gradeAnswer
	if err := json.Unmarshal(body, &g); err != nil {
		t.Fatal(err)
	}
	if g.Symbol != "ETH" || g.AsOf != "2026-11-26" || !g.Simulated || g.Source != "paper" {
		t.Errorf("got symbol %s as_of %s simulated %v source %s, want ETH 2026-11-26 (the last complete day) simulated paper", g.Symbol, g.AsOf, g.Simulated, g.Source)
	}
	if g.TraderGrade < 0 || g.TraderGrade > 100 || g.InvestorGrade < 0 || g.InvestorGrade > 100 || g.Explanation == "" || len(g.Components) < 4 {
		t.Errorf("implausible grade: %+v", g.GradeOut)
	}
	// Deterministic: the same day gives the same numbers.
	again, err := call(t, tool, `{"symbol":"ETH","as_of":"2026-11-26"}`)
	if err != nil {
		t.Fatal(err)
	}
	var g2 gradeAnswer
	_ = json.Unmarshal(again, &g2)
	if !reflect.DeepEqual(g.GradeOut, g2.GradeOut) {
		t.Errorf("grades differ between calls:\n%+v\n%+v", g.GradeOut, g2.GradeOut)
	}
}

func TestGradeToolErrors(t *testing.T) {
	ts := All(MustDeps(t))
	tests := []struct {
		tool, args string
		code       sibyl.Code
		field      string
		msg        string // a part of the message, when it matters
	}{
		{"get_token_grade", `{"symbol":"NOPE"}`, sibyl.NotFound, "symbol", ""},
		{"get_token_grade", `{"symbol":"BTC","as_of":"2026-02-30"}`, sibyl.Invalid, "as_of", ""},
		{"get_token_grade", `{"symbol":"BTC","as_of":"2019-01-01"}`, sibyl.Invalid, "as_of", "use an as_of inside its history"},
		// A day with no candle yet is in the future, not before the history.
		{"get_token_grade", `{"symbol":"BTC","as_of":"2030-01-01"}`, sibyl.Invalid, "as_of", "after the latest complete day 2026-11-26"},
		{"get_token_grade", `{"symbol":"BTC","source":"nowhere"}`, sibyl.NotFound, "source", ""},
		{"rank_tokens", `{"as_of":"2026-13-01"}`, sibyl.Invalid, "as_of", ""},
		// Not every token skipped for the same reason: the argument is at fault.
		{"rank_tokens", `{"as_of":"2030-01-01"}`, sibyl.Invalid, "as_of", "after the latest complete day 2026-11-26"},
		{"get_price_history", `{"symbol":"BTC","from":"2024-01-02","to":"2024-01-01"}`, sibyl.Invalid, "from", ""},
		{"get_price_history", `{"symbol":"BTC","from":"2020-01-01","to":"2024-01-01"}`, sibyl.Invalid, "from", "use interval 1w"},
		// Already weekly: the hint must not be "use interval 1w".
		{"get_price_history", `{"symbol":"BTC","from":"2000-01-01","to":"2024-01-01","interval":"1w"}`, sibyl.Invalid, "from", "at most 7000 days"},
		// A live feed has no candles after the latest complete day: an error, not an empty list.
		{"get_price_history", `{"symbol":"BTC","from":"2030-01-01","to":"2030-02-01"}`, sibyl.Invalid, "from", "after the latest complete day 2026-11-26"},
	}
	for _, tt := range tests {
		t.Run(tt.tool+tt.args, func(t *testing.T) {
			_, err := call(t, toolByName(t, ts, tt.tool), tt.args)
			var e *sibyl.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a *sibyl.Error", err)
			}
			// The field as the agent sees it, named after the tool's arguments.
			obj := errorObject(context.Background(), tt.tool, err, nil)
			if e.Code != tt.code || obj.Field != tt.field || !strings.Contains(obj.Message, tt.msg) {
				t.Errorf("got code %s field %q message %q, want %s %q containing %q", e.Code, obj.Field, obj.Message, tt.code, tt.field, tt.msg)
			}
		})
	}
	if _, err := call(t, toolByName(t, ts, "rank_tokens"), `{"by":"astrology"}`); err == nil {
		t.Error("rank_tokens by an unknown key: got no error, want a validation error from the enum")
	}
}

func TestRankTokens(t *testing.T) {
	body, err := call(t, toolByName(t, All(MustDeps(t)), "rank_tokens"), `{"by":"investor","limit":5}`)
	if err != nil {
		t.Fatal(err)
	}
	var out rankOut
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Ranking) != 5 || out.By != "investor" {
		t.Fatalf("got %d ranked by %s, want 5 by investor", len(out.Ranking), out.By)
	}
	for i, r := range out.Ranking {
		if r.Rank != i+1 || r.Score != r.InvestorGrade {
			t.Errorf("row %d: rank %d score %v investor %v", i, r.Rank, r.Score, r.InvestorGrade)
		}
		if i > 0 && r.Score > out.Ranking[i-1].Score {
			t.Errorf("not best first: %v after %v", r.Score, out.Ranking[i-1].Score)
		}
	}
}

func TestGetPriceHistory(t *testing.T) {
	tool := toolByName(t, All(MustDeps(t)), "get_price_history")
	body, err := call(t, tool, `{"symbol":"SOL","from":"2026-10-05","to":"2026-11-01"}`)
	if err != nil {
		t.Fatal(err)
	}
	var daily historyOut
	_ = json.Unmarshal(body, &daily)
	if len(daily.Candles) != 28 || daily.Candles[0].Time != "2026-10-05" || daily.Candles[27].Time != "2026-11-01" {
		t.Fatalf("got %d daily candles from %v, want 28 from 2026-10-05 to 2026-11-01", len(daily.Candles), daily.Candles)
	}
	body, err = call(t, tool, `{"symbol":"SOL","from":"2026-10-05","to":"2026-11-01","interval":"1w"}`)
	if err != nil {
		t.Fatal(err)
	}
	var weekly historyOut
	_ = json.Unmarshal(body, &weekly)
	if len(weekly.Candles) != 4 { // 2026-10-05 is a Monday: four whole weeks
		t.Fatalf("got %d weekly candles, want 4", len(weekly.Candles))
	}
	w := weekly.Candles[0]
	hi, vol := 0.0, 0.0
	for _, d := range daily.Candles[:7] {
		hi, vol = max(hi, d.High), vol+d.Volume
	}
	if w.Open != daily.Candles[0].Open || w.Close != daily.Candles[6].Close || w.High != hi || !approxEqual(w.Volume, vol) {
		t.Errorf("first week %+v does not aggregate its days (open %v close %v high %v volume %v)", w, daily.Candles[0].Open, daily.Candles[6].Close, hi, vol)
	}
}

func approxEqual(a, b float64) bool { return a-b < 1e-6*b && b-a < 1e-6*b }

// history_days returns the grades of the days before as_of, oldest first, each
// equal to the grade asked for that day; days without enough history before
// them are left out.
func TestGetTokenGradeHistory(t *testing.T) {
	ts := All(MustDeps(t))
	tool := toolByName(t, ts, "get_token_grade")
	body, err := call(t, tool, `{"symbol":"BTC","as_of":"2026-11-26","history_days":5}`)
	if err != nil {
		t.Fatal(err)
	}
	var g gradeAnswer
	if err := json.Unmarshal(body, &g); err != nil {
		t.Fatal(err)
	}
	want := []string{"2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25"}
	if len(g.History) != len(want) {
		t.Fatalf("history: got %d days %+v, want %v", len(g.History), g.History, want)
	}
	for i, p := range g.History {
		if p.AsOf != want[i] {
			t.Errorf("history[%d].as_of: got %s, want %s", i, p.AsOf, want[i])
		}
		day, err := call(t, tool, `{"symbol":"BTC","as_of":"`+p.AsOf+`"}`)
		if err != nil {
			t.Fatal(err)
		}
		var d gradeAnswer
		_ = json.Unmarshal(day, &d)
		if d.TraderGrade != p.TraderGrade || d.InvestorGrade != p.InvestorGrade {
			t.Errorf("history %s: got %v/%v, want the day's own grades %v/%v", p.AsOf, p.TraderGrade, p.InvestorGrade, d.TraderGrade, d.InvestorGrade)
		}
	}
	// Without history_days the answer has none.
	plain, err := call(t, tool, `{"symbol":"BTC"}`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), `"history"`) {
		t.Errorf("history without history_days: %s", plain)
	}
	// Out of range is refused on the argument.
	if _, err := call(t, tool, `{"symbol":"BTC","history_days":91}`); err == nil || !strings.Contains(err.Error(), "history_days") {
		t.Errorf("history_days 91: got %v, want a refusal naming history_days", err)
	}
}
