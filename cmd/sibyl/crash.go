package main

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/sibylmcp/sibyl/orders"
)

// crashHooks builds the order path's test-only hooks from SIBYL_TEST_CRASH, for
// the crash test: "POINT:P[,POINT:P...]" with POINT one of after-claim, after-send,
// after-complete and P the probability (0-1) that the process exits at once
// (status 137, like SIGKILL, with no cleanup) when an order passes that point.
// Empty means no hooks. Never set it in production.
func crashHooks(spec string, log *slog.Logger) (orders.Hooks, error) {
	var h orders.Hooks
	if spec == "" {
		return h, nil
	}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 0x5eed))
	hit := func(p float64, point string) func(string) {
		return func(key string) {
			mu.Lock()
			crash := rng.Float64() < p
			mu.Unlock()
			if crash {
				fmt.Fprintf(os.Stderr, "SIBYL_TEST_CRASH: exiting at %s (key %s)\n", point, key)
				os.Exit(137)
			}
		}
	}
	for _, part := range strings.Split(spec, ",") {
		point, ps, ok := strings.Cut(strings.TrimSpace(part), ":")
		p, err := strconv.ParseFloat(ps, 64)
		if !ok || err != nil || p < 0 || p > 1 {
			return h, fmt.Errorf("SIBYL_TEST_CRASH %q: want POINT:PROBABILITY, such as after-send:0.05", part)
		}
		switch point {
		case "after-claim":
			h.AfterClaim = hit(p, point)
		case "after-send":
			h.AfterSend = hit(p, point)
		case "after-complete":
			h.AfterComplete = hit(p, point)
		default:
			return h, fmt.Errorf("SIBYL_TEST_CRASH: unknown point %q; want after-claim, after-send or after-complete", point)
		}
	}
	log.Warn("test crash hooks are armed: this process will exit at random points of the order path", "spec", spec)
	return h, nil
}
