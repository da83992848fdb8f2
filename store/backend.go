package store

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrUnavailable is wrapped by the errors of a backend that cannot reach its
// data (etcd: no member answers, or the cluster has lost its quorum) within
// its deadline. The operation was not applied, or for a Commit whose answer
// was lost, its outcome is unknown to the caller; either way a retry with the
// same idempotency key is safe: the claim protocol finds what was stored.
var ErrUnavailable = errors.New("store unavailable")

// Store is sibyl's durable state, whatever keeps it: the idempotency records
// and their indexes, the audit chain, API keys, and small named buckets of
// other components' state (the paper venue, the risk ledger, order owners,
// hedge plans, cancel-on-disconnect watches).
//
// Two backends implement it: Bolt, one bbolt file owned by one process (the
// default), and package store/etcdstore, an etcd cluster shared by several
// sibyl instances. The exactly-once protocol (package orders) needs from either
// only what this interface promises:
//
//   - Commit runs a function atomically and durably (serializable: as if the
//     committed functions ran one at a time, in some order), possibly more
//     than once; see Commit for the re-run rules.
//   - A claim is fenced: Record.Attempt increases with every claim, and
//     Txn.RecordVersion changes with every write of a record, so a writer that
//     checks the version it wrote inside its next Commit knows nobody else
//     wrote in between.
//   - An owner's liveness: OwnerLive reports an instance whose claims can no
//     longer be worked on (its process is gone), so that a retry may take them
//     over at once instead of waiting for the record's lease to run out.
//   - One audit chain: AppendAudit links entries in commit order, for every
//     instance sharing the store.
//
// All methods are safe for concurrent use.
type Store interface {
	// Commit runs fn in a read-write transaction that it may share with other
	// concurrent Commit calls (group commit). It returns after the transaction
	// is durable, with fn's error or a storage error.
	//
	// fn may run more than once: when the transaction is retried (another
	// function in the batch failed, or, on a shared backend, another instance
	// wrote what fn read), fn is run again on fresh state. So fn must reset any
	// results it reports through captured variables at its start, and must
	// have no side effects outside the Txn. Return an error from fn only when
	// the transaction must not commit; report decisions (a refusal, a replay)
	// through captured variables and return nil.
	Commit(fn func(t Txn) error) error
	// CommitAsync queues fn like Commit but returns at once; done (if not nil)
	// is called with the result once the transaction is durable, on the
	// committer's goroutine, so it must be quick and must not call Commit.
	// Functions queued by one caller commit in the order they were queued.
	// Close runs every function queued before it. It fails with ErrClosed (and
	// done is not called) after Close.
	CommitAsync(fn func(t Txn) error, done func(error)) error
	// View runs fn in a read-only transaction: a consistent snapshot. Txn's
	// write methods fail inside it.
	View(fn func(t Txn) error) error

	// UpdateBucket runs fn in one read-write transaction on the named bucket
	// (created if needed), durable when it returns nil. fn has Commit's re-run
	// rules.
	UpdateBucket(name string, fn func(b Bucket) error) error
	// CommitBucketAsync is UpdateBucket through the group committer, with
	// CommitAsync's rules.
	CommitBucketAsync(name string, fn func(b Bucket) error, done func(error)) error
	// ViewBucket runs fn in a read-only transaction on the named bucket. When
	// the bucket does not exist yet, fn is either not called (Bolt) or called
	// with an empty bucket (etcd, where a bucket is only a key prefix and
	// finding out costs a round trip): callers treat both as empty.
	ViewBucket(name string, fn func(b Bucket) error) error

	// Record returns the record with the given id, read outside any Commit.
	// ok is false when there is none.
	Record(id RecordID) (rec Record, ok bool, err error)
	// WatchRecord returns a channel that is closed when the record id may have
	// changed since the call (written by any instance), or when ctx ends. It
	// returns nil when the backend cannot tell about writes made elsewhere
	// (Bolt: its process is the only writer, and package orders notifies its
	// own waiters); callers then poll.
	WatchRecord(ctx context.Context, id RecordID) <-chan struct{}
	// PendingRecords returns up to limit ids (all when limit <= 0) of tool's
	// records created before createdBefore whose outcome is still unknown
	// (state pending), oldest first.
	PendingRecords(tool string, createdBefore time.Time, limit int) []RecordID
	// OpenOrders returns up to limit orders (all when limit <= 0) whose records
	// were created before createdBefore and are kept by the retention sweep
	// only because the order may still be open at its venue. Oldest first.
	OpenOrders(createdBefore time.Time, limit int) []OpenOrder
	// Sweep deletes idempotency records created before cutoff unless their
	// order may still be open or their outcome is unknown (see Bolt.Sweep).
	Sweep(cutoff time.Time) (SweepResult, error)
	// IdemStats returns the record counts.
	IdemStats() IdemStats

	// Owner names this instance: package orders claims records under it. It
	// is "" when the backend tracks no instances (Bolt: the process holding
	// the file is the only one), and callers choose their own name.
	Owner() string
	// OwnerLive reports whether the instance named owner may still be working
	// on the records it claimed. It is false only when the backend knows that
	// instance is gone (etcd: its lease lapsed); the record's own lease
	// (Record.LeaseUntil) is checked by the caller as well.
	OwnerLive(owner string) bool
	// Lock takes the cluster-wide lock name, waiting until it is free or ctx
	// ends, and returns the function that releases it. Bolt's locks are
	// in-process. A holder whose instance dies loses the lock (etcd: with its
	// lease). Background work that one instance should do at a time (the
	// retention sweep, reconciliation) and the paper venue's trading take one.
	Lock(ctx context.Context, name string) (unlock func(), err error)

	// AuditAsync queues e for the background appender and returns without
	// waiting for it to be durable (read-only tool calls).
	AuditAsync(ctx context.Context, e AuditEntry) error
	// FlushAudit waits until every entry queued before the call is durable and
	// returns the first error the appender met since the previous flush.
	FlushAudit(ctx context.Context) error
	// AuditHead returns the chain head: the last seq and its hash.
	AuditHead() (AuditHead, error)
	// AuditEntryHashes returns the stored hash of the entry at each seq, with
	// "" for a seq that has no entry.
	AuditEntryHashes(seqs []uint64) ([]string, error)
	// ReadAudit returns up to limit entries with seq greater than afterSeq,
	// oldest first, only those of tool when tool is not empty.
	ReadAudit(afterSeq uint64, limit int, tool string) ([]AuditEntry, error)
	// ReadAuditOf is ReadAudit for one principal, reading at most scanLimit
	// entries; it returns the entries and the last seq read.
	ReadAuditOf(principal string, afterSeq uint64, limit, scanLimit int, tool string) ([]AuditEntry, uint64, error)
	// TailAudit returns the last n entries, of tool when not empty, oldest first.
	TailAudit(n int, tool string) ([]AuditEntry, error)
	// ExportAudit writes the entries after afterSeq as JSON Lines of their
	// stored canonical bytes and returns how many it wrote.
	ExportAudit(w io.Writer, afterSeq uint64) (int, error)
	// VerifyAudit checks the whole chain and returns the first bad entry.
	VerifyAudit() (AuditVerification, error)
	// VerifyAuditIncremental checks the chain a batch at a time (see
	// Bolt.VerifyAuditIncremental).
	VerifyAuditIncremental(limit int) (IncrementalVerification, error)

	// CreateAPIKey stores a new key and returns its token (shown once).
	CreateAPIKey(name string, scopes []string, now time.Time) (token string, key APIKey, err error)
	// AuthenticateAPIKey returns the live key a token names, or ErrBadAPIKey.
	AuthenticateAPIKey(token string) (APIKey, error)
	// APIKeys returns every key (revoked ones too), oldest first.
	APIKeys() ([]APIKey, error)
	// RevokeAPIKey marks a key revoked.
	RevokeAPIKey(id string, now time.Time) error

	// CommitStats returns the group committer's counters, for metrics.
	CommitStats() CommitStats
	// Describe names the backend and where its data is, for logs and
	// errors: the file's path, or the etcd endpoints and key prefix. It holds
	// no secret.
	Describe() string
	// Close writes queued work, waits for running commits and releases the
	// backend. Calls made after Close fail with ErrClosed.
	Close() error
}

