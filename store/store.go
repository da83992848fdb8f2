// Package store keeps sibyl's durable state: idempotency records, orders, the
// audit chain, API keys and other components' small buckets (the paper
// venue's state, the risk ledger, order owners, hedge plans).
//
// Store (backend.go) is the interface the rest of sibyl uses; it says what the
// exactly-once protocol needs of any backend. This package holds that
// interface, the types it stores (Record, AuditEntry, APIKey) with their
// encodings and checks, and Bolt, the default backend: one bbolt file owned by
// one process. Package store/etcdstore is the backend for several instances
// sharing one etcd cluster. Canonical JSON and fingerprints are package canon's
// job, the redaction policy package redact's.
//
// The rest of this comment describes Bolt.
//
// bbolt stays inside this package: callers see Update/View closures over named
// buckets, a Txn over the idempotency records and the audit chain, and byte slices
// copied out of the transaction, never a *bolt.Tx.
//
// Durability: every write transaction is fsync'd before its function returns.
// Concurrent state transactions submitted through Commit share fsyncs (group
// commit); read-only tool calls are audited through an asynchronous, batched
// appender (see AuditAsync) so that they do not pay an fsync each.
//
// Layout: the hot buckets are append-only. The audit chain is keyed by its
// sequence number; idempotency records are a log of versions keyed by a log
// sequence number (PutRecord appends, never rewrites), with the index from
// record id to newest version, the duplicate-detection index and the order
// index held in memory and rebuilt from the log at Open (about 400 bytes of
// memory a record; the retention sweep bounds how many there are). So a
// group-commit transaction dirties the last pages of a few buckets instead of
// one random page per record written. Files of the first layout (records
// rewritten in place) are migrated when opened.
package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names. Everything the store owns lives in these buckets; other
// components (the paper venue, hedge plans) use their own names through
// UpdateBucket or CommitBucketAsync.
const (
	bucketIdemLog     = "idem_log"   // 8-byte big-endian log seq -> one version of an idempotency record
	bucketAudit       = "audit"      // 8-byte big-endian seq -> canonical AuditEntry JSON
	bucketMeta        = "meta"       // small named values, such as the audit chain head
	metaAuditHead     = "audit_head" // key in bucketMeta: AuditHead JSON
	defaultMaxBatch   = 512          // most functions run in one group-commit transaction
	defaultAuditQueue = 4096         // capacity of the asynchronous audit queue
	defaultAuditBatch = 512          // most entries written by one asynchronous transaction
)

// ErrClosed is returned by operations on a Store after Close.
var ErrClosed = errors.New("store: closed")

// ErrLocked is wrapped by the error of opening a data file another process
// holds: a local client may reach that process through its socket instead.
var ErrLocked = errors.New("data file locked by another process")

// Options configures a Store. The zero value is usable.
type Options struct {
	// AuditKey, when not empty, adds an HMAC-SHA256 to every audit entry and makes
	// VerifyAudit check it. cmd reads it from SIBYL_AUDIT_KEY; it is never stored
	// or logged.
	AuditKey []byte
	// MaxBatch bounds how many Commit functions share one transaction (default 512).
	MaxBatch int
	// AuditQueue is the capacity of the asynchronous audit queue (default 4096).
	// AuditAsync blocks while it is full.
	AuditQueue int
	// AuditBatch bounds how many queued entries one transaction writes (default 512).
	AuditBatch int
	// OnCommit, when not nil, is told of every group-commit transaction that
	// committed (see CommitInfo), for metrics. It runs on the committer's
	// goroutine after the fsync and before the callers are answered: it must be
	// quick and must not call the Store.
	OnCommit func(CommitInfo)
}

// CommitInfo describes one committed group-commit transaction.
type CommitInfo struct {
	Functions int           // Commit functions it carried (the batch size)
	Sync      time.Duration // from the functions' end to durable: page writes and fsyncs
	// Audit holds the tool, outcome and error code of each audit entry the
	// transaction appended (Txn.AppendAudit), in order. Each committed entry is
	// reported once: functions re-run after a rollback are reported only by the
	// transaction that committed them.
	Audit []AuditOutcome
}

// AuditOutcome is the part of an audit entry that metrics count.
type AuditOutcome struct {
	Tool, Outcome, Error string
}

// Store is the bbolt file. It is safe for concurrent use.
type Bolt struct {
	db       *bolt.DB
	idx      *idemIndex // the record log's in-memory index; see index.go
	auditKey []byte
	maxBatch int

	mu       sync.RWMutex // guards closed and the sends on commitCh
	closed   bool
	commitCh chan *commitReq
	audit    *AuditQueue // the asynchronous appender
	loops    sync.WaitGroup

	onCommit func(CommitInfo)

	locks  sync.Map // lock name -> chan struct{} of capacity 1 (Lock)
	owners sync.Map // owner -> struct{}: the owners that wrote a record since Open (OwnerLive)

	verified verifiedPrefix // how much of the audit chain VerifyAuditIncremental has verified

	commitTxs  atomic.Uint64 // group-commit transactions run
	commitFns  atomic.Uint64 // Commit functions they carried
	commitBusy atomic.Int64  // nanoseconds the committer spent running transactions
}

