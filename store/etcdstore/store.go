package etcdstore

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sibylmcp/sibyl/store"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// Key spaces under the prefix (see the package doc).
const (
	keyRecords    = "rec/"
	keyFingerprts = "fp/"
	keyOrders     = "ord/"
	keyAuditHead  = "audit/head"
	keyAuditEntry = "audit/e/"
	keyAPIKeys    = "keys/"
	keyBuckets    = "b/"
	keyBucketSeq  = "bseq/"
	keyOwners     = "owners/"
	keyLocks      = "locks/"
)

// Defaults of Options.
const (
	DefaultPrefix      = "/sibyl/"
	DefaultDialTimeout = 5 * time.Second
	DefaultOpTimeout   = 5 * time.Second
	DefaultSessionTTL  = 10 * time.Second
	DefaultMaxBatch    = 256
	DefaultMaxTxnOps   = 128     // etcd's default --max-txn-ops
	DefaultMaxTxnBytes = 1 << 20 // under etcd's default --max-request-bytes (1.5 MiB)
	DefaultMaxRetries  = 64
	defaultAuditQueue  = 4096
	defaultAuditBatch  = 64
	readCacheSize      = 16384
)

// Options configures Open. Endpoints is required.
type Options struct {
	// Endpoints are the etcd client URLs, such as http://10.0.0.1:2379.
	Endpoints []string
	// Prefix is put before every key (default "/sibyl/"), so one cluster can
	// hold several deployments. It must end with "/".
	Prefix string
	// TLS, when not nil, is used to reach etcd (client certificates, CA).
	TLS *tls.Config
	// Username and Password authenticate to etcd when Username is set (then
	// Password is required: etcd would otherwise take the requests as from the
	// user its client certificate names, or refuse them). The password is
	// never logged or put in an error.
	Username, Password string
	// DialTimeout bounds connecting at Open (default 5s).
	DialTimeout time.Duration
	// OpTimeout is the deadline of one etcd round trip (a read, a commit's
	// Txn), default 5s: with the quorum lost an operation fails with
	// store.ErrUnavailable after about this long, instead of hanging.
	OpTimeout time.Duration
	// SessionTTL is the lease of this instance's liveness (default 10s,
	// rounded up to whole seconds): an instance that dies is seen gone by the
	// others at most this long after.
	SessionTTL time.Duration
	// AuditKey, when not empty, adds an HMAC-SHA256 to every audit entry and
	// makes VerifyAudit check it (store.Options.AuditKey). Every instance must
	// use the same key.
	AuditKey []byte
	// MaxBatch bounds how many Commit functions share one transaction
	// (default 256).
	MaxBatch int
	// MaxTxnOps bounds the operations (and the compares) of one etcd Txn
	// (default 128, etcd's default --max-txn-ops); larger batches are split.
	MaxTxnOps int
	// MaxTxnBytes bounds the size of one etcd Txn request (default 1 MiB,
	// under etcd's default --max-request-bytes).
	MaxTxnBytes int
	// MaxRetries bounds how often a batch is run again after another
	// instance wrote what it read (default 64); then its functions fail with
	// an error wrapping store.ErrUnavailable.
	MaxRetries int
	// OnCommit, when not nil, is told of every committed transaction, as
	// store.Options.OnCommit.
	OnCommit func(store.CommitInfo)
	// Logger receives what has no caller to go to (a lost session, a failed
	// revoke). Default: discard.
	Logger *slog.Logger
}

