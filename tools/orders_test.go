package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/mcp"
	"github.com/sibylmcp/sibyl/store"
)

// openMarket returns an open BTC market whose Yes price is far from 0 and 1.
func openMarket(t *testing.T, d *Deps) (id string, yesAsk float64) {
	t.Helper()
	page, err := d.Venues["paper"].SearchMarkets(context.Background(), sibyl.MarketQuery{Text: "BTC above", Status: sibyl.StatusOpen, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Markets {
		if p := m.Outcomes[0].ImpliedProbability; p > 0.3 && p < 0.7 && m.Outcomes[0].Ask > 0 {
			return m.ID, m.Outcomes[0].Ask
		}
	}
	t.Fatal("no open BTC market near 50%")
	return "", 0
}

func decode[T any](t *testing.T, body json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v
}

func wantCode(t *testing.T, err error, code sibyl.Code, field string) {
	t.Helper()
	var e *sibyl.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want a *sibyl.Error %s", err, code)
	}
	// The field as the agent sees it, named after the tool's arguments.
	got := errorObject(context.Background(), "test", err, nil)
	if e.Code != code || (field != "" && got.Field != field) {
		t.Fatalf("got %s field %q (%v), want %s field %q", e.Code, got.Field, e, code, field)
	}
}

func TestPlaceOrderExactlyOnce(t *testing.T) {
	d := MustDeps(t)
	ts := All(d)
	id, ask := openMarket(t, d)
	args := `{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":10,"limit_price":` + jsonNum(ask) + `,"idempotency_key":"order-0001"}`
	first := decode[orderAnswer](t, must(call(t, toolByName(t, ts, "place_order"), args)))
	if first.OrderID == "" || first.Replayed || first.FilledQuantity != 10 || !first.Simulated {
		t.Fatalf("first call: got %+v, want a new filled simulated order", first)
	}
	again := decode[orderAnswer](t, must(call(t, toolByName(t, ts, "place_order"), args)))
	if again.OrderID != first.OrderID || !again.Replayed {
		t.Fatalf("retry: got order %s replayed %v, want %s replayed", again.OrderID, again.Replayed, first.OrderID)
	}
	// The same key with other arguments is refused and sends nothing.
	_, err := call(t, toolByName(t, ts, "place_order"), strings.Replace(args, `"quantity":10`, `"quantity":11`, 1))
	wantCode(t, err, sibyl.IdempotencyKeyReused, "")
	// The same order under a new key within a minute looks like a retry gone wrong.
	_, err = call(t, toolByName(t, ts, "place_order"), strings.Replace(args, "order-0001", "order-0002", 1))
	wantCode(t, err, sibyl.PossibleDuplicate, "")
	dup := decode[orderAnswer](t, must(call(t, toolByName(t, ts, "place_order"), strings.Replace(args, `"idempotency_key":"order-0001"`, `"idempotency_key":"order-0003","allow_duplicate":true`, 1))))
	if dup.OrderID == first.OrderID {
		t.Fatal("allow_duplicate: got the first order back, want a second order")
	}
	list := decode[listOrdersOut](t, must(call(t, toolByName(t, ts, "list_orders"), `{"market":"`+id+`"}`)))
	if len(list.Orders) != 2 {
		t.Fatalf("list_orders: got %d orders, want 2 (the first and the deliberate duplicate)", len(list.Orders))
	}
	byKey := decode[getOrderOut](t, must(call(t, toolByName(t, ts, "get_order"), `{"idempotency_key":"order-0001"}`)))
	if byKey.OrderID != first.OrderID {
		t.Errorf("get_order by key: got %s, want %s", byKey.OrderID, first.OrderID)
	}
	pos := decode[getPositionsOut](t, must(call(t, toolByName(t, ts, "get_positions"), `{}`)))
	if len(pos.Positions) != 1 || pos.Positions[0].Quantity != 20 || pos.Cash >= 10000 {
		t.Errorf("positions: got %+v cash %v, want 20 contracts and less than $10,000 cash", pos.Positions, pos.Cash)
	}
}

func TestCancelOrderAndAuditLog(t *testing.T) {
	d := MustDeps(t)
	ts := All(d)
	id, _ := openMarket(t, d)
	// A bid far below the market rests.
	placed := decode[orderAnswer](t, must(call(t, toolByName(t, ts, "place_order"),
		`{"market":"`+id+`","outcome":"Yes","side":"buy","quantity":5,"limit_price":0.02,"idempotency_key":"rest-0001"}`)))
	if placed.Status != "open" {
		t.Fatalf("got status %s, want open", placed.Status)
	}
	cancelArgs := `{"order_id":"` + placed.OrderID + `","idempotency_key":"cancel-0001"}`
	c1 := decode[orderAnswer](t, must(call(t, toolByName(t, ts, "cancel_order"), cancelArgs)))
	c2 := decode[orderAnswer](t, must(call(t, toolByName(t, ts, "cancel_order"), cancelArgs)))
	if c1.Status != "cancelled" || c1.Replayed || !c2.Replayed || c2.OrderID != placed.OrderID {
		t.Fatalf("cancel: got %s replayed %v, then replayed %v; want cancelled, then a replay", c1.Status, c1.Replayed, c2.Replayed)
	}
	// A new cancel of a final order is a conflict.
	_, err := call(t, toolByName(t, ts, "cancel_order"), `{"order_id":"`+placed.OrderID+`","idempotency_key":"cancel-0002"}`)
	wantCode(t, err, sibyl.Conflict, "")

	log := decode[auditLogOut](t, must(call(t, toolByName(t, ts, "get_audit_log"), `{"verify":true,"limit":500}`)))
	if !log.Verified || !log.ChainOK || log.ChainLength == 0 {
		t.Fatalf("audit: got %+v, want a verified intact chain", log)
	}
	outcomes := map[string]int{}
	for _, e := range log.Entries {
		if e.Tool == "place_order" || e.Tool == "cancel_order" {
			outcomes[e.Tool+":"+e.Outcome]++
		}
	}
	for _, want := range []string{"place_order:intent", "place_order:placed", "cancel_order:intent", "cancel_order:cancelled", "cancel_order:replay", "cancel_order:rejected"} {
		if outcomes[want] == 0 {
			t.Errorf("audit log has no %s entry; got %v", want, outcomes)
		}
	}
}

func TestOrderToolErrors(t *testing.T) {
	d := MustDeps(t)
	ts := All(d)
	id, _ := openMarket(t, d)
	place := toolByName(t, ts, "place_order")
	tests := []struct {
		name, args string
		code       sibyl.Code
		field      string
		tool       string // default place_order
		msg        string // a part of the message, when it matters
	}{
		{"off tick", `{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":1,"limit_price":0.505,"idempotency_key":"bad-00001"}`, sibyl.Invalid, "limit_price", "", ""},
		{"unknown outcome", `{"market":"` + id + `","outcome":"Maybe","side":"buy","quantity":1,"limit_price":0.5,"idempotency_key":"bad-00002"}`, sibyl.Invalid, "outcome", "", ""},
		{"unknown market", `{"market":"paper:NOPE","outcome":"Yes","side":"buy","quantity":1,"limit_price":0.5,"idempotency_key":"bad-00003"}`, sibyl.NotFound, "market", "", ""},
		{"market gtc", `{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":1,"time_in_force":"gtc","idempotency_key":"bad-00004"}`, sibyl.Invalid, "time_in_force", "", ""},
		{"sell without position", `{"market":"` + id + `","outcome":"Yes","side":"sell","quantity":1,"limit_price":0.5,"idempotency_key":"bad-00005"}`, sibyl.Invalid, "quantity", "", ""},
		{"too expensive", `{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":900000,"limit_price":0.5,"idempotency_key":"bad-00006"}`, sibyl.InsufficientFunds, "", "", ""},
		// Below the first tick there is no tick to round down to: the range is at fault.
		{"below the first tick", `{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":1,"limit_price":0.005,"idempotency_key":"bad-00010"}`, sibyl.Invalid, "limit_price", "", "between 0.01 and 0.99"},
		{"above the last tick", `{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":1,"limit_price":0.995,"idempotency_key":"bad-00011"}`, sibyl.Invalid, "limit_price", "", "between 0.01 and 0.99"},
		{"get_order needs one id", `{}`, sibyl.Invalid, "order_id", "get_order", ""},
		// The venue of an unknown market is named by the market argument.
		{"list_orders unknown venue in market", `{"market":"nowhere:X"}`, sibyl.NotFound, "market", "list_orders", ""},
		{"list_orders malformed market", `{"market":"BTC-ABOVE"}`, sibyl.Invalid, "market", "list_orders", "search_markets lists ids"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tool := place
			if tt.tool != "" {
				tool = toolByName(t, ts, tt.tool)
			}
			_, err := call(t, tool, tt.args)
			wantCode(t, err, tt.code, tt.field)
			if msg := sibyl.ErrorMessage(err); !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not contain %q", msg, tt.msg)
			}
		})
	}
	// Schema-level: no key, a short key, a price of 1, a negative quantity.
	for _, args := range []string{
		`{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":1,"limit_price":0.5}`,
		`{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":1,"limit_price":0.5,"idempotency_key":"short"}`,
		`{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":1,"limit_price":1,"idempotency_key":"bad-00007"}`,
		`{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":-1,"limit_price":0.5,"idempotency_key":"bad-00008"}`,
		`{"market":"` + id + `","outcome":"Yes","side":"hold","quantity":1,"limit_price":0.5,"idempotency_key":"bad-00009"}`,
	} {
		if _, err := call(t, place, args); err == nil {
			t.Errorf("place_order %s: got no error, want a validation error", args)
		}
	}
	// Nothing above left an order behind.
	list := decode[listOrdersOut](t, must(call(t, toolByName(t, ts, "list_orders"), `{}`)))
	if len(list.Orders) != 0 {
		t.Errorf("bad orders left %d orders at the venue", len(list.Orders))
	}
}