// CommitStats counts group-commit work since Open.
type CommitStats struct {
	Transactions uint64 // fsync'd transactions run by the group committer
	Functions    uint64 // Commit calls they served; Functions/Transactions is the mean batch
	// Busy is the time the committer spent running transactions (functions,
	// page writes and fsyncs), as opposed to waiting for work: over a period,
	// Busy/period is the single writer's utilisation.
	Busy time.Duration
	// PagesWritten counts the pages written by every write transaction on the
	// file (the committer's, the audit appender's and UpdateBucket's), and
	// WriteTime the time they took, fsyncs included: the write amplification.
	PagesWritten uint64
	WriteTime    time.Duration
	// Retries counts transactions run again because another instance wrote
	// what they had read (shared backends; always 0 for Bolt).
	Retries uint64
}

// CommitStats returns the group committer's counters, for metrics and benchmarks.
func (s *Bolt) CommitStats() CommitStats {
	tx := s.db.Stats().TxStats
	return CommitStats{Transactions: s.commitTxs.Load(), Functions: s.commitFns.Load(), Busy: time.Duration(s.commitBusy.Load()),
		PagesWritten: uint64(tx.GetWrite()), WriteTime: tx.GetWriteTime()}
}

// Open opens (creating if needed) the bbolt file at path with default Options,
// creating its directory with mode 0700. It fails with a clear error if another
// process holds the file.
func Open(path string) (*Bolt, error) { return OpenOptions(path, Options{}) }

// OpenOptions is Open with options. It refuses, with an error wrapping
// ErrDamaged that names the file and what to do, a file that is empty,
// truncated or not a bbolt file, instead of starting a new store over it or
// crashing on it.
func OpenOptions(path string, opts Options) (*Bolt, error) {
	return open(path, opts, false)
}

// OpenReadOnly opens an existing data file for reading only (the audit
// commands): it takes a shared lock, writes nothing, and works on a file and
// directory the process may not write (a read-only copy). Writes through the
// returned Store fail. It fails like OpenOptions on a damaged file, and when the
// file does not exist.
func OpenReadOnly(path string, opts Options) (*Bolt, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return open(path, opts, true)
}

func open(path string, opts Options, readOnly bool) (*Bolt, error) {
	if !readOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("creating data dir: %w", err)
		}
	}
	if err := checkDataFile(path); err != nil {
		return nil, err
	}
	var db *bolt.DB
	var idx *idemIndex
	err := guardFaults(path, func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{
			Timeout:         2 * time.Second,
			FreelistType:    bolt.FreelistMapType,
			NoFreelistSync:  true,
			InitialMmapSize: 64 << 20,
			ReadOnly:        readOnly,
		})
		if err != nil {
			if errors.Is(err, bolt.ErrTimeout) {
				return fmt.Errorf("opening %s: another sibyl process holds it (timeout waiting for the file lock): %w", path, ErrLocked)
			}
			return fmt.Errorf("opening %s: %w", path, err)
		}
		if readOnly {
			err = db.View(func(tx *bolt.Tx) error {
				for _, name := range []string{bucketIdemLog, bucketAudit, bucketMeta} {
					if tx.Bucket([]byte(name)) == nil {
						return fmt.Errorf("%w: %s has no %s bucket: it is not a sibyl data file", ErrDamaged, path, name)
					}
				}
				idx, err = loadIndex(tx)
				return err
			})
		} else {
			err = db.Update(func(tx *bolt.Tx) error {
				for _, name := range []string{bucketIdemLog, bucketAudit, bucketMeta} {
					if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
						return fmt.Errorf("creating bucket %s: %w", name, err)
					}
				}
				if _, err := migrateRecordsV1(tx); err != nil {
					return err
				}
				idx, err = loadIndex(tx)
				return err
			})
		}
		if err != nil {
			return fmt.Errorf("opening %s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		if db != nil {
			db.Close()
		}
		return nil, err
	}
	s := &Bolt{
		db:       db,
		idx:      idx,
		auditKey: bytes.Clone(opts.AuditKey),
		maxBatch: orDefault(opts.MaxBatch, defaultMaxBatch),
		onCommit: opts.OnCommit,
		commitCh: make(chan *commitReq, 1024),
	}
	s.audit = NewAuditQueue(orDefault(opts.AuditQueue, defaultAuditQueue), orDefault(opts.AuditBatch, defaultAuditBatch), s.writeAudit)
	s.loops.Add(1)
	go s.commitLoop()
	return s, nil
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Close writes the queued asynchronous audit entries, waits for running commits,
// and closes the file. Calls made after Close fail with ErrClosed.
func (s *Bolt) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.commitCh)
	s.mu.Unlock()
	s.audit.Close()
	s.loops.Wait()
	return s.db.Close()
}

