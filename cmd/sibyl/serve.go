package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sibylmcp/sibyl/mcp"
	"github.com/sibylmcp/sibyl/metrics"
	"github.com/sibylmcp/sibyl/orders"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/tools"
	"github.com/sibylmcp/sibyl/ui"
	"github.com/sibylmcp/sibyl/venues/paper"
	"golang.org/x/time/rate"
)

const serveHelp = `Usage: sibyl serve [flags]

Serves MCP over stdio (the default: for Claude Desktop, Claude Code, Cursor, VS Code)
or over Streamable HTTP at /mcp with --http. The embedded default venue is the paper
venue: simulated markets and money, no network, no credentials.

Environment only:
  SIBYL_AUDIT_KEY   adds an HMAC-SHA256 keyed with this value to every audit entry
                    (and 'sibyl audit verify' then checks it); never logged or stored

Flags (each also read from the environment variable in brackets):
`

// Main is the serve command: its configuration and the parts it opened.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer

	HTTPAddr  string // empty: stdio
	DataDir   string
	Seed      int64
	LogLevel  slog.Level
	AllowHost string  // extra Host/Origin names allowed over HTTP (comma-separated)
	OHLCVDir  string  // CSV price history for the grade tools; empty: the paper world's
	RateLimit float64 // HTTP requests per second per API key
	PaperCash float64 // each principal's opening paper balance, dollars
	// paperCashSet is true when --paper-cash or SIBYL_PAPER_CASH was given.
	paperCashSet bool
	// InsecureNoAuth allows serving HTTP beyond loopback without API keys,
	// and without authentication when every key of the data file is revoked.
	InsecureNoAuth bool
	hadKeys        bool // the data file has held an API key (revoked ones count)
	// AuditAnchor is the file that receives checkpoints of the audit chain's
	// head (see anchor.go); empty: none.
	AuditAnchor string

	// storeMaxBatch caps the functions per group-commit transaction (0: the
	// store's default). Benchmarks set 1 to measure the server without group
	// commit: every transaction its own fsync.
	storeMaxBatch int
	// paperInMemory (benchmarks only, never set by a flag) keeps the paper
	// venue's state in memory instead of the store, so that every instance
	// has its own paper world. BenchmarkPlaceOrderCluster sets it on every
	// variant so that it measures the store under the order path (records,
	// audit chain, risk ledger, sessions), not the paper venue's shared state.
	paperInMemory bool

	venueFlags  venueFlags     // --venues, --live (venues.go)
	ops         opsFlags       // --metrics-addr, --tls-*, --feed, --config (opsflags.go)
	risk        riskFlags      // risk limits and --confirm-above (risk.go)
	limits      httpLimits     // HTTP timeouts and caps (httplimits.go)
	halt        *orders.Halt   // the kill switch's state
	control     *control       // applies 'sibyl halt' / 'sibyl resume' (halt.go)
	disconnects sync.WaitGroup // cancels of sessions that ended (disconnect.go)

	metrics   *metrics.Metrics // /metrics (health.go)
	noMetrics bool             // benchmarks: serve without metrics, to measure what they cost
	ready     *readiness       // /readyz (health.go)
	srvMu     sync.Mutex
	srv       *mcp.Server // for the sessions gauge

	store      store.Store
	storeFlags storeFlags   // --store and the etcd options (storeflags.go)
	paper      *paper.Venue // the paper venue, for 'sibyl paper' through the local socket
	// httpNoAuth is set when this process serves HTTP without authentication
	// (it started with no API key): a key created through the local socket
	// is accepted, but keys are required only after a restart.
	httpNoAuth atomic.Bool
	// localSocket is the socket other local clients reach this process on
	// (local.go); empty when there is none.
	localSocket string
	anchor      *anchorLoop
	sweeper     *store.Sweeper
	orders      *orders.Service
	logger      *slog.Logger
}

// dbPath is the data file's path.
func (m *Main) dbPath() string { return filepath.Join(m.DataDir, "sibyl.db") }

