package kalshitest

import "time"

// FaultKind is what goes wrong with one request.
type FaultKind int

// Fault kinds. The "After" kinds process the request first (an order is
// created or cancelled) and then lose the answer; the others never reach the
// exchange's books.
const (
	NoFault             FaultKind = iota
	DropAfter                     // processed, then the connection is closed with no answer
	ServerErrorAfter              // processed, then HTTP 500
	GatewayTimeoutAfter           // processed, then HTTP 504
	HangAfter                     // processed, then no answer until the client gives up
	RateLimit                     // HTTP 429 {"error":"too many requests"}, nothing processed
	UnavailableBefore             // HTTP 503, nothing processed
	HangBefore                    // no answer until the client gives up, nothing processed
	Slow                          // answered normally after Delay
)

var faultKindNames = [...]string{"none", "drop_after", "500_after", "504_after", "hang_after", "429", "503_before", "hang_before", "slow"}

// String names the kind.
func (k FaultKind) String() string {
	if int(k) < len(faultKindNames) {
		return faultKindNames[k]
	}
	return "unknown"
}

// Fault is a fault to inject on requests to Route ("" matches every route).
type Fault struct {
	Route string // such as "POST /portfolio/events/orders"
	Kind  FaultKind
	Delay time.Duration // for Slow, and the hang limit of HangBefore/HangAfter
	Times int           // how many matching requests it hits (0 = 1)
}

// Inject queues faults; each hits the next Times matching requests, in order.
func (s *Server) Inject(fs ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range fs {
		f := f
		if f.Times == 0 {
			f.Times = 1
		}
		s.faults = append(s.faults, &f)
	}
}

// SetFaultFunc installs fn, asked for a fault on every request that no queued
// fault matched (nil removes it). fn runs under the server's lock and must
// not call the Server.
func (s *Server) SetFaultFunc(fn func(route string) Fault) {
	s.mu.Lock()
	s.faultFn = fn
	s.mu.Unlock()
}

// ClearFaults removes queued faults and the fault function.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults, s.faultFn = nil, nil
	s.mu.Unlock()
}

// nextFault consumes the fault for a request to rt. Callers hold s.mu.
func (s *Server) nextFault(rt string) Fault {
	for i, f := range s.faults {
		if f.Route != "" && f.Route != rt {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return *f
	}
	if s.faultFn != nil {
		return s.faultFn(rt)
	}
	return Fault{}
}
