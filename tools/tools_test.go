package tools

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/feeds"
	"github.com/sibylmcp/sibyl/orders"
	"github.com/sibylmcp/sibyl/schema"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/venues/paper"
)

var update = flag.Bool("update", false, "rewrite the golden schema files under testdata/")

// testNow is a fixed clock so the paper world is the same on every run.
var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// MustDeps returns Deps with an in-memory paper venue on a fixed clock.
func MustDeps(tb testing.TB) *Deps {
	tb.Helper()
	return mustDepsWith(tb, paper.Options{}, nil)
}

// mustDepsWith is MustDeps with paper options (Seed, Now and Store are set
// here) and, when wrap is not nil, the paper venue wrapped by it.
func mustDepsWith(tb testing.TB, opts paper.Options, wrap func(sibyl.Venue) sibyl.Venue) *Deps {
	tb.Helper()
	st, err := store.Open(filepath.Join(tb.TempDir(), "sibyl.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		// Refused calls are audited asynchronously: write them before the
		// check, whose read transaction must not race a commit (bbolt's Check
		// reads the shared freelist and reports "reachable freed" then).
		if err := st.FlushAudit(context.Background()); err != nil && !errors.Is(err, store.ErrClosed) {
			tb.Errorf("flushing audit: %v", err)
		}
		if err := st.Check(); err != nil {
			tb.Errorf("bbolt consistency: %v", err)
		}
		st.Close()
	})
	clock := func() time.Time { return testNow }
	opts.Seed, opts.Now, opts.Store = 1, clock, st
	pv, err := paper.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	venues := map[string]sibyl.Venue{"paper": pv}
	if wrap != nil {
		venues["paper"] = wrap(pv)
	}
	svc := orders.New(orders.Options{Store: st, Venues: venues, Now: clock})
	tb.Cleanup(svc.Flush)
	return &Deps{
		Venues:       venues,
		DefaultVenue: "paper", // as cmd/sibyl chooses by default
		Orders:       svc,
		Store:        st,
		Spot:         pv.Spot,
		Feeds:        map[string]feeds.Source{"paper": feeds.NewSimulated("paper", pv.Tokens, pv.Daily)},
		DefaultFeed:  "paper",
		LiveFeeds:    map[string]bool{"paper": true},
		Now:          func() time.Time { return testNow },
	}
}

func toolByName(tb testing.TB, ts []Tool, name string) Tool {
	tb.Helper()
	for _, t := range ts {
		if t.Name == name {
			return t
		}
	}
	tb.Fatalf("no tool %q", name)
	return Tool{}
}

// call runs a tool's handler the way the registry does (arguments validated
// against the input schema first) and checks the answer against the output schema.
func call(tb testing.TB, t Tool, args string) (json.RawMessage, error) {
	tb.Helper()
	v := schema.MustCompile(t.InputSchema)
	if err := v.Validate(json.RawMessage(args)); err != nil {
		return nil, err
	}
	out, err := t.handle(context.Background(), &Call{Tool: t.Name, Principal: "test", Transport: "stdio", Args: json.RawMessage(args)}, json.RawMessage(args))
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(out)
	if err != nil {
		tb.Fatal(err)
	}
	ov, err := schema.Compile(t.OutputSchema)
	if err != nil {
		tb.Fatalf("%s output schema does not compile: %v", t.Name, err)
	}
	if err := ov.Validate(body); err != nil {
		tb.Fatalf("%s answer does not match its output schema: %v\n%s", t.Name, err, body)
	}
	return body, nil
}

func TestToolsFollowPortabilityRules(t *testing.T) {
	ts := All(MustDeps(t))
	if len(ts) == 0 {
		t.Fatal("no tools")
	}
	seen := map[string]bool{}
	for _, tool := range ts {
		t.Run(tool.Name, func(t *testing.T) {
			if seen[tool.Name] {
				t.Errorf("duplicate tool name %q", tool.Name)
			}
			seen[tool.Name] = true
			if err := schema.CheckToolName(tool.Name); err != nil {
				t.Error(err)
			}
			if tool.Description == "" || tool.Title == "" {
				t.Error("tool needs a title and a description")
			}
			if tool.Scope != ScopeRead && tool.Scope != ScopeTrade {
				t.Errorf("scope %q, want read or trade", tool.Scope)
			}
			for kind, s := range map[string]json.RawMessage{"input": tool.InputSchema, "output": tool.OutputSchema} {
				for _, v := range schema.Check(s) {
					t.Errorf("%s schema: %v", kind, v)
				}
				if _, err := schema.Compile(s); err != nil {
					t.Errorf("%s schema does not compile: %v", kind, err)
				}
			}
		})
	}
}

