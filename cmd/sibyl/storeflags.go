package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sibylmcp/sibyl/store"
)

// Store backends (--store).
const (
	backendBolt = "bbolt" // one data file, one process (the default)
	backendEtcd = "etcd"  // an etcd cluster shared by several instances
)

// storeFlags selects and configures the state store: the bbolt file in
// --data-dir, or an etcd cluster. Every command that opens the store
// (serve, keys, audit, paper, halt, resume) takes them.
type storeFlags struct {
	backend     string
	endpoints   string
	prefix      string
	caFile      string
	certFile    string
	keyFile     string
	username    string
	dialTimeout time.Duration
	opTimeout   time.Duration
	sessionTTL  time.Duration
	// maxTxnOps is etcdstore's Options.MaxTxnOps: --etcd-max-txn-ops, to
	// match a cluster started with a higher --max-txn-ops than etcd's 128.
	maxTxnOps int
}

// register defines the flags on fs, with their environment variables.
func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.backend, "store", envString("SIBYL_STORE", backendBolt), "state store: bbolt (the file DIR/sibyl.db, one process) or etcd (a cluster shared by several sibyl instances; see --etcd-endpoints) [SIBYL_STORE]")
	fs.StringVar(&f.endpoints, "etcd-endpoints", envString("SIBYL_ETCD_ENDPOINTS", ""), "with --store etcd: comma-separated etcd client `URLs`, such as https://10.0.0.1:2379,https://10.0.0.2:2379,https://10.0.0.3:2379 [SIBYL_ETCD_ENDPOINTS]")
	fs.StringVar(&f.prefix, "etcd-prefix", envString("SIBYL_ETCD_PREFIX", "/sibyl/"), "with --store etcd: the key `PREFIX` holding this deployment's state (instances that share state use the same one) [SIBYL_ETCD_PREFIX]")
	fs.StringVar(&f.caFile, "etcd-ca", envString("SIBYL_ETCD_CA", ""), "with --store etcd: PEM `FILE` of the CA that signed the etcd servers' certificates (TLS) [SIBYL_ETCD_CA]")
	fs.StringVar(&f.certFile, "etcd-cert", envString("SIBYL_ETCD_CERT", ""), "with --store etcd: PEM client certificate `FILE` for etcd's client-cert auth (with --etcd-key) [SIBYL_ETCD_CERT]")
	fs.StringVar(&f.keyFile, "etcd-key", envString("SIBYL_ETCD_KEY", ""), "with --store etcd: PEM private key `FILE` of --etcd-cert [SIBYL_ETCD_KEY]")
	fs.StringVar(&f.username, "etcd-username", envString("SIBYL_ETCD_USERNAME", ""), "with --store etcd: etcd user `NAME` (role-based auth); the password is read from SIBYL_ETCD_PASSWORD only [SIBYL_ETCD_USERNAME]")
	fs.DurationVar(&f.dialTimeout, "etcd-dial-timeout", 5*time.Second, "with --store etcd: how long to wait for the first connection to etcd")
	fs.DurationVar(&f.opTimeout, "etcd-op-timeout", 5*time.Second, "with --store etcd: deadline of one etcd operation; past it (no quorum, no member reachable) the call is refused as unavailable, never guessed")
	fs.IntVar(&f.maxTxnOps, "etcd-max-txn-ops", 128, "with --store etcd: the most operations one etcd transaction may carry: the cluster's --max-txn-ops (etcd's default 128). Larger batches of concurrent orders share more of each transaction")
	fs.DurationVar(&f.sessionTTL, "etcd-session-ttl", 10*time.Second, "with --store etcd: this instance's liveness lease; when it dies, the others take over its unfinished orders once the lease lapses")
}

