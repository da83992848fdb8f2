package orders

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

// noSpaceLogInterval is how often a full disk is logged while it lasts: one
// line, with how many refusals were not logged since the last one, instead of
// one line per call (a loop of retries once wrote 85,000 lines in 150 s).
const noSpaceLogInterval = time.Minute

// noSpaceLog logs a full disk at most once per interval.
type noSpaceLog struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *noSpaceLog) log(logger *slog.Logger, now time.Time, err error) {
	l.mu.Lock()
	if !l.last.IsZero() && now.Sub(l.last) < noSpaceLogInterval {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	logger.Error("the data file's disk is full: orders are refused as unavailable (nothing recorded or sent) until space is freed",
		"err", err, "refusals_not_logged", n, "next_log_after", noSpaceLogInterval)
}

// storeError turns a storage failure of the claim into the caller's error: a
// full disk is unavailable and retryable (the claim was rolled back, nothing
// was sent: the same idempotency_key may be retried once space is freed),
// logged once per interval; a store that cannot be reached or has lost its
// quorum (store.ErrUnavailable) is unavailable and retryable too, for the same
// reason; anything else is internal.
func (s *Service) storeError(what string, err error) error {
	if store.IsNoSpace(err) {
		s.noSpace.log(s.opts.Logger, time.Now(), err)
		return sibyl.WrapError(sibyl.Unavailable, fmt.Errorf("%s: %w", what, err),
			"the server's disk is full: nothing was recorded or sent; retry later with the same idempotency_key")
	}
	if errors.Is(err, store.ErrUnavailable) {
		return sibyl.WrapError(sibyl.Unavailable, fmt.Errorf("%s: %w", what, err),
			"the shared state store cannot be reached or has lost its quorum: nothing was recorded or sent; retry later with the same idempotency_key")
	}
	return sibyl.WrapError(sibyl.Internal, fmt.Errorf("%s: %w", what, err), "internal error")
}
