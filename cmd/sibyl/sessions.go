package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sibylmcp/sibyl/mcp"
	"github.com/sibylmcp/sibyl/orders"
	"github.com/sibylmcp/sibyl/store"
)

// Shared Streamable HTTP sessions (README "Several instances"): on a store
// that several instances share (etcd), the meta of every MCP session is kept
// in it, so any instance serves any session's requests.
//
//	bucket mcp_sessions: session id -> JSON mcp.SessionMeta
//	bucket mcp_state:    "request_state_key" -> 32 random bytes
const (
	bucketSessions = "mcp_sessions"
	bucketMCPState = "mcp_state"
	keyStateKey    = "request_state_key"
)

// sharedStore reports whether st is shared by several instances: it names
// its instances (etcd) where bbolt, owned by one process, does not.
func sharedStore(st store.Store) bool { return st.Owner() != "" }

// storeSessions is mcp.SessionStore over the state store's bucket
// mcp_sessions. Entries hold no secret (the principal is "key:" and an API
// key's id, never its token) and expire idle after the session idle timeout:
// mcp treats an entry idle that long as ended, and sweep deletes those no
// instance has ended yet (their instance died).
type storeSessions struct {
	st   store.Store
	idle time.Duration // --session-idle
	now  func() time.Time
}

var _ mcp.SessionStore = (*storeSessions)(nil)

// validSessionID reports whether id could have been made by mcp (hex, at
// most 64 characters): anything else a client sends as Mcp-Session-Id is
// refused without a store read, and never becomes a key.
func validSessionID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Create stores meta under id.
func (s *storeSessions) Create(ctx context.Context, id string, meta mcp.SessionMeta) error {
	if !validSessionID(id) {
		return fmt.Errorf("storing session: malformed id")
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("encoding session: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.st.UpdateBucket(bucketSessions, func(bk store.Bucket) error { return bk.Put([]byte(id), b) }); err != nil {
		return fmt.Errorf("storing session: %w", err)
	}
	return nil
}

// Update applies fn to the stored meta of id, in one transaction, and
// reports whether id was stored.
func (s *storeSessions) Update(ctx context.Context, id string, fn func(m *mcp.SessionMeta)) (bool, error) {
	if !validSessionID(id) {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	var found bool
	err := s.st.UpdateBucket(bucketSessions, func(bk store.Bucket) error {
		found = false // fn may run again
		v := bk.Get([]byte(id))
		if v == nil {
			return nil
		}
		var m mcp.SessionMeta
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("decoding session: %w", err)
		}
		fn(&m)
		b, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("encoding session: %w", err)
		}
		found = true
		return bk.Put([]byte(id), b)
	})
	if err != nil {
		return false, fmt.Errorf("updating session: %w", err)
	}
	return found, nil
}

// Load returns the stored meta of id.
func (s *storeSessions) Load(ctx context.Context, id string) (mcp.SessionMeta, bool, error) {
	var m mcp.SessionMeta
	if !validSessionID(id) {
		return m, false, nil
	}
	if err := ctx.Err(); err != nil {
		return m, false, err
	}
	var v []byte
	if err := s.st.ViewBucket(bucketSessions, func(bk store.Bucket) error {
		v = bk.Get([]byte(id))
		return nil
	}); err != nil {
		return m, false, fmt.Errorf("loading session: %w", err)
	}
	if v == nil {
		return m, false, nil
	}
	if err := json.Unmarshal(v, &m); err != nil {
		return m, false, fmt.Errorf("decoding session: %w", err)
	}
	return m, true, nil
}