// Path returns the file's path.
func (s *Bolt) Path() string { return s.db.Path() }

// Check runs bbolt's consistency check over the whole file and returns the first
// problem it finds, or nil. Tests call it in cleanup; `sibyl audit verify` may too.
func (s *Bolt) Check() error {
	return s.db.View(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() {
			if first == nil {
				first = err
			}
		}
		return first
	})
}

// Bucket is one named bucket inside an Update or View closure. Values returned by
// Get are copies and stay valid after the closure returns. A Bucket must not be
// used after its closure returns.
type boltBucket struct {
	b        *bolt.Bucket
	writable bool
}

// Get returns a copy of the value at key, or nil when there is none.
func (b *boltBucket) Get(key []byte) []byte {
	v := b.b.Get(key)
	if v == nil {
		return nil
	}
	return bytes.Clone(v)
}

// Put stores value at key. It fails inside a View closure.
func (b *boltBucket) Put(key, value []byte) error { return b.b.Put(key, value) }

// Delete removes key. It fails inside a View closure.
func (b *boltBucket) Delete(key []byte) error { return b.b.Delete(key) }

// PackPages makes the bucket fill pages completely before splitting them, for
// the rest of the transaction, instead of bbolt's default of half: right for
// keys written mostly in ascending order, such as sequence numbers, where a
// half-filled page is never filled later. It is a no-op inside a View closure.
func (b *boltBucket) PackPages() {
	if b.writable {
		b.b.FillPercent = 1
	}
}

// NextSequence returns the bucket's next autoincrement integer.
func (b *boltBucket) NextSequence() (uint64, error) { return b.b.NextSequence() }

// ForEachPrefix calls fn for every key with the given prefix, in key order, with
// copies of key and value. Iteration stops at the first error, which is returned.
func (b *boltBucket) ForEachPrefix(prefix []byte, fn func(key, value []byte) error) error {
	c := b.b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(bytes.Clone(k), bytes.Clone(v)); err != nil {
			return err
		}
	}
	return nil
}

// UpdateBucket runs fn in one read-write transaction on the named bucket (created
// if needed). The transaction commits (and fsyncs) when fn returns nil and rolls
// back otherwise. Use it for state with no idempotency or audit duties, such as
// the paper venue's books and accounts.
func (s *Bolt) UpdateBucket(name string, fn func(b Bucket) error) error {
	return s.updateDB(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(name))
		if err != nil {
			return fmt.Errorf("creating bucket %s: %w", name, err)
		}
		return fn(&boltBucket{b: bk, writable: true})
	})
}

// CommitBucketAsync is UpdateBucket through the group committer, like
// CommitAsync: fn runs on the named bucket (created if needed) in a read-write
// transaction that it may share with concurrent Commit calls; done (if not nil)
// is called with the result after that transaction is on disk (fsync'd), on the
// committer's goroutine, with CommitAsync's rules. Functions run and commit in
// the order they were queued, so a caller that queues writes to the same keys
// in order gets them on disk in that order. fn has Commit's re-run rules: it
// may run more than once and must have no side effects outside the bucket. It
// fails with ErrClosed (and done is not called) after Close.
func (s *Bolt) CommitBucketAsync(name string, fn func(b Bucket) error, done func(error)) error {
	return s.CommitAsync(func(tn Txn) error {
		t := tn.(*boltTxn)
		bk, err := t.tx.CreateBucketIfNotExists([]byte(name))
		if err != nil {
			return fmt.Errorf("creating bucket %s: %w", name, err)
		}
		return fn(&boltBucket{b: bk, writable: true})
	}, done)
}

// ViewBucket runs fn in one read-only transaction on the named bucket. fn is not
// called when the bucket does not exist yet.
func (s *Bolt) ViewBucket(name string, fn func(b Bucket) error) error {
	return s.view(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(name))
		if bk == nil {
			return nil
		}
		return fn(&boltBucket{b: bk})
	})
}

// Txn is one transaction over the idempotency records, their indexes and the
// audit chain. It is valid only inside the function given to Commit or View.
type boltTxn struct {
	tx   *bolt.Tx
	s    *Bolt
	head headCache    // the audit chain head as of this transaction's last append
	idem *idemDelta   // this transaction's changes to the record index, applied on commit
	log  *bolt.Bucket // the record log, once looked up
	// audited lists the audit entries appended, for Options.OnCommit (only
	// when it is set).
	audited []AuditOutcome
}

