package etcdtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Member is one etcd process of a Cluster. Its data dir and ports stay the same
// across Stop/Kill and Restart.
type Member struct {
	c         *Cluster
	index     int
	name      string
	clientURL string
	peerURL   string
	dataDir   string
	logPath   string
	args      []string

	mu   sync.Mutex
	proc *process // nil while stopped
	cli  *clientv3.Client
	id   uint64
}

// process is one run of the etcd binary; done is closed when it has exited.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done is closed
}

// Name returns the member's etcd name (m0, m1, ...).
func (m *Member) Name() string { return m.name }

// ClientURL returns the member's client URL (http://127.0.0.1:port, or https://
// with WithTLS).
func (m *Member) ClientURL() string { return m.clientURL }

// PeerURL returns the member's peer URL.
func (m *Member) PeerURL() string { return m.peerURL }

// DataDir returns the member's data directory.
func (m *Member) DataDir() string { return m.dataDir }

// Running reports whether the member's process was started and not stopped or killed
// through this package (a process that crashed on its own still counts as running
// until WaitHealthy reports it).
func (m *Member) Running() bool { return m.process() != nil }

func (m *Member) process() *process {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc
}

func (m *Member) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc != nil {
		return fmt.Errorf("etcdtest: member %s is already running", m.name)
	}
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("etcdtest: member %s log: %w", m.name, err)
	}
	fmt.Fprintf(logf, "--- etcdtest: %s starting %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), m.c.cfg.binary, strings.Join(m.args, " "))
	cmd := exec.Command(m.c.cfg.binary, m.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = childEnv()
	// Should the test binary die without running its cleanups (a test timeout, a
	// panic in another goroutine), the kernel kills the member with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("etcdtest: starting member %s: %w", m.name, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	m.proc = p
	return nil
}

// childEnv is the environment without ETCD_* variables: etcd reads its flags from
// them too and refuses a flag given both ways.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD_") {
			env = append(env, kv)
		}
	}
	return env
}

// Kill SIGKILLs the member and waits until the process is gone (a crash: nothing is
// flushed that was not already durable). Killing a stopped member does nothing.
func (m *Member) Kill() error { return m.signal(syscall.SIGKILL, 0) }

// Stop SIGTERMs the member and waits until it has exited (SIGKILL after 10 s).
// Stopping a stopped member does nothing.
func (m *Member) Stop() error { return m.signal(syscall.SIGTERM, 10*time.Second) }

func (m *Member) signal(sig syscall.Signal, grace time.Duration) error {
	m.mu.Lock()
	p := m.proc
	m.proc = nil
	m.mu.Unlock()
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return nil // it had exited already
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		<-p.done
		return nil
	}
	if grace > 0 {
		select {
		case <-p.done:
			return nil
		case <-time.After(grace):
			p.cmd.Process.Kill()
		}
	}
	<-p.done
	return nil
}

// Restart starts the member again with the same data dir and ports and waits until it
// has rejoined (it knows the leader and answers a linearizable Get through its own
// endpoint) and the whole cluster is healthy. It fails if the member is running.
func (m *Member) Restart(ctx context.Context) error {
	if err := m.start(); err != nil {
		return err
	}
	if err := m.c.WaitHealthy(ctx); err != nil {
		return fmt.Errorf("etcdtest: restarting %s: %w\n%s", m.name, err, m.LogTail(20))
	}
	return nil
}

// ID returns the member's etcd member id (it asks the member once, so the member must
// be running the first time).
func (m *Member) ID(ctx context.Context) (uint64, error) {
	m.mu.Lock()
	id := m.id
	m.mu.Unlock()
	if id != 0 {
		return id, nil
	}
	st, err := m.status(ctx)
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	m.id = st.Header.MemberId
	m.mu.Unlock()
	return st.Header.MemberId, nil
}

func (m *Member) status(ctx context.Context) (*clientv3.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	cli, err := m.client()
	if err != nil {
		return nil, err
	}
	return cli.Status(ctx, m.clientURL)
}

// client returns a client for this member's endpoint alone, for health checks.
func (m *Member) client() (*clientv3.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cli == nil {
		cli, err := m.c.NewClient(m.clientURL)
		if err != nil {
			return nil, fmt.Errorf("etcdtest: client for %s: %w", m.clientURL, err)
		}
		m.cli = cli
	}
	return m.cli, nil
}

func (m *Member) closeClient() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cli != nil {
		m.cli.Close()
		m.cli = nil
	}
}

// LogTail returns the last n lines of the member's log (etcd's stderr).
func (m *Member) LogTail(n int) string {
	b, err := os.ReadFile(m.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
