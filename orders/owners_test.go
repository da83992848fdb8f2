package orders

import (
	"context"
	"strings"
	"testing"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/venues/faulty"
)

// infoVenue is a venue with another VenueInfo (a shared account, real money).
type infoVenue struct {
	sibyl.Venue
	info sibyl.VenueInfo
}

func (v infoVenue) Info() sibyl.VenueInfo { return v.info }

// On a venue whose one account every principal shares, sibyl records who
// placed which order, and a principal cancels only its own.
func TestSharedAccountOwnership(t *testing.T) { forEachBackend(t, testSharedAccountOwnership) }

func testSharedAccountOwnership(t *testing.T, be backend) {
	x := newExchange()
	fv := faulty.New(x.venue(), faulty.Options{})
	h := newHarnessOn(t, be, faulty.Options{}, withVenue(infoVenue{fv, sibyl.VenueInfo{Name: "paper", Mode: sibyl.ModeDemo, Available: true, SharedAccount: true}}))
	ctx := context.Background()
	req := placeReq("shared-alice-1", 1)
	req.Principal = "alice"
	res, err := h.svc.Place(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Order.NativeID
	for _, tt := range []struct {
		principal string
		want      bool
	}{{"alice", true}, {"bob", false}} {
		if got, err := h.svc.Owns(tt.principal, "paper", id); err != nil || got != tt.want {
			t.Errorf("Owns(%s): got %v, %v, want %v", tt.principal, got, err, tt.want)
		}
	}
	if p, ok, err := h.svc.OrderOwner("paper", id); err != nil || !ok || p != "alice" {
		t.Errorf("OrderOwner: %q, %v, %v; want alice", p, ok, err)
	}
	// bob cannot cancel alice's order: NotFound, nothing sent or recorded.
	_, err = h.svc.Cancel(ctx, CancelRequest{Principal: "bob", Key: "bob-cancel-1", Venue: "paper", OrderID: id})
	if sibyl.ErrorCode(err) != sibyl.NotFound {
		t.Fatalf("bob cancelling alice's order: %v, want not_found", err)
	}
	if n := fv.Calls("CancelOrder"); n != 0 {
		t.Errorf("CancelOrder sent %d times for another principal's order, want 0", n)
	}
	if _, ok, _ := h.store.Record(store.RecordID{Principal: "bob", Tool: ToolCancelOrder, Key: "bob-cancel-1"}); ok {
		t.Errorf("a record was written for a refused cancel")
	}
	// alice can.
	if _, err := h.svc.Cancel(ctx, CancelRequest{Principal: "alice", Key: "alice-cancel-1", Venue: "paper", OrderID: id}); err != nil {
		t.Fatalf("alice cancelling her order: %v", err)
	}
	// Ownership outlives a restart (it is in the file).
	h.svc.Flush()
	if err := h.store.Close(); err != nil {
		t.Fatal(err)
	}
	h.open(t, withVenue(infoVenue{fv, sibyl.VenueInfo{Name: "paper", SharedAccount: true}}))
	if p, ok, err := h.svc.OrderOwner("paper", id); err != nil || !ok || p != "alice" {
		t.Errorf("OrderOwner after a restart: %q, %v, %v; want alice", p, ok, err)
	}
}

// A venue with an account per principal keeps no ownership records: the
// venue keeps principals apart itself.
func TestOwnsWithoutSharedAccount(t *testing.T) { forEachBackend(t, testOwnsWithoutSharedAccount) }

func testOwnsWithoutSharedAccount(t *testing.T, be backend) {
	h := newHarnessOn(t, be, faulty.Options{}, nil)
	res, err := h.svc.Place(context.Background(), placeReq("own-acct-0001", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := h.svc.OrderOwner("paper", res.Order.NativeID); ok {
		t.Errorf("an ownership record was written for a per-principal venue")
	}
	if owns, err := h.svc.Owns("someone-else", "paper", res.Order.NativeID); err != nil || !owns {
		t.Errorf("Owns on a per-principal venue: %v, %v; want true (the venue decides)", owns, err)
	}
}

// A real-money venue without --live: place and cancel are refused naming
// --live, with nothing recorded or sent; with Live they go through.
func TestRealMoneyNeedsLive(t *testing.T) { forEachBackend(t, testRealMoneyNeedsLive) }

func testRealMoneyNeedsLive(t *testing.T, be backend) {
	for _, live := range []bool{false, true} {
		x := newExchange()
		fv := faulty.New(x.venue(), faulty.Options{})
		v := infoVenue{fv, sibyl.VenueInfo{Name: "paper", Mode: sibyl.ModeLive, Available: true, RealMoney: true}}
		h := newHarnessOn(t, be, faulty.Options{}, func(o *Options) { withVenue(v)(o); o.Live = live })
		ctx := context.Background()
		_, perr := h.svc.Place(ctx, placeReq("live-gate-0001", 1))
		_, cerr := h.svc.Cancel(ctx, CancelRequest{Principal: "local", Key: "live-gate-c001", Venue: "paper", OrderID: "o-1"})
		if !live {
			for name, err := range map[string]error{"place": perr, "cancel": cerr} {
				if sibyl.ErrorCode(err) != sibyl.Unauthorized || !strings.Contains(sibyl.ErrorMessage(err), "--live") {
					t.Errorf("%s without --live: %v, want unauthorized naming --live", name, err)
				}
			}
			if p, c := fv.Calls("PlaceOrder"), fv.Calls("CancelOrder"); p != 0 || c != 0 || x.count() != 0 {
				t.Errorf("without --live: %d places, %d cancels sent, %d orders; want none", p, c, x.count())
			}
			if _, ok, _ := h.store.Record(store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: "live-gate-0001"}); ok {
				t.Errorf("without --live: a record was written")
			}
			continue
		}
		if perr != nil || cerr != nil || x.count() != 1 {
			t.Errorf("with --live: place %v, cancel %v, %d orders; want both through and one order", perr, cerr, x.count())
		}
	}
}