// Commit runs fn in a read-write transaction that it may share with other
// concurrent Commit calls (group commit: one fsync for the lot). It returns after
// the transaction is on disk, with fn's error or a storage error.
//
// fn may run more than once: when another function in the same batch fails, the
// batch is rolled back and re-run without it, and a failing fn is re-run alone.
// So fn must reset any results it reports through captured variables at its
// start, and must have no side effects outside the Txn. Return an error from fn
// only when the transaction must not commit; report decisions (a refusal, a
// replay) through captured variables and return nil, so that neighbours in the
// batch are not re-run.
func (s *Bolt) Commit(fn func(t Txn) error) error {
	req := &commitReq{fn: fn, done: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	s.commitCh <- req
	s.mu.RUnlock()
	return <-req.done
}

// CommitAsync queues fn for the group committer like Commit, but returns at once;
// done (if not nil) is called with the result after the transaction is on disk,
// on the committer's goroutine, so it must be quick and must not call Commit
// (which would wait for the goroutine running it). fn has Commit's re-run
// rules. Close runs every function queued before it. It fails with ErrClosed
// (and done is not called) after Close.
func (s *Bolt) CommitAsync(fn func(t Txn) error, done func(error)) error {
	req := &commitReq{fn: fn, then: done}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	s.commitCh <- req
	return nil
}

// View runs fn in a read-only transaction. Txn's write methods fail inside it.
func (s *Bolt) View(fn func(t Txn) error) error {
	return s.view(func(tx *bolt.Tx) error { return fn(&boltTxn{tx: tx, s: s}) })
}

type commitReq struct {
	fn   func(t Txn) error
	done chan error  // Commit: receives the result
	then func(error) // CommitAsync: called with the result
}

func (r *commitReq) reply(err error) {
	if r.done != nil {
		r.done <- err
	}
	if r.then != nil {
		r.then(err)
	}
}

// commitLoop is the group committer: it takes every request waiting in the queue
// (up to maxBatch), runs them in one transaction, and answers them all after the
// commit. While one batch is being fsync'd the next one gathers, so a lone caller
// pays one fsync and many callers share them, with no timer delay.
func (s *Bolt) commitLoop() {
	defer s.loops.Done()
	batch := make([]*commitReq, 0, s.maxBatch)
	last := 1 // size of the previous batch
	for first := range s.commitCh {
		batch = append(batch[:0], first)
		batch = GatherBatch(s.commitCh, batch, last, s.maxBatch, gatherDelay)
		last = len(batch)
		start := time.Now()
		s.runBatch(batch)
		s.commitBusy.Add(int64(time.Since(start)))
	}
}

// gatherDelay bounds how long the committer waits for stragglers.
const gatherDelay = 500 * time.Microsecond

func (s *Bolt) runBatch(batch []*commitReq) {
	for len(batch) > 0 {
		failed := -1
		err := s.update(len(batch), func(t *boltTxn) error {
			for i, r := range batch {
				if err := safeCall(r.fn, t); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			// Rolled back. Keep the queue order: commit the functions before the
			// failing one (re-run), then run the failing one alone so that it
			// gets its own error (or succeeds on a clean transaction), then go
			// on with the rest.
			if failed > 0 {
				s.runBatch(batch[:failed])
			}
			r := batch[failed]
			r.reply(s.update(1, func(t *boltTxn) error { return safeCall(r.fn, t) }))
			batch = batch[failed+1:]
			continue
		}
		s.commitTxs.Add(1)
		s.commitFns.Add(uint64(len(batch)))
		for _, r := range batch {
			r.reply(err)
		}
		return
	}
}

// update runs fn in one read-write transaction and, when it commits, makes its
// changes to the record index visible. Only the committer's goroutine calls it,
// so the index has one writer and changes in commit order.
func (s *Bolt) update(fns int, fn func(t *boltTxn) error) error {
	var t *boltTxn
	var fnDone time.Time
	err := s.updateDB(func(tx *bolt.Tx) error {
		t = &boltTxn{tx: tx, s: s}
		t.collectGarbage()
		err := fn(t)
		fnDone = time.Now()
		return err
	})
	if err == nil && t != nil && t.idem != nil {
		s.idx.apply(t.idem)
	}
	if err == nil && s.onCommit != nil && t != nil {
		s.onCommit(CommitInfo{Functions: fns, Sync: time.Since(fnDone), Audit: t.audited})
	}
	return err
}

func safeCall(fn func(Txn) error, t *boltTxn) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: commit function panicked: %v", p)
		}
	}()
	return fn(t)
}
