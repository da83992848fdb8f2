package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/store"
)

// Peak memory of a real `sibyl serve --http` process under what one client
// may send (issue 11, item 1): maximal batches, and floods of sessions. The
// numbers are the server process's VmHWM (peak RSS) read from /proc; they are
// reported, never asserted. BENCHMARKS.md ("Memory under hostile load") has
// the results.
//
//	go test ./cmd/sibyl -run '^$' -bench 'ServeMemory' -benchtime 40x
//	go test ./cmd/sibyl -run '^$' -bench 'ServeMemory/flood' -benchtime 50000x
//
// SIBYL_BENCH_BIN=/path/to/sibyl runs the same loads against another build.

// BenchmarkServeMemory runs each load against its own fresh server process.
// One op is one HTTP request: a batch of 100 search_markets {limit:100} (4
// clients at once), or one initialize of a session flood.
func BenchmarkServeMemory(b *testing.B) {
	for _, clients := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("batch=100xsearch_markets_limit100,clients=%d", clients), func(b *testing.B) { benchBatchMemory(b, clients) })
	}
	b.Run("flood=sessions,principals=1", func(b *testing.B) {
		srv := startMemServer(b, b.TempDir(), "--rate-limit", "0")
		floodSessions(b, srv, []string{""})
	})
	b.Run("flood=sessions,principals=200", func(b *testing.B) {
		data := b.TempDir()
		st, err := store.Open(filepath.Join(data, "sibyl.db"))
		if err != nil {
			b.Fatal(err)
		}
		var tokens []string
		for i := range 200 {
			tok, _, err := st.CreateAPIKey(fmt.Sprintf("flood-%d", i), []string{"read"}, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			tokens = append(tokens, tok)
		}
		st.Close()
		srv := startMemServer(b, data, "--rate-limit", "0")
		floodSessions(b, srv, tokens)
	})
}

// floodSessions sends b.N initializes, round robin over the tokens, from 8
// clients, and reports how many sessions were opened and refused.
func floodSessions(b *testing.B, srv *memServer, tokens []string) {
	var mu sync.Mutex
	status := map[int]int{}
	var wg sync.WaitGroup
	next := make(chan int)
	body := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"flood","version":"1"}}}`
	b.ResetTimer()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				st, _ := memPost(b, srv.url, tokens[i%len(tokens)], "", body)
				mu.Lock()
				status[st]++
				mu.Unlock()
			}
		}()
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(status[http.StatusOK]), "sessions")
	b.ReportMetric(float64(status[http.StatusTooManyRequests]+status[http.StatusServiceUnavailable]), "refused")
	srv.report(b)
}

type memServer struct {
	url   string
	pid   int
	start int64 // VmRSS after start-up, bytes
}

// report adds the server's peak RSS (and its RSS after start-up) to b.
func (s *memServer) report(b *testing.B) {
	b.ReportMetric(float64(procStatus(b, s.pid, "VmHWM:"))/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(s.start)/(1<<20), "start-RSS-MiB")
}

func startMemServer(b *testing.B, data string, extra ...string) *memServer {
	b.Helper()
	bin := sibylBin
	if other := os.Getenv("SIBYL_BENCH_BIN"); other != "" {
		bin = other // another build, such as the code before these limits, for comparison
	}
	cmd := exec.Command(bin, append([]string{"serve", "--http", "127.0.0.1:0", "--data-dir", data}, extra...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`http://127\.0\.0\.1:\d+/mcp`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if u := re.FindString(sc.Text()); u != "" {
				found <- u
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case u := <-found:
		s := &memServer{url: u, pid: cmd.Process.Pid}
		s.start = procStatus(b, s.pid, "VmRSS:")
		return s
	case <-time.After(30 * time.Second):
		b.Fatal("sibyl serve --http printed no endpoint within 30s")
		return nil
	}
}

// procStatus reads a "kB" field of /proc/pid/status, in bytes.
func procStatus(tb testing.TB, pid int, field string) int64 {
	tb.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb << 10
		}
	}
	tb.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

var memClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// memPost posts body and returns the status and the answer's size.
func memPost(tb testing.TB, url, token, sid, body string) (int, int64) {
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	resp, err := memClient.Do(req)
	if err != nil {
		tb.Error(err)
		return 0, 0
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, n
}

func memInit(tb testing.TB, url, token, version string) string {
	tb.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader([]byte(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"`+version+`","capabilities":{},"clientInfo":{"name":"mem","version":"1"}}}`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := memClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || sid == "" {
		tb.Fatalf("initialize: got %d", resp.StatusCode)
	}
	if st, _ := memPost(tb, url, token, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); st != http.StatusAccepted {
		tb.Fatalf("initialized: got %d", st)
	}
	return sid
}

// benchBatchMemory: clients sessions (2025-03-26) each send maximal batches,
// one at a time each, b.N in all.
func benchBatchMemory(b *testing.B, clients int) {
	srv := startMemServer(b, b.TempDir(), "--rate-limit", "0")
	body := batchOf(100, func(i int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"search_markets","arguments":{"limit":100}}}`, i)
	})
	var mu sync.Mutex
	var bytesOut int64
	var wg sync.WaitGroup
	next := make(chan struct{})
	for range clients {
		sid := memInit(b, srv.url, "", "2025-03-26")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				st, n := memPost(b, srv.url, "", sid, body)
				if st != http.StatusOK {
					b.Errorf("batch: got %d", st)
				}
				mu.Lock()
				bytesOut += n
				mu.Unlock()
			}
		}()
	}
	b.ResetTimer()
	for range b.N {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(bytesOut)/float64(b.N)/(1<<20), "MiB-answer/op")
	srv.report(b)
}
