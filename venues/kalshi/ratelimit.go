package kalshi

import (
	"context"
	"sync"
	"time"
)

// Kalshi's defaults: each request costs 10 tokens; the basic tier refills 200
// read and 100 write tokens per second, with a bucket of one second's worth.
const (
	DefaultCost       = 10
	BasicReadRate     = 200
	BasicWriteRate    = 100
	minBackoff        = 250 * time.Millisecond
	maxBackoff        = 8 * time.Second
	backoffMultiplier = 2
)

// bucket is one token bucket with a 429 back-off. Time is passed in, so the
// arithmetic is testable without sleeping.
type bucket struct {
	mu       sync.Mutex
	rate     float64 // tokens per second
	capacity float64
	tokens   float64
	last     time.Time
	blocked  time.Time     // no request before this (after a 429)
	backoff  time.Duration // next back-off after a 429
}

func newBucket(rate, capacity float64) *bucket {
	return &bucket{rate: rate, capacity: capacity, tokens: capacity}
}

func (b *bucket) refill(now time.Time) {
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens += now.Sub(b.last).Seconds() * b.rate
		if b.tokens > b.capacity {
			b.tokens = b.capacity
		}
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
}

// reserve takes cost tokens at now and returns how long the caller must wait
// before sending (0 to send at once). Tokens may go negative: later callers
// queue behind.
func (b *bucket) reserve(now time.Time, cost float64) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	var wait time.Duration
	if now.Before(b.blocked) {
		wait = b.blocked.Sub(now)
	}
	b.tokens -= cost
	if b.tokens < 0 {
		if w := time.Duration(-b.tokens / b.rate * float64(time.Second)); w > wait {
			wait = w
		}
	}
	return wait
}

// refund gives back cost tokens of a reservation that was never sent.
func (b *bucket) refund(cost float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens += cost
	if b.tokens > b.capacity {
		b.tokens = b.capacity
	}
}

// penalize records a 429 at now: the bucket is emptied and closed for the
// current back-off, which doubles (up to maxBackoff) until a success.
func (b *bucket) penalize(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.backoff == 0 {
		b.backoff = minBackoff
	}
	d := b.backoff
	b.blocked = now.Add(d)
	b.tokens = 0
	b.last = now
	b.backoff *= backoffMultiplier
	if b.backoff > maxBackoff {
		b.backoff = maxBackoff
	}
	return d
}

// succeeded resets the back-off after an answer that was not a 429.
func (b *bucket) succeeded() {
	b.mu.Lock()
	b.backoff = 0
	b.mu.Unlock()
}

func (b *bucket) resize(rate, capacity float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rate, b.capacity = rate, capacity
	if b.tokens > capacity {
		b.tokens = capacity
	}
}

// Limiter is the client-side rate limiter: separate token buckets for reads
// (GET) and writes (everything else), sized for Kalshi's basic tier until
// SetLimits says otherwise.
type Limiter struct {
	read, write *bucket
	now         func() time.Time
	sleep       func(ctx context.Context, d time.Duration) error
}

// NewLimiter returns a Limiter sized for the basic tier. now may be nil.
func NewLimiter(now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{
		read:  newBucket(BasicReadRate, BasicReadRate),
		write: newBucket(BasicWriteRate, BasicWriteRate),
		now:   now,
		sleep: sleepCtx,
	}
}

// SetLimits resizes the buckets from GET /account/limits. Non-positive
// numbers keep the current size.
func (l *Limiter) SetLimits(lim AccountLimits) {
	if lim.Read.RefillRate > 0 && lim.Read.BucketCapacity > 0 {
		l.read.resize(lim.Read.RefillRate, lim.Read.BucketCapacity)
	}
	if lim.Write.RefillRate > 0 && lim.Write.BucketCapacity > 0 {
		l.write.resize(lim.Write.RefillRate, lim.Write.BucketCapacity)
	}
}

func (l *Limiter) bucketFor(write bool) *bucket {
	if write {
		return l.write
	}
	return l.read
}

// Wait blocks until a request of this kind and cost may be sent, or ctx ends
// (then its tokens are given back).
func (l *Limiter) Wait(ctx context.Context, write bool, cost float64) error {
	b := l.bucketFor(write)
	if d := b.reserve(l.now(), cost); d > 0 {
		if err := l.sleep(ctx, d); err != nil {
			b.refund(cost)
			return err
		}
	}
	return nil
}

// Penalize records a 429 on this kind's bucket and returns the back-off.
func (l *Limiter) Penalize(write bool) time.Duration { return l.bucketFor(write).penalize(l.now()) }

// Succeeded resets this kind's back-off.
func (l *Limiter) Succeeded(write bool) { l.bucketFor(write).succeeded() }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