// ParseFlags reads flags, falling back to environment variables.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprint(m.Stderr, serveHelp)
		fs.PrintDefaults()
	}
	seed, err := envInt("SIBYL_SEED", 1)
	if err != nil {
		return err
	}
	level := envString("SIBYL_LOG_LEVEL", "info")
	fs.StringVar(&m.HTTPAddr, "http", envString("SIBYL_HTTP", ""), "serve Streamable HTTP at `ADDR` (such as 127.0.0.1:7777) on /mcp instead of stdio [SIBYL_HTTP]")
	fs.StringVar(&m.DataDir, "data-dir", envString("SIBYL_DATA_DIR", defaultDataDir()), "`DIR` for the data file DIR/sibyl.db [SIBYL_DATA_DIR]")
	fs.Int64Var(&m.Seed, "seed", seed, "seed of the paper venue's simulated world [SIBYL_SEED]")
	fs.StringVar(&level, "log-level", level, "log level on stderr: debug, info, warn, error [SIBYL_LOG_LEVEL]")
	fs.StringVar(&m.OHLCVDir, "ohlcv-dir", envString("SIBYL_OHLCV_DIR", ""), "grade tokens from the <SYMBOL>USDT_1d.csv files in `DIR` (default feed) besides the paper world's simulated history [SIBYL_OHLCV_DIR]")
	rl, err := strconv.ParseFloat(envString("SIBYL_RATE_LIMIT", "50"), 64)
	if err != nil {
		return fmt.Errorf("SIBYL_RATE_LIMIT: want a number")
	}
	fs.Float64Var(&m.RateLimit, "rate-limit", rl, "HTTP requests per second per API key (bursts of twice that); 0 means unlimited [SIBYL_RATE_LIMIT]")
	cash, err := strconv.ParseFloat(envString("SIBYL_PAPER_CASH", "10000"), 64)
	if err != nil || !(cash > 0) {
		return fmt.Errorf("SIBYL_PAPER_CASH: want a positive number of dollars")
	}
	fs.Float64Var(&m.PaperCash, "paper-cash", cash, "opening paper balance of each principal, in dollars [SIBYL_PAPER_CASH]")
	fs.BoolVar(&m.InsecureNoAuth, "insecure-no-auth", false, "allow --http on a non-loopback address without API keys, or without authentication once every key is revoked (anyone who reaches it may trade)")
	fs.StringVar(&m.AllowHost, "allow-host", envString("SIBYL_ALLOW_HOST", ""), "extra comma-separated host names accepted in Host and Origin headers over HTTP (loopback names are always accepted) [SIBYL_ALLOW_HOST]")
	fs.StringVar(&m.AuditAnchor, "audit-anchor", envString("SIBYL_AUDIT_ANCHOR", ""), "append checkpoints of the audit chain's head (seq, hash, HMAC with SIBYL_AUDIT_KEY) to `FILE`, outside the data file, at start, every 10 s or 1,000 entries while it moves, and at shutdown; 'sibyl audit verify --anchor FILE' then detects truncation, wipes and rollbacks of the data file. Keep FILE on other storage [SIBYL_AUDIT_ANCHOR]")
	m.storeFlags.register(fs)
	m.risk.register(fs)
	m.venueFlags.register(fs)
	if err := m.limits.register(fs); err != nil {
		return err
	}
	m.ops.register(fs)
	// The config file fills in what neither a flag nor its environment
	// variable sets: it must come after every flag is defined (config.go).
	if err := m.ops.loadConfig(fs, args); err != nil {
		return err
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) { m.paperCashSet = m.paperCashSet || f.Name == "paper-cash" })
	if _, ok := os.LookupEnv("SIBYL_PAPER_CASH"); ok {
		m.paperCashSet = true
	}
	if err := m.ops.check(fs, m.Stdout); err != nil {
		return err
	}
	if err := m.storeFlags.check(); err != nil {
		return err
	}
	if err := m.risk.check(); err != nil {
		return err
	}
	if err := m.limits.check(); err != nil {
		return err
	}
	if len(pos) > 0 {
		fmt.Fprintf(m.Stderr, "sibyl serve: unexpected argument %q\n", pos[0])
		return errUsage
	}
	if err := m.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	if !(m.PaperCash > 0) {
		return fmt.Errorf("--paper-cash %g: want a positive number of dollars", m.PaperCash)
	}
	return nil
}

