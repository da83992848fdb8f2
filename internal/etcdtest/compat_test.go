package etcdtest

// The features a store on etcd needs, through go.etcd.io/etcd/client/v3 v3.7.3 against
// the etcd server these tests start (Debian's 3.4.23 in CI). They double as the
// cluster's self-test.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

func TestCompatKV(t *testing.T) {
	c := StartCluster(t, 3)
	cli := c.Client(t)
	ctx := ctxT(t, 30*time.Second)
	p1 := mustPut(t, cli, "kv/a", "1")
	p2 := mustPut(t, cli, "kv/a", "2")
	mustPut(t, cli, "kv/b", "3")
	if p2.Header.Revision <= p1.Header.Revision {
		t.Fatalf("revisions: got %d then %d, want increasing", p1.Header.Revision, p2.Header.Revision)
	}
	// Prefix read, sorted, with the versions and revisions a fencing scheme uses.
	resp, err := cli.Get(ctx, "kv/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 2 || string(resp.Kvs[0].Key) != "kv/a" || string(resp.Kvs[0].Value) != "2" {
		t.Fatalf("prefix get: got %v", resp.Kvs)
	}
	a := resp.Kvs[0]
	if a.Version != 2 || a.CreateRevision != p1.Header.Revision || a.ModRevision != p2.Header.Revision {
		t.Fatalf("kv/a: got version %d create %d mod %d, want 2 %d %d", a.Version, a.CreateRevision, a.ModRevision, p1.Header.Revision, p2.Header.Revision)
	}
	// A read at an old revision (MVCC history), and with a limit and count.
	if got := mustGetValue(t, cli, "kv/a", clientv3.WithRev(p1.Header.Revision)); got != "1" {
		t.Fatalf("get at revision %d: got %q, want 1", p1.Header.Revision, got)
	}
	resp, err = cli.Get(ctx, "kv/", clientv3.WithPrefix(), clientv3.WithLimit(1))
	if err != nil || len(resp.Kvs) != 1 || resp.Count != 2 || !resp.More {
		t.Fatalf("limited get: got %d kvs, count %d, more %v, err %v; want 1, 2, true", len(resp.Kvs), resp.Count, resp.More, err)
	}
	// Put with PrevKV, delete with PrevKV.
	pr, err := cli.Put(ctx, "kv/b", "4", clientv3.WithPrevKV())
	if err != nil || pr.PrevKv == nil || string(pr.PrevKv.Value) != "3" {
		t.Fatalf("put with prev kv: got %v, %v; want prev 3", pr, err)
	}
	dr, err := cli.Delete(ctx, "kv/", clientv3.WithPrefix(), clientv3.WithPrevKV())
	if err != nil || dr.Deleted != 2 || len(dr.PrevKvs) != 2 {
		t.Fatalf("delete prefix: got %v, %v; want 2 deleted", dr, err)
	}
	// Compaction: an old revision is gone afterwards.
	if _, err := cli.Compact(ctx, p2.Header.Revision); err != nil {
		t.Fatal(err)
	}
	_, err = cli.Get(ctx, "kv/a", clientv3.WithRev(p1.Header.Revision))
	if !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("get at a compacted revision: got %v, want %v", err, rpctypes.ErrCompacted)
	}
}

