package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sibylmcp/sibyl/mcp"
	"github.com/sibylmcp/sibyl/store"
)

// One sibyl per data file serves every local client. The process that holds
// the data file (sibyl serve, stdio or HTTP) listens on a unix socket in the
// data dir (which sibyl creates 0700); the socket is 0600 and, on Linux, the
// peer's uid is checked too. A local client says what it wants in its first
// line:
//
//   - {"mode":"mcp"}: an MCP session follows, one JSON message per line, as
//     on stdio. A second 'sibyl serve' on stdio on the same data file becomes
//     such a bridge: its client is served by the holding process, as
//     principal "local" with every scope, audited in the one chain.
//   - {"mode":"cli","argv":[...]}: a CLI command (keys, audit, paper) runs
//     in the holding process on its open data file; the answer comes back as
//     {"out":...}, {"err":...} lines and a last {"exit":N}.
const socketName = "sibyl.sock"

// maxSocketPath is the longest unix socket path every platform accepts.
const maxSocketPath = 100

// localHello is a local client's first line.
type localHello struct {
	Mode string   `json:"mode"`           // "mcp" or "cli"
	Argv []string `json:"argv,omitempty"` // cli: the command line after "sibyl"
}

// cliFrame is one line of a cli answer.
type cliFrame struct {
	Out  string `json:"out,omitempty"`
	Err  string `json:"err,omitempty"`
	Exit *int   `json:"exit,omitempty"`
}

// localCommands are the commands a local client may run in the server.
var localCommands = map[string]bool{"keys": true, "audit": true, "paper": true}

func socketPath(dataDir string) string { return filepath.Join(dataDir, socketName) }

// localServer accepts local clients on the data dir's socket.
type localServer struct {
	m    *Main
	srv  *mcp.Server
	ln   net.Listener
	path string

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	seq   int
}

// startLocal listens on the data dir's socket; the returned stop closes it
// and every local connection. A path too long for a unix socket is logged and
// leaves other local clients without the shared server (they fail as before).
func (m *Main) startLocal(ctx context.Context, srv *mcp.Server) (func(), error) {
	dir, err := filepath.Abs(m.DataDir)
	if err != nil {
		return nil, err
	}
	path := socketPath(dir)
	if len(path) > maxSocketPath {
		m.logger.Warn("data dir path too long for a local socket: other local clients cannot share this data file", "path", path)
		return func() {}, nil
	}
	// Owner-only: sibyl makes its data dirs 0700. The default one is made so
	// if it is not; a dir named with --data-dir that others may enter is left
	// as it is (it may be a project's), and the socket's 0600 mode and, on
	// Linux, the peer's uid check keep others out.
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if def, _ := filepath.Abs(defaultDataDir()); filepath.Clean(def) == filepath.Clean(dir) {
			if err := os.Chmod(dir, 0o700); err != nil {
				return nil, fmt.Errorf("making the data dir owner-only: %w", err)
			}
		} else {
			m.logger.Warn("the data dir is not owner-only; the local socket is 0600 and checks the peer's user", "dir", dir, "mode", fi.Mode().Perm().String())
		}
	}
	// We hold the data file: a socket left there belongs to a process that died.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing a stale local socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on the local socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("making the local socket owner-only: %w", err)
	}
	ls := &localServer{m: m, srv: srv, ln: ln, path: path, conns: map[net.Conn]struct{}{}}
	ls.wg.Add(1)
	go ls.accept(ctx)
	m.localSocket = path
	return ls.stop, nil
}

func (ls *localServer) accept(ctx context.Context) {
	defer ls.wg.Done()
	for {
		c, err := ls.ln.Accept()
		if err != nil {
			return // closed
		}
		if ok, why := samePeer(c); !ok {
			ls.m.logger.Warn("local socket: refused a connection from another user", "why", why)
			c.Close()
			continue
		}
		ls.mu.Lock()
		ls.conns[c] = struct{}{}
		ls.seq++
		n := ls.seq
		ls.mu.Unlock()
		ls.wg.Add(1)
		go func() {
			defer ls.wg.Done()
			defer func() {
				ls.mu.Lock()
				delete(ls.conns, c)
				ls.mu.Unlock()
				c.Close()
			}()
			ls.serve(ctx, c, n)
		}()
	}
}