// TestSchemaGolden keeps every tool's schemas in testdata/ so that a schema change
// shows in review. Run with -update to accept a change.
func TestSchemaGolden(t *testing.T) {
	for _, tool := range All(MustDeps(t)) {
		for kind, s := range map[string]json.RawMessage{"input": tool.InputSchema, "output": tool.OutputSchema} {
			var v any
			if err := json.Unmarshal(s, &v); err != nil {
				t.Fatal(err)
			}
			got, _ := json.MarshalIndent(v, "", "  ")
			got = append(got, '\n')
			path := filepath.Join("testdata", "schemas", tool.Name+"."+kind+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./tools -run TestSchemaGolden -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s %s schema changed; review and run with -update:\ngot:\n%s", tool.Name, kind, got)
			}
		}
	}
}

func TestSearchMarketsPagesThroughEverything(t *testing.T) {
	d := MustDeps(t)
	search := toolByName(t, All(d), "search_markets")
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		args := `{"limit":50}`
		if cursor != "" {
			args = `{"limit":50,"cursor":"` + cursor + `"}`
		}
		body, err := call(t, search, args)
		if err != nil {
			t.Fatal(err)
		}
		var out searchMarketsOut
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		if !out.Simulated || out.Venue != "paper" || out.Timestamp.IsZero() {
			t.Fatalf("answer must carry venue, timestamp and simulated: %+v", out.Answer)
		}
		for _, m := range out.Markets {
			if seen[m.ID] {
				t.Fatalf("market %s on two pages", m.ID)
			}
			seen[m.ID] = true
			if len(m.Outcomes) < 2 {
				t.Errorf("market %s has %d outcomes", m.ID, len(m.Outcomes))
			}
		}
		pages++
		if out.NextCursor == "" {
			break
		}
		cursor = out.NextCursor
		if pages > 1000 {
			t.Fatal("cursor never ends")
		}
	}
	page, err := d.Venues["paper"].SearchMarkets(context.Background(), sibyl.MarketQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 50 || pages < 2 || len(page.Markets) == 0 {
		t.Fatalf("got %d markets on %d pages, want a catalogue of 50+ over several pages", len(seen), pages)
	}
}

func TestSearchMarketsFilters(t *testing.T) {
	search := toolByName(t, All(MustDeps(t)), "search_markets")
	body, err := call(t, search, `{"query":"btc above","status":"open","category":"crypto","limit":5}`)
	if err != nil {
		t.Fatal(err)
	}
	var out searchMarketsOut
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Markets) == 0 || len(out.Markets) > 5 {
		t.Fatalf("got %d markets, want 1-5", len(out.Markets))
	}
	for _, m := range out.Markets {
		if m.Status != "open" || m.Category != "crypto" {
			t.Errorf("%s: status %s category %s, want open crypto", m.ID, m.Status, m.Category)
		}
	}
}

func TestMarketToolErrors(t *testing.T) {
	ts := All(MustDeps(t))
	tests := []struct {
		tool, args string
		code       sibyl.Code
		field      string
		msg        string // a part of the message, when it matters
	}{
		{"search_markets", `{"cursor":"not-a-cursor"}`, sibyl.Invalid, "cursor", ""},
		// Our cursor wraps the venue's: a bad inner one is reported as ours,
		// not by quoting a string the agent never sent ("XXX").
		{"search_markets", `{"cursor":"` + base64.RawURLEncoding.EncodeToString([]byte(`{"v":"paper","c":"XXX"}`)) + `"}`, sibyl.Invalid, "cursor", "cursor is not one this server issued"},
		{"search_markets", `{"venue":"nowhere"}`, sibyl.NotFound, "venue", ""},
		{"get_market", `{"market":"BTC-ABOVE"}`, sibyl.Invalid, "market", ""},
		{"get_market", `{"market":"nowhere:BTC"}`, sibyl.NotFound, "market", ""},
		{"get_market", `{"market":"paper:NO-SUCH-MARKET"}`, sibyl.NotFound, "market", ""},
		{"get_orderbook", `{"market":"paper:NO-SUCH-MARKET"}`, sibyl.NotFound, "market", ""},
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
			if e.Code != tt.code || (tt.field != "" && obj.Field != tt.field) || !strings.Contains(obj.Message, tt.msg) {
				t.Errorf("got code %s field %q message %q, want %s %q containing %q", e.Code, obj.Field, obj.Message, tt.code, tt.field, tt.msg)
			}
		})
	}
	// Schema-level rejections: the handler never runs.
	for _, args := range []string{`{"depth":-1,"market":"paper:X"}`, `{"market":7}`, `{}`, `{"market":"paper:X","extra":1}`} {
		if _, err := call(t, toolByName(t, ts, "get_market"), args); err == nil {
			t.Errorf("get_market %s: got no error, want a validation error", args)
		}
	}
}

