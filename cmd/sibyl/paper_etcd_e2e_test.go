package main

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/sibylmcp/sibyl/internal/etcdtest"
)

// TestPaperCLIOnEtcd: 'sibyl paper fund|reset|show' with --store etcd act on
// the one paper state every instance shares: funds added by concurrent
// processes all count, another process shows them, a reset takes effect
// everywhere, and a process with another --seed is refused with a message
// naming both seeds (it changes nothing).
func TestPaperCLIOnEtcd(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	eps := strings.Join(c.Endpoints(), ",")
	run := func(args ...string) (string, error) {
		cmd := exec.Command(sibylBin, append([]string{"paper"}, args...)...)
		cmd.Env = append(os.Environ(), "SIBYL_STORE=etcd", "SIBYL_ETCD_ENDPOINTS="+eps, "SIBYL_ETCD_PREFIX=/paper-cli/", "SIBYL_DATA_DIR="+shortTempDir(t), "SIBYL_SEED=1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	outs := make([]string, 4)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			outs[i], errs[i] = run("fund", "--principal", "alice", "--amount", "25")
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("fund %d: %v\n%s", i, err, outs[i])
		}
	}
	out, err := run("show", "--principal", "alice")
	if err != nil || !strings.Contains(out, "$10,100.00") {
		t.Fatalf("show after four funds of $25: %v\n%s\nwant cash $10,100.00", err, out)
	}
	if out, err := run("reset", "--principal", "alice", "--cash", "500"); err != nil || !strings.Contains(out, "alice: cash $500.00") {
		t.Fatalf("reset: %v\n%s", err, out)
	}
	out, err = run("show", "--seed", "2")
	if err == nil || !strings.Contains(out, "seed 1, not 2") {
		t.Errorf("show with another seed: %v\n%s\nwant a refusal naming seeds 1 and 2", err, out)
	}
	out, err = run("show")
	if err != nil || !strings.Contains(out, "alice") || !strings.Contains(out, "$500.00") || strings.Contains(out, "$10,100.00") {
		t.Errorf("show after the reset: %v\n%s\nwant alice with $500.00", err, out)
	}
}
