package orders

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/faulty"
)

// TestFingerprintWithDefaults: FingerprintArgs (the arguments with defaults
// applied) decide whether a retry is the same request, and a record written
// by the earlier rule (fingerprint of the arguments as sent) still matches a
// retry that resends them.
func TestFingerprintWithDefaults(t *testing.T) { forEachBackend(t, testFingerprintWithDefaults) }

func testFingerprintWithDefaults(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, nil)
	ctx := context.Background()
	req := func(key, raw, applied string) PlaceRequest {
		r := placeReq(key, 10)
		r.Args = json.RawMessage(raw)
		if applied != "" {
			r.FingerprintArgs = json.RawMessage(applied)
		}
		return r
	}
	omitted := `{"idempotency_key":"%s","market_id":"paper:BTC-ABOVE-120000","outcome":"Yes","side":"buy","quantity":10,"limit_price":0.42}`
	spelled := `{"idempotency_key":"%s","market_id":"paper:BTC-ABOVE-120000","outcome":"Yes","side":"buy","quantity":10,"limit_price":0.42,"time_in_force":"gtc"}`
	applied := `{"market_id":"paper:BTC-ABOVE-120000","outcome":"Yes","side":"buy","quantity":10,"limit_price":0.42,"time_in_force":"gtc"}`
	f := fmt.Sprintf

	t.Run("default spelled out on retry", func(t *testing.T) {
		first, err := h.svc.Place(ctx, req("fp-defaults-01", f(omitted, "fp-defaults-01"), applied))
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.svc.Place(ctx, req("fp-defaults-01", f(spelled, "fp-defaults-01"), applied))
		if err != nil || !res.Replayed || res.Order.NativeID != first.Order.NativeID {
			t.Errorf("got %+v, %v; want a replay of %s", res, err, first.Order.NativeID)
		}
	})
	t.Run("other value still refused", func(t *testing.T) {
		other := `{"market_id":"paper:BTC-ABOVE-120000","outcome":"Yes","side":"buy","quantity":10,"limit_price":0.42,"time_in_force":"ioc"}`
		_, err := h.svc.Place(ctx, req("fp-defaults-01", `{"time_in_force":"ioc"}`, other))
		wantCode(t, err, sibyl.IdempotencyKeyReused)
	})
	t.Run("record of the earlier rule", func(t *testing.T) {
		// Written as before the change: no FingerprintArgs, so the record's
		// fingerprint is that of the arguments as sent.
		first, err := h.svc.Place(ctx, req("fp-legacy-0001", f(omitted, "fp-legacy-0001"), ""))
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.svc.Place(ctx, req("fp-legacy-0001", f(omitted, "fp-legacy-0001"), applied))
		if err != nil || !res.Replayed || res.Order.NativeID != first.Order.NativeID {
			t.Errorf("verbatim retry of an old record: got %+v, %v; want a replay of %s", res, err, first.Order.NativeID)
		}
	})
	t.Run("record of the earlier rule, default spelled out on retry", func(t *testing.T) {
		r0 := req("fp-legacy-0002", f(omitted, "fp-legacy-0002"), "")
		r0.AllowDuplicate = true // the same order as fp-legacy-0001's, on purpose
		first, err := h.svc.Place(ctx, r0)
		if err != nil {
			t.Fatal(err)
		}
		// The tool passes the spelling without defaults as equivalent.
		r := req("fp-legacy-0002", f(spelled, "fp-legacy-0002"), applied)
		r.EquivalentArgs = []json.RawMessage{json.RawMessage(f(omitted, "fp-legacy-0002"))}
		res, err := h.svc.Place(ctx, r)
		if err != nil || !res.Replayed || res.Order.NativeID != first.Order.NativeID {
			t.Errorf("got %+v, %v; want a replay of %s", res, err, first.Order.NativeID)
		}
	})
	if got := h.venue.Calls("PlaceOrder"); got != 3 {
		t.Errorf("venue PlaceOrder calls: got %d, want 3", got)
	}
}
