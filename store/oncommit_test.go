package store

import (
	"fmt"
	"sync"
	"testing"
)

// TestOnCommitReportsEachCommittedEntryOnce: with failing functions in the
// batches (rolled back and re-run), OnCommit reports every committed audit
// entry exactly once, no entry of a failed function, and batch sizes that add
// up to the functions that committed.
func TestOnCommitReportsEachCommittedEntryOnce(t *testing.T) {
	var mu sync.Mutex
	outcomes := map[string]int{}
	fns, txs := 0, 0
	s := mustOpen(t, Options{OnCommit: func(ci CommitInfo) {
		mu.Lock()
		defer mu.Unlock()
		txs++
		fns += ci.Functions
		if ci.Functions < 1 || ci.Sync < 0 {
			t.Errorf("got CommitInfo %+v, want at least one function and a sync time", ci)
		}
		for _, a := range ci.Audit {
			outcomes[a.Tool+"/"+a.Outcome+"/"+a.Error]++
		}
	}})
	const n = 200
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Commit(func(t Txn) error {
				e := AuditEntry{Principal: "p", Tool: "place_order", Outcome: OutcomePlaced, Key: fmt.Sprintf("key-%04d", i)}
				if i%3 == 0 {
					e.Outcome, e.Error = OutcomeRejected, "risk_limit"
				}
				if _, err := t.AppendAudit(e); err != nil {
					return err
				}
				if i%10 == 0 {
					return fmt.Errorf("fail %d", i)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	wantPlaced, wantRejected := 0, 0
	for i := 0; i < n; i++ {
		switch {
		case i%10 == 0:
		case i%3 == 0:
			wantRejected++
		default:
			wantPlaced++
		}
	}
	want := map[string]int{"place_order/placed/": wantPlaced, "place_order/rejected/risk_limit": wantRejected}
	if fmt.Sprint(outcomes) != fmt.Sprint(want) {
		t.Errorf("got outcomes %v, want %v", outcomes, want)
	}
	if want := wantPlaced + wantRejected; fns != want {
		t.Errorf("got %d functions in committed batches, want %d", fns, want)
	}
	if st := s.CommitStats(); uint64(txs) > st.Transactions+uint64(n/10) {
		t.Errorf("got %d reported transactions, more than the %d the committer ran", txs, st.Transactions)
	}
}
