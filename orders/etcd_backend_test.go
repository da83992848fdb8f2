package orders

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/internal/etcdtest"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/store/etcdstore"
)

// etcdEndpointsEnv hands a child process (the crash test's) the endpoints of
// the parent's cluster.
const etcdEndpointsEnv = "SIBYL_TEST_ETCD_ENDPOINTS"

// sharedEtcd is one real 3-member etcd cluster for the whole test binary,
// started by the first test that needs it and stopped by TestMain. Each
// harness keeps its data under its own key prefix.
var sharedEtcd struct {
	once sync.Once
	c    *etcdtest.Cluster
	stop func()
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedEtcd.stop != nil {
		sharedEtcd.stop()
	}
	os.Exit(code)
}

// etcdEndpoints returns the endpoints of the test binary's cluster, starting
// it, or skips the test when there is no etcd binary (fails it under CI=true).
func etcdEndpoints(t *testing.T) []string {
	t.Helper()
	if env := os.Getenv(etcdEndpointsEnv); env != "" {
		return strings.Split(env, ",")
	}
	etcdtest.RequireEtcd(t)
	sharedEtcd.once.Do(func() { sharedEtcd.c, sharedEtcd.stop, sharedEtcd.err = etcdtest.Start(3) })
	if sharedEtcd.err != nil {
		t.Fatalf("starting the tests' etcd cluster: %v", sharedEtcd.err)
	}
	return sharedEtcd.c.Endpoints()
}

var etcdPrefixes atomic.Int64

// etcdBackend is a key prefix of its own on the shared 3-member cluster.
var etcdBackend = backend{
	name: "etcd",
	fresh: func(t *testing.T) string {
		etcdEndpoints(t)
		return fmt.Sprintf("/sibyl-orders-test/%d-%d/", os.Getpid(), etcdPrefixes.Add(1))
	},
	open: func(t *testing.T, prefix string) store.Store {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := etcdstore.Open(ctx, etcdstore.Options{Endpoints: etcdEndpoints(t), Prefix: prefix, AuditKey: testAuditKey})
		if err != nil {
			t.Fatal(err)
		}
		return st
	},
	shared: true,
	childEnv: func() []string {
		return []string{etcdEndpointsEnv + "=" + strings.Join(sharedEtcd.c.Endpoints(), ",")}
	},
}
