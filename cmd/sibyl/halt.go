package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/sibylmcp/sibyl/orders"
	"github.com/sibylmcp/sibyl/store"
)

// The kill switch travels through two small files in the data dir, because a
// running server holds the data file's lock: 'sibyl halt' and 'sibyl resume'
// write the control file; the server reads it at start and every
// controlPoll while it runs, applies a state it has not applied yet (audit
// entry and the applied id in one transaction), and answers in the ack file.
// On a shared store (etcd) the state and the ack are keys of the control
// bucket instead, so that one command halts every instance.
const (
	controlFile = "halt.json"
	ackFile     = "halt.ack.json"
	controlPoll = 200 * time.Millisecond
	// bucketControl holds the id of the last control state applied, so a
	// restart neither audits it again nor repeats its cancels.
	bucketControl = "control"
)

// controlState is the control file: the operator's latest halt or resume.
type controlState struct {
	Halted     bool      `json:"halted"`
	ID         string    `json:"id"`   // new for every command
	Time       time.Time `json:"time"` // when the command was given
	By         string    `json:"by"`   // user@host
	Reason     string    `json:"reason,omitempty"`
	CancelOpen bool      `json:"cancel_open,omitempty"`
}

// controlAck is the server's answer to a control state.
type controlAck struct {
	ID         string    `json:"id"`
	AppliedAt  time.Time `json:"applied_at"`
	CancelDone bool      `json:"cancel_done,omitempty"`
	Cancelled  int       `json:"cancelled,omitempty"`     // resting orders cancelled (or found cancelled by an earlier run of the same halt)
	WereFinal  int       `json:"already_final,omitempty"` // orders found filled or cancelled already
	Failed     int       `json:"failed,omitempty"`        // cancels that failed (the venue did not answer): run 'sibyl halt --cancel-open' again
}

const haltHelp = `Usage:
  sibyl halt [--cancel-open] [--reason TEXT] [--data-dir DIR]
      stop all trading: a running 'sibyl serve' on DIR refuses every new order and
      hedge within a second (code risk_limit, nothing stored: the same
      idempotency_key works after a resume); cancels and reads go on. With
      --cancel-open it also cancels every resting order sibyl placed, on every
      venue, exactly once each. With no server running it applies when one
      next starts.
  sibyl resume [--data-dir DIR]
      allow trading again.
Both are audited (tools "halt" and "resume" in 'sibyl audit tail').

Flags:
`

// haltCmd runs 'sibyl halt' (halt true) and 'sibyl resume'.
func haltCmd(ctx context.Context, args []string, halt bool, stdout, stderr io.Writer) error {
	name := "resume"
	if halt {
		name = "halt"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, haltHelp); fs.PrintDefaults() }
	dataDir := fs.String("data-dir", envString("SIBYL_DATA_DIR", defaultDataDir()), "`DIR` of the server's data file [SIBYL_DATA_DIR]")
	var sf storeFlags
	sf.register(fs)
	var cancelOpen bool
	var reason string
	wait := fs.Duration("wait", 3*time.Second, "how long to wait for a running server to confirm")
	if halt {
		fs.BoolVar(&cancelOpen, "cancel-open", false, "also cancel every resting order, exactly once each")
		fs.StringVar(&reason, "reason", "", "why, for the audit log and the agents' error message")
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	if err := sf.check(); err != nil {
		return err
	}
	var ch controlChannel
	where := "this data dir"
	if sf.shared() {
		// Every instance on the shared store reads the state from it.
		stor, err := sf.open(ctx, *dataDir, store.Options{}, storeExisting, nil)
		if err != nil {
			return err
		}
		defer stor.Close()
		ch, where = storeControl{st: stor}, "this store"
	} else {
		if err := os.MkdirAll(*dataDir, 0o700); err != nil {
			return err
		}
		ch = fileControl{dir: *dataDir}
	}
	st := controlState{Halted: halt, ID: uuid.NewString(), Time: time.Now().UTC(), By: whoAmI(), Reason: reason, CancelOpen: cancelOpen}
	start := time.Now()
	if err := ch.writeState(st); err != nil {
		return fmt.Errorf("writing the control state: %w", err)
	}
	ack, ok := waitAck(ctx, ch, st.ID, *wait, false)
	if !ok {
		fmt.Fprintf(stdout, "%s recorded in %s; no running server confirmed within %s: it applies when 'sibyl serve' next starts on %s\n",
			name, ch, *wait, where)
		return nil
	}
	fmt.Fprintf(stdout, "%s applied by the running server %.0f ms after the command\n", name, ack.AppliedAt.Sub(start).Seconds()*1000)
	if cancelOpen {
		ack, ok = waitAck(ctx, ch, st.ID, 2*time.Minute, true)
		if !ok {
			fmt.Fprintf(stdout, "cancels still running after 2 minutes; see 'sibyl audit tail'\n")
			return nil
		}
		fmt.Fprintf(stdout, "cancelled %d resting orders (%d were already final, %d failed)\n", ack.Cancelled, ack.WereFinal, ack.Failed)
		if ack.Failed > 0 {
			return fmt.Errorf("%d cancels failed; run 'sibyl halt --cancel-open' again", ack.Failed)
		}
	}
	return nil
}

