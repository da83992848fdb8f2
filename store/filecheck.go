package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
)

// ErrDamaged marks a data file that sibyl refuses to open: empty, truncated,
// or with a damaged header. bbolt would crash the process (a truncated file is
// mapped past its end) or, for an empty file, silently start a new store and
// lose every idempotency record, balance and audit entry. The error says which
// file and what to do; callers print it and exit.
var ErrDamaged = errors.New("damaged data file")

// bbolt's meta page layout (go.etcd.io/bbolt internal/common): a 16-byte page
// header, then magic, version, page size, flags (uint32 each), the root bucket
// (root page id, sequence), the freelist page id, the high-water page id, the
// transaction id and an FNV-64a checksum of the fields before it, all in the
// machine's byte order (little endian on every platform sibyl ships for).
const (
	boltPageHeader = 16
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	boltMetaSize   = 64 // through the checksum
)

type boltMeta struct {
	pageSize uint32
	pgid     uint64 // pages in use: the file must hold at least pgid*pageSize bytes
	txid     uint64
}

func parseBoltMeta(b []byte) (boltMeta, bool) {
	if len(b) < boltPageHeader+boltMetaSize {
		return boltMeta{}, false
	}
	m := b[boltPageHeader : boltPageHeader+boltMetaSize]
	le := binary.LittleEndian
	if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != le.Uint64(m[56:]) {
		return boltMeta{}, false
	}
	return boltMeta{pageSize: le.Uint32(m[8:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, true
}

// checkDataFile refuses a data file that exists but cannot be a whole bbolt
// file: zero length, no valid header, or shorter than its header says. A file
// that does not exist is fine (Open creates it).
func checkDataFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	size := fi.Size()
	if size == 0 {
		return fmt.Errorf("%w: %s is empty (0 bytes), so its idempotency records, balances and audit log are gone; sibyl will not start it as a new store. Restore it from a backup, or move it away to start an empty store", ErrDamaged, path)
	}
	head := make([]byte, 64<<10)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	head = head[:n]
	var best boltMeta
	found := false
	if m, ok := parseBoltMeta(head); ok {
		best, found = m, true
	}
	// The second meta page follows the first page; its size is the first
	// meta's, or one of the usual sizes when the first is damaged.
	for _, ps := range []uint32{best.pageSize, 4096, 8192, 16384, 65536} {
		if ps == 0 || int(ps) >= len(head) {
			continue
		}
		if m, ok := parseBoltMeta(head[ps:]); ok && m.pageSize == ps {
			if !found || m.txid > best.txid {
				best = m
			}
			found = true
			break
		}
	}
	if !found {
		return fmt.Errorf("%w: %s is not a sibyl data file or its header is damaged (%d bytes, no valid bbolt meta page). Restore it from a backup, or move it away to start an empty store", ErrDamaged, path, size)
	}
	if need := int64(best.pgid) * int64(best.pageSize); size < need {
		return fmt.Errorf("%w: %s is truncated: %d bytes, but its header says the store holds %d. Restore it from a backup (a copy made while the server was stopped); do not start a server on it", ErrDamaged, path, size, need)
	}
	return nil
}

// guardFaults runs fn with memory faults (bbolt reading a page the damaged
// file does not hold) and bbolt's panics on corrupt pages turned into an
// ErrDamaged error naming path, instead of a crash.
func guardFaults(path string, fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: reading %s failed (%v): the file is damaged. Restore it from a backup", ErrDamaged, path, p)
		}
	}()
	return fn()
}
