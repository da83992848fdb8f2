package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100
// on every Linux ABI Go supports.
const clockTicks = 100

// server is a running server process under test.
type server struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser // stdio only
	stdout io.ReadCloser  // stdio only
	addr   string         // HTTP only: host:port
	stderr *bytes.Buffer
	exited chan struct{}
}

// startServer starts bin with args. With http set it picks a free loopback
// port, appends "--http ADDR" and waits until the port accepts connections.
func startServer(ctx context.Context, bin string, args []string, http bool, dir string) (*server, error) {
	s := &server{stderr: new(bytes.Buffer), exited: make(chan struct{})}
	if http {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s.addr = "127.0.0.1:" + strconv.Itoa(port)
		args = append(append([]string(nil), args...), "--http", s.addr)
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Dir = dir
	s.cmd.Stderr = &limitedWriter{w: s.stderr, n: 64 << 10}
	var err error
	if !http {
		if s.stdin, err = s.cmd.StdinPipe(); err != nil {
			return nil, err
		}
		if s.stdout, err = s.cmd.StdoutPipe(); err != nil {
			return nil, err
		}
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	if http {
		deadline := time.Now().Add(15 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", s.addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-s.exited:
				return nil, fmt.Errorf("%s exited before listening: %s", bin, s.stderr)
			default:
			}
			if time.Now().After(deadline) {
				s.stop()
				return nil, fmt.Errorf("%s did not listen on %s within 15s", bin, s.addr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return s, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// stop ends the server gracefully (stdin EOF, then SIGINT) so that a CPU
// profile is written, and kills it after 10 s.
func (s *server) stop() {
	if s.stdin != nil {
		s.stdin.Close()
		select {
		case <-s.exited:
			return
		case <-time.After(3 * time.Second):
		}
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// cpuTime returns the process's CPU time, all threads: user and system.
func cpuTime(pid int) (user, sys time.Duration, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) may hold spaces: fields count from after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("unexpected /proc/pid/stat format")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, 0, errors.New("unexpected /proc/pid/stat format")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, errors.New("unexpected /proc/pid/stat format")
	}
	return time.Duration(ut) * time.Second / clockTicks, time.Duration(st) * time.Second / clockTicks, nil
}

// peakRSS returns VmHWM, the process's peak resident set size, in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, errors.New("no VmHWM in /proc/pid/status")
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// limitedWriter keeps the first n bytes written to it and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