// waitAck polls the ack for id (and, with cancels, for their end).
func waitAck(ctx context.Context, ch controlChannel, id string, d time.Duration, cancels bool) (controlAck, bool) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if ack, ok, err := ch.readAck(); err == nil && ok && ack.ID == id && (!cancels || ack.CancelDone) {
			return ack, true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return controlAck{}, false
}

func whoAmI() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// writeJSONFile writes v to path atomically (a temporary file renamed over
// it), readable by the owner only.
func writeJSONFile(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// control applies the control file to a running server.
type control struct {
	ch     controlChannel
	store  store.Store
	orders *orders.Service
	halt   *orders.Halt
	log    *slog.Logger

	applied string // id of the state last applied by this process
	cancel  context.CancelFunc
	done    chan struct{}
}

// check reads the control file and applies a state not applied yet. A missing
// file means never halted.
func (c *control) check(ctx context.Context) {
	st, ok, err := c.ch.readState()
	if err != nil {
		c.log.Warn("reading the halt control state", "err", err)
		return
	}
	if !ok {
		return
	}
	if st.ID == "" || st.ID == c.applied {
		return
	}
	c.applied = st.ID
	// Refuse at once; the audit entry follows.
	c.halt.Set(orders.HaltState{Halted: st.Halted, ID: st.ID, Since: st.Time, By: st.By, Reason: st.Reason})
	if err := c.audit(st); err != nil {
		c.log.Error("auditing the halt state", "err", err)
	}
	ack := controlAck{ID: st.ID, AppliedAt: time.Now().UTC()}
	if err := c.ch.writeAck(ack); err != nil {
		c.log.Error("writing the halt ack", "err", err)
	}
	if st.Halted {
		c.log.Warn("trading halted by the operator", "by", st.By, "reason", st.Reason, "cancel_open", st.CancelOpen)
	} else {
		c.log.Warn("trading resumed by the operator", "by", st.By)
	}
	if st.Halted && st.CancelOpen {
		ack = c.cancelOpen(ctx, st, ack)
		ack.CancelDone = true
		if err := c.ch.writeAck(ack); err != nil {
			c.log.Error("writing the halt ack", "err", err)
		}
	}
}

// audit records the state once, whatever the restarts: the applied id is
// stored in the same transaction as the entry.
func (c *control) audit(st controlState) error {
	tool, outcome := "resume", "resumed"
	if st.Halted {
		tool, outcome = "halt", orders.OutcomeHalted
	}
	args, err := json.Marshal(map[string]any{"id": st.ID, "by": st.By, "reason": st.Reason, "cancel_open": st.CancelOpen, "requested_at": st.Time})
	if err != nil {
		return err
	}
	return c.store.Commit(func(t store.Txn) error {
		b, err := t.Bucket(bucketControl)
		if err != nil {
			return err
		}
		if string(b.Get([]byte("applied"))) == st.ID {
			return nil
		}
		if _, err := t.AppendAudit(store.AuditEntry{Time: time.Now().UTC(), Principal: "operator", Transport: "cli", Tool: tool, Args: args, Outcome: outcome}); err != nil {
			return err
		}
		return b.Put([]byte("applied"), []byte(st.ID))
	})
}

// cancelOpen cancels every resting order, exactly once each, under keys made
// of the halt's id (orders.CancelAllOpen).
func (c *control) cancelOpen(ctx context.Context, st controlState, ack controlAck) controlAck {
	r := c.orders.CancelAllOpen(ctx, "halt-"+st.ID, "control")
	ack.Cancelled, ack.WereFinal, ack.Failed = r.Cancelled, r.WereFinal, r.Failed
	return ack
}

// start applies the control file once, then watches it until stop.
func (c *control) start() {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	c.check(ctx)
	go func() {
		defer close(c.done)
		t := time.NewTicker(controlPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.check(ctx)
			}
		}
	}()
}

