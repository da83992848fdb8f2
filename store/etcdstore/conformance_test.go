package etcdstore

import (
	"sync"
	"testing"

	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/store/storetest"
)

// openConformance opens an instance for the suite, which closes it itself.
func openConformance(t *testing.T, prefix string, key []byte) *Store {
	t.Helper()
	return mustOpen(t, shared.Endpoints(), prefix, func(o *Options) { o.AuditKey = key })
}

// TestConformance runs the Store conformance suite against the shared
// 3-member cluster: each subtest under a fresh prefix, reopened as a new
// instance on the same prefix for the durability checks.
func TestConformance(t *testing.T) {
	var prefixes sync.Map // store -> its prefix
	open := func(t *testing.T, prefix string, key []byte) store.Store {
		s := openConformance(t, prefix, key)
		prefixes.Store(store.Store(s), prefix)
		return s
	}
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, newPrefix(t), nil) },
		storetest.WithReopen(func(t *testing.T, closed store.Store) store.Store {
			p, _ := prefixes.Load(closed)
			return open(t, p.(string), nil)
		}),
		storetest.WithAuditKey(func(t *testing.T, key []byte) store.Store { return open(t, newPrefix(t), key) }))
}

// TestSharedConformance runs the suite's two-instance checks: two instances
// over one prefix.
func TestSharedConformance(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		p := newPrefix(t)
		return openConformance(t, p, nil), openConformance(t, p, nil)
	})
}