// Run opens the data file, builds the server and serves until ctx ends (or stdin
// closes, on stdio).
func (m *Main) Run(ctx context.Context) error {
	m.logger = slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: m.LogLevel}))
	// One sibyl per data file: a stdio client of a data file another process
	// serves is bridged to it (local.go).
	if m.HTTPAddr == "" && !m.storeFlags.shared() {
		if c, err := dialLocal(m.DataDir); err == nil {
			return m.bridge(ctx, c)
		}
	}
	srv, err := m.Open()
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			if m.HTTPAddr == "" {
				// It won the file as we started: its socket comes up shortly.
				if c, derr := dialLocalWait(m.DataDir, 5*time.Second); derr == nil {
					return m.bridge(ctx, c)
				}
			}
			return fmt.Errorf("%w. Another 'sibyl serve' holds this data file; stdio clients bridge to it through %s, but an HTTP server must hold the file itself: stop the other process (or start the HTTP server first), or use another --data-dir", err, socketPath(m.DataDir))
		}
		return err
	}
	// The local socket lets CLI commands and stdio clients reach the process
	// that holds a bbolt file. On a shared store every command opens the
	// store itself, and every stdio process is an instance of its own.
	if !m.storeFlags.shared() {
		stopLocal, err := m.startLocal(ctx, srv)
		if err != nil {
			return err
		}
		defer stopLocal()
	} else {
		stopOrphans := m.cancelOrphansEvery(orphanCheck)
		defer stopOrphans()
	}
	m.warnPaperCash(ctx)
	dbPath := m.store.Describe()
	if m.HTTPAddr == "" {
		m.banner("stdio", dbPath)
		stop, err := m.serveMetricsAddr(ctx)
		if err != nil {
			return err
		}
		defer stop()
		return srv.ServeStdio(ctx, m.Stdin, m.Stdout)
	}
	return m.serveHTTP(ctx, srv, dbPath)
}

