package orders

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/risk"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/venues/faulty"
)

// Several sibyl instances over one shared store (etcd): each instance is a
// store of its own (its own connection, lease and owner) and a Service whose
// Owner is that store's Owner, all in front of one venue.

// instance is one sibyl instance of a shared-state test.
type instance struct {
	store store.Store
	svc   *Service
}

// forEachSharedBackend runs fn as one subtest per backend whose stores can
// share one state.
func forEachSharedBackend(t *testing.T, fn func(t *testing.T, be backend)) {
	for _, be := range backends() {
		if be.shared {
			t.Run(be.name, func(t *testing.T) { fn(t, be) })
		}
	}
}

// openInstances opens n instances over one fresh state of be, in front of
// venue. In cleanup it waits for their completions, closes them, and checks
// the shared audit chain through a store of its own.
func openInstances(t *testing.T, be backend, n int, venue sibyl.Venue, clock *clock, mod func(i int, o *Options)) []*instance {
	t.Helper()
	ref := be.fresh(t)
	var out []*instance
	for i := range n {
		st := be.open(t, ref)
		opts := Options{Store: st, Owner: st.Owner(), Venues: map[string]sibyl.Venue{"paper": venue}, Now: clock.Now, WaitInFlight: 2 * time.Second}
		if mod != nil {
			mod(i, &opts)
		}
		out = append(out, &instance{store: st, svc: New(opts)})
	}
	t.Cleanup(func() {
		for _, in := range out {
			in.svc.Flush()
			if err := in.store.FlushAudit(context.Background()); err != nil && !errors.Is(err, store.ErrClosed) {
				t.Errorf("flushing audit: %v", err)
			}
			in.store.Close()
		}
		check := be.open(t, ref)
		defer check.Close()
		if res, err := check.VerifyAudit(); err != nil || !res.OK {
			t.Errorf("the shared audit chain: got %+v, %v; want OK", res, err)
		}
	})
	return out
}

// One key, sent concurrently to two instances many times: one order at the
// venue, one fresh answer, every other caller a replay of it.
func TestInstancesSameKeyPlaceOnce(t *testing.T) {
	forEachSharedBackend(t, func(t *testing.T, be backend) {
		x := newExchange()
		venue := faulty.New(x.venue(), faulty.Options{Latency: 20 * time.Millisecond})
		clock := newClock()
		ins := openInstances(t, be, 2, venue, clock, nil)
		if ins[0].svc.opts.Owner == ins[1].svc.opts.Owner || ins[0].svc.opts.Owner == "" {
			t.Fatalf("instance owners %q and %q: want two distinct names", ins[0].svc.opts.Owner, ins[1].svc.opts.Owner)
		}
		const callers = 200
		req := placeReq("two-instances-key-1", 10)
		type answer struct {
			res PlaceResult
			err error
		}
		answers := make([]answer, callers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err, _ := retryUntilDone(context.Background(), ins[i%2].svc, req)
				answers[i] = answer{res, err}
			}()
		}
		close(start)
		wg.Wait()
		if got := venue.Calls("PlaceOrder"); got != 1 {
			t.Errorf("venue PlaceOrder calls: got %d, want 1", got)
		}
		if got := x.count(); got != 1 {
			t.Errorf("orders at the venue: got %d, want 1", got)
		}
		fresh := map[int]int{}
		for i, a := range answers {
			if a.err != nil || a.res.Order.NativeID != "o-1" {
				t.Fatalf("caller %d (instance %d): got %+v, %v; want order o-1", i, i%2, a.res, a.err)
			}
			if !a.res.Replayed {
				fresh[i%2]++
			}
		}
		if fresh[0]+fresh[1] != 1 {
			t.Errorf("fresh (not replayed) answers per instance: %v, want one in all", fresh)
		}
		for _, in := range ins {
			in.svc.Flush()
		}
		if err := ins[1].store.FlushAudit(context.Background()); err != nil {
			t.Fatal(err)
		}
		entries, err := ins[1].store.ReadAudit(0, 10000, ToolPlaceOrder)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, e := range entries {
			count[e.Outcome]++
		}
		if count[store.OutcomeIntent] != 1 || count[store.OutcomePlaced] != 1 || count[store.OutcomeReplay] == 0 {
			t.Errorf("audit outcomes: %v; want one intent, one placed, the rest replays", count)
		}
	})
}

