package paper_test

import (
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/venues/paper"
	"github.com/sibylmcp/sibyl/venues/venuetest"
)

// The paper venue passes the venue contract suite (it has no connection to
// lose, so the fault checks are skipped).
func TestContract(t *testing.T) {
	now := time.Date(2026, 11, 27, 4, 30, 0, 0, time.UTC)
	venuetest.Run(t, func(t *testing.T) venuetest.Harness {
		v, err := paper.New(paper.Options{Seed: 7, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return venuetest.Harness{Venue: v}
	})
}
