// Package anchor keeps checkpoints of the audit chain's head in a file outside
// the data file, so that truncating, wiping or rolling back the data file is
// detected: a hash chain inside one file can be cut back to any earlier,
// self-consistent state, but not past a checkpoint written elsewhere.
//
// The file is JSON Lines, one Checkpoint a line, appended and fsync'd. A
// checkpoint carries an HMAC-SHA256 when a key is configured (the audit key),
// so that someone who can rewrite the anchor file cannot forge one. The package
// knows nothing of bbolt or of the store; it must never write anything but
// checkpoints to the file.
package anchor

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// Checkpoint is the chain head at one moment: the last entry's sequence number
// and hash.
type Checkpoint struct {
	Seq  uint64    `json:"seq"`
	Hash string    `json:"hash"`
	Time time.Time `json:"time"`
	HMAC string    `json:"hmac,omitempty"` // hex HMAC-SHA256 of Message, when a key is set
}

// Message returns the bytes a checkpoint's HMAC covers:
// "sibyl-audit-anchor-v1\n<seq>\n<hash>\n<time RFC 3339 nano, UTC>".
func (c Checkpoint) Message() []byte {
	return []byte("sibyl-audit-anchor-v1\n" + strconv.FormatUint(c.Seq, 10) + "\n" + c.Hash + "\n" + c.Time.UTC().Format(time.RFC3339Nano))
}

// Sign sets c.HMAC with key (nothing when key is empty) and returns c.
func (c Checkpoint) Sign(key []byte) Checkpoint {
	c.HMAC = ""
	if len(key) > 0 {
		m := hmac.New(sha256.New, key)
		m.Write(c.Message())
		c.HMAC = hex.EncodeToString(m.Sum(nil))
	}
	return c
}

// ValidHMAC reports whether c's HMAC is right for key. With no key there is
// nothing to check and it returns true.
func (c Checkpoint) ValidHMAC(key []byte) bool {
	if len(key) == 0 {
		return true
	}
	return c.HMAC != "" && hmac.Equal([]byte(c.Sign(key).HMAC), []byte(c.HMAC))
}

// Writer appends checkpoints to an anchor file. It is safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	f    *os.File
	key  []byte
	last Checkpoint
	path string
}

// Open opens (creating with mode 0600) the anchor file at path for appending.
// key, when not empty, signs every checkpoint.
func Open(path string, key []byte) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening audit anchor %s: %w", path, err)
	}
	return &Writer{f: f, key: append([]byte(nil), key...), path: path}, nil
}

// Last returns the last checkpoint this Writer appended (zero before the first).
func (w *Writer) Last() Checkpoint {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// Append writes one checkpoint (signed when a key is set) and fsyncs the file
// before it returns.
func (w *Writer) Append(seq uint64, hash string, now time.Time) error {
	c := Checkpoint{Seq: seq, Hash: hash, Time: now.UTC()}.Sign(w.key)
	line, err := json.Marshal(c)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("writing audit anchor %s: %w", w.path, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("syncing audit anchor %s: %w", w.path, err)
	}
	w.last = c
	return nil
}

// Close closes the file.
func (w *Writer) Close() error { return w.f.Close() }

// Read returns the checkpoints in the anchor file at path, in file order. It
// fails when the file cannot be read, holds no checkpoint, or a line is not a
// checkpoint (a torn last line, from a crash during a write, is skipped).
func Read(path string) ([]Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading audit anchor: %w", err)
	}
	defer f.Close()
	var out []Checkpoint
	sc := bufio.NewScanner(f)
	var pendingErr error
	line := 0
	for sc.Scan() {
		line++
		if pendingErr != nil {
			return nil, pendingErr // a bad line that was not the last
		}
		var c Checkpoint
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil || len(c.Hash) != 64 {
			pendingErr = fmt.Errorf("audit anchor %s line %d is not a checkpoint", path, line)
			continue
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading audit anchor %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, errors.New("audit anchor " + path + " holds no checkpoint")
	}
	return out, nil
}
