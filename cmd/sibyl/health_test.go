package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

// downVenue is a venue whose every search fails as a remote venue's would
// when it cannot be reached.
type downVenue struct{ sibyl.Venue }

func (downVenue) SearchMarkets(ctx context.Context, q sibyl.MarketQuery) (sibyl.MarketPage, error) {
	return sibyl.MarketPage{}, sibyl.Errorf(sibyl.Unavailable, "kalshi did not answer; try again later")
}

// pingVenue has a Ping of its own, which readiness prefers.
type pingVenue struct{ downVenue }

func (pingVenue) Ping(ctx context.Context) error { return nil }

// TestReadyzNamesUnreachableVenues: /readyz is 503 while a configured venue
// cannot be reached, naming it and why; the store and the reachable venues
// are ok.
func TestReadyzNamesUnreachableVenues(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "sibyl.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := &readiness{store: st, venues: map[string]sibyl.Venue{"kalshi": downVenue{}, "polymarket": pingVenue{}}, log: slog.New(slog.DiscardHandler)}
	rec := httptest.NewRecorder()
	r.serveHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	var rep readyReport
	body, _ := io.ReadAll(rec.Body)
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	want := []readyCheck{{Name: "store", OK: true}, {Name: "venue:kalshi", Reason: "kalshi did not answer; try again later"}, {Name: "venue:polymarket", OK: true}}
	if rec.Code != http.StatusServiceUnavailable || rep.Ready || len(rep.Checks) != 3 {
		t.Fatalf("got %d %s, want 503 not ready with 3 checks", rec.Code, body)
	}
	for i, c := range want {
		if rep.Checks[i] != c {
			t.Errorf("check %d: got %+v, want %+v", i, rep.Checks[i], c)
		}
	}
	st.Close()
	r.at = r.at.Add(-readyTTL) // the cached answer is old
	rep = r.check(context.Background())
	if rep.Ready || rep.Checks[0].OK {
		t.Errorf("after the store closed: got %+v, want the store check failing", rep.Checks[0])
	}
}
