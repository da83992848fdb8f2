package faulty

import (
	"context"
	"errors"
	"testing"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
)

// inner is a minimal venue that counts the orders it accepts.
type inner struct {
	sibyl.Venue // nil: calls other than PlaceOrder and GetOrder panic
	placed      int
}

func (v *inner) PlaceOrder(ctx context.Context, req sibyl.OrderRequest) (sibyl.Order, error) {
	v.placed++
	return sibyl.Order{NativeID: "o-1", ClientOrderID: req.ClientOrderID, Status: sibyl.OrderOpen}, nil
}

func (v *inner) GetOrder(ctx context.Context, principal, id string) (sibyl.Order, error) {
	return sibyl.Order{NativeID: id}, nil
}

func TestScriptedFaults(t *testing.T) {
	tests := []struct {
		fault      Fault
		wantPlaced int
		wantCode   sibyl.Code
		plainErr   error
	}{
		{None, 1, "", nil},
		{LostResponse, 1, sibyl.Unavailable, nil},
		{ServerErrorAfterAccept, 1, sibyl.Unavailable, nil},
		{Timeout, 1, sibyl.Internal, context.DeadlineExceeded},
		{ErrorBeforeSend, 0, sibyl.Unavailable, nil},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			in := &inner{}
			v := New(in, Options{Script: []Fault{tt.fault}, TimeoutAfter: 10 * time.Millisecond})
			o, err := v.PlaceOrder(context.Background(), sibyl.OrderRequest{ClientOrderID: "c"})
			if in.placed != tt.wantPlaced {
				t.Errorf("inner orders: got %d, want %d", in.placed, tt.wantPlaced)
			}
			if got := sibyl.ErrorCode(err); got != tt.wantCode {
				t.Errorf("error code: got %q (%v), want %q", got, err, tt.wantCode)
			}
			if tt.plainErr != nil && !errors.Is(err, tt.plainErr) {
				t.Errorf("error: got %v, want %v", err, tt.plainErr)
			}
			if err == nil && o.NativeID != "o-1" {
				t.Errorf("order: got %q, want o-1", o.NativeID)
			}
			// The script is used up: the next call passes through.
			if _, err := v.PlaceOrder(context.Background(), sibyl.OrderRequest{}); err != nil {
				t.Errorf("second call: got %v, want nil", err)
			}
			if got := v.Calls("PlaceOrder"); got != 2 {
				t.Errorf("calls: got %d, want 2", got)
			}
		})
	}
}

func TestRatesAreSeeded(t *testing.T) {
	run := func() []Fault {
		v := New(&inner{}, Options{Seed: 7, LostResponse: 0.2, ServerError: 0.2, ErrorBeforeSend: 0.2})
		var got []Fault
		for i := 0; i < 50; i++ {
			before := [4]int{v.Injected(LostResponse), v.Injected(ServerErrorAfterAccept), v.Injected(ErrorBeforeSend)}
			v.PlaceOrder(context.Background(), sibyl.OrderRequest{})
			after := [4]int{v.Injected(LostResponse), v.Injected(ServerErrorAfterAccept), v.Injected(ErrorBeforeSend)}
			f := None
			for j, fault := range []Fault{LostResponse, ServerErrorAfterAccept, ErrorBeforeSend} {
				if after[j] != before[j] {
					f = fault
				}
			}
			got = append(got, f)
		}
		return got
	}
	a, b := run(), run()
	faults := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("call %d: got %v and %v from the same seed", i, a[i], b[i])
		}
		if a[i] != None {
			faults++
		}
	}
	if faults < 15 || faults > 45 {
		t.Errorf("faults in 50 calls at 60%%: got %d", faults)
	}
}

func TestReadsPassThroughWithLatency(t *testing.T) {
	v := New(&inner{}, Options{Latency: time.Millisecond, Script: []Fault{LostResponse}})
	o, err := v.GetOrder(context.Background(), "p", "o-9")
	if err != nil || o.NativeID != "o-9" {
		t.Fatalf("GetOrder: got %+v, %v", o, err)
	}
	if v.Injected(LostResponse) != 0 {
		t.Error("a read consumed a scripted fault")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := New(&inner{}, Options{Latency: time.Hour})
	if _, err := slow.GetOrder(ctx, "p", "o"); sibyl.ErrorCode(err) != sibyl.Unavailable {
		t.Errorf("cancelled during latency: got %v, want unavailable", err)
	}
}
