package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Transport returns an http.RoundTripper that counts every request through base
// (nil: http.DefaultTransport) in sibyl_venue_requests_total and
// sibyl_venue_request_duration_seconds under the label venue. Venue adapters
// and live feeds take it as their client's Transport, so they need not import
// this package:
//
//	client := &http.Client{Timeout: 10 * time.Second, Transport: m.Transport("kalshi", nil, nil)}
//
// endpoint names a request's endpoint for the label; nil means Endpoint. It must
// return a small, fixed set of names (a path template), never an id or a query.
// A nil *Metrics returns base unchanged.
func (m *Metrics) Transport(venue string, base http.RoundTripper, endpoint func(*http.Request) string) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if m == nil {
		return base
	}
	if endpoint == nil {
		endpoint = Endpoint
	}
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		ep := endpoint(r)
		start := time.Now()
		resp, err := base.RoundTrip(r)
		m.venueSeconds.WithLabelValues(venue, ep).Observe(time.Since(start).Seconds())
		status := "error"
		if err == nil {
			status = strconv.Itoa(resp.StatusCode)
		}
		m.venueReqs.WithLabelValues(venue, ep, status).Inc()
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Endpoint is the default endpoint label: the method and the URL path with every
// segment that looks like an identifier (it holds a digit, or is longer than 32
// characters) replaced by {id}, and without the query. So
// GET /trade-api/v2/markets/KXBTC-26DEC31-T120000 is "GET /trade-api/v2/markets/{id}".
func Endpoint(r *http.Request) string {
	segs := strings.Split(r.URL.Path, "/")
	for i, s := range segs {
		if len(s) > 32 || strings.ContainsAny(s, "0123456789") && !isVersion(s) {
			segs[i] = "{id}"
		}
	}
	return r.Method + " " + strings.Join(segs, "/")
}

// isVersion reports whether s is an API version segment such as v2 or v3.
func isVersion(s string) bool {
	if len(s) < 2 || len(s) > 3 || s[0] != 'v' {
		return false
	}
	_, err := strconv.Atoi(s[1:])
	return err == nil
}