// TestCompatTxn: the claim protocol's building blocks. Create-if-absent
// (CreateRevision == 0) lets exactly one of many claimers win; a compare on
// ModRevision is a fencing check; a Txn writes several keys atomically or none.
func TestCompatTxn(t *testing.T) {
	c := StartCluster(t, 3)
	cli := c.Client(t)
	ctx := ctxT(t, 60*time.Second)

	// 32 concurrent claims of one key, through clients on different members: one wins.
	const claimers = 32
	var wg sync.WaitGroup
	wins := make(chan int, claimers)
	errs := make(chan error, claimers)
	for i := 0; i < claimers; i++ {
		cl, err := NewClient(c.Endpoints()[i%c.Size()])
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		wg.Add(1)
		go func(i int, cl *clientv3.Client) {
			defer wg.Done()
			r, err := cl.Txn(ctx).
				If(clientv3.Compare(clientv3.CreateRevision("claim/k"), "=", 0)).
				Then(clientv3.OpPut("claim/k", strconv.Itoa(i)), clientv3.OpPut("claim/k/owner", "o"+strconv.Itoa(i))).
				Else(clientv3.OpGet("claim/k")).
				Commit()
			if err != nil {
				errs <- err
				return
			}
			if r.Succeeded {
				wins <- i
				return
			}
			if got := r.Responses[0].GetResponseRange(); got == nil || len(got.Kvs) != 1 {
				errs <- fmt.Errorf("claimer %d lost but the else branch read %v", i, got)
			}
		}(i, cl)
	}
	wg.Wait()
	close(wins)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var winners []int
	for w := range wins {
		winners = append(winners, w)
	}
	if len(winners) != 1 {
		t.Fatalf("winners: got %v, want exactly one", winners)
	}
	if got := mustGetValue(t, cli, "claim/k/owner"); got != "o"+strconv.Itoa(winners[0]) {
		t.Fatalf("owner: got %q, want o%d (both puts of the winning txn)", got, winners[0])
	}

	// Fencing on ModRevision: an update conditioned on the revision we read succeeds
	// once; a second writer holding the same (now stale) revision fails.
	g, err := cli.Get(ctx, "claim/k")
	if err != nil {
		t.Fatal(err)
	}
	rev := g.Kvs[0].ModRevision
	update := func(v string) bool {
		r, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision("claim/k"), "=", rev)).
			Then(clientv3.OpPut("claim/k", v)).Commit()
		if err != nil {
			t.Fatal(err)
		}
		return r.Succeeded
	}
	if !update("done") {
		t.Fatal("update with the current ModRevision failed")
	}
	if update("again") {
		t.Fatal("update with a stale ModRevision succeeded")
	}
	if got := mustGetValue(t, cli, "claim/k"); got != "done" {
		t.Fatalf("got %q, want done", got)
	}
	// Compares on value, version and a lease, and a nested txn (3.3+).
	r, err := cli.Txn(ctx).If(
		clientv3.Compare(clientv3.Value("claim/k"), "=", "done"),
		clientv3.Compare(clientv3.Version("claim/k"), "=", 2),
		clientv3.Compare(clientv3.LeaseValue("claim/k"), "=", clientv3.NoLease),
	).Then(clientv3.OpTxn(
		[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision("claim/absent"), "=", 0)},
		[]clientv3.Op{clientv3.OpPut("claim/absent", "now")}, nil)).Commit()
	if err != nil || !r.Succeeded || !r.Responses[0].GetResponseTxn().Succeeded {
		t.Fatalf("compares on value/version/lease with a nested txn: got %v, %v", r, err)
	}
	// A txn that puts a key twice is refused (a store must not build one).
	_, err = cli.Txn(ctx).Then(clientv3.OpPut("dup", "1"), clientv3.OpPut("dup", "2")).Commit()
	if !errors.Is(err, rpctypes.ErrDuplicateKey) {
		t.Fatalf("txn putting one key twice: got %v, want %v", err, rpctypes.ErrDuplicateKey)
	}
}

