package faulty_test

import (
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/venues/faulty"
	"github.com/sibylmcp/sibyl/venues/paper"
	"github.com/sibylmcp/sibyl/venues/venuetest"
)

// faults injects the suite's faults through faulty's script.
type faults struct{ v *faulty.Venue }

func (f faults) Inject(x venuetest.Fault) bool {
	switch x {
	case venuetest.LostResponse:
		f.v.Push(faulty.LostResponse)
	case venuetest.ServerErrorAfterAccept:
		f.v.Push(faulty.ServerErrorAfterAccept)
	case venuetest.Timeout:
		f.v.Push(faulty.Timeout)
	default:
		return false // faulty has no 429 and no per-call latency
	}
	return true
}

// faulty over the paper venue passes the venue contract suite, with lost
// responses, 5xx after acceptance and timeouts injected.
func TestContract(t *testing.T) {
	now := time.Date(2026, 11, 27, 4, 30, 0, 0, time.UTC)
	venuetest.Run(t, func(t *testing.T) venuetest.Harness {
		pv, err := paper.New(paper.Options{Seed: 7, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		v := faulty.New(pv, faulty.Options{TimeoutAfter: 50 * time.Millisecond})
		// No Sent: faulty has no wire of its own (the inner venue refuses
		// off-step orders itself).
		return venuetest.Harness{Venue: v, Faults: faults{v}, Timeout: time.Second}
	})
}