// Store is the etcd backend of store.Store. It is safe for concurrent use.
type Store struct {
	cli       *clientv3.Client
	prefix    string
	endpoints []string
	username  string
	login     *login // nil without a user
	auditKey  []byte
	opTimeout time.Duration
	ttl       int
	maxBatch  int
	maxOps    int
	maxBytes  int
	maxRetry  int
	onCommit  func(store.CommitInfo)
	log       *slog.Logger

	owner    string
	ownerKey string

	ctx    context.Context // ends at Close, after the queues are drained
	cancel context.CancelFunc

	sessMu sync.Mutex
	sess   *concurrency.Session // nil while the lease is lost
	lease  atomic.Int64         // the live session's lease; 0 while lost

	maxRev atomic.Int64 // the newest revision any response showed
	cache  *readCache   // last values seen, for write transactions (see readCache)

	mu       sync.RWMutex // guards closed and the sends on commitCh
	closed   bool
	commitCh chan *commitReq
	audit    *store.AuditQueue // the asynchronous appender, writing through Commit
	loops    sync.WaitGroup    // the committer
	sessLoop sync.WaitGroup

	locks sync.Map // lock name -> chan struct{} of capacity 1: one holder per process

	verified verifiedPrefix

	commitTxs  atomic.Uint64
	commitFns  atomic.Uint64
	commitBusy atomic.Int64
	retries    atomic.Uint64
	txnsSent   atomic.Uint64 // commit Txns sent to etcd (tests: none without quorum)
}

var _ store.Store = (*Store)(nil)

// Open connects to etcd, checks that it answers (and that the credentials
// work), grants this instance's lease and registers its owner id. It fails
// with an error wrapping store.ErrUnavailable when etcd cannot be reached
// within DialTimeout and OpTimeout. ctx bounds Open only.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("etcdstore: no etcd endpoints")
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("etcdstore: prefix %q must end with /", prefix)
	}
	ttl := opts.SessionTTL
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	s := &Store{
		prefix:    prefix,
		endpoints: append([]string(nil), opts.Endpoints...),
		username:  opts.Username,
		auditKey:  append([]byte(nil), opts.AuditKey...),
		opTimeout: orDefault(opts.OpTimeout, DefaultOpTimeout),
		ttl:       int((ttl + time.Second - 1) / time.Second),
		maxBatch:  orDefaultInt(opts.MaxBatch, DefaultMaxBatch),
		maxOps:    orDefaultInt(opts.MaxTxnOps, DefaultMaxTxnOps),
		maxBytes:  orDefaultInt(opts.MaxTxnBytes, DefaultMaxTxnBytes),
		maxRetry:  orDefaultInt(opts.MaxRetries, DefaultMaxRetries),
		onCommit:  opts.OnCommit,
		log:       opts.Logger,
		commitCh:  make(chan *commitReq, 1024),
		cache:     newReadCache(readCacheSize),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxOps < 4 {
		return nil, fmt.Errorf("etcdstore: MaxTxnOps %d is too small", s.maxOps)
	}
	if opts.Username != "" && opts.Password == "" {
		return nil, fmt.Errorf("etcdstore: user %q without a password", opts.Username)
	}
	if opts.Username == "" && opts.Password != "" {
		return nil, errors.New("etcdstore: a password without a user name")
	}
	dialTimeout := orDefault(opts.DialTimeout, DefaultDialTimeout)
	cfg := clientv3.Config{
		Endpoints:            s.endpoints,
		DialTimeout:          dialTimeout,
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		TLS:                  opts.TLS,
		Logger:               zap.NewNop(),
		Context:              context.WithoutCancel(ctx),
	}
	if opts.Username != "" {
		// Not cfg.Username: see login.
		lctx, cancel := context.WithTimeout(ctx, dialTimeout)
		lg, err := newLogin(lctx, cfg, opts.Username, opts.Password)
		cancel()
		if err != nil {
			return nil, s.scrub(s.openErr(ctx, "logging in to "+s.Describe(), err, opts.TLS), opts.Password)
		}
		s.login = lg
		cfg.DialOptions = lg.dialOptions()
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		s.closeLogin()
		return nil, s.scrub(s.openErr(ctx, "connecting to "+s.Describe(), err, opts.TLS), opts.Password)
	}
	s.cli = cli
	s.ctx, s.cancel = context.WithCancel(context.Background())
	fail := func(err error) (*Store, error) {
		s.cancel()
		cli.Close()
		s.closeLogin()
		return nil, s.scrub(err, opts.Password)
	}
	// A first read: the endpoints answer, the credentials work, a quorum is there.
	octx, cancel := context.WithTimeout(ctx, s.opTimeout)
	resp, err := cli.Get(octx, s.prefix+keyOwners, clientv3.WithPrefix(), clientv3.WithCountOnly())
	cancel()
	if err != nil {
		return fail(s.openErr(ctx, "reading "+s.Describe(), err, opts.TLS))
	}
	s.seen(resp.Header.Revision)
	s.owner = newOwnerID()
	s.ownerKey = s.prefix + keyOwners + s.owner
	if err := s.register(ctx); err != nil {
		return fail(err)
	}
	s.sessLoop.Add(1)
	go s.keepSession()
	s.loops.Add(1)
	go s.commitLoop()
	s.audit = store.NewAuditQueue(defaultAuditQueue, defaultAuditBatch, s.writeAudit)
	return s, nil
}