// Delete removes id and reports whether it was stored.
func (s *storeSessions) Delete(ctx context.Context, id string) (bool, error) {
	if !validSessionID(id) {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	var found bool
	err := s.st.UpdateBucket(bucketSessions, func(bk store.Bucket) error {
		found = bk.Get([]byte(id)) != nil
		if !found {
			return nil
		}
		return bk.Delete([]byte(id))
	})
	if err != nil {
		return false, fmt.Errorf("deleting session: %w", err)
	}
	return found, nil
}

// sweep deletes the sessions idle for longer than the idle timeout (whose
// instances died before they could end them) and returns their ids. Each is
// deleted in its own transaction, only if still idle: a session used
// meanwhile stays.
func (s *storeSessions) sweep() ([]string, error) {
	now := s.now()
	idle := func(v []byte) bool {
		var m mcp.SessionMeta
		return json.Unmarshal(v, &m) == nil && now.Sub(m.LastUsed) > s.idle
	}
	var cands []string
	if err := s.st.ViewBucket(bucketSessions, func(bk store.Bucket) error {
		return bk.ForEachPrefix(nil, func(k, v []byte) error {
			if idle(v) {
				cands = append(cands, string(k))
			}
			return nil
		})
	}); err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	var gone []string
	for _, id := range cands {
		var deleted bool
		err := s.st.UpdateBucket(bucketSessions, func(bk store.Bucket) error {
			deleted = false
			v := bk.Get([]byte(id))
			if v == nil || !idle(v) {
				return nil
			}
			deleted = true
			return bk.Delete([]byte(id))
		})
		if err != nil {
			return gone, fmt.Errorf("deleting an idle session: %w", err)
		}
		if deleted {
			gone = append(gone, id)
		}
	}
	return gone, nil
}

// sweepSessions runs sweep every idle timeout until ctx ends, calling ended
// with each session it removed (their ends were reported by no instance) and
// logging its failures.
func (s *storeSessions) sweepSessions(ctx context.Context, log *slog.Logger, ended func(id string)) {
	t := time.NewTicker(s.idle)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			gone, err := s.sweep()
			if len(gone) > 0 {
				log.Info("removed idle MCP sessions left by stopped instances", "sessions", len(gone))
			}
			for _, id := range gone {
				ended(id)
			}
			if err != nil && ctx.Err() == nil {
				log.Warn("sweeping idle MCP sessions", "err", err)
			}
		}
	}
}

// sharedStateKey returns the key that signs the requestState of 2026-07-28
// multi-round-trip requests, the same for every instance of a shared store
// (made once, kept in bucket mcp_state), so that a round answered by one
// instance continues on any other. On a store of one process it returns nil:
// mcp then makes a random key per process. The key guards only what the
// server carries between rounds (the client's own earlier answers); whoever
// can read the store can already change far more than that.
func sharedStateKey(st store.Store) ([]byte, error) {
	if !sharedStore(st) {
		return nil, nil
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	var key []byte
	err := st.UpdateBucket(bucketMCPState, func(bk store.Bucket) error {
		key = bk.Get([]byte(keyStateKey))
		if len(key) == 32 {
			return nil
		}
		key = fresh
		return bk.Put([]byte(keyStateKey), fresh)
	})
	if err != nil {
		return nil, fmt.Errorf("reading the shared request-state key: %w", err)
	}
	if len(key) != 32 {
		return nil, errors.New("reading the shared request-state key: it has the wrong length")
	}
	return key, nil
}

// sessionStore returns the shared session store of sibyl serve --http.
func (m *Main) sessionStore() *storeSessions {
	return &storeSessions{st: m.store, idle: m.limits.sessionIdle, now: time.Now}
}

// sweptSessionEnded does for a session removed by the sweep what the end of
// a session does (disconnect.go): its cancel_on_disconnect orders are
// cancelled, whichever instance placed them.
func (m *Main) sweptSessionEnded(id string) {
	if m.orders == nil {
		return
	}
	svc := m.orders
	m.disconnects.Add(1)
	go func() {
		defer m.disconnects.Done()
		if res := svc.SessionEnded(context.Background(), id); res != (orders.DisconnectResult{}) {
			m.logger.Info("cancel on disconnect: an idle session left by a stopped instance expired", "session", id, "cancelled", res.Cancelled, "already_final", res.WereFinal, "failed", res.Failed)
		}
	}()
}

// sessionLive returns orders' SessionLive on a shared store: an HTTP session
// still stored and not idle past --session-idle goes on (at any instance),
// and so do sessions the store cannot be asked about just now. Nil on a
// store of one process, where sessions end with it.
func (m *Main) sessionLive(st store.Store) func(session string) bool {
	if !sharedStore(st) {
		return nil
	}
	ss := &storeSessions{st: st, idle: m.limits.sessionIdle, now: time.Now}
	return func(session string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		meta, ok, err := ss.Load(ctx, session)
		if err != nil {
			return true // cannot tell: cancel nothing now, look again later
		}
		return ok && ss.now().Sub(meta.LastUsed) <= ss.idle
	}
}