// An instance that claimed a key, sent the order and went away before
// completing it (its store closed: its owner is gone): the other instance's
// retry takes the record over at once, without waiting for the record's
// lease (the clock does not move), and finds the order instead of sending
// it again.
func TestInstanceGoneTakenOverAtOnce(t *testing.T) {
	forEachSharedBackend(t, func(t *testing.T, be backend) {
		x := newExchange()
		venue := faulty.New(x.venue(), faulty.Options{})
		clock := newClock()
		ins := openInstances(t, be, 2, venue, clock, func(i int, o *Options) {
			if i == 0 {
				o.Hooks.AfterSend = func(string) { runtime.Goexit() } // instance A dies after the venue took the order
			}
			o.WaitInFlight = 200 * time.Millisecond
		})
		a, b := ins[0], ins[1]
		req := placeReq("gone-instance-01", 2)
		done := make(chan struct{})
		go func() { defer close(done); a.svc.Place(context.Background(), req) }()
		<-done
		id := store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: req.Key}
		rec, ok, err := b.store.Record(id)
		if err != nil || !ok || rec.State != store.Pending || rec.Owner != a.store.Owner() {
			t.Fatalf("record after A died: %+v (ok %v, err %v); want pending, owned by A (%s)", rec, ok, err, a.store.Owner())
		}
		// While A's store is open its owner is live, and its lease has not
		// run out: B's caller is told in_progress.
		_, err = b.svc.Place(context.Background(), req)
		wantCode(t, err, sibyl.InProgress)

		if err := a.store.Close(); err != nil {
			t.Fatal(err)
		}
		res, err := b.svc.Place(context.Background(), req)
		if err != nil || res.Order.NativeID != "o-1" || !res.Replayed {
			t.Fatalf("B's retry after A went away: got %+v, %v; want o-1 found at the venue (replayed)", res, err)
		}
		if got := venue.Calls("PlaceOrder"); got != 1 {
			t.Errorf("PlaceOrder calls: got %d, want 1 (recovered by OrderByClientID, not resent)", got)
		}
		b.svc.Flush()
		rec, ok, err = b.store.Record(id)
		if err != nil || !ok || rec.State != store.Done || rec.OrderID != "o-1" || rec.Owner != b.store.Owner() || rec.Attempt != 2 {
			t.Errorf("record: %+v (ok %v, err %v); want done with o-1, taken over by B at attempt 2", rec, ok, err)
		}
		if err := b.store.FlushAudit(context.Background()); err != nil {
			t.Fatal(err)
		}
		entries, err := b.store.ReadAudit(0, 100, ToolPlaceOrder)
		if err != nil {
			t.Fatal(err)
		}
		var outcomes []string
		for _, e := range entries {
			outcomes = append(outcomes, e.Outcome)
		}
		if got, want := strings.Join(outcomes, ","), fmt.Sprintf("%s,%s,%s", store.OutcomeIntent, store.OutcomeRecover, store.OutcomeReconciled); got != want {
			t.Errorf("audit outcomes: got %s, want %s", got, want)
		}
	})
}

