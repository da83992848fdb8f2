package orders

import (
	"fmt"
	"sync"
	"time"
)

// Halt is the kill switch's state in a running server: cmd sets it from the
// control file that 'sibyl halt' and 'sibyl resume' write, and the orders
// service refuses every new order while it is on. The zero value is not
// halted. It is safe for concurrent use.
type Halt struct {
	mu sync.RWMutex
	st HaltState
}

// HaltState is whether trading is halted, since when, by whom and why.
type HaltState struct {
	Halted bool
	ID     string    // the halt's id (from the control file), for the audit log
	Since  time.Time // when it was halted
	By     string    // who halted it (user@host of the 'sibyl halt' command)
	Reason string    // the operator's reason, if given
}

func (st HaltState) describe() string {
	s := fmt.Sprintf("since %s", st.Since.UTC().Format(time.RFC3339))
	if st.By != "" {
		s += " by " + st.By
	}
	if st.Reason != "" {
		s += ": " + st.Reason
	}
	return s
}

// Set replaces the state.
func (h *Halt) Set(st HaltState) {
	h.mu.Lock()
	h.st = st
	h.mu.Unlock()
}

// State returns the current state.
func (h *Halt) State() HaltState {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.st
}