// TestCompatLease: a granted lease kept alive keeps its keys; once the keep-alive
// stops the lease lapses and etcd deletes them (seen by a watch); revoke deletes at once.
func TestCompatLease(t *testing.T) {
	c := StartCluster(t, 3)
	cli := c.Client(t)
	ctx := ctxT(t, 60*time.Second)

	lease, err := cli.Grant(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "lease/k", "v", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	kaCtx, stopKA := context.WithCancel(ctx)
	ka, err := cli.KeepAlive(kaCtx, lease.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Twice the TTL with keep-alives: the key must still be there.
	deadline := time.After(4 * time.Second)
	answers := 0
wait:
	for {
		select {
		case r, ok := <-ka:
			if !ok {
				t.Fatal("keep-alive channel closed while kept alive")
			}
			if r.ID != lease.ID {
				t.Fatalf("keep-alive for %x, want %x", r.ID, lease.ID)
			}
			answers++
		case <-deadline:
			break wait
		}
	}
	if answers == 0 {
		t.Fatal("no keep-alive answers")
	}
	if got := mustGetValue(t, cli, "lease/k"); got != "v" {
		t.Fatalf("kept-alive key: got %q", got)
	}
	ttl, err := cli.TimeToLive(ctx, lease.ID, clientv3.WithAttachedKeys())
	if err != nil {
		t.Fatal(err)
	}
	// TTL is whole seconds left, truncated: 0 is a live lease under a second from its
	// next renewal; -1 would be an expired one.
	if ttl.TTL < 0 || ttl.GrantedTTL != 2 || len(ttl.Keys) != 1 || string(ttl.Keys[0]) != "lease/k" {
		t.Fatalf("time to live: got TTL %d, granted %d, keys %q; want >= 0, 2, [lease/k]", ttl.TTL, ttl.GrantedTTL, ttl.Keys)
	}
	leases, err := cli.Leases(ctx)
	if err != nil || len(leases.Leases) != 1 {
		t.Fatalf("leases: got %+v, %v; want one", leases, err)
	}

	// Stop the keep-alive: the lease lapses and its key is deleted.
	wch := cli.Watch(ctx, "lease/k", clientv3.WithRev(ttl.ResponseHeader.Revision+1))
	stopKA()
	select {
	case wr := <-wch:
		if err := wr.Err(); err != nil {
			t.Fatal(err)
		}
		if len(wr.Events) != 1 || wr.Events[0].Type != mvccpb.DELETE {
			t.Fatalf("watch on a lapsing lease's key: got %v, want one DELETE", wr.Events)
		}
	case <-ctx.Done():
		t.Fatal("the lease's key was not deleted after the keep-alive stopped")
	}
	if ttl, err := cli.TimeToLive(ctx, lease.ID); err != nil {
		t.Fatal(err)
	} else if ttl.TTL != -1 {
		t.Fatalf("time to live of a lapsed lease: got %d, want -1", ttl.TTL)
	}
	if _, err := cli.Put(ctx, "lease/k", "v", clientv3.WithLease(lease.ID)); !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		t.Fatalf("put with a lapsed lease: got %v, want %v", err, rpctypes.ErrLeaseNotFound)
	}

	// Revoke deletes at once; a txn can compare a key's lease.
	l2, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "lease/r", "v", clientv3.WithLease(l2.ID)); err != nil {
		t.Fatal(err)
	}
	// (With an OpGet: a txn of compares alone is served serializably, see
	// TestCompatCompareOnlyTxnIsStale.)
	r, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.LeaseValue("lease/r"), "=", l2.ID)).
		Then(clientv3.OpGet("lease/r")).Commit()
	if err != nil || !r.Succeeded {
		t.Fatalf("compare on the key's lease: got %v, %v", r, err)
	}
	if _, err := cli.Revoke(ctx, l2.ID); err != nil {
		t.Fatal(err)
	}
	if g, err := cli.Get(ctx, "lease/r"); err != nil || len(g.Kvs) != 0 {
		t.Fatalf("after revoke: got %v, %v; want no key", g, err)
	}
}

