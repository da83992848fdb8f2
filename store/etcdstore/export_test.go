package etcdstore

// abandon stops this instance as a crash would, as far as etcd can tell: its
// lease is no longer kept alive (nor revoked) and its client is closed. The
// Store is unusable afterwards; Close still returns.
func (s *Store) abandon() {
	if sess := s.session(); sess != nil {
		sess.Orphan()
	}
	s.cancel()
	s.cli.Close()
}
