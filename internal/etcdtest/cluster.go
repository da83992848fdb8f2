package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// ErrNotInstalled is what Start returns (wrapped) when no etcd binary is found.
var ErrNotInstalled = errors.New("etcdtest: the etcd binary is not on PATH (install Debian's etcd-server package: sudo apt-get install etcd-server; .ci/run installs it)")

// Option changes how StartCluster and Start run etcd.
type Option func(*config)

type config struct {
	binary          string
	heartbeat       time.Duration
	election        time.Duration
	maxTxnOps       int
	maxRequestBytes int
	startTimeout    time.Duration
	flags           []string
	tls             bool // WithTLS: https client URLs
	clientCertAuth  bool // WithClientCertAuth: --client-cert-auth
}

func newConfig(opts []Option) config {
	cfg := config{
		heartbeat:    50 * time.Millisecond,
		election:     500 * time.Millisecond,
		startTimeout: 60 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// WithBinary runs the etcd binary at path instead of the `etcd` found on PATH.
func WithBinary(path string) Option { return func(c *config) { c.binary = path } }

// WithTimeouts sets etcd's --heartbeat-interval and --election-timeout. The defaults,
// 50 ms and 500 ms, suit loopback (etcd's own are 100 ms and 1 s); a test that loads
// the machine heavily may want longer ones to avoid spurious elections.
func WithTimeouts(heartbeat, election time.Duration) Option {
	return func(c *config) { c.heartbeat, c.election = heartbeat, election }
}

// WithMaxTxnOps sets etcd's --max-txn-ops, the most operations one Txn may hold
// (etcd's default, 128, when this option is not given).
func WithMaxTxnOps(n int) Option { return func(c *config) { c.maxTxnOps = n } }

// WithMaxRequestBytes sets etcd's --max-request-bytes, the largest request a member
// accepts (etcd's default, 1.5 MiB, when this option is not given).
func WithMaxRequestBytes(n int) Option { return func(c *config) { c.maxRequestBytes = n } }

// WithStartTimeout bounds how long StartCluster, Start and Restart wait for a healthy
// cluster (60 s by default: the machine may be busy).
func WithStartTimeout(d time.Duration) Option { return func(c *config) { c.startTimeout = d } }

// WithFlags passes extra flags (for example "--quota-backend-bytes=16777216") to every
// member. Durability flags are the caller's responsibility: etcd 3.4 has no
// --unsafe-no-fsync, and the benchmarks must measure durable writes anyway.
func WithFlags(flags ...string) Option {
	return func(c *config) { c.flags = append(c.flags, flags...) }
}

// Cluster is a running etcd cluster of local processes on loopback ports. Its methods
// are safe for concurrent use.
type Cluster struct {
	cfg     config
	dir     string
	members []*Member
	pki     *pki // nil without WithTLS

	authMu       sync.Mutex
	rootPassword string // set by EnableAuth: the cluster's own clients log in as root
}

// StartCluster starts an n-member etcd cluster (normally 3) in tb.TempDir() and
// returns once it has a leader and every member answers a linearizable Get. A cleanup
// registered on tb kills every member (also when the test fails or panics) and, when
// the test failed, logs the tail of each member's log. Without an etcd binary it
// skips the test, or fails it under CI=true (.ci/run installs etcd-server). It fails
// the test if the cluster does not come up.
func StartCluster(tb testing.TB, n int, opts ...Option) *Cluster {
	tb.Helper()
	cfg := newConfig(opts)
	cfg.binary = requireBinary(tb, cfg.binary)
	dir := tb.TempDir() // before the Cleanup below, so members die before it is removed
	c, err := start(dir, n, cfg)
	if err != nil {
		tb.Fatalf("etcdtest: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("etcdtest: the test failed; member logs:\n%s", c.LogTails(40))
		}
		c.kill()
	})
	return c
}

// Start starts an n-member cluster like StartCluster, for a TestMain or anything else
// without a testing.TB: it returns the cluster and a stop func that kills every member
// and removes the data, which the caller must call (also on the error path it is nil).
// The error wraps ErrNotInstalled when there is no etcd binary; the caller decides
// whether to skip (RequireEtcd in each test does what StartCluster does).
func Start(n int, opts ...Option) (*Cluster, func(), error) {
	cfg := newConfig(opts)
	bin, err := findBinary(cfg.binary)
	if err != nil {
		return nil, nil, err
	}
	cfg.binary = bin
	dir, err := os.MkdirTemp("", "etcdtest-")
	if err != nil {
		return nil, nil, fmt.Errorf("etcdtest: %w", err)
	}
	c, err := start(dir, n, cfg)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("etcdtest: %w", err)
	}
	var once sync.Once
	return c, func() {
		once.Do(func() {
			c.kill()
			os.RemoveAll(dir)
		})
	}, nil
}

