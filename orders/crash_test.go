package orders

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

// The real-process crash test: a child process (this test binary, re-run with
// SIBYL_CRASH_AT set) places an order and dies with os.Exit at a hook point,
// with no deferred cleanup, as cmd's crash switch would make it. The parent then
// opens the same store (the bbolt file, the etcd prefix) and retries the same
// key.

const (
	crashEnv        = "SIBYL_TEST_CRASH_AT"
	crashBackendEnv = "SIBYL_TEST_BACKEND" // the backend's name
	crashRefEnv     = "SIBYL_TEST_STORE"   // where its data is (backend.fresh)
)

// saveExchange writes the exchange's orders to path, so the venue outlives the
// child process, as a real venue would.
func (x *exchange) save(path string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	b, err := json.Marshal(x.orders)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func loadExchange(path string) (*exchange, error) {
	x := newExchange()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return x, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &x.orders); err != nil {
		return nil, err
	}
	for id, o := range x.orders {
		x.byClient["local\x00"+o.ClientOrderID] = id
		x.created++
	}
	return x, nil
}

// TestCrashChild is the child's body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	at := os.Getenv(crashEnv)
	if at == "" {
		t.Skip("runs only as the child of TestProcessCrashRecovery")
	}
	dir := os.Getenv("SIBYL_TEST_DIR")
	be, ok := backendNamed(os.Getenv(crashBackendEnv))
	if !ok {
		t.Fatalf("no backend %q", os.Getenv(crashBackendEnv))
	}
	st := be.open(t, os.Getenv(crashRefEnv))
	x := newExchange()
	v := x.venue()
	place := v.placeOrder
	v.placeOrder = func(ctx context.Context, req sibyl.OrderRequest) (sibyl.Order, error) {
		o, err := place(ctx, req)
		if err == nil {
			err = x.save(filepath.Join(dir, "venue.json"))
		}
		return o, err
	}
	die := func(string) { os.Exit(3) }
	hooks := Hooks{}
	switch at {
	case "after_claim":
		hooks.AfterClaim = die
	case "after_send":
		hooks.AfterSend = die
	}
	svc := New(Options{Store: st, Venues: map[string]sibyl.Venue{"paper": v}, Hooks: hooks})
	res, err := svc.Place(context.Background(), placeReq("crash-process-01", 7))
	if at == "after_return" && err == nil && res.Order.NativeID == "o-1" {
		// The caller has its order; the completion may not be on disk yet.
		os.Exit(3)
	}
	t.Fatalf("the hook did not exit (Place: %+v, %v)", res, err)
}

func TestProcessCrashRecovery(t *testing.T) { forEachBackend(t, testProcessCrashRecovery) }

func testProcessCrashRecovery(t *testing.T, be backend) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, at := range []string{"after_claim", "after_send", "after_return"} {
		t.Run(at, func(t *testing.T) {
			dir := t.TempDir()
			ref := be.fresh(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashEnv+"="+at, "SIBYL_TEST_DIR="+dir, crashBackendEnv+"="+be.name, crashRefEnv+"="+ref)
			if be.childEnv != nil {
				cmd.Env = append(cmd.Env, be.childEnv()...)
			}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 3 {
				t.Fatalf("child: got %v, want exit status 3\n%s", err, out)
			}

			x, err := loadExchange(filepath.Join(dir, "venue.json"))
			if err != nil {
				t.Fatal(err)
			}
			wantBefore := map[string]int{"after_claim": 0, "after_send": 1, "after_return": 1}[at]
			if got := x.count(); got != wantBefore {
				t.Fatalf("orders at the venue after the crash: got %d, want %d", got, wantBefore)
			}
			st := be.open(t, ref)
			defer st.Close()
			rec, ok, err := st.Record(store.RecordID{Principal: "local", Tool: ToolPlaceOrder, Key: "crash-process-01"})
			if err != nil || !ok || (rec.State != store.Pending && at != "after_return") {
				t.Fatalf("record after the crash: got %+v (ok %v, err %v), want pending", rec, ok, err)
			}
			t.Logf("record after the crash: %s", rec.State)
			// The restarted process: the dead owner's lease has run out.
			later := func() time.Time { return time.Now().Add(31 * time.Second) }
			svc := New(Options{Store: st, Venues: map[string]sibyl.Venue{"paper": x.venue()}, Now: later})
			res, err := svc.Place(context.Background(), placeReq("crash-process-01", 7))
			// Replayed whenever the venue had the order before this call.
			if err != nil || res.Order.NativeID != "o-1" || res.Replayed != (wantBefore == 1) {
				t.Fatalf("retry after restart: got %+v, %v; want order o-1, replayed=%v", res, err, wantBefore == 1)
			}
			res, err = svc.Place(context.Background(), placeReq("crash-process-01", 7))
			if err != nil || !res.Replayed || res.Order.NativeID != "o-1" {
				t.Fatalf("second retry: got %+v, %v; want replay of o-1", res, err)
			}
			if got := x.count(); got != 1 {
				t.Errorf("orders at the venue: got %d, want 1", got)
			}
			svc.Flush()
			if v, err := st.VerifyAudit(); err != nil || !v.OK {
				t.Errorf("audit chain: got %+v, %v", v, err)
			}
			if b, ok := st.(*store.Bolt); ok {
				if err := b.Check(); err != nil {
					t.Errorf("bbolt check: %v", err)
				}
			}
		})
	}
}
