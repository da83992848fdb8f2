package etcdtest

import (
	"context"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestWriteLoad: the load really writes what it says (one key per put; a claim, a
// record and an audit entry per claim txn) and its counts and percentiles add up.
func TestWriteLoad(t *testing.T) {
	c := StartCluster(t, 1)
	cli := c.Client(t)
	ctx := ctxT(t, 60*time.Second)
	for _, tc := range []struct {
		kind   WriteKind
		perOp  int64
		record string // the key suffix of a ValueSize value
	}{
		{PutWrite, 1, "/put/7"},
		{ClaimWrite, 3, "/rec/7"},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			w, err := NewWriteLoad(ctx, c.Endpoints(), LoadConfig{Kind: tc.kind, Clients: 8, Conns: 3, ValueSize: 300, Prefix: "t/" + tc.kind.String() + "/"})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if len(w.clients) != 3 {
				t.Fatalf("clients: got %d, want 3", len(w.clients))
			}
			r, err := w.Run(ctx, 200)
			if err != nil {
				t.Fatal(err)
			}
			if r.Ops != 200 || r.P50 <= 0 || r.P99 < r.P50 || r.OpsPerSec() <= 0 {
				t.Fatalf("result: got %+v", r)
			}
			g, err := cli.Get(ctx, "t/"+tc.kind.String()+"/", clientv3.WithPrefix())
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(g.Kvs)) != 200*tc.perOp {
				t.Fatalf("keys written: got %d, want %d", len(g.Kvs), 200*tc.perOp)
			}
			found := false
			for _, kv := range g.Kvs {
				if strings.HasSuffix(string(kv.Key), tc.record) {
					found = true
					if len(kv.Value) != 300 {
						t.Fatalf("value size of %s: got %d, want 300", kv.Key, len(kv.Value))
					}
				}
			}
			if !found {
				t.Fatalf("no key ending %s", tc.record)
			}
			// A second run writes fresh keys (claims would fail on reused ones).
			if _, err := w.Run(ctx, 10); err != nil {
				t.Fatal(err)
			}
		})
	}
	// A failing write stops the run with its error.
	w, err := NewWriteLoad(ctx, c.Endpoints(), LoadConfig{Clients: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := w.Run(cctx, 10); err == nil {
		t.Fatal("run with a cancelled context: got nil error")
	}
}
