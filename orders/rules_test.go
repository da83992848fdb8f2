package orders

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"
	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/venues/faulty"
)

// An order off its market's steps is refused before anything is recorded or
// sent, with an error naming the valid steps; a recorded key is replayed even
// after the market's steps changed.
func TestPlaceChecksMarketSteps(t *testing.T) { forEachBackend(t, testPlaceChecksMarketSteps) }

func testPlaceChecksMarketSteps(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, nil)
	kalshiLike := sibyl.OrderRules{
		PriceRanges: []sibyl.PriceRange{
			{Start: decimal.RequireFromString("0.001"), End: decimal.RequireFromString("0.1"), Step: decimal.RequireFromString("0.001")},
			{Start: decimal.RequireFromString("0.1"), End: decimal.RequireFromString("0.9"), Step: decimal.RequireFromString("0.01")},
			{Start: decimal.RequireFromString("0.9"), End: decimal.RequireFromString("0.999"), Step: decimal.RequireFromString("0.001")},
		},
		QuantityStep: decimal.RequireFromString("0.01"),
	}
	h.x.rules = &kalshiLike
	ctx := context.Background()
	for _, tt := range []struct {
		name, key, qty, price string
		field, wantInMsg      string
	}{
		{"price between the middle band's steps", "steps-bad-0001", "1", "0.425", "limit_price", "0.1-0.9 step 0.01"},
		{"price off the low band", "steps-bad-0002", "1", "0.0505", "limit_price", "0.001-0.1 step 0.001"},
		{"quantity below the step", "steps-bad-0003", "0.005", "0.42", "quantity", "multiple of 0.01"},
		{"quantity off the step", "steps-bad-0004", "1.015", "0.42", "quantity", "multiple of 0.01"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := placeReq(tt.key, 1)
			req.Order.Quantity, req.Order.LimitPrice = decimal.RequireFromString(tt.qty), decimal.RequireFromString(tt.price)
			_, err := h.svc.Place(ctx, req)
			if sibyl.ErrorCode(err) != sibyl.Invalid || sibyl.ErrorField(err) != tt.field || !strings.Contains(sibyl.ErrorMessage(err), tt.wantInMsg) {
				t.Fatalf("got %v (field %q), want invalid %s naming %q", err, sibyl.ErrorField(err), tt.field, tt.wantInMsg)
			}
			if _, ok, _ := h.store.Record(store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: tt.key}); ok {
				t.Errorf("a record was written for a refused order")
			}
		})
	}
	if n := h.venue.Calls("PlaceOrder"); n != 0 {
		t.Fatalf("PlaceOrder called %d times for off-step orders, want 0", n)
	}

	// On the steps: placed, with the exact decimals.
	req := placeReq("steps-good-0001", 1)
	req.Order.Quantity, req.Order.LimitPrice = decimal.RequireFromString("2.5"), decimal.RequireFromString("0.055")
	res, err := h.svc.Place(ctx, req)
	if err != nil || !res.Order.LimitPrice.Equal(decimal.RequireFromString("0.055")) || !res.Order.Quantity.Equal(decimal.RequireFromString("2.5")) {
		t.Fatalf("on-step order: %+v, %v", res.Order, err)
	}
	// The market's steps change (coarser): the retry of the recorded key
	// still replays instead of being refused.
	coarse := sibyl.TickRules(decimal.RequireFromString("0.05"), decimal.NewFromInt(1), decimal.Zero)
	h.x.rules = &coarse
	h.svc.rules = rulesCache{} // forget the cached steps
	again, err := h.svc.Place(ctx, req)
	if err != nil || !again.Replayed || again.Order.NativeID != res.Order.NativeID {
		t.Fatalf("retry after the steps changed: %+v, %v; want the replayed order", again, err)
	}
	if n := h.x.count(); n != 1 {
		t.Errorf("%d orders at the venue, want 1", n)
	}
}

