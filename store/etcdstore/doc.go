// Package etcdstore is the store.Store backend for several sibyl instances
// sharing one etcd cluster (`sibyl serve --store etcd`). Every instance can
// serve every call: the idempotency records, their indexes, the audit chain,
// API keys and other components' buckets are etcd keys, and every write goes
// through an etcd transaction that commits only if nothing it read has
// changed since it read it.
//
// # Layout
//
// Every key is under Options.Prefix (default "/sibyl/"), so one cluster can
// hold several deployments:
//
//	rec/<principal>\x00<tool>\x00<key>       8-byte version counter + store.PreparedRecord.Encoded
//	fp/<principal>\x00<tool>\x00<fingerprint> duplicate detection: 8-byte Unix ns + idempotency key
//	ord/<principal>\x00<venue>\x00<order id>  the record id that opened the order
//	audit/head                                the chain head, as Bolt stores it
//	audit/e/<20-digit seq>                    one entry's canonical bytes, as Bolt stores them
//	keys/<id>                                 an API key (store.APIKey JSON; only its hash)
//	b/<bucket>/<key>                          named buckets (paper venue, risk ledger, ...)
//	bseq/<bucket>                             a bucket's NextSequence counter
//	owners/<owner id>                         an instance's liveness, under its session lease
//	locks/<name>/...                          concurrency.Mutex keys (Store.Lock)
//
// # Transactions
//
// Commit is optimistic and group-committed per instance: one committer
// goroutine runs a batch of queued functions against one transaction that
// reads at a pinned snapshot revision (the first read's, linearizable) and buffers writes (a
// function's reads see the writes of the functions before it). Every key read
// is remembered with its ModRevision (0 when absent), and every range read
// (Bucket.ForEachPrefix) as a range, and the commit is one etcd Txn:
// If(ModRevision(k) == seen, for each key read; every key of each range read
// at most the snapshot; this instance's owner key still under its lease)
// Then(puts, deletes). If another instance wrote any of it, the Txn fails, the
// values it read are fetched in the same round trip, and the whole batch runs
// again on that newer snapshot (bounded retries with jittered backoff; then
// the functions fail with a store.ErrUnavailable contention error). So
// committed transactions are serializable across instances, in etcd's commit
// order. A range read detects keys inserted into its range or changed, by the
// range compare, and keys deleted from it, by the per-key compares.
//
// Reads cost round trips, so two shortcuts keep them few, both safe because
// the commit's compares check every value read. A read at the pinned revision
// is served by whichever member has applied it (serializable; a member that
// has not yet answers ErrFutureRev and the read goes through the leader). And
// a write transaction takes a key's value from the instance's cache of the
// last values it read or committed (Store.Record fills it, so a claim reads
// its record from there): a stale value fails the compare, and the batch runs
// again on the values the failed Txn returned. A batch that read from the
// cache sends its compares even when it writes nothing, so what it decided on
// was current. View never uses the cache. A batch that writes without having
// read anything reads once first, so that a cluster without quorum refuses it
// before any Txn is sent (a Txn sent without quorum may still commit once the
// quorum is back: its outcome is unknown).
//
// A function that returns an error has its buffered writes rolled back to the
// savepoint taken before it; the others are not re-run for it. A batch whose
// writes or compares would exceed one etcd Txn (Options.MaxTxnOps, etcd's
// --max-txn-ops; Options.MaxTxnBytes, under --max-request-bytes) is committed
// as several Txns, split between functions; one function too large for a Txn
// on its own fails.
//
// # Availability
//
// Every etcd round trip has a deadline (Options.OpTimeout). An operation that
// cannot reach a quorum within it fails with an error wrapping
// store.ErrUnavailable, which package orders answers as the retryable
// `unavailable`: with quorum lost, orders are refused, never guessed. A Commit
// whose Txn was sent but not answered may or may not have been applied; the
// caller is told ErrUnavailable and the claim protocol finds out on the retry.
// Once a batch meets an unavailable cluster, the whole batch fails at once
// instead of every function waiting out its own deadline.
//
// # Connecting: TLS and credentials
//
// Options.TLS carries the CA and the client certificate; Username and
// Password log in to etcd's role-based auth (the user's roles need readwrite
// on the prefix's range, nothing more). gRPC reports an endpoint it could not
// use only as a passed deadline, so when Open reaches no server it connects to
// each endpoint itself and wraps an EndpointError per problem it finds (a
// TLS handshake the CA does not trust, a refused client certificate, a TLS
// server behind http://), beside store.ErrUnavailable. A wrong password, an
// unknown user or missing permissions are not ErrUnavailable (a retry will
// not help): their errors name the user and wrap etcd's rpctypes error. The
// password is scrubbed from every error Open returns.
//
// The store logs in itself (login.go) instead of through clientv3's
// Username/Password: against an etcd 3.4 server clientv3 cannot log in again
// once its token lapsed (after --auth-token-ttl, 300 s by default, without a
// request), and every call then failed until a restart (TestAuthTokenExpiry).
// A request refused for its token is sent once more with a new one; etcd
// refused it without applying it.
//
// # Instances
//
// Open grants a lease (Options.SessionTTL, default 10 s) kept alive by a
// concurrency.Session, and registers the instance's owner id at owners/<id>
// under it. OwnerLive(id) is that key's existence, so an instance that dies
// stops being live at most SessionTTL later, and Close revokes the lease so
// that the others see it gone at once. Every commit Txn also compares that
// this instance's own owner key is still under its current lease: if the
// lease lapsed (the instance was cut off from etcd for longer than the TTL,
// and the others may have taken its claims over), no commit of it lands.
// The instance then keeps trying to grant a new lease and registers the same
// owner id under it; until then Commit fails with ErrUnavailable. Coming back
// under the same name is safe for the same reason a record's lease running
// out while its owner still works is: every completion checks the record's
// version (store.Txn.RecordVersion), and every takeover increments its
// Attempt. package orders takes the owner id once, at start, so a new id
// would not reach it.
//
// # Audit
//
// There is one chain for the whole cluster. AppendAudit reads audit/head in
// the transaction, links the entry exactly as Bolt does (the same canonical
// bytes, hash and HMAC, through store.LinkAudit), and writes the entry and the
// new head. Instances appending at the same time conflict on the head and one
// of them runs again, so the chain's order is etcd's commit order of the
// transactions that appended, and it has no gaps: an entry is written only
// with the head that names it. `sibyl audit verify` checks it with the same
// per-entry checks as Bolt's (store.CheckAuditEntry, store.ChainVerifier).
//
// This package must never keep state that another instance needs outside
// etcd, and never log the etcd password or an API key's secret.
package etcdstore
