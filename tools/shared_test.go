package tools

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/paper"
)

// sharedVenue is the paper venue seen as one real account shared by every
// principal (as Kalshi with one API key is): every call acts on the account.
type sharedVenue struct{ sibyl.Venue }

const sharedAcct = "the-one-account"

func (v sharedVenue) Info() sibyl.VenueInfo {
	i := v.Venue.Info()
	i.SharedAccount = true
	return i
}
func (v sharedVenue) PlaceOrder(ctx context.Context, r sibyl.OrderRequest) (sibyl.Order, error) {
	r.Principal = sharedAcct
	return v.Venue.PlaceOrder(ctx, r)
}
func (v sharedVenue) CancelOrder(ctx context.Context, _, id string) (sibyl.Order, error) {
	return v.Venue.CancelOrder(ctx, sharedAcct, id)
}
func (v sharedVenue) GetOrder(ctx context.Context, _, id string) (sibyl.Order, error) {
	return v.Venue.GetOrder(ctx, sharedAcct, id)
}
func (v sharedVenue) OrderByClientID(ctx context.Context, _, coid string, h sibyl.LookupHint) (sibyl.Order, error) {
	return v.Venue.OrderByClientID(ctx, sharedAcct, coid, h)
}
func (v sharedVenue) ListOrders(ctx context.Context, _ string, q sibyl.OrderQuery) (sibyl.OrderPage, error) {
	return v.Venue.ListOrders(ctx, sharedAcct, q)
}
func (v sharedVenue) Portfolio(ctx context.Context, _ string) (sibyl.Portfolio, error) {
	return v.Venue.Portfolio(ctx, sharedAcct)
}

// On a shared account, get_order, list_orders and cancel_order show and touch
// only the caller's orders, and get_positions says the balance is the
// account's.
func TestSharedAccountShowsOnlyYourOrders(t *testing.T) {
	d := mustDepsWith(t, paper.Options{}, func(v sibyl.Venue) sibyl.Venue { return sharedVenue{v} })
	ts := All(d)
	id, _ := openMarket(t, d)
	as := func(principal, tool, args string) (json.RawMessage, error) {
		t.Helper()
		out, err := toolByName(t, ts, tool).handle(context.Background(), &Call{Tool: tool, Principal: principal, Transport: "http", Args: json.RawMessage(args)}, json.RawMessage(args))
		if err != nil {
			return nil, err
		}
		b, _ := json.Marshal(out)
		return b, nil
	}
	place := func(who, key string) string {
		t.Helper()
		b, err := as(who, "place_order", `{"market":"`+id+`","outcome":"Yes","side":"buy","quantity":1,"limit_price":0.01,"idempotency_key":"`+key+`"}`)
		if err != nil {
			t.Fatalf("%s place_order: %v", who, err)
		}
		return decode[orderAnswer](t, b).OrderID
	}
	aliceOrder := place("alice", "alice-shared-01")
	bobOrder := place("bob", "bob-shared-0001")

	if _, err := as("bob", "get_order", `{"order_id":"`+aliceOrder+`"}`); sibyl.ErrorCode(err) != sibyl.NotFound {
		t.Errorf("bob get_order of alice's order: %v, want not_found", err)
	}
	if _, err := as("alice", "get_order", `{"order_id":"`+aliceOrder+`"}`); err != nil {
		t.Errorf("alice get_order of her order: %v", err)
	}
	b, err := as("bob", "list_orders", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	list := decode[listOrdersOut](t, b)
	if len(list.Orders) != 1 || list.Orders[0].OrderID != bobOrder {
		t.Errorf("bob list_orders: %+v; want only his order %s", list.Orders, bobOrder)
	}
	if _, err := as("bob", "cancel_order", `{"order_id":"`+aliceOrder+`","venue":"paper","idempotency_key":"bob-cancel-001"}`); sibyl.ErrorCode(err) != sibyl.NotFound {
		t.Errorf("bob cancel_order of alice's order: %v, want not_found", err)
	}
	if b, err := as("alice", "get_order", `{"order_id":"`+aliceOrder+`"}`); err != nil || decode[getOrderOut](t, b).Status != "open" {
		t.Errorf("alice's order after bob's cancel: %s, %v; want still open", b, err)
	}
	b, err = as("bob", "get_positions", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if !decode[getPositionsOut](t, b).SharedAccount {
		t.Errorf("get_positions on a shared account: %s; want shared_account true", b)
	}
}
