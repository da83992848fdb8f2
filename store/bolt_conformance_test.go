package store_test

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/store/storetest"
)

// TestBoltConformance runs the Store conformance suite against bbolt files:
// each subtest on a fresh file, reopened from the same path for the
// durability checks, and checked (bbolt's consistency check and the audit
// chain) once the suite has closed it.
func TestBoltConformance(t *testing.T) {
	var paths sync.Map // store -> its file (Path is empty once closed)
	open := func(t *testing.T, path string, key []byte) store.Store {
		s := openBolt(t, path, key)
		paths.Store(s, path)
		return s
	}
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, filepath.Join(t.TempDir(), "sibyl.db"), nil) },
		storetest.WithReopen(func(t *testing.T, closed store.Store) store.Store {
			path, _ := paths.Load(closed)
			return open(t, path.(string), nil)
		}),
		storetest.WithAuditKey(func(t *testing.T, key []byte) store.Store {
			return openBolt(t, filepath.Join(t.TempDir(), "sibyl.db"), key)
		}))
}

// openBolt opens the file at path; after the suite has closed it, cleanup
// opens it read-only and checks the file and the audit chain.
func openBolt(t *testing.T, path string, key []byte) store.Store {
	t.Helper()
	s, err := store.OpenOptions(path, store.Options{AuditKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ro, err := store.OpenReadOnly(path, store.Options{AuditKey: key})
		if errors.Is(err, store.ErrLocked) {
			return // reopened by the test: that store's cleanup checks it
		}
		if err != nil {
			t.Errorf("reopening %s to check it: %v", path, err)
			return
		}
		defer ro.Close()
		if err := ro.Check(); err != nil {
			t.Errorf("bbolt check: %v", err)
		}
		if v, err := ro.VerifyAudit(); err != nil || !v.OK {
			t.Errorf("audit chain: %+v, %v", v, err)
		}
	})
	return s
}