// RequireEtcd returns the path of the etcd binary, or ends the test: under CI=true it
// fails (.ci/run installs etcd-server, so a missing binary is a broken CI), otherwise
// it skips with how to install it.
func RequireEtcd(tb testing.TB) string {
	tb.Helper()
	return requireBinary(tb, "")
}

func requireBinary(tb testing.TB, path string) string {
	tb.Helper()
	bin, err := findBinary(path)
	if err == nil {
		return bin
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%v; under CI=true a missing etcd is a failure: .ci/run installs it with scripts/install-tools.sh", err)
	}
	tb.Skipf("%v; skipping", err)
	return ""
}

func findBinary(path string) (string, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("%w: %v", ErrNotInstalled, err)
		}
		return path, nil
	}
	bin, err := exec.LookPath("etcd")
	if err != nil {
		return "", ErrNotInstalled
	}
	return bin, nil
}

// start brings up a cluster in dir, choosing new ports and retrying when a port taken
// between choosing it and binding it makes a member exit.
func start(dir string, n int, cfg config) (*Cluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("cluster size %d: want at least 1", n)
	}
	var certs *pki
	if cfg.tls {
		var err error
		if certs, err = newPKI(filepath.Join(dir, "pki")); err != nil {
			return nil, err
		}
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var c *Cluster
		c, err = startOnce(filepath.Join(dir, fmt.Sprintf("try%d", attempt)), n, cfg, certs)
		if err == nil {
			return c, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, err
}

func startOnce(dir string, n int, cfg config, certs *pki) (*Cluster, error) {
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, dir: dir, pki: certs}
	scheme := "http://"
	if certs != nil {
		scheme = "https://"
	}
	var initial []string
	for i := 0; i < n; i++ {
		m := &Member{
			c:         c,
			index:     i,
			name:      fmt.Sprintf("m%d", i),
			clientURL: scheme + "127.0.0.1:" + strconv.Itoa(ports[2*i]),
			peerURL:   "http://127.0.0.1:" + strconv.Itoa(ports[2*i+1]),
			dataDir:   filepath.Join(dir, fmt.Sprintf("m%d", i)),
			logPath:   filepath.Join(dir, fmt.Sprintf("m%d.log", i)),
		}
		c.members = append(c.members, m)
		initial = append(initial, m.name+"="+m.peerURL)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	token := fmt.Sprintf("etcdtest-%d-%d", os.Getpid(), time.Now().UnixNano())
	for _, m := range c.members {
		m.args = c.args(m, strings.Join(initial, ","), token)
		if err := m.start(); err != nil {
			c.kill()
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.startTimeout)
	defer cancel()
	if err := c.WaitHealthy(ctx); err != nil {
		c.kill()
		return nil, fmt.Errorf("starting a %d-member cluster: %w\n%s", n, err, c.LogTails(20))
	}
	return c, nil
}

func (c *Cluster) args(m *Member, initial, token string) []string {
	a := []string{
		"--name=" + m.name,
		"--data-dir=" + m.dataDir,
		"--listen-client-urls=" + m.clientURL,
		"--advertise-client-urls=" + m.clientURL,
		"--listen-peer-urls=" + m.peerURL,
		"--initial-advertise-peer-urls=" + m.peerURL,
		"--initial-cluster=" + initial,
		"--initial-cluster-state=new",
		"--initial-cluster-token=" + token,
		fmt.Sprintf("--heartbeat-interval=%d", c.cfg.heartbeat.Milliseconds()),
		fmt.Sprintf("--election-timeout=%d", c.cfg.election.Milliseconds()),
		"--log-outputs=stderr",
	}
	if c.cfg.maxTxnOps > 0 {
		a = append(a, fmt.Sprintf("--max-txn-ops=%d", c.cfg.maxTxnOps))
	}
	if c.cfg.maxRequestBytes > 0 {
		a = append(a, fmt.Sprintf("--max-request-bytes=%d", c.cfg.maxRequestBytes))
	}
	if c.pki != nil {
		f := c.pki.files
		a = append(a, "--cert-file="+f.ServerCert, "--key-file="+f.ServerKey)
		// etcd 3.4 requires a client certificate whenever --trusted-ca-file is
		// set, --client-cert-auth or not.
		if c.cfg.clientCertAuth {
			a = append(a, "--trusted-ca-file="+f.CA, "--client-cert-auth")
		}
	}
	return append(a, c.cfg.flags...)
}

// freePorts returns n distinct loopback ports that were free a moment ago (all held
// open together, so they differ). They come from below the kernel's ephemeral range
// when it can, so that while a member is down its ports are not handed to some
// outgoing connection, and Restart can bind them again.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	lo, hi := 10000, ephemeralLow()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		addr := "127.0.0.1:0"
		if hi-lo > 1000 && tries < 50*n {
			addr = "127.0.0.1:" + strconv.Itoa(lo+rand.IntN(hi-lo))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			if addr != "127.0.0.1:0" {
				continue // taken: try another
			}
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ephemeralLow returns the lowest port the kernel hands to outgoing connections
// (32768 if it cannot tell).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return lo
}

// Size returns the number of members.
func (c *Cluster) Size() int { return len(c.members) }

// Member returns member i (0 <= i < Size()).
func (c *Cluster) Member(i int) *Member { return c.members[i] }

// Members returns every member, in index order.
func (c *Cluster) Members() []*Member { return append([]*Member(nil), c.members...) }

// Endpoints returns the client URLs of all members (running or not), as a client
// configured for the whole cluster would list them.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.members))
	for i, m := range c.members {
		eps[i] = m.clientURL
	}
	return eps
}

// Client returns a client for all of the cluster's endpoints, closed by a cleanup on
// tb. It is configured as NewClient's: a client made before EnableAuth carries no
// credentials and is refused afterwards; ask for a new one.
func (c *Cluster) Client(tb testing.TB) *clientv3.Client {
	tb.Helper()
	cli, err := c.NewClient(c.Endpoints()...)
	if err != nil {
		tb.Fatalf("etcdtest: client: %v", err)
	}
	tb.Cleanup(func() { cli.Close() })
	return cli
}

// NewClient returns a client for endpoints (the caller closes it) set up as the
// cluster's own: on a TLS cluster it trusts the cluster's CA and presents its client
// certificate; after EnableAuth it logs in as root. It logs nothing.
func (c *Cluster) NewClient(endpoints ...string) (*clientv3.Client, error) {
	cfg := clientv3.Config{Endpoints: endpoints, Logger: zap.NewNop(), DialTimeout: 10 * time.Second}
	if c.pki != nil {
		cfg.TLS = c.pki.clientConfig()
	}
	c.authMu.Lock()
	if c.rootPassword != "" {
		cfg.Username, cfg.Password = "root", c.rootPassword
	}
	c.authMu.Unlock()
	return clientv3.New(cfg)
}

// NewClient returns a client for endpoints that logs nothing (the caller closes it).
// It does not wait for a connection: the first request does.
func NewClient(endpoints ...string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints: endpoints,
		Logger:    zap.NewNop(),
	})
}