// TestCompatWatch: a watch sees puts and deletes in revision order with previous
// values, can start in the past, reports compaction, and answers progress requests.
func TestCompatWatch(t *testing.T) {
	c := StartCluster(t, 3)
	cli := c.Client(t)
	ctx := ctxT(t, 60*time.Second)
	start := mustPut(t, cli, "other", "x").Header.Revision

	// A watcher on another member than the writer's.
	wcli, err := NewClient(c.Member(1).ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer wcli.Close()
	wch := wcli.Watch(ctx, "w/", clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithRev(start+1))
	mustPut(t, cli, "w/a", "1")
	mustPut(t, cli, "w/b", "2")
	mustPut(t, cli, "w/a", "3")
	if _, err := cli.Delete(ctx, "w/b"); err != nil {
		t.Fatal(err)
	}
	type ev struct {
		typ  mvccpb.Event_EventType
		key  string
		val  string
		prev string
	}
	want := []ev{{mvccpb.PUT, "w/a", "1", ""}, {mvccpb.PUT, "w/b", "2", ""}, {mvccpb.PUT, "w/a", "3", "1"}, {mvccpb.DELETE, "w/b", "", "2"}}
	var got []ev
	var lastRev int64
	for len(got) < len(want) {
		select {
		case wr := <-wch:
			if err := wr.Err(); err != nil {
				t.Fatal(err)
			}
			for _, e := range wr.Events {
				if e.Kv.ModRevision <= lastRev {
					t.Fatalf("event revisions out of order: %d after %d", e.Kv.ModRevision, lastRev)
				}
				lastRev = e.Kv.ModRevision
				x := ev{typ: e.Type, key: string(e.Kv.Key), val: string(e.Kv.Value)}
				if e.PrevKv != nil {
					x.prev = string(e.PrevKv.Value)
				}
				got = append(got, x)
			}
		case <-ctx.Done():
			t.Fatalf("watch events: got %v, want %v", got, want)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("watch events: got %v, want %v", got, want)
	}

	// Progress: a watcher can ask where the stream stands (RequestProgress, 3.4+).
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pch := wcli.Watch(pctx, "nothing/", clientv3.WithPrefix())
	if err := wcli.RequestProgress(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case wr := <-pch:
		if !wr.IsProgressNotify() || wr.Header.Revision < lastRev {
			t.Fatalf("progress: got notify=%v at revision %d, want a notify at >= %d", wr.IsProgressNotify(), wr.Header.Revision, lastRev)
		}
	case <-ctx.Done():
		t.Fatal("no progress notification")
	}

	// A watch from a compacted revision is told so (and where to resume).
	if _, err := cli.Compact(ctx, lastRev); err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithCancel(ctx)
	defer ccancel()
	select {
	case wr := <-cli.Watch(cctx, "w/", clientv3.WithPrefix(), clientv3.WithRev(start)):
		if !errors.Is(wr.Err(), rpctypes.ErrCompacted) || wr.CompactRevision != lastRev {
			t.Fatalf("watch from compacted revision: got err %v, compact revision %d; want %v at %d", wr.Err(), wr.CompactRevision, rpctypes.ErrCompacted, lastRev)
		}
	case <-ctx.Done():
		t.Fatal("no answer to a watch from a compacted revision")
	}
}

// TestCompatConcurrency: concurrency.Session, Mutex and Election, including a holder
// whose process dies (its session's lease lapses and the next one takes over).
func TestCompatConcurrency(t *testing.T) {
	c := StartCluster(t, 3)
	ctx := ctxT(t, 60*time.Second)
	newSession := func(ttl int) (*clientv3.Client, *concurrency.Session) {
		cli, err := NewClient(c.Endpoints()...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close() })
		s, err := concurrency.NewSession(cli, concurrency.WithTTL(ttl))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return cli, s
	}

	t.Run("mutex", func(t *testing.T) {
		_, s1 := newSession(60)
		cli2, s2 := newSession(60)
		m1 := concurrency.NewMutex(s1, "locks/a")
		m2 := concurrency.NewMutex(s2, "locks/a")
		if err := m1.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := m2.TryLock(ctx); !errors.Is(err, concurrency.ErrLocked) {
			t.Fatalf("try lock on a held mutex: got %v, want %v", err, concurrency.ErrLocked)
		}
		// The holder's IsOwner compare guards a write; the other's does not pass.
		r, err := cli2.Txn(ctx).If(m1.IsOwner()).Then(clientv3.OpPut("guarded", "1")).Commit()
		if err != nil || !r.Succeeded {
			t.Fatalf("write guarded by the holder's IsOwner: got %v, %v", r, err)
		}
		locked := make(chan error, 1)
		go func() { locked <- m2.Lock(ctx) }()
		select {
		case err := <-locked:
			t.Fatalf("second Lock returned (%v) while the first holds it", err)
		case <-time.After(300 * time.Millisecond):
		}
		if err := m1.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-locked; err != nil {
			t.Fatal(err)
		}
		if err := m2.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("mutex holder dies", func(t *testing.T) {
		cli1, s1 := newSession(1)
		_, s2 := newSession(60)
		m1 := concurrency.NewMutex(s1, "locks/b")
		if err := m1.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		s1.Orphan()  // stop keeping the lease alive, as a crashed process would
		cli1.Close() // and drop its connection
		m2 := concurrency.NewMutex(s2, "locks/b")
		if err := m2.Lock(ctx); err != nil {
			t.Fatalf("lock after the holder's lease lapsed: %v", err)
		}
		if err := m2.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("election", func(t *testing.T) {
		cli1, s1 := newSession(1)
		_, s2 := newSession(60)
		_, s3 := newSession(60)
		e1 := concurrency.NewElection(s1, "elect/")
		e2 := concurrency.NewElection(s2, "elect/")
		obs := concurrency.NewElection(s3, "elect/")
		if err := e1.Campaign(ctx, "one"); err != nil {
			t.Fatal(err)
		}
		oc, ocancel := context.WithCancel(ctx)
		defer ocancel()
		observed := obs.Observe(oc)
		waitLeader := func(want string) {
			t.Helper()
			for {
				select {
				case r, ok := <-observed:
					if !ok {
						t.Fatalf("observe closed waiting for %q", want)
					}
					if string(r.Kvs[0].Value) == want {
						return
					}
				case <-ctx.Done():
					t.Fatalf("observer never saw leader %q", want)
				}
			}
		}
		waitLeader("one")
		if err := e1.Proclaim(ctx, "one-b"); err != nil {
			t.Fatal(err)
		}
		waitLeader("one-b")
		won := make(chan error, 1)
		go func() { won <- e2.Campaign(ctx, "two") }()
		// The leader's process dies: its lease lapses and the waiting candidate wins.
		s1.Orphan()
		cli1.Close()
		if err := <-won; err != nil {
			t.Fatal(err)
		}
		waitLeader("two")
		l, err := obs.Leader(ctx)
		if err != nil || string(l.Kvs[0].Value) != "two" {
			t.Fatalf("leader: got %v, %v; want two", l, err)
		}
		if err := e2.Resign(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := obs.Leader(ctx); !errors.Is(err, concurrency.ErrElectionNoLeader) {
			t.Fatalf("leader after resign: got %v, want %v", err, concurrency.ErrElectionNoLeader)
		}
	})

	t.Run("session lapses", func(t *testing.T) {
		_, s := newSession(1)
		cli, err := NewClient(c.Endpoints()...)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		if _, err := cli.Revoke(ctx, s.Lease()); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.Done():
		case <-ctx.Done():
			t.Fatal("session not done after its lease was revoked")
		}
	})
}

// TestCompatSurvivesMemberLoss: watches, leases and sessions carry on through the loss
// and return of the member the client was talking to.
func TestCompatSurvivesMemberLoss(t *testing.T) {
	c := StartCluster(t, 3)
	ctx := ctxT(t, 90*time.Second)
	// Clients pinned to m0 first in their endpoint list; m0 is the one killed.
	cli, err := NewClient(c.Endpoints()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	s, err := concurrency.NewSession(cli, concurrency.WithTTL(5))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := cli.Put(ctx, "s/held", "v", clientv3.WithLease(s.Lease())); err != nil {
		t.Fatal(err)
	}
	wch := cli.Watch(ctx, "s/w")
	for _, m := range c.Members() {
		if err := m.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitHealthy(ctx); err != nil {
			t.Fatal(err)
		}
		mustPut(t, c.Client(t), "s/w", m.Name())
		select {
		case wr := <-wch:
			if err := wr.Err(); err != nil {
				t.Fatal(err)
			}
			if len(wr.Events) != 1 || string(wr.Events[0].Kv.Value) != m.Name() {
				t.Fatalf("watch after %s died: got %v", m.Name(), wr.Events)
			}
		case <-ctx.Done():
			t.Fatalf("watch saw nothing after %s died", m.Name())
		}
		if err := m.Restart(ctx); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-s.Done():
		t.Fatal("the session's lease lapsed while members died one at a time")
	default:
	}
	if got := mustGetValue(t, cli, "s/held"); got != "v" {
		t.Fatalf("leased key: got %q", got)
	}
}

// TestCompatCompareOnlyTxnIsStale: etcd serves a Txn whose branches hold no operation
// like a serializable read (isTxnSerializable is vacuously true), from the answering
// member's local state without asking the leader, so right after a put acknowledged
// by one member, a compare-only txn on another can still see the key's old state. A
// txn with an OpGet (linearizable) in a branch, or any write, does not. So: never use a
// compare-only txn as a check ("am I still the owner?"); put an OpGet in it.
func TestCompatCompareOnlyTxnIsStale(t *testing.T) {
	c := StartCluster(t, 3)
	ctx := ctxT(t, 120*time.Second)
	var clis []*clientv3.Client
	for _, m := range c.Members() {
		cl, err := NewClient(m.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		clis = append(clis, cl)
	}
	check := func(i int, withGet bool) bool { // put through one member, compare through another
		k := "stale/" + strconv.Itoa(i)
		if _, err := clis[i%3].Put(ctx, k, "v"); err != nil {
			t.Fatal(err)
		}
		txn := clis[(i+1)%3].Txn(ctx).If(clientv3.Compare(clientv3.Value(k), "=", "v"))
		if withGet {
			txn = txn.Then(clientv3.OpGet(k))
		}
		r, err := txn.Commit()
		if err != nil {
			t.Fatal(err)
		}
		return r.Succeeded
	}
	for i := 0; i < 300; i++ {
		if !check(i, true) {
			t.Fatalf("round %d: a txn with an OpGet did not see the acknowledged put", i)
		}
	}
	for i := 300; i < 3300; i++ {
		if !check(i, false) {
			t.Logf("round %d: a compare-only txn on another member missed the acknowledged put", i-300)
			return
		}
	}
	t.Fatal("3000 compare-only txns all saw the put just acknowledged: the documented staleness was not seen")
}
