package orders

import (
	"path/filepath"
	"testing"

	"github.com/sibylmcp/sibyl/store"
)

// The exactly-once tests run on every store backend: the same test code,
// once per backend, as subtests named after it (TestCrashRecovery/bolt,
// TestCrashRecovery/etcd/...). A backend that cannot run here (no etcd
// binary) is skipped with how to get it, except under CI=true, where it
// fails.

// testAuditKey is the audit HMAC key of every test store.
var testAuditKey = []byte("test-key")

// backend is one store backend the tests run on.
type backend struct {
	name string
	// fresh names a new, empty place for a store's data (a file, an etcd
	// key prefix), or skips the test when the backend cannot run.
	fresh func(t *testing.T) string
	// open opens a store over the data at ref; the caller closes it.
	open func(t *testing.T, ref string) store.Store
	// shared reports that several stores may be open over one ref at once
	// (several sibyl instances).
	shared bool
	// childEnv (optional) returns what a child process (the crash test's)
	// needs in its environment to open the backend's stores.
	childEnv func() []string
}

// boltBackend is a bbolt file in the test's temp dir.
var boltBackend = backend{
	name:  "bolt",
	fresh: func(t *testing.T) string { return filepath.Join(t.TempDir(), "sibyl.db") },
	open: func(t *testing.T, path string) store.Store {
		t.Helper()
		st, err := store.OpenOptions(path, store.Options{AuditKey: testAuditKey})
		if err != nil {
			t.Fatal(err)
		}
		return st
	},
}

// backends are the backends every exactly-once test runs on.
func backends() []backend { return []backend{boltBackend, etcdBackend} }

// backendNamed returns the backend called name.
func backendNamed(name string) (backend, bool) {
	for _, be := range backends() {
		if be.name == name {
			return be, true
		}
	}
	return backend{}, false
}

// forEachBackend runs fn as one subtest per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, be backend)) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) { fn(t, be) })
	}
}
