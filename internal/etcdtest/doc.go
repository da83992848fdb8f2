// Package etcdtest runs real etcd clusters for tests and benchmarks: n members of the
// `etcd` binary (Debian's etcd-server package, /usr/bin/etcd) as child processes on
// free loopback ports, each with its own data dir, logs captured to files (the tail is
// logged only when the test fails), every process killed by a test cleanup.
//
//	c := etcdtest.StartCluster(t, 3)          // healthy 3-member cluster, or Skip/Fatal
//	cli := c.Client(t)                        // *clientv3.Client on all endpoints
//	c.Member(1).Kill()                        // SIGKILL one member
//	c.Member(1).Restart(ctx)                  // same data dir and ports; waits until healthy
//	killed, _ := c.KillQuorum()               // a majority down: writes and linearizable reads block
//	c.RestartStopped(ctx)                     // quorum back
//
// For a cluster shared by a whole test binary, Start returns the cluster and a stop
// func instead of using a testing.TB (call it from TestMain); benchmarks use
// StartCluster with their *testing.B.
//
// Without an etcd binary, StartCluster and RequireEtcd skip the test with how to
// install it (sudo apt-get install etcd-server), except under CI=true, where they fail
// it: .ci/run installs etcd-server through scripts/install-tools.sh.
//
// Members run durable: every write is fsynced as etcd does by default (etcd 3.4 has no
// --unsafe-no-fsync, and the benchmarks must measure durable etcd). Heartbeat and
// election timeout are 50 ms and 500 ms (WithTimeouts); --max-txn-ops and
// --max-request-bytes stay etcd's defaults (128 ops, 1.5 MiB) unless WithMaxTxnOps or
// WithMaxRequestBytes set them.
//
// # Client v3.7.3 against the Debian server 3.4.23
//
// The tests in this package run go.etcd.io/etcd/client/v3 v3.7.3 against the etcd
// 3.4.23 server and double as the cluster's self-test.
//
// What a store on etcd must know (checked by TestKillRestartMember): a write sent while
// the cluster has no leader (the leader just died) can fail after about 6 s with
// "etcdserver: request timed out"; its outcome is unknown (it may yet commit), and the
// client does not retry it. Without quorum, writes and linearizable reads fail (or
// block until the context ends); serializable reads still answer from a member's
// possibly stale copy (TestQuorumLossAndBack).
//
// This package is for tests only: it must never be imported by non-test code.
package etcdtest