func orDefault(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

func orDefaultInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// newOwnerID names this instance: its host name, for people reading records,
// and random bytes, so that two instances on one host differ.
func newOwnerID() string {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return -1
	}, host)
	if len(host) > 32 {
		host = host[:32]
	}
	if host == "" {
		host = "sibyl"
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// register grants a lease, starts its session and puts the owner key under
// it. It is called at Open and after the lease was lost.
func (s *Store) register(ctx context.Context) error {
	octx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	g, err := s.cli.Grant(octx, int64(s.ttl))
	if err != nil {
		return s.etcdErr("granting the instance lease", err)
	}
	sess, err := concurrency.NewSession(s.cli, concurrency.WithLease(g.ID), concurrency.WithTTL(s.ttl), concurrency.WithContext(s.ctx))
	if err != nil {
		s.revoke(g.ID)
		return s.etcdErr("keeping the instance lease alive", err)
	}
	info := fmt.Sprintf(`{"registered":%q}`, time.Now().UTC().Format(time.RFC3339Nano))
	if _, err := s.cli.Put(octx, s.ownerKey, info, clientv3.WithLease(g.ID)); err != nil {
		sess.Orphan()
		s.revoke(g.ID)
		return s.etcdErr("registering the instance", err)
	}
	s.sessMu.Lock()
	s.sess = sess
	s.lease.Store(int64(g.ID))
	s.sessMu.Unlock()
	return nil
}

func (s *Store) revoke(id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opTimeout)
	defer cancel()
	if _, err := s.cli.Revoke(ctx, id); err != nil {
		s.log.Warn("etcd: revoking a lease; it expires on its own", "err", err)
	}
}

// session returns the live session, or nil while the lease is lost.
func (s *Store) session() *concurrency.Session {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	return s.sess
}