func (ls *localServer) stop() {
	ls.ln.Close()
	ls.mu.Lock()
	for c := range ls.conns {
		c.Close()
	}
	ls.mu.Unlock()
	ls.wg.Wait()
	_ = os.Remove(ls.path)
}

// serve handles one local connection.
func (ls *localServer) serve(ctx context.Context, c net.Conn, n int) {
	r := bufio.NewReaderSize(c, 64<<10)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := r.ReadSlice('\n')
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		return
	}
	var h localHello
	if err := json.Unmarshal(line, &h); err != nil {
		writeFrame(c, cliFrame{Err: "sibyl: the local socket expects a {\"mode\":...} line first\n"})
		return
	}
	switch h.Mode {
	case "mcp":
		id := "local-" + randomID()
		ls.m.logger.Info("local client connected", "session", id, "n", n)
		err := ls.srv.ServeStream(ctx, r, c, id)
		ls.m.logger.Info("local client disconnected", "session", id, "err", err)
	case "cli":
		code := ls.runCLI(ctx, c, h.Argv)
		writeFrame(c, cliFrame{Exit: &code})
	default:
		writeFrame(c, cliFrame{Err: fmt.Sprintf("sibyl: unknown local mode %q\n", h.Mode)})
	}
}

// runCLI runs one allowed CLI command in this process on its open data file.
func (ls *localServer) runCLI(ctx context.Context, c net.Conn, argv []string) int {
	stdout := &frameWriter{c: c, out: true}
	stderr := &frameWriter{c: c}
	if len(argv) == 0 || !localCommands[argv[0]] {
		fmt.Fprintf(stderr, "sibyl: the running server runs only keys, audit and paper commands\n")
		return 2
	}
	env := &cliEnv{m: ls.m}
	ls.m.logger.Info("local command", "command", argv[0]+" "+firstArg(argv[1:]))
	return exitCode(argv[0], runCommand(ctx, env, argv[0], argv[1:], stdout, stderr), stderr)
}

func firstArg(a []string) string {
	if len(a) == 0 {
		return ""
	}
	return a[0]
}

// frameWriter sends what a command writes as cli frames.
type frameWriter struct {
	mu  sync.Mutex
	c   net.Conn
	out bool
}

func (w *frameWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := cliFrame{Err: string(p)}
	if w.out {
		f = cliFrame{Out: string(p)}
	}
	if err := writeFrame(w.c, f); err != nil {
		return 0, err
	}
	return len(p), nil
}

func writeFrame(c net.Conn, f cliFrame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	_, err = c.Write(append(b, '\n'))
	return err
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// dialLocal connects to the process serving dataDir, if there is one.
func dialLocal(dataDir string) (net.Conn, error) {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	path := socketPath(dir)
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("socket path too long")
	}
	return net.DialTimeout("unix", path, 2*time.Second)
}

// dialLocalWait keeps trying dialLocal for up to wait: the process that won
// the data file may not have opened its socket yet.
func dialLocalWait(dataDir string, wait time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(wait)
	for {
		c, err := dialLocal(dataDir)
		if err == nil || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// bridge serves this process's stdio client through the process holding the
// data file: stdin goes to it, its answers to stdout, until either side ends.
func (m *Main) bridge(ctx context.Context, c net.Conn) error {
	defer c.Close()
	fmt.Fprintf(m.Stderr, "sibyl %s — another sibyl process serves %s: this stdio client is bridged to it through %s (principal local)\n",
		version, filepath.Join(m.DataDir, "sibyl.db"), socketPath(m.DataDir))
	if err := json.NewEncoder(c).Encode(localHello{Mode: "mcp"}); err != nil {
		return fmt.Errorf("bridging to the local server: %w", err)
	}
	go func() {
		_, _ = io.Copy(c, m.Stdin)
		// The client is done: let the server answer what is in flight.
		if uc, ok := c.(*net.UnixConn); ok {
			_ = uc.CloseWrite()
		}
	}()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(m.Stdout, c)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("the sibyl process serving this data file went away: %w", err)
		}
		return nil
	case <-ctx.Done():
		return nil
	}
}