// Open opens the data file and builds the MCP server with every tool, without
// serving it. Run calls it; benchmarks and tests that serve in-process do too.
// The caller must Close the Main.
func (m *Main) Open() (*mcp.Server, error) {
	if m.logger == nil {
		m.logger = slog.New(slog.DiscardHandler)
	}
	tuneGC()
	if m.metrics == nil && !m.noMetrics {
		m.metrics = m.newMetrics()
	}
	st, err := m.storeFlags.open(context.Background(), m.DataDir,
		store.Options{AuditKey: auditKey(), MaxBatch: m.storeMaxBatch, OnCommit: m.onCommit}, storeCreate, m.logger)
	if err != nil {
		return nil, err
	}
	m.store = st
	if m.AuditAnchor != "" {
		a, err := startAnchor(m.AuditAnchor, st, auditKey(), m.logger)
		if err != nil {
			return nil, err
		}
		m.anchor = a
	}

	paperStore := st
	if m.paperInMemory {
		paperStore = nil
	}
	pv, err := paper.New(paper.Options{Seed: m.Seed, Store: paperStore, StartingCash: m.PaperCash})
	if err != nil {
		return nil, fmt.Errorf("starting the paper venue: %w", err)
	}
	m.paper = pv
	pf, err := m.priceFeeds(pv)
	if err != nil {
		return nil, err
	}
	venues, defaultVenue, err := m.buildVenues(context.Background(), pv)
	if err != nil {
		return nil, err
	}
	hooks, err := crashHooks(os.Getenv("SIBYL_TEST_CRASH"), m.logger)
	if err != nil {
		return nil, err
	}
	limits, err := m.risk.limitsFor(venues)
	if err != nil {
		return nil, err
	}
	m.halt = &orders.Halt{}
	// One process per bbolt file: any other owner of a pending record has
	// died. On a shared store the other instances are alive until the store
	// says otherwise (Store.OwnerLive).
	svc := orders.New(orders.Options{Store: st, Venues: venues, Hooks: hooks, Logger: m.logger, SoleOwner: !m.storeFlags.shared(),
		Limits: limits, Halt: m.halt, Live: m.venueFlags.live, SessionLive: m.sessionLive(st)})
	m.orders = svc
	// The kill switch: applied before the first call is served, then watched.
	m.control = &control{ch: m.controlChannel(st), store: st, orders: svc, halt: m.halt, log: m.logger}
	m.control.start()
	m.sweeper = store.StartSweeper(st, store.SweeperOptions{
		// Orders that rested and then filled or expired at the venue keep their
		// records until a venue says they are final.
		BeforeSweep: func(ctx context.Context, cutoff time.Time) {
			res, err := svc.ReconcileOpen(ctx, cutoff, reconcilePerSweep)
			if err != nil && ctx.Err() == nil {
				m.logger.Error("reconciling open orders", "err", err)
			}
			if res != (orders.ReconcileResult{}) {
				m.logger.Info("reconciled open orders", "checked", res.Checked, "final", res.Final, "open", res.Open, "failed", res.Failed)
			}
			// Orders whose outcome was left unknown and whose key nobody
			// retried: completed from the venue when it has them.
			pres, err := svc.ReconcilePending(ctx, time.Now().Add(-pendingGrace), reconcilePerSweep)
			if err != nil && ctx.Err() == nil {
				m.logger.Error("reconciling pending records", "err", err)
			}
			if pres != (orders.PendingResult{}) {
				m.logger.Info("reconciled pending records", "checked", pres.Checked, "completed", pres.Completed, "not_at_venue", pres.NotAtVenue, "failed", pres.Failed)
			}
		},
		OnSweep: func(r store.SweepResult, err error) {
			if err != nil {
				m.logger.Error("sweeping idempotency records", "err", err)
			} else if r != (store.SweepResult{}) {
				m.logger.Info("swept idempotency records", "deleted", r.Deleted, "kept_open", r.KeptOpen, "kept_pending", r.KeptPending, "superseded", r.Superseded)
			}
		},
	})
	confirmAbove, err := m.risk.confirmFor(venues)
	if err != nil {
		return nil, err
	}
	deps := &tools.Deps{Venues: venues, DefaultVenue: defaultVenue, Feeds: pf.feeds, DefaultFeed: pf.def, LiveFeeds: pf.live, Orders: svc, Store: st,
		Spot: pf.spot, VolFeed: pf.volFeed, ConfirmAbove: confirmAbove, Limits: limits, SecondOpinion: m.secondOpinion()}
	m.ready = &readiness{store: st, venues: venues, log: m.logger}

	all := tools.All(deps)
	stateKey, err := sharedStateKey(st) // nil unless several instances share st
	if err != nil {
		return nil, err
	}
	srv := mcp.NewServer(mcp.Implementation{Name: "sibyl", Title: "sibyl", Version: version}, &mcp.ServerOptions{
		Logger:       m.logger,
		Instructions: instructions,
		ToolVisible:  tools.VisibleTo(all), // a read-only key does not see the trade tools
		StateKey:     stateKey,
	})
	tools.RegisterObserved(srv, all, tools.StoreAuditor{Store: st, Log: m.logger}, m.toolObserver(), m.logger)
	ui.Register(srv) // MCP Apps views, seen only by clients that declare the extension
	m.setServer(srv)
	m.watchDisconnects(srv, svc)
	return srv, nil
}

// reconcilePerSweep bounds the venue lookups of each reconciliation before a
// sweep, of open orders and of pending records (one at a time, each bounded by
// the orders service's send timeout); the rest wait for the next sweep, ten
// minutes later.
const reconcilePerSweep = 1000

// pendingGrace is how long a record whose outcome is unknown is left to its
// agent's retry before the background reconciliation asks the venue.
const pendingGrace = 10 * time.Minute

// gcPercent is the collector's target unless the GOGC environment variable
// says otherwise. The server's live heap is small (tens of MiB), and at Go's
// default of 100 the collector took about a fifth of the CPU under order load;
// at 400 the heap may grow to five times the live data instead (see
// BENCHMARKS.md).
const gcPercent = 400

// tuneGC sets the collector's target to gcPercent when GOGC is not set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}

