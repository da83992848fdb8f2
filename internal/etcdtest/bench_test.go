package etcdtest

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkRawEtcdPut measures durable etcd writes with no sibyl in the way: 64
// concurrent clients (each its own *clientv3.Client over all endpoints, or, in the
// 1conn variants, all sharing one, as the goroutines of one sibyl instance do) doing
// Puts of a 300-byte value to fresh keys, or claim-shaped Txns (a CreateRevision == 0
// compare, then 3 puts), against a 3-member and a 1-member cluster of the etcd binary
// with its default fsync. It reports ops/s and p50/p99 latency (ns/op is wall time
// per op across all clients). Run with a fixed count, e.g. -benchtime 20000x.
func BenchmarkRawEtcdPut(b *testing.B) {
	for _, members := range []int{3, 1} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			c := StartCluster(b, members)
			for _, tc := range []struct {
				kind  WriteKind
				conns int
			}{{PutWrite, 64}, {ClaimWrite, 64}, {PutWrite, 1}, {ClaimWrite, 1}} {
				name := tc.kind.String()
				if tc.conns == 1 {
					name += "/1conn"
				}
				kind := tc.kind
				b.Run(name, func(b *testing.B) {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
					defer cancel()
					w, err := NewWriteLoad(ctx, c.Endpoints(), LoadConfig{Kind: kind, Clients: 64, Conns: tc.conns, ValueSize: 300})
					if err != nil {
						b.Fatal(err)
					}
					defer w.Close()
					b.ResetTimer()
					r, err := w.Run(ctx, b.N)
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
					r.Report(b)
				})
			}
		})
	}
}