// WaitHealthy waits until every running member reports the same leader and answers a
// linearizable Get through its own endpoint (which needs a quorum). It returns an
// error at once if a member that should run has exited, and ctx's error (with what
// was last wrong) when ctx ends first. With quorum lost it waits until ctx ends.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	var last error
	for {
		last = c.checkHealthy(ctx)
		if last == nil {
			return nil
		}
		var crashed *crashError
		if errors.As(last, &crashed) {
			return last
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not healthy: %w (last: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type crashError struct {
	name string
	err  error
}

func (e *crashError) Error() string { return fmt.Sprintf("member %s exited: %v", e.name, e.err) }

func (c *Cluster) checkHealthy(ctx context.Context) error {
	var leader uint64
	running := 0
	for _, m := range c.members {
		p := m.process()
		if p == nil {
			continue
		}
		select {
		case <-p.done:
			return &crashError{name: m.name, err: p.err}
		default:
		}
		running++
		st, err := m.status(ctx)
		if err != nil {
			return fmt.Errorf("member %s status: %w", m.name, err)
		}
		if st.Leader == 0 {
			return fmt.Errorf("member %s has no leader", m.name)
		}
		if leader != 0 && st.Leader != leader {
			return fmt.Errorf("members disagree on the leader (%x, %x)", leader, st.Leader)
		}
		leader = st.Leader
		cli, err := m.client()
		if err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err = cli.Get(cctx, "etcdtest/health") // linearizable: needs a quorum
		cancel()
		if err != nil {
			return fmt.Errorf("member %s linearizable get: %w", m.name, err)
		}
	}
	if running == 0 {
		return errors.New("no member is running")
	}
	return nil
}

// Leader returns the member that is leader now, as the running members report it.
func (c *Cluster) Leader(ctx context.Context) (*Member, error) {
	for _, m := range c.members {
		if m.process() == nil {
			continue
		}
		st, err := m.status(ctx)
		if err != nil || st.Leader == 0 {
			continue
		}
		for _, o := range c.members {
			if id, err := o.ID(ctx); err == nil && id == st.Leader {
				return o, nil
			}
		}
	}
	return nil, errors.New("etcdtest: no member knows a leader")
}

// KillQuorum SIGKILLs running members, highest index first, until a majority is
// down, and returns the members it killed. The members left running cannot answer
// linearizable requests or accept writes until RestartStopped brings quorum back.
func (c *Cluster) KillQuorum() ([]*Member, error) {
	down := 0
	for _, m := range c.members {
		if m.process() == nil {
			down++
		}
	}
	var killed []*Member
	for i := len(c.members) - 1; i >= 0 && down < len(c.members)/2+1; i-- {
		m := c.members[i]
		if m.process() == nil {
			continue
		}
		if err := m.Kill(); err != nil {
			return killed, err
		}
		killed = append(killed, m)
		down++
	}
	return killed, nil
}

// RestartStopped restarts every member that is not running (same data dir and ports)
// and waits until the cluster is healthy again.
func (c *Cluster) RestartStopped(ctx context.Context) error {
	for _, m := range c.members {
		if m.process() != nil {
			continue
		}
		if err := m.start(); err != nil {
			return err
		}
	}
	if err := c.WaitHealthy(ctx); err != nil {
		return fmt.Errorf("etcdtest: after restarting: %w", err)
	}
	return nil
}

// LogTails returns the last lines of each member's log, for a failure message.
func (c *Cluster) LogTails(lines int) string {
	var b strings.Builder
	for _, m := range c.members {
		fmt.Fprintf(&b, "--- %s (%s, last %d lines):\n%s\n", m.name, m.logPath, lines, m.LogTail(lines))
	}
	return b.String()
}

// kill SIGKILLs every member and closes the health-check clients.
func (c *Cluster) kill() {
	for _, m := range c.members {
		m.Kill()
		m.closeClient()
	}
}