const instructions = `sibyl serves prediction markets (paper venue by default: simulated, no real money) and token grades. ` +
	`Start with list_venues and search_markets; get_market and get_orderbook give prices and depth. ` +
	`Prices are dollars per contract (0-1); a contract pays $1 if its outcome wins. Every answer says its venue, time and whether it is simulated.`

func (m *Main) serveHTTP(ctx context.Context, srv *mcp.Server, dbPath string) error {
	ln, err := net.Listen("tcp", m.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", m.HTTPAddr, err)
	}
	mux, h, auth, err := m.httpHandler(srv)
	if err != nil {
		ln.Close()
		return err
	}
	hs := m.limits.server(mux)
	hs.ErrorLog = slog.NewLogLogger(m.logger.Handler(), slog.LevelWarn)
	// TLS (tls.go): the certificate is read now and again on each SIGHUP.
	certs, err := m.ops.startTLS(ctx, m.logger)
	if err != nil {
		ln.Close()
		return err
	}
	scheme := "http://"
	if certs != nil {
		hs.TLSConfig = certs.config()
		scheme = "https://"
	}
	m.banner(scheme+ln.Addr().String()+"/mcp", dbPath)
	stopMetrics, err := m.serveMetricsAddr(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopMetrics()
	if auth != nil && m.RateLimit > 0 && sharedStore(m.store) {
		// The rate limit is the deployment's: this instance takes its share.
		p := newPeers(m.store, m.store.Owner(), time.Now)
		n, err := p.beat()
		if err != nil {
			ln.Close()
			return err
		}
		auth.setInstances(n)
		pctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); p.run(pctx, auth.setInstances, n, m.logger) }()
		defer func() { stop(); <-done }()
	}
	if sharedStore(m.store) {
		sctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); m.sessionStore().sweepSessions(sctx, m.logger, m.sweptSessionEnded) }()
		defer func() { stop(); <-done }()
	}
	m.httpNoAuth.Store(auth == nil)
	switch {
	case auth == nil && m.InsecureNoAuth && m.hadKeys:
		fmt.Fprintf(m.Stderr, "  every API key is revoked and --insecure-no-auth is set: anyone who reaches this address may trade without a key\n")
	case auth == nil:
		fmt.Fprintf(m.Stderr, "  no API keys: every local caller may trade (paper money); 'sibyl keys create' turns on bearer-token auth\n")
	case auth.live == 0:
		fmt.Fprintf(m.Stderr, "  every API key is revoked: every request is refused until 'sibyl keys create' makes one (--insecure-no-auth serves without keys)\n")
	default:
		limit := "no rate limit"
		if m.RateLimit > 0 {
			limit = fmt.Sprintf("%g requests/s per key", m.RateLimit)
		}
		fmt.Fprintf(m.Stderr, "  %d API key(s): requests need Authorization: Bearer <token>; %s\n", auth.live, limit)
	}
	errc := make(chan error, 1)
	go func() {
		if hs.TLSConfig != nil {
			errc <- hs.ServeTLS(ln, "", "") // the certificate comes from GetCertificate
			return
		}
		errc <- hs.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	m.logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = h.Shutdown(sctx)
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down HTTP: %w", err)
	}
	return nil
}

