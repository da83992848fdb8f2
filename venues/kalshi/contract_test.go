package kalshi

import (
	"net/http"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/venues/kalshi/kalshitest"
	"github.com/sibylmcp/sibyl/venues/venuetest"
)

// contractFaults maps the contract suite's faults onto the httptest Kalshi's,
// on the next create request.
type contractFaults struct{ srv *kalshitest.Server }

func (c contractFaults) Inject(f venuetest.Fault) bool {
	const route = "POST /portfolio/events/orders"
	switch f {
	case venuetest.LostResponse:
		c.srv.Inject(kalshitest.Fault{Route: route, Kind: kalshitest.DropAfter})
	case venuetest.ServerErrorAfterAccept:
		c.srv.Inject(kalshitest.Fault{Route: route, Kind: kalshitest.ServerErrorAfter})
	case venuetest.RateLimited:
		// The client backs off and retries a 429 twice before answering
		// rate_limited: the exchange keeps refusing all three.
		c.srv.Inject(kalshitest.Fault{Route: route, Kind: kalshitest.RateLimit, Times: 3})
	case venuetest.Timeout:
		c.srv.Inject(kalshitest.Fault{Route: route, Kind: kalshitest.HangAfter, Delay: 10 * time.Second})
	case venuetest.Slow:
		c.srv.Inject(kalshitest.Fault{Route: route, Kind: kalshitest.Slow, Delay: 300 * time.Millisecond})
	default:
		return false
	}
	return true
}

// TestContract runs the venue contract suite against the Kalshi adapter
// talking to the httptest Kalshi (demo credentials), with its faults.
func TestContract(t *testing.T) {
	venuetest.Run(t, func(t *testing.T) venuetest.Harness {
		f := newFixture(t, kalshitest.Options{}, Config{HTTPClient: &http.Client{Timeout: 15 * time.Second}})
		v := newVenue(t, f, EnvDemo, false)
		return venuetest.Harness{
			Venue:  v,
			Faults: contractFaults{f.srv},
			Sent:   func() int { return f.srv.Requests("POST /portfolio/events/orders") },
		}
	})
}