func must(body json.RawMessage, err error) json.RawMessage {
	if err != nil {
		panic(err)
	}
	return body
}

func jsonNum(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// TestAuditLogIsPerPrincipalOverHTTP: one API key never reads another's entries;
// the local operator (stdio) reads all.
func TestAuditLogIsPerPrincipalOverHTTP(t *testing.T) {
	d := MustDeps(t)
	ts := All(d)
	id, _ := openMarket(t, d)
	as := func(principal, transport, tool, args string) json.RawMessage {
		t.Helper()
		tl := toolByName(t, ts, tool)
		out, err := tl.handle(context.Background(), &Call{Tool: tool, Principal: principal, Transport: transport, Args: json.RawMessage(args)}, json.RawMessage(args))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(out)
		return body
	}
	as("key:alice", "http", "place_order", `{"market":"`+id+`","outcome":"Yes","side":"buy","quantity":1,"limit_price":0.01,"idempotency_key":"alice-0001"}`)
	as("key:bob", "http", "place_order", `{"market":"`+id+`","outcome":"Yes","side":"buy","quantity":2,"limit_price":0.01,"idempotency_key":"bob-00001"}`)
	for _, who := range []string{"key:alice", "key:bob"} {
		log := decode[auditLogOut](t, as(who, "http", "get_audit_log", `{"limit":500}`))
		if len(log.Entries) == 0 {
			t.Errorf("%s sees no entries, want its own", who)
		}
		for _, e := range log.Entries {
			if e.Principal != who {
				t.Errorf("%s sees entry %d of %s", who, e.Seq, e.Principal)
			}
		}
	}
	all := decode[auditLogOut](t, as("local", "stdio", "get_audit_log", `{"limit":500}`))
	seen := map[string]bool{}
	for _, e := range all.Entries {
		seen[e.Principal] = true
	}
	if !seen["key:alice"] || !seen["key:bob"] {
		t.Errorf("the stdio operator sees principals %v, want both keys", seen)
	}
}

// Every order-tool call leaves an audit entry, also when it is refused before it
// reaches the orders service: by its input schema (in the MCP layer, before any
// handler) or by the tool's own checks. A call that reaches the service is
// audited by it alone, not a second time by the registry.
func TestRefusedOrderCallsAreAudited(t *testing.T) {
	d := MustDeps(t)
	id, _ := openMarket(t, d)
	srv := mcp.NewServer(mcp.Implementation{Name: "t", Version: "1"}, nil)
	Register(srv, All(d), StoreAuditor{Store: d.Store}, nil)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.ServeStdio(ctx, inR, outW)
	dec := json.NewDecoder(outR)
	send := func(id int, method, params string) json.RawMessage {
		t.Helper()
		fmt.Fprintf(inW, `{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`+"\n", id, method, params)
		var m struct {
			Result json.RawMessage `json:"result"`
		}
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m.Result
	}
	send(1, "initialize", `{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}`)
	fmt.Fprintln(inW, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	calls := []struct {
		name, args string
		wantError  string // the audit entry's error code; "" for a call the orders service audits
	}{
		{"schema refuses a negative quantity", `{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":-1,"limit_price":0.5,"idempotency_key":"audit-0001"}`, "invalid"},
		{"the tool refuses a market order that would rest", `{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":1,"time_in_force":"gtc","idempotency_key":"audit-0002"}`, "invalid"},
		{"the tool refuses an unknown venue", `{"market":"nowhere:X","outcome":"Yes","side":"buy","quantity":1,"limit_price":0.5,"idempotency_key":"audit-0003"}`, "not_found"},
		{"placed", `{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":1,"limit_price":0.01,"idempotency_key":"audit-0004"}`, ""},
	}
	for i, c := range calls {
		res := send(10+i, "tools/call", `{"name":"place_order","arguments":`+c.args+`}`)
		if isErr := strings.Contains(string(res), `"isError":true`); isErr != (c.wantError != "") {
			t.Fatalf("%s: result %s", c.name, res)
		}
	}
	d.Orders.Flush()
	if err := d.Store.FlushAudit(ctx); err != nil {
		t.Fatal(err)
	}
	entries, err := d.Store.ReadAudit(0, 100, "place_order")
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string][]string{}
	for _, e := range entries {
		var a struct {
			Key string `json:"idempotency_key"`
		}
		json.Unmarshal(e.Args, &a)
		byKey[a.Key] = append(byKey[a.Key], e.Outcome+"/"+e.Error)
	}
	want := map[string][]string{
		"audit-0001": {"error/invalid"},
		"audit-0002": {"error/invalid"},
		"audit-0003": {"error/not_found"},
		"audit-0004": {store.OutcomeIntent + "/", store.OutcomePlaced + "/"},
	}
	if diff := cmp.Diff(want, byKey); diff != "" {
		t.Errorf("audit entries by key (-want +got):\n%s", diff)
	}
}

// TestReplayShowsCurrentState: place, cancel, then retry the place with the
// same key. The answer keeps the original (open, replayed) and adds what is
// true now (cancelled).
func TestReplayShowsCurrentState(t *testing.T) {
	d := MustDeps(t)
	ts := All(d)
	id, _ := openMarket(t, d)
	args := `{"market":"` + id + `","outcome":"Yes","side":"buy","quantity":5,"limit_price":0.02,"idempotency_key":"replay-0001"}`
	placed := decode[orderAnswer](t, must(call(t, toolByName(t, ts, "place_order"), args)))
	if placed.Status != "open" || placed.CurrentState != nil {
		t.Fatalf("first answer: got status %s current %+v, want open and no current_state", placed.Status, placed.CurrentState)
	}
	if placed.AveragePrice != nil || placed.LimitPrice == nil || *placed.LimitPrice != 0.02 {
		t.Errorf("first answer: average_price %v limit_price %v, want absent and 0.02", placed.AveragePrice, placed.LimitPrice)
	}
	must(call(t, toolByName(t, ts, "cancel_order"), `{"order_id":"`+placed.OrderID+`","idempotency_key":"replay-cancel-1"}`))
	again := decode[orderAnswer](t, must(call(t, toolByName(t, ts, "place_order"), args)))
	if !again.Replayed || again.Status != "open" || again.OrderID != placed.OrderID {
		t.Fatalf("replay: got %s replayed %v, want the original open answer replayed", again.Status, again.Replayed)
	}
	if again.CurrentState == nil || again.CurrentState.Status != "cancelled" || again.CurrentState.UpdatedAt == nil {
		t.Fatalf("replay: current_state %+v, want cancelled", again.CurrentState)
	}
	// A market order has no limit price to show.
	mo := decode[orderAnswer](t, must(call(t, toolByName(t, ts, "place_order"),
		`{"market":"`+id+`","outcome":"Yes","side":"buy","quantity":1,"idempotency_key":"replay-mkt-1"}`)))
	if mo.LimitPrice != nil || mo.AveragePrice == nil {
		t.Errorf("market order: limit_price %v average_price %v, want absent and present", mo.LimitPrice, mo.AveragePrice)
	}
}