func (c *control) stop() {
	if c.cancel != nil {
		c.cancel()
		<-c.done
	}
}

// controlChannel is where the operator's control state and the servers' acks
// travel: files in the data dir (bbolt), or the shared store (etcd).
type controlChannel interface {
	readState() (controlState, bool, error)
	writeState(controlState) error
	readAck() (controlAck, bool, error)
	writeAck(controlAck) error
	String() string
}

// fileControl is the control channel of a bbolt data dir.
type fileControl struct{ dir string }

func (f fileControl) readState() (controlState, bool, error) {
	var st controlState
	err := readJSONFile(filepath.Join(f.dir, controlFile), &st)
	if errors.Is(err, os.ErrNotExist) {
		return st, false, nil
	}
	return st, err == nil, err
}

func (f fileControl) writeState(st controlState) error {
	return writeJSONFile(filepath.Join(f.dir, controlFile), st)
}

func (f fileControl) readAck() (controlAck, bool, error) {
	var ack controlAck
	err := readJSONFile(filepath.Join(f.dir, ackFile), &ack)
	if errors.Is(err, os.ErrNotExist) {
		return ack, false, nil
	}
	return ack, err == nil, err
}

func (f fileControl) writeAck(ack controlAck) error {
	return writeJSONFile(filepath.Join(f.dir, ackFile), ack)
}

func (f fileControl) String() string { return filepath.Join(f.dir, controlFile) }

// storeControl is the control channel of a shared store: keys "state" and
// "ack" of the control bucket. Every instance polls the state; the last to
// apply it writes the ack.
type storeControl struct{ st store.Store }

func (s storeControl) get(key string, v any) (bool, error) {
	var raw []byte
	err := s.st.ViewBucket(bucketControl, func(b store.Bucket) error {
		raw = b.Get([]byte(key))
		return nil
	})
	if err != nil || raw == nil {
		return false, err
	}
	return true, json.Unmarshal(raw, v)
}

func (s storeControl) put(key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.st.UpdateBucket(bucketControl, func(b store.Bucket) error { return b.Put([]byte(key), raw) })
}

func (s storeControl) readState() (controlState, bool, error) {
	var st controlState
	ok, err := s.get("state", &st)
	return st, ok, err
}

func (s storeControl) writeState(st controlState) error { return s.put("state", st) }

func (s storeControl) readAck() (controlAck, bool, error) {
	var ack controlAck
	ok, err := s.get("ack", &ack)
	return ack, ok, err
}

func (s storeControl) writeAck(ack controlAck) error { return s.put("ack", ack) }

func (s storeControl) String() string { return "the control bucket of " + s.st.Describe() }

// controlChannel returns the channel of this server's store.
func (m *Main) controlChannel(st store.Store) controlChannel {
	if m.storeFlags.shared() {
		return storeControl{st: st}
	}
	return fileControl{dir: m.DataDir}
}
