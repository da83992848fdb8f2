package paper

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

var t0 = time.Date(2026, 11, 27, 4, 30, 0, 0, time.UTC)

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// MustNew returns a venue with a settable clock starting at t.
func MustNew(tb testing.TB, opts Options, t time.Time) (*Venue, *clock) {
	tb.Helper()
	c := &clock{t: t}
	if opts.Now == nil {
		opts.Now = c.Now
	}
	v, err := New(opts)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return v, c
}

// MustOpenStore opens a bbolt file, and checks and closes it at cleanup.
func MustOpenStore(tb testing.TB, path string) store.Store {
	tb.Helper()
	s, err := store.Open(path)
	if err != nil {
		tb.Fatalf("store.Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Check(); err != nil {
			tb.Errorf("bbolt check: %v", err)
		}
		s.Close()
	})
	return s
}

// wantCode fails unless err is a *sibyl.Error with code (and field, if given).
func wantCode(tb testing.TB, err error, code sibyl.Code, field string) *sibyl.Error {
	tb.Helper()
	var e *sibyl.Error
	if !errors.As(err, &e) {
		tb.Fatalf("got error %v, want *sibyl.Error with code %s", err, code)
	}
	if e.Code != code {
		tb.Fatalf("got code %s (%v), want %s", e.Code, err, code)
	}
	if field != "" && e.Field != field {
		tb.Fatalf("got field %q (%v), want %q", e.Field, err, field)
	}
	return e
}

var ctx = context.Background()

// openMarket returns an open crypto market whose Yes fair value is near p.
func openMarket(tb testing.TB, v *Venue, p float64) *marketDef {
	tb.Helper()
	now := v.now()
	var best *marketDef
	bd := 2.0
	for _, m := range v.catalogue(now).defs {
		if m.tok == nil || m.status(now) != sibyl.StatusOpen || m.close.Sub(now) < 3*day || now.Before(m.open) {
			continue
		}
		if d := abs(m.fair(now) - p); d < bd {
			best, bd = m, d
		}
	}
	if best == nil {
		tb.Fatal("no open market")
	}
	return best
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// dec returns f as an exact decimal (its shortest decimal form).
func dec(f float64) decimal.Decimal { return decimal.NewFromFloat(f) }

// fl returns d as a float64, for comparisons with the float64 market data.
func fl(d decimal.Decimal) float64 { return d.InexactFloat64() }