// httpHandler builds what sibyl serve --http serves on /mcp: the Streamable
// HTTP handler (JSON responses), behind bearer-token auth when the data file
// has live API keys. It refuses a non-loopback address without keys unless
// InsecureNoAuth is set. Benchmarks serve the same handler.
func (m *Main) httpHandler(srv *mcp.Server) (http.Handler, *mcp.HTTPHandler, *keyAuth, error) {
	opts := &mcp.HTTPOptions{JSONResponse: true}
	m.limits.apply(opts)
	keys, err := m.store.APIKeys()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading API keys: %w", err)
	}
	live := 0
	for _, k := range keys {
		if k.Revoked.IsZero() {
			live++
		}
	}
	// Once the data file has had a key, HTTP stays authenticated: revoking
	// the last key locks the server, it does not open it.
	m.hadKeys = len(keys) > 0
	var auth *keyAuth
	switch {
	case live > 0 || (m.hadKeys && !m.InsecureNoAuth):
		auth = &keyAuth{store: m.store, log: m.logger, rps: m.RateLimit, limiters: map[string]*rate.Limiter{}, live: live,
			fails: newFailLimiter(authFailRate, authFailBurst)}
		opts.Authenticate = auth.authenticate
		opts.AdmitBatch = auth.admitBatch
	case m.HTTPAddr != "" && !isLoopback(m.HTTPAddr) && !m.InsecureNoAuth:
		return nil, nil, nil, fmt.Errorf("--http %s listens beyond this machine and the data file has no API key: anyone who can reach it could trade. Create one with 'sibyl keys create --name NAME --scopes read,trade', or pass --insecure-no-auth", m.HTTPAddr)
	}
	if m.AllowHost != "" {
		for _, h := range strings.Split(m.AllowHost, ",") {
			if h = strings.TrimSpace(h); h != "" {
				opts.AllowedHosts = append(opts.AllowedHosts, h)
				opts.AllowedOrigins = append(opts.AllowedOrigins, "http://"+h, "https://"+h)
			}
		}
	}
	if sharedStore(m.store) {
		// Several instances share the store: any of them serves any session.
		opts.Sessions = m.sessionStore()
	}
	h := mcp.NewHTTPHandler(srv, opts)
	mux := http.NewServeMux()
	if auth != nil {
		mux.Handle("/mcp", m.metrics.WrapHTTP(auth.wrap(h)))
	} else {
		mux.Handle("/mcp", m.metrics.WrapHTTP(h))
	}
	m.mountOps(mux, auth)
	m.mountUI(mux, h, auth)
	return mux, h, auth, nil
}

// banner tells a person who started the server by hand that it is up and how to
// connect. It goes to stderr: stdout carries protocol messages only.
func (m *Main) banner(where, dbPath string) {
	fmt.Fprintf(m.Stderr, "sibyl %s — MCP server on %s\n", version, where)
	names, _ := m.venueFlags.names()
	if len(names) == 1 && names[0] == "paper" {
		fmt.Fprintf(m.Stderr, "  venue: paper (simulated markets and money, seed %d); data: %s\n", m.Seed, dbPath)
	} else {
		fmt.Fprintf(m.Stderr, "  venues: %s (default %s; --live %v); data: %s\n", strings.Join(names, ", "), names[0], m.venueFlags.live, dbPath)
	}
	if where == "stdio" {
		fmt.Fprintf(m.Stderr, "  waiting for an MCP client on stdin (e.g. add \"sibyl serve\" to Claude Desktop, Cursor or VS Code); Ctrl-D or Ctrl-C ends\n")
	} else {
		fmt.Fprintf(m.Stderr, "  point an MCP client at %s (Streamable HTTP); Ctrl-C stops\n", where)
	}
	if m.localSocket != "" {
		fmt.Fprintf(m.Stderr, "  other local clients of this data file (another 'sibyl serve' on stdio, 'sibyl keys|audit|paper') are served through %s\n", m.localSocket)
	}
}

// Close releases what Run opened: it waits for queued order completions and
// audit entries to reach the disk, then closes the file.
func (m *Main) Close() error {
	if m.control != nil {
		m.control.stop()
	}
	m.disconnects.Wait() // cancels of ended sessions still running
	if m.sweeper != nil {
		m.sweeper.Stop()
	}
	if m.orders != nil {
		m.orders.Flush()
	}
	var anchorErr error
	if m.anchor != nil {
		// The last checkpoint covers every entry: queued ones first.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = m.store.FlushAudit(ctx)
		cancel()
		anchorErr = m.anchor.stop()
		m.anchor = nil
	}
	if m.store != nil {
		if err := m.store.Close(); err != nil {
			return err
		}
	}
	return anchorErr
}

// auditKey returns the HMAC key for the audit chain from SIBYL_AUDIT_KEY, or nil.
// The key is never logged or stored.
func auditKey() []byte {
	if k := os.Getenv("SIBYL_AUDIT_KEY"); k != "" {
		return []byte(k)
	}
	return nil
}

func envString(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envInt(name string, def int64) (int64, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want an integer", name, v)
	}
	return n, nil
}