// check validates the flags without opening anything.
func (f *storeFlags) check() error {
	switch f.backend {
	case backendBolt, "bolt":
		f.backend = backendBolt
		return nil
	case backendEtcd:
	default:
		return fmt.Errorf("--store %q: want bbolt or etcd", f.backend)
	}
	eps := f.endpointList()
	if len(eps) == 0 {
		return errors.New("--store etcd needs --etcd-endpoints (or SIBYL_ETCD_ENDPOINTS): the client URLs of the etcd cluster, such as http://127.0.0.1:2379")
	}
	for _, ep := range eps {
		if !strings.HasPrefix(ep, "http://") && !strings.HasPrefix(ep, "https://") && !strings.HasPrefix(ep, "unix://") && !strings.HasPrefix(ep, "unixs://") {
			return fmt.Errorf("--etcd-endpoints: %q is not a URL: write it as http://HOST:PORT or https://HOST:PORT", redactUserinfo(ep))
		}
		if u, err := url.Parse(ep); err == nil && u.User != nil {
			// The etcd client ignores credentials in a URL, and errors and logs
			// quote endpoints: refuse it, without repeating the password.
			return fmt.Errorf("--etcd-endpoints: %s holds a user name or password: give the user with --etcd-username and the password in SIBYL_ETCD_PASSWORD", redactUserinfo(ep))
		}
	}
	if !strings.HasPrefix(f.prefix, "/") || !strings.HasSuffix(f.prefix, "/") || len(f.prefix) < 2 {
		return fmt.Errorf("--etcd-prefix %q: want a path that starts and ends with /, such as /sibyl/", f.prefix)
	}
	if (f.certFile == "") != (f.keyFile == "") {
		return errors.New("--etcd-cert and --etcd-key go together")
	}
	if f.username == "" && os.Getenv("SIBYL_ETCD_PASSWORD") != "" {
		return errors.New("SIBYL_ETCD_PASSWORD is set without --etcd-username (SIBYL_ETCD_USERNAME)")
	}
	if f.username != "" && os.Getenv("SIBYL_ETCD_PASSWORD") == "" {
		return fmt.Errorf("--etcd-username %q needs its password in the environment variable SIBYL_ETCD_PASSWORD (never a flag)", f.username)
	}
	if f.maxTxnOps < 16 {
		return fmt.Errorf("--etcd-max-txn-ops %d: want at least 16 (etcd's default is 128)", f.maxTxnOps)
	}
	if f.opTimeout <= 0 || f.dialTimeout <= 0 || f.sessionTTL < time.Second {
		return errors.New("--etcd-op-timeout and --etcd-dial-timeout must be positive, --etcd-session-ttl at least 1s")
	}
	return nil
}

// redactUserinfo is ep with any user:password@ part replaced by "REDACTED@".
func redactUserinfo(ep string) string {
	scheme, rest, ok := strings.Cut(ep, "://")
	if !ok {
		scheme, rest = "", ep
	}
	host, path, slash := strings.Cut(rest, "/")
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = "REDACTED" + host[i:]
	}
	if slash {
		host += "/" + path
	}
	if !ok {
		return host
	}
	return scheme + "://" + host
}

// shared reports whether the store is shared by several instances.
func (f *storeFlags) shared() bool { return f.backend == backendEtcd }

func (f *storeFlags) endpointList() []string {
	var eps []string
	for _, ep := range strings.Split(f.endpoints, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			eps = append(eps, ep)
		}
	}
	return eps
}

// tlsConfig builds the TLS configuration for etcd, nil when no TLS option is
// set (an https:// endpoint then uses the system's roots).
func (f *storeFlags) tlsConfig() (*tls.Config, error) {
	https := false
	for _, ep := range f.endpointList() {
		https = https || strings.HasPrefix(ep, "https://") || strings.HasPrefix(ep, "unixs://")
	}
	if f.caFile == "" && f.certFile == "" && !https {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--etcd-ca %s: no PEM certificate in it", f.caFile)
		}
		cfg.RootCAs = pool
	}
	if f.certFile != "" {
		cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-cert/--etcd-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// open opens the selected store: the bbolt file in dataDir, or the etcd
// cluster. how is storeCreate, storeExisting or storeRead (for bbolt: create
// the file, require it, or open it read-only; etcd ignores it).
func (f *storeFlags) open(ctx context.Context, dataDir string, opts store.Options, how int, logger *slog.Logger) (store.Store, error) {
	if !f.shared() {
		path := filepath.Join(dataDir, "sibyl.db")
		switch how {
		case storeCreate:
			return store.OpenOptions(path, opts)
		case storeExisting:
			return openExisting(path, opts)
		default:
			if _, serr := os.Stat(path); serr != nil {
				return nil, fmt.Errorf("no data file at %s: pass the --data-dir 'sibyl serve' uses (or set SIBYL_DATA_DIR)", path)
			}
			return store.OpenReadOnly(path, opts)
		}
	}
	return f.openEtcd(ctx, opts, logger)
}
