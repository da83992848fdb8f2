package mcp

// SessionCount returns the number of sessions open now: stdio and HTTP sessions
// from their start (initialize) to their end (input closed, DELETE, idle reap).
// Metrics read it.
func (s *Server) SessionCount() int {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	return len(s.sessions)
}