// viaServer runs a CLI command in the process serving its data dir, when one
// does: ok is false when none answers (run it here).
func viaServer(cmd string, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	dir, err := filepath.Abs(dataDirArg(args))
	if err != nil {
		return 0, false
	}
	c, err := dialLocal(dir)
	if err != nil {
		return 0, false
	}
	defer c.Close()
	argv := append(append([]string{cmd}, absPathFlags(args)...), "--data-dir", dir)
	if err := json.NewEncoder(c).Encode(localHello{Mode: "cli", Argv: argv}); err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var f cliFrame
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			fmt.Fprintf(stderr, "sibyl %s: the running server sent something unexpected\n", cmd)
			return 1, true
		}
		if f.Out != "" {
			io.WriteString(stdout, f.Out)
		}
		if f.Err != "" {
			io.WriteString(stderr, f.Err)
		}
		if f.Exit != nil {
			return *f.Exit, true
		}
	}
	fmt.Fprintf(stderr, "sibyl %s: the running server closed the connection before answering\n", cmd)
	return 1, true
}

// pathFlags are the flags of the forwarded commands that name a file: the
// server runs in another directory, so they travel as absolute paths.
var pathFlags = []string{"anchor"}

// absPathFlags returns args with the values of pathFlags made absolute.
func absPathFlags(args []string) []string {
	out := append([]string(nil), args...)
	for i := 0; i < len(out); i++ {
		if out[i] == "--" {
			break
		}
		for _, f := range pathFlags {
			for _, name := range []string{"--" + f, "-" + f} {
				if v, ok := strings.CutPrefix(out[i], name+"="); ok {
					if abs, err := filepath.Abs(v); err == nil {
						out[i] = name + "=" + abs
					}
				} else if out[i] == name && i+1 < len(out) {
					if abs, err := filepath.Abs(out[i+1]); err == nil {
						out[i+1] = abs
					}
					i++
				}
			}
		}
	}
	return out
}

// dataDirArg returns the --data-dir among args, else SIBYL_DATA_DIR, else the
// default.
func dataDirArg(args []string) string {
	dir := envString("SIBYL_DATA_DIR", defaultDataDir())
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		for _, name := range []string{"--data-dir", "-data-dir"} {
			if v, ok := strings.CutPrefix(a, name+"="); ok {
				dir = v
			} else if a == name && i+1 < len(args) {
				dir = args[i+1]
				i++
			}
		}
	}
	return dir
}

// cliEnv is where a CLI command finds its data file: it opens the file itself
// (m nil), or it runs inside the serving process m and uses m's open store.
type cliEnv struct {
	m *Main
}

// How a CLI command opens the data file.
const (
	storeCreate   = iota // create it if missing (keys create)
	storeExisting        // it must exist
	storeRead            // read only (audit): works on a read-only copy
)

// store returns the store sf selects (the data file in dataDir, or the etcd
// cluster) and a function to release it. Inside a server it is the server's
// own store (released by the server), and another data file is refused.
func (e *cliEnv) store(sf *storeFlags, dataDir string, how int) (store.Store, func(), error) {
	path := filepath.Join(dataDir, "sibyl.db")
	if e != nil && e.m != nil && e.m.store != nil {
		if e.m.storeFlags.shared() != sf.shared() {
			return nil, nil, fmt.Errorf("the server on this socket serves the %s store, not %s", e.m.storeFlags.backend, sf.backend)
		}
		if !sf.shared() {
			want, _ := filepath.Abs(e.m.dbPath())
			got, _ := filepath.Abs(path)
			if filepath.Clean(want) != filepath.Clean(got) {
				return nil, nil, fmt.Errorf("the server on this socket serves %s, not %s", want, got)
			}
		}
		return e.m.store, func() {}, nil
	}
	opts := store.Options{}
	if how == storeRead {
		opts.AuditKey = auditKey()
	}
	st, err := sf.open(context.Background(), dataDir, opts, how, nil)
	if err != nil {
		return nil, nil, err
	}
	return st, func() { st.Close() }, nil
}