// Concurrent orders sent to two instances cannot together pass a limit that
// each passes alone: the risk ledger is in the shared store, and each
// order's check and reservation commit with its claim.
func TestInstancesShareRiskCounters(t *testing.T) {
	forEachSharedBackend(t, func(t *testing.T, be backend) {
		x := newExchange()
		venue := faulty.New(x.venue(), faulty.Options{})
		lim := withLimits(risk.Limits{MaxOpen: 5, MaxDaily: usd("7.5")})
		ins := openInstances(t, be, 2, venue, newClock(), func(_ int, o *Options) { lim(o) })
		var wg sync.WaitGroup
		var mu sync.Mutex
		placed, refused := 0, 0
		for i := range 24 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err, _ := retryUntilDone(context.Background(), ins[i%2].svc, placeAt(fmt.Sprintf("k-shared-risk-%04d", i), "paper:BTC", sibyl.Buy, 3, 0.5))
				mu.Lock()
				defer mu.Unlock()
				switch sibyl.ErrorCode(err) {
				case "":
					placed++
				case sibyl.RiskLimit:
					refused++
				default:
					t.Errorf("order %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		// $1.50 each: the daily limit of $7.50 allows five, as does the open limit.
		if placed != 5 || refused != 19 || x.count() != 5 {
			t.Errorf("got %d placed, %d refused, %d at the venue; want 5, 19, 5", placed, refused, x.count())
		}
	})
}

// An instance whose venue call outlived its record's lease completes after
// the other instance took the record over and completed it: exactly one
// completion is stored, and both callers get the one order.
func TestInstancesCompletionAfterTakeover(t *testing.T) {
	forEachSharedBackend(t, func(t *testing.T, be backend) {
		x := newExchange()
		venue := faulty.New(x.venue(), faulty.Options{})
		clock := newClock()
		firstSent, releaseFirst := make(chan struct{}), make(chan struct{})
		ins := openInstances(t, be, 2, venue, clock, func(i int, o *Options) {
			if i == 0 {
				o.Hooks.AfterSend = func(string) { close(firstSent); <-releaseFirst }
			}
		})
		a, b := ins[0], ins[1]
		req := placeReq("takeover-across-1", 2)
		first := make(chan Result, 1)
		go func() {
			res, err := a.svc.Place(context.Background(), req)
			if err != nil {
				t.Errorf("instance A: %v", err)
			}
			first <- res
		}()
		<-firstSent
		clock.Add(31 * time.Second) // A's lease on the record runs out; A itself is alive
		r, err := b.svc.Place(context.Background(), req)
		if err != nil {
			t.Fatalf("instance B's retry: %v", err)
		}
		b.svc.Flush()
		close(releaseFirst)
		f := <-first
		a.svc.Flush()
		if f.Order.NativeID != "o-1" || r.Order.NativeID != "o-1" || f.Replayed || !r.Replayed {
			t.Errorf("answers: A %+v, B %+v; want o-1 for both, B's replayed (found at the venue)", f, r)
		}
		rec, ok, err := a.store.Record(store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: req.Key})
		if err != nil || !ok || rec.State != store.Done || rec.OrderID != "o-1" || rec.Attempt != 2 || rec.Owner != b.store.Owner() {
			t.Errorf("record: %+v (ok %v, err %v); want done with o-1 at attempt 2, owned by B", rec, ok, err)
		}
		if got := x.count(); got != 1 {
			t.Errorf("orders at the venue: got %d, want 1", got)
		}
		if err := a.store.FlushAudit(context.Background()); err != nil {
			t.Fatal(err)
		}
		entries, err := a.store.ReadAudit(0, 100, ToolPlaceOrder)
		if err != nil {
			t.Fatal(err)
		}
		var outcomes []string
		for _, e := range entries {
			outcomes = append(outcomes, e.Outcome)
		}
		got := strings.Join(outcomes, ",")
		if !strings.HasPrefix(got, "intent,recover") || strings.Count(got, store.OutcomePlaced)+strings.Count(got, store.OutcomeReconciled) != 1 {
			t.Errorf("audit outcomes: %s; want intent, recover, then one completion", got)
		}
	})
}

// A caller already waiting on a live owner wakes when the owner's instance
// goes away (its owner key is deleted with its lease), not only when the
// record changes or its lease runs out: with WaitInFlight of an hour and a
// clock that never moves, B's waiting caller gets the order as soon as A's
// store closes.
func TestWaiterWakesWhenOwnerGoes(t *testing.T) {
	forEachSharedBackend(t, func(t *testing.T, be backend) {
		x := newExchange()
		venue := faulty.New(x.venue(), faulty.Options{})
		ins := openInstances(t, be, 2, venue, newClock(), func(i int, o *Options) {
			if i == 0 {
				o.Hooks.AfterSend = func(string) { runtime.Goexit() } // A dies after the venue took the order
			}
			o.WaitInFlight = time.Hour
		})
		a, b := ins[0], ins[1]
		req := placeReq("owner-goes-01", 2)
		done := make(chan struct{})
		go func() { defer close(done); a.svc.Place(context.Background(), req) }()
		<-done
		type answer struct {
			res Result
			err error
		}
		got := make(chan answer, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		go func() {
			res, err := b.svc.Place(ctx, req) // waits: A's owner is live, its lease too
			got <- answer{res, err}
		}()
		select {
		case r := <-got:
			t.Fatalf("B's caller answered while A was live: %+v, %v; want it to wait", r.res, r.err)
		case <-time.After(300 * time.Millisecond):
		}
		if err := a.store.Close(); err != nil {
			t.Fatal(err)
		}
		r := <-got
		if r.err != nil || r.res.Order.NativeID != "o-1" {
			t.Fatalf("B's waiting caller after A went away: got %+v, %v; want o-1 recovered (not in_progress at its deadline)", r.res, r.err)
		}
		if n := venue.Calls("PlaceOrder"); n != 1 {
			t.Errorf("PlaceOrder calls: got %d, want 1", n)
		}
		b.svc.Flush()
	})
}
