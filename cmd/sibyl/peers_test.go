package main

import (
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// allowedIn counts the requests one key's limiter of a lets through when
// offered 1,000 per second for d of simulated time from t0.
func allowedIn(a *keyAuth, key string, t0 time.Time, d time.Duration) int {
	l := a.limiter(key)
	n := 0
	for t := t0; t.Before(t0.Add(d)); t = t.Add(time.Millisecond) {
		if l.AllowN(t, 1) {
			n++
		}
	}
	return n
}

func TestRateLimitShares(t *testing.T) {
	st := mustBolt(t)
	// After the real clock: setInstances changes the limiters at time.Now.
	clock := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	names := []string{"a", "b", "c"}
	ps := map[string]*peers{}
	auths := map[string]*keyAuth{}
	for _, name := range names {
		ps[name] = newPeers(st, name, now)
		auths[name] = &keyAuth{rps: 30, limiters: map[string]*rate.Limiter{}}
	}
	beat := func(name string) int {
		t.Helper()
		n, err := ps[name].beat()
		if err != nil {
			t.Fatal(err)
		}
		auths[name].setInstances(n)
		return n
	}
	advance := func(d time.Duration, alive ...string) {
		for end := clock.Add(d); clock.Before(end); {
			clock = clock.Add(peerBeat)
			for _, name := range alive {
				beat(name)
			}
		}
	}

	if n := beat("a"); n != 1 {
		t.Errorf("a alone: got %d instances, want 1", n)
	}
	beat("b")
	beat("c")
	for _, name := range names {
		if n := beat(name); n != 3 {
			t.Errorf("%s with three beating: got %d instances, want 3", name, n)
		}
	}
	// Each allows its third: a burst of 2 s of 10/s, then 10/s.
	total := 0
	for _, name := range names {
		got := allowedIn(auths[name], "k1", clock, 10*time.Second)
		if got < 115 || got > 121 { // 20 + 10 s × 10/s, ± the edges of the millisecond steps
			t.Errorf("%s allowed %d requests in 10 s with 3 instances, want about 120 (a third of 30/s)", name, got)
		}
		total += got
	}
	if total > 365 {
		t.Errorf("the three together allowed %d in 10 s, want at most 360 (30/s and 60 of burst)", total)
	}

	// c dies without leaving: after its beats stop for peerTTL, a and b
	// count two, and the limiters already made take half each.
	advance(peerTTL+peerBeat, "a", "b")
	for _, name := range []string{"a", "b"} {
		if n := beat(name); n != 2 {
			t.Errorf("%s after c stopped beating: got %d instances, want 2", name, n)
		}
		if got := auths[name].limiter("k1").Limit(); got != 15 {
			t.Errorf("%s's limit after c died: got %v/s, want 15/s", name, got)
		}
	}
	got := allowedIn(auths["a"], "k1", clock.Add(time.Hour), 10*time.Second)
	if got < 175 || got > 181 { // 30 + 10 s × 15/s
		t.Errorf("a allowed %d requests in 10 s with 2 instances, want about 180", got)
	}

	// b leaves on shutdown: a counts itself alone at its next beat.
	if err := ps["b"].leave(); err != nil {
		t.Fatal(err)
	}
	if n := beat("a"); n != 1 {
		t.Errorf("a after b left: got %d instances, want 1", n)
	}
	if got := auths["a"].limiter("k1").Limit(); got != 30 {
		t.Errorf("a's limit alone: got %v/s, want 30/s", got)
	}

	// c's entry, unchanged for peerForget, is removed from the bucket.
	advance(peerForget+peerBeat, "a")
	if _, ok := ps["a"].seen["c"]; ok {
		t.Error("a still tracks c, dead for longer than peerForget")
	}
	// c comes back: counted again at once.
	beat("c")
	if n := beat("a"); n != 2 {
		t.Errorf("a after c came back: got %d instances, want 2", n)
	}
}

func TestRateLimitSharesUnlimited(t *testing.T) {
	a := &keyAuth{rps: 0, limiters: map[string]*rate.Limiter{}}
	a.setInstances(3)
	if got := a.limiter("k").Limit(); got != rate.Inf {
		t.Errorf("no --rate-limit with 3 instances: got %v, want unlimited", got)
	}
}
