package main

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// keyOutcome is everything the crash harness learned about one idempotency key.
type keyOutcome struct {
	Key           string
	ClientOrderID string   // the key's expected client order id
	OrderIDs      []string // distinct order ids that answers for this key carried
	Rejected      string   // the final error code, when the key's answer was a refusal
	Done          bool     // a final answer arrived
}

// venueOrderRow is one order as list_orders shows it.
type venueOrderRow struct {
	OrderID       string
	ClientOrderID string
}

// checkExactlyOnce compares what callers were told with what the venue holds.
// It returns how many keys were acknowledged with an order, and every
// violation of "each key's order exists exactly once":
//   - a client_order_id or an order_id appears twice at the venue;
//   - a venue order belongs to no key (an order nobody was told about);
//   - a key never got a final answer;
//   - a key's answers named more than one order id;
//   - a key acknowledged with an order has no order (or another one) at the venue;
//   - a key refused deterministically has an order at the venue;
//   - the venue's order count differs from the count of keys with an order.
func checkExactlyOnce(keys []keyOutcome, venue []venueOrderRow) (withOrder int, problems []string) {
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	byCOID := map[string][]venueOrderRow{}
	seenID := map[string]int{}
	for _, o := range venue {
		byCOID[o.ClientOrderID] = append(byCOID[o.ClientOrderID], o)
		seenID[o.OrderID]++
	}
	for id, n := range seenID {
		if n > 1 {
			bad("order id %s is listed %d times", id, n)
		}
	}
	keyOfCOID := map[string]string{}
	for _, k := range keys {
		keyOfCOID[k.ClientOrderID] = k.Key
	}
	coids := make([]string, 0, len(byCOID))
	for c := range byCOID {
		coids = append(coids, c)
	}
	sort.Strings(coids)
	for _, c := range coids {
		rows := byCOID[c]
		if len(rows) > 1 {
			ids := make([]string, len(rows))
			for i, o := range rows {
				ids[i] = o.OrderID
			}
			bad("client_order_id %s (key %q) has %d orders at the venue: %s (a double order)", c, keyOfCOID[c], len(rows), strings.Join(ids, ", "))
		}
		if _, ok := keyOfCOID[c]; !ok {
			bad("venue order %s has client_order_id %q, which belongs to no key the harness sent", rows[0].OrderID, c)
		}
	}
	for _, k := range keys {
		at := byCOID[k.ClientOrderID]
		switch {
		case !k.Done:
			bad("key %s never got a final answer", k.Key)
		case len(k.OrderIDs) > 1:
			bad("key %s was answered with %d different orders: %s", k.Key, len(k.OrderIDs), strings.Join(k.OrderIDs, ", "))
		case len(k.OrderIDs) == 1:
			withOrder++
			if k.Rejected != "" {
				bad("key %s was answered with order %s and also refused (%s)", k.Key, k.OrderIDs[0], k.Rejected)
			}
			if len(at) == 0 {
				bad("key %s was acknowledged with order %s, which the venue does not have", k.Key, k.OrderIDs[0])
			} else if at[0].OrderID != k.OrderIDs[0] {
				bad("key %s was acknowledged with order %s, but the venue's order for its client_order_id is %s", k.Key, k.OrderIDs[0], at[0].OrderID)
			}
		default: // refused
			if len(at) > 0 {
				bad("key %s was refused (%s) but the venue has order %s for it", k.Key, k.Rejected, at[0].OrderID)
			}
		}
	}
	if len(venue) != withOrder {
		bad("the venue has %d orders, want %d (one per key acknowledged with an order)", len(venue), withOrder)
	}
	return withOrder, problems
}

// TestCrashCheckerCatchesDuplicates makes sure the crash harness's checker can
// fail: every kind of double or lost order on synthetic data is reported.
func TestCrashCheckerCatchesDuplicates(t *testing.T) {
	good := func() ([]keyOutcome, []venueOrderRow) {
		return []keyOutcome{
				{Key: "k1", ClientOrderID: "c1", OrderIDs: []string{"o1"}, Done: true},
				{Key: "k2", ClientOrderID: "c2", OrderIDs: []string{"o2"}, Done: true},
				{Key: "k3", ClientOrderID: "c3", Rejected: "insufficient_funds", Done: true},
			}, []venueOrderRow{
				{OrderID: "o2", ClientOrderID: "c2"},
				{OrderID: "o1", ClientOrderID: "c1"},
			}
	}
	keys, venue := good()
	if n, problems := checkExactlyOnce(keys, venue); n != 2 || len(problems) != 0 {
		t.Fatalf("clean data: got %d keys with orders and problems %q, want 2 and none", n, problems)
	}
	tests := []struct {
		name   string
		mutate func(k []keyOutcome, v []venueOrderRow) ([]keyOutcome, []venueOrderRow)
		want   string
	}{
		{"second order with the same client id", func(k []keyOutcome, v []venueOrderRow) ([]keyOutcome, []venueOrderRow) {
			return k, append(v, venueOrderRow{OrderID: "o9", ClientOrderID: "c1"})
		}, "a double order"},
		{"order under a key nobody sent", func(k []keyOutcome, v []venueOrderRow) ([]keyOutcome, []venueOrderRow) {
			return k, append(v, venueOrderRow{OrderID: "o9", ClientOrderID: "c9"})
		}, "belongs to no key"},
		{"refused key with an order", func(k []keyOutcome, v []venueOrderRow) ([]keyOutcome, []venueOrderRow) {
			return k, append(v, venueOrderRow{OrderID: "o3", ClientOrderID: "c3"})
		}, "was refused"},
		{"acknowledged order missing", func(k []keyOutcome, v []venueOrderRow) ([]keyOutcome, []venueOrderRow) {
			return k, v[:1]
		}, "does not have"},
		{"acknowledged order replaced by another", func(k []keyOutcome, v []venueOrderRow) ([]keyOutcome, []venueOrderRow) {
			v[1].OrderID = "o7"
			return k, v
		}, "the venue's order for its client_order_id is o7"},
		{"two answers with different orders", func(k []keyOutcome, v []venueOrderRow) ([]keyOutcome, []venueOrderRow) {
			k[0].OrderIDs = []string{"o1", "o8"}
			return k, v
		}, "different orders"},
		{"key without a final answer", func(k []keyOutcome, v []venueOrderRow) ([]keyOutcome, []venueOrderRow) {
			k[2].Done = false
			return k, v
		}, "never got a final answer"},
		{"order listed twice", func(k []keyOutcome, v []venueOrderRow) ([]keyOutcome, []venueOrderRow) {
			return k, append(v, v[0])
		}, "listed 2 times"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, v := good()
			k, v = tt.mutate(k, v)
			_, problems := checkExactlyOnce(k, v)
			joined := strings.Join(problems, "\n")
			if !strings.Contains(joined, tt.want) {
				t.Errorf("got problems %q, want one containing %q", problems, tt.want)
			}
		})
	}
}