// A venue that cannot say a market's steps gets no order: the call fails
// with nothing recorded or sent.
func TestPlaceRefusesMarketWithoutSteps(t *testing.T) {
	forEachBackend(t, testPlaceRefusesMarketWithoutSteps)
}

func testPlaceRefusesMarketWithoutSteps(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, nil)
	h.x.rules = &sibyl.OrderRules{} // no price ranges, no quantity step
	_, err := h.svc.Place(context.Background(), placeReq("no-steps-0001", 1))
	if sibyl.ErrorCode(err) != sibyl.Invalid || !strings.Contains(sibyl.ErrorMessage(err), "no usable price and quantity steps") {
		t.Fatalf("got %v, want invalid naming the missing steps", err)
	}
	if n := h.venue.Calls("PlaceOrder"); n != 0 {
		t.Errorf("PlaceOrder called %d times, want 0", n)
	}
}

// captureVenue records every order request that reaches the venue.
type captureVenue struct {
	sibyl.Venue
	mu  sync.Mutex
	got []sibyl.OrderRequest
}

func (c *captureVenue) PlaceOrder(ctx context.Context, req sibyl.OrderRequest) (sibyl.Order, error) {
	c.mu.Lock()
	c.got = append(c.got, req)
	c.mu.Unlock()
	return c.Venue.PlaceOrder(ctx, req)
}

// Property: whatever numbers an agent sends (floats, as JSON gives them, many
// off the steps), every request that reaches the venue has a quantity and
// price on the market's steps; the others are refused as invalid, naming the
// field.
func TestOnlyOnStepOrdersReachTheVenue(t *testing.T) {
	forEachBackend(t, testOnlyOnStepOrdersReachTheVenue)
}

func testOnlyOnStepOrdersReachTheVenue(t *testing.T, be backend) {
	x := newExchange()
	rules := sibyl.OrderRules{
		PriceRanges: []sibyl.PriceRange{
			{Start: decimal.RequireFromString("0.001"), End: decimal.RequireFromString("0.1"), Step: decimal.RequireFromString("0.001")},
			{Start: decimal.RequireFromString("0.1"), End: decimal.RequireFromString("0.9"), Step: decimal.RequireFromString("0.01")},
		},
		QuantityStep: decimal.RequireFromString("0.01"),
	}
	x.rules = &rules
	cv := &captureVenue{Venue: x.venue()}
	h := newHarnessOn(t, be, faulty.Options{}, withVenue(cv))
	rng := rand.New(rand.NewPCG(1, 2))
	refused := 0
	for i := range 300 {
		k := 2 + rng.IntN(3) // 2 to 4 decimal places, below 1
		price := float64(1+rng.IntN(int(math.Pow10(k))-1)) / math.Pow10(k)
		if rng.IntN(4) == 0 {
			price = rng.Float64()
		}
		qty := float64(1+rng.IntN(5000)) / math.Pow10(rng.IntN(4))
		req := placeReq(fmt.Sprintf("prop-%04d", i), 1)
		req.Order.Quantity, req.Order.LimitPrice = decimal.NewFromFloat(qty), decimal.NewFromFloat(price)
		req.Args = nil
		_, err := h.svc.Place(context.Background(), req)
		if err != nil {
			if sibyl.ErrorCode(err) != sibyl.Invalid || (sibyl.ErrorField(err) != "limit_price" && sibyl.ErrorField(err) != "quantity") {
				t.Fatalf("price %v qty %v: %v; want placed or invalid limit_price/quantity", price, qty, err)
			}
			refused++
		}
	}
	cv.mu.Lock()
	defer cv.mu.Unlock()
	for _, r := range cv.got {
		if err := rules.CheckOrder(r); err != nil {
			t.Errorf("an off-step order reached the venue: qty %s price %s: %v", r.Quantity, r.LimitPrice, err)
		}
	}
	if len(cv.got) == 0 || refused == 0 {
		t.Errorf("%d sent, %d refused: the inputs should exercise both", len(cv.got), refused)
	}
}
