package etcdstore

import "sync"

// readCache holds the last value this instance saw of recently read or
// written keys, with its ModRevision. A write transaction takes a key's value
// from it instead of asking etcd: the commit's compare (ModRevision == the
// cached one) then checks that the value is still current, so a stale entry
// costs a retry, never a wrong commit. Read-only transactions (View) and
// reads outside transactions never use it.
type readCache struct {
	mu  sync.Mutex
	m   map[string]readVal
	max int
}

func newReadCache(max int) *readCache { return &readCache{m: map[string]readVal{}, max: max} }

func (c *readCache) get(key string) (readVal, bool) {
	if c == nil {
		return readVal{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

// put remembers key's value as of ModRevision r.mod, unless a newer one is
// known.
func (c *readCache) put(key string, r readVal) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok && old.mod > r.mod && r.mod != 0 {
		return
	}
	if len(c.m) >= c.max {
		clear(c.m) // simple and rare: the next reads go to etcd
	}
	c.m[key] = r
}