// keepSession waits for the session to end; if that was not Close, the lease
// lapsed (the instance was cut off from etcd longer than its TTL): commits
// are refused (the fence fails) until a new lease carries the owner key.
func (s *Store) keepSession() {
	defer s.sessLoop.Done()
	for {
		sess := s.session()
		if sess == nil {
			return
		}
		select {
		case <-s.ctx.Done():
			return
		case <-sess.Done():
		}
		if s.ctx.Err() != nil {
			return
		}
		s.sessMu.Lock()
		if s.sess == sess {
			s.sess = nil
			s.lease.Store(0)
		}
		s.sessMu.Unlock()
		s.log.Error("etcd: this instance's lease lapsed; refusing commits until it is registered again", "owner", s.owner)
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
			err := s.register(s.ctx)
			if err == nil {
				s.log.Info("etcd: instance registered again", "owner", s.owner)
				break
			}
			if s.ctx.Err() != nil {
				return
			}
			s.log.Warn("etcd: registering the instance again", "err", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
	}
}

// seen records a revision a response showed.
func (s *Store) seen(rev int64) {
	for {
		cur := s.maxRev.Load()
		if rev <= cur || s.maxRev.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// opCtx is the context of one etcd round trip.
func (s *Store) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, s.opTimeout)
}

// etcdErr wraps an error of an etcd call. Requests etcd refuses for their size
// are the caller's problem, and refusals of the credentials or the user's
// permissions (a retry will not help) name the user; everything else (no
// leader, lost quorum, deadline, connection refused) wraps store.ErrUnavailable.
func (s *Store) etcdErr(op string, err error) error {
	switch {
	case errors.Is(err, rpctypes.ErrTooManyOps), errors.Is(err, rpctypes.ErrRequestTooLarge):
		return fmt.Errorf("etcd: %s: %w", op, err)
	case errors.Is(err, rpctypes.ErrAuthFailed):
		return fmt.Errorf("etcd: %s: user %q: wrong user name or password: %w", op, s.username, err)
	case errors.Is(err, rpctypes.ErrPermissionDenied), errors.Is(err, rpctypes.ErrUserEmpty):
		who := "no user (etcd auth is on: give a user name and password, or a client certificate naming a user)"
		if s.username != "" {
			who = fmt.Sprintf("user %q (its roles must grant readwrite on the keys under %s)", s.username, s.prefix)
		}
		return fmt.Errorf("etcd: %s: permission denied to %s: %w", op, who, err)
	}
	return fmt.Errorf("%w: etcd: %s: %w", store.ErrUnavailable, op, err)
}

// openErr is etcdErr for Open's first contact: when no server answered at
// all, it connects to each endpoint itself to say why (a TLS handshake that
// failed, a client certificate refused, nothing listening), which gRPC's
// "context deadline exceeded" does not.
func (s *Store) openErr(ctx context.Context, op string, err error, cfg *tls.Config) error {
	err = s.etcdErr(op, err)
	if !errors.Is(err, store.ErrUnavailable) || reachedServer(err) {
		return err
	}
	found := diagnose(context.WithoutCancel(ctx), s.endpoints, cfg)
	if len(found) == 0 {
		return err
	}
	return fmt.Errorf("%w; %w", err, errors.Join(found...))
}

// scrub takes the password out of an error's text, in case a layer below
// ever quotes it.
func (s *Store) scrub(err error, password string) error {
	if err == nil || password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return &scrubbed{msg: strings.ReplaceAll(err.Error(), password, "[redacted]"), err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// Owner returns this instance's owner id (see the package doc).
func (s *Store) Owner() string { return s.owner }

// Describe names the cluster and the prefix, without credentials.
func (s *Store) Describe() string {
	eps := make([]string, len(s.endpoints))
	for i, e := range s.endpoints {
		if u, err := url.Parse(e); err == nil && u.User != nil {
			u.User = nil
			e = u.String()
		}
		eps[i] = e
	}
	return "etcd " + strings.Join(eps, ",") + " prefix " + s.prefix
}

// Prefix returns the key prefix.
func (s *Store) Prefix() string { return s.prefix }

// Client returns the etcd client, for tools and tests that look at the keys.
func (s *Store) Client() *clientv3.Client { return s.cli }

// CommitStats returns the group committer's counters; Retries counts batches
// run again after a conflict with another instance.
func (s *Store) CommitStats() store.CommitStats {
	return store.CommitStats{Transactions: s.commitTxs.Load(), Functions: s.commitFns.Load(),
		Busy: time.Duration(s.commitBusy.Load()), Retries: s.retries.Load()}
}

// Close runs the queued audit entries and commits, revokes this instance's
// lease (so the others see it gone at once) and closes the client. Calls made
// after Close fail with store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.audit.Close() // its writes go through the committer: before commitCh closes
	s.mu.Lock()
	close(s.commitCh)
	s.mu.Unlock()
	s.loops.Wait()
	s.cancel() // ends the keepalive and the session loop, which may be registering again
	s.sessLoop.Wait()
	sess := s.session()
	var err error
	if sess != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.opTimeout)
		if _, rerr := s.cli.Revoke(ctx, sess.Lease()); rerr != nil {
			s.log.Warn("etcd: revoking the instance lease at close; it expires on its own", "err", rerr)
		}
		cancel()
	}
	if cerr := s.cli.Close(); cerr != nil && !errors.Is(cerr, context.Canceled) {
		err = cerr
	}
	s.closeLogin()
	return err
}

func (s *Store) closeLogin() {
	if s.login != nil {
		s.login.close()
	}
}

// checkOpen returns store.ErrClosed after Close.
func (s *Store) checkOpen() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	return nil
}