// Txn is one transaction over the idempotency records, their indexes, the
// audit chain and named buckets. It is valid only inside the function given
// to Commit or View.
type Txn interface {
	// Record returns the record with the given id. ok is false when there is none.
	Record(id RecordID) (rec Record, ok bool, err error)
	// RecordVersion returns the number of the record's newest version: it
	// changes with every write of the record, so a caller that wrote version v
	// and finds it still newest knows the record is exactly what it wrote.
	RecordVersion(id RecordID) (uint64, bool)
	// PutRecord writes rec under rec.ID and updates the duplicate-detection
	// index (DupIndexed, Fingerprint) and the order index (OrderID, Venue).
	PutRecord(rec Record) error
	// PutPrepared is PutRecord for a record encoded outside the transaction;
	// it returns the new version's number.
	PutPrepared(p PreparedRecord) (version uint64, err error)
	// FingerprintUse returns the last use of fingerprint by principal on tool.
	FingerprintUse(principal, tool, fingerprint string) (FingerprintUse, bool, error)
	// MarkOrderFinal sets OrderFinal on the record that opened principal's
	// order orderID at venue and reports whether there is one.
	MarkOrderFinal(principal, venue, orderID string, now time.Time) (bool, error)
	// OwnerLive is Store.OwnerLive read inside the transaction: if the
	// answer changes before the transaction commits, it is retried.
	OwnerLive(owner string) (bool, error)
	// AppendAudit links e to the audit chain in this transaction, so the entry
	// and the state it describes commit together, and returns the stored entry.
	AppendAudit(e AuditEntry) (AuditEntry, error)
	// Bucket returns the named bucket inside this transaction. In a Commit it
	// is created when missing; in a View a missing bucket is returned as nil
	// with a nil error, and callers treat it as empty.
	Bucket(name string) (Bucket, error)
}

// Bucket is one named bucket inside a transaction. Values returned by Get
// are copies and stay valid after the transaction. A Bucket must not be
// used after its transaction's function returns.
type Bucket interface {
	// Get returns a copy of the value at key, or nil when there is none.
	Get(key []byte) []byte
	// Put stores value at key. It fails inside a View.
	Put(key, value []byte) error
	// Delete removes key. It fails inside a View.
	Delete(key []byte) error
	// ForEachPrefix calls fn for every key with the given prefix, in key
	// order, with copies of key and value. Iteration stops at the first
	// error, which is returned.
	ForEachPrefix(prefix []byte, fn func(key, value []byte) error) error
	// NextSequence returns the bucket's next autoincrement integer.
	NextSequence() (uint64, error)
	// PackPages hints that keys are written mostly in ascending order (Bolt
	// fills pages completely); other backends ignore it.
	PackPages()
}

// ValidBucketName reports whether name may name a bucket on every backend:
// 1 to 64 bytes of [a-z0-9_].
func ValidBucketName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
