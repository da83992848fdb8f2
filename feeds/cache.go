package feeds

import (
	"context"
	"sync"
	"time"

	"github.com/sibylmcp/sibyl"
)

// Cache wraps a Source and keeps its answers in memory for TTL, so a burst of tool
// calls (ranking 20 tokens, say) costs one upstream request per symbol and range.
// Errors are not cached. Cache is safe for concurrent use; concurrent misses for
// the same key may each ask the upstream.
type Cache struct {
	src     Source
	ttl     time.Duration
	now     func() time.Time
	maxKeys int

	mu      sync.Mutex
	daily   map[cacheKey]cacheEntry
	symbols []string
	symAt   time.Time
}

type cacheKey struct {
	sym      string
	from, to int64
}

type cacheEntry struct {
	at      time.Time
	candles []sibyl.Candle
}

var _ Source = (*Cache)(nil)

// NewCache returns a caching Source over src. ttl <= 0 means 15 minutes; now nil
// means time.Now. At most 4096 ranges are kept; beyond that the cache is cleared.
func NewCache(src Source, ttl time.Duration, now func() time.Time) *Cache {
	if ttl <= 0 {
		ttl = 15 * time.Minute
	}
	if now == nil {
		now = time.Now
	}
	return &Cache{src: src, ttl: ttl, now: now, maxKeys: 4096, daily: map[cacheKey]cacheEntry{}}
}

// Name returns the wrapped source's name.
func (c *Cache) Name() string { return c.src.Name() }

// Simulated returns the wrapped source's answer.
func (c *Cache) Simulated() bool { return c.src.Simulated() }

// Symbols returns the wrapped source's symbols, cached for TTL.
func (c *Cache) Symbols(ctx context.Context) ([]string, error) {
	c.mu.Lock()
	if c.symbols != nil && c.now().Sub(c.symAt) < c.ttl {
		s := append([]string(nil), c.symbols...)
		c.mu.Unlock()
		return s, nil
	}
	c.mu.Unlock()
	s, err := c.src.Symbols(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.symbols, c.symAt = append([]string(nil), s...), c.now()
	c.mu.Unlock()
	return s, nil
}

// Daily returns the wrapped source's candles, cached for TTL per (symbol, from,
// to). The returned slice is the caller's to modify.
func (c *Cache) Daily(ctx context.Context, symbol string, from, to time.Time) ([]sibyl.Candle, error) {
	k := cacheKey{NormalizeSymbol(symbol), unixOrZero(from), unixOrZero(to)}
	c.mu.Lock()
	if e, ok := c.daily[k]; ok && c.now().Sub(e.at) < c.ttl {
		out := append([]sibyl.Candle(nil), e.candles...)
		c.mu.Unlock()
		return out, nil
	}
	c.mu.Unlock()
	candles, err := c.src.Daily(ctx, symbol, from, to)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.daily) >= c.maxKeys {
		c.daily = map[cacheKey]cacheEntry{}
	}
	c.daily[k] = cacheEntry{at: c.now(), candles: append([]sibyl.Candle(nil), candles...)}
	c.mu.Unlock()
	return candles, nil
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return UTCDay(t).Unix()
}
