package kalshi

import (
	"testing"
	"time"
)

func TestBucketArithmetic(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := newBucket(100, 100) // 100 tokens/s, one second of burst
	for i := 0; i < 10; i++ {
		if w := b.reserve(t0, 10); w != 0 {
			t.Fatalf("request %d: got wait %v, want 0 (within the burst)", i, w)
		}
	}
	if w := b.reserve(t0, 10); w != 100*time.Millisecond {
		t.Errorf("11th request: got wait %v, want 100ms", w)
	}
	// Half a second later 50 tokens came back, 10 are owed: 40 free.
	if w := b.reserve(t0.Add(500*time.Millisecond), 10); w != 0 {
		t.Errorf("after refill: got %v, want 0", w)
	}
	// A 429 empties the bucket and closes it for the back-off, which doubles.
	t1 := t0.Add(time.Second)
	if d := b.penalize(t1); d != minBackoff {
		t.Errorf("first back-off: got %v, want %v", d, minBackoff)
	}
	if w := b.reserve(t1, 10); w != minBackoff {
		t.Errorf("wait after 429: got %v, want %v", w, minBackoff)
	}
	if d := b.penalize(t1); d != 2*minBackoff {
		t.Errorf("second back-off: got %v, want %v", d, 2*minBackoff)
	}
	for i := 0; i < 10; i++ {
		b.penalize(t1)
	}
	if b.backoff != maxBackoff {
		t.Errorf("back-off cap: got %v, want %v", b.backoff, maxBackoff)
	}
	b.succeeded()
	if d := b.penalize(t1); d != minBackoff {
		t.Errorf("after success: got %v, want %v", d, minBackoff)
	}
	b.resize(10, 20)
	if b.tokens > 20 || b.rate != 10 {
		t.Errorf("resize: tokens %v rate %v", b.tokens, b.rate)
	}
}

func TestLimiterSeparatesReadsAndWrites(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLimiter(func() time.Time { return now })
	for i := 0; i < BasicWriteRate/DefaultCost; i++ {
		l.write.reserve(now, DefaultCost)
	}
	if w := l.write.reserve(now, DefaultCost); w == 0 {
		t.Error("write bucket not exhausted")
	}
	if w := l.read.reserve(now, DefaultCost); w != 0 {
		t.Errorf("reads wait for writes: %v", w)
	}
	l.SetLimits(AccountLimits{Read: BucketLimit{RefillRate: 400, BucketCapacity: 400}})
	if l.read.rate != 400 || l.write.rate != BasicWriteRate {
		t.Errorf("SetLimits: read %v write %v", l.read.rate, l.write.rate)
	}
}
