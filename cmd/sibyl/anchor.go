package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/sibylmcp/sibyl/anchor"
	"github.com/sibylmcp/sibyl/store"
)

// When `sibyl serve --audit-anchor FILE` appends a checkpoint of the audit
// chain's head: at start, then whenever the head has moved and either
// anchorEvery has passed since the last checkpoint or anchorEntries entries
// were appended since it (checked every anchorPoll), and at a clean shutdown
// after the last entries are on disk. Each checkpoint is fsync'd.
const (
	anchorEvery   = 10 * time.Second
	anchorEntries = 1000
	anchorPoll    = time.Second
)

// anchorLoop appends checkpoints to the anchor file in the background.
type anchorLoop struct {
	w      *anchor.Writer
	st     store.Store
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// startAnchor opens the anchor file, writes the first checkpoint and starts
// the loop. It fails when the file cannot be opened or written.
//
// It refuses to start when the anchor already holds checkpoints that the data
// file does not (the file was truncated, wiped or rolled back to an older
// copy): serving from such a file would forget idempotency records and could
// send an order twice. After a deliberate restore, start a new anchor file.
func startAnchor(path string, st store.Store, key []byte, log *slog.Logger) (*anchorLoop, error) {
	if _, err := os.Stat(path); err == nil {
		head, err := st.AuditHead()
		if err != nil {
			return nil, fmt.Errorf("reading the audit chain head: %w", err)
		}
		if _, _, err := verifyAnchor(st, path, nil, head); err != nil {
			return nil, fmt.Errorf("%w. The data file does not hold what the anchor saw: serving it could repeat orders whose records are gone. Restore the newest copy of the data file, or, after a deliberate restore, start a new anchor file", err)
		}
	}
	w, err := anchor.Open(path, key)
	if err != nil {
		return nil, err
	}
	a := &anchorLoop{w: w, st: st, log: log, done: make(chan struct{})}
	if err := a.checkpoint(true); err != nil {
		w.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go a.run(ctx)
	return a, nil
}

func (a *anchorLoop) run(ctx context.Context) {
	defer close(a.done)
	t := time.NewTicker(anchorPoll)
	defer t.Stop()
	var lastLog time.Time
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := a.checkpoint(false)
			if err == nil {
				failures = 0
				continue
			}
			// Logged once a minute while it lasts (a full disk would
			// otherwise log every second).
			failures++
			if time.Since(lastLog) >= time.Minute {
				a.log.Error("writing an audit anchor checkpoint", "err", err, "failures", failures)
				lastLog = time.Now()
			}
		}
	}
}

// checkpoint appends the current head when forced, or when it moved and is
// due.
func (a *anchorLoop) checkpoint(force bool) error {
	head, err := a.st.AuditHead()
	if err != nil {
		return fmt.Errorf("reading the audit chain head: %w", err)
	}
	last := a.w.Last()
	if !force {
		if head.Seq == last.Seq && head.Hash == last.Hash {
			return nil
		}
		if head.Seq-last.Seq < anchorEntries && time.Since(last.Time) < anchorEvery {
			return nil
		}
	}
	return a.w.Append(head.Seq, head.Hash, time.Now())
}

// stop ends the loop, writes the last checkpoint (the caller has flushed the
// audit queue) and closes the file.
func (a *anchorLoop) stop() error {
	a.cancel()
	<-a.done
	err := a.checkpoint(true)
	if cerr := a.w.Close(); err == nil {
		err = cerr
	}
	return err
}

// verifyAnchor checks the audit chain of st against the checkpoints in the
// anchor file: every anchored entry must still be there with the anchored
// hash, and each checkpoint's HMAC must be right when key is set. It returns
// how many checkpoints matched, or an error naming the first checkpoint that
// does not.
func verifyAnchor(st store.Store, path string, key []byte, head store.AuditHead) (int, anchor.Checkpoint, error) {
	cps, err := anchor.Read(path)
	if err != nil {
		return 0, anchor.Checkpoint{}, err
	}
	seqs := make([]uint64, len(cps))
	for i, c := range cps {
		seqs[i] = c.Seq
	}
	hashes, err := st.AuditEntryHashes(seqs)
	if err != nil {
		return 0, anchor.Checkpoint{}, err
	}
	for i, c := range cps {
		switch {
		case !c.ValidHMAC(key):
			return i, c, fmt.Errorf("anchor checkpoint at seq %d (line %d of %s) has a missing or wrong HMAC for SIBYL_AUDIT_KEY: the anchor file was edited, or the key differs", c.Seq, i+1, path)
		case c.Seq == 0:
			continue // the empty chain
		case hashes[i] == "":
			return i, c, fmt.Errorf("anchor checkpoint at seq %d: entry %d is missing, the chain ends at seq %d: the data file was truncated, wiped or rolled back to an older copy (%s line %d)", c.Seq, c.Seq, head.Seq, path, i+1)
		case hashes[i] != c.Hash:
			return i, c, fmt.Errorf("anchor checkpoint at seq %d: entry %d has hash %.16s, the anchor says %.16s: the chain was rewritten or rolled back to another copy (%s line %d)", c.Seq, c.Seq, hashes[i], c.Hash, path, i+1)
		}
	}
	return len(cps), cps[len(cps)-1], nil
}