func TestGetMarketAndOrderbook(t *testing.T) {
	d := MustDeps(t)
	ts := All(d)
	page, err := d.Venues["paper"].SearchMarkets(context.Background(), sibyl.MarketQuery{Text: "BTC above", Status: sibyl.StatusOpen, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	id := ""
	for _, m := range page.Markets { // a market far from certain has both sides quoted
		if p := m.Outcomes[0].ImpliedProbability; p > 0.2 && p < 0.8 {
			id = m.ID
			break
		}
	}
	if id == "" {
		t.Fatalf("no open BTC market with a Yes probability in (0.2, 0.8) among %d", len(page.Markets))
	}
	body, err := call(t, toolByName(t, ts, "get_market"), `{"market":"`+id+`","depth":3}`)
	if err != nil {
		t.Fatal(err)
	}
	var m getMarketOut
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.ID != id || m.Rules == "" || m.Underlying == nil || m.Underlying.Symbol != "BTC" {
		t.Errorf("got %+v, want market %s with rules and a BTC underlying", m.MarketSummary, id)
	}
	if len(m.Books) != len(m.Outcomes) {
		t.Fatalf("got %d books for %d outcomes", len(m.Books), len(m.Outcomes))
	}
	for _, b := range m.Books {
		if len(b.Bids) > 3 || len(b.Asks) > 3 {
			t.Errorf("book %s deeper than 3: %d bids %d asks", b.Outcome, len(b.Bids), len(b.Asks))
		}
	}
	body, err = call(t, toolByName(t, ts, "get_orderbook"), `{"market":"`+id+`","outcome":"No","depth":10}`)
	if err != nil {
		t.Fatal(err)
	}
	var ob getOrderbookOut
	if err := json.Unmarshal(body, &ob); err != nil {
		t.Fatal(err)
	}
	if ob.Outcome != "No" || len(ob.Bids) == 0 || len(ob.Asks) == 0 {
		t.Fatalf("got %+v, want a two-sided No book", ob)
	}
	for i := 1; i < len(ob.Bids); i++ {
		if ob.Bids[i].Price >= ob.Bids[i-1].Price {
			t.Errorf("bids not best first: %v", ob.Bids)
		}
	}
	if ob.Spread == nil || ob.Mid == nil || *ob.Spread <= 0 || *ob.Mid <= 0 || *ob.Mid >= 1 || ob.ProbabilitySource != "midpoint" {
		t.Errorf("spread %v mid %v source %q, want a positive spread and a midpoint in (0,1)", ob.Spread, ob.Mid, ob.ProbabilitySource)
	}
}

func TestErrorObject(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		err  error
		want ErrorObject
	}{
		{"sibyl error", sibyl.FieldErrorf(sibyl.Invalid, "side", "side must be buy or sell"),
			ErrorObject{Code: "invalid", Message: "side must be buy or sell", Field: "side"}},
		{"other error", errors.New("secret detail"),
			ErrorObject{Code: "internal", Message: "internal error"}},
		{"bare cancellation", fmt.Errorf("reading: %w", context.Canceled),
			ErrorObject{Code: "unavailable", Message: "the call was cancelled or timed out before it finished; retry it (with the same idempotency_key for order tools)", Retryable: true}},
		{"sibyl error wrapping a cancellation keeps its code", sibyl.WrapError(sibyl.InProgress, context.Canceled, "still running; retry with the same idempotency_key"),
			ErrorObject{Code: "in_progress", Message: "still running; retry with the same idempotency_key", Retryable: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorObject(ctx, "test", tt.err, nil); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
