package orders

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

// Cancel on disconnect: orders placed with it are watched under the session
// that placed them (and this process), and cancelled exactly once each when
// that session ends, or, when the process died with the session open, when
// the next process starts.
//
//	bucket cancel_on_disconnect: owner\0session\0venue\0order id -> principal
const bucketDisconnect = "cancel_on_disconnect"

// TransportSessionEnd names the cancels made because a session ended, in the audit
// log's transport field.
const TransportSessionEnd = "session-end"

// DisconnectResult counts what a session end (or a start) cancelled.
type DisconnectResult struct {
	Cancelled int // cancelled now (or by an earlier run of the same cancel: replayed)
	WereFinal int // filled, cancelled or gone already
	Failed    int // the venue did not answer: left watched, tried again at the next start
	Unwatched int // entries removed
}

func disconnectKey(owner, session, venue, orderID string) []byte {
	return []byte(owner + "\x00" + session + "\x00" + venue + "\x00" + orderID)
}

// CancelOnDisconnect watches principal's order orderID at venue, placed in
// session, so that SessionEnded cancels it. The watch is on disk (fsync)
// when it returns.
func (s *Service) CancelOnDisconnect(session, principal, venue, orderID string) error {
	err := s.store.UpdateBucket(bucketDisconnect, func(b store.Bucket) error {
		return b.Put(disconnectKey(s.opts.Owner, session, venue, orderID), []byte(principal))
	})
	if err != nil {
		return sibyl.WrapError(sibyl.Internal, err, "internal error")
	}
	return nil
}

// SessionEnded cancels every order watched for session, through the
// exactly-once cancel path with keys derived from the session and the order,
// so a second run cancels nothing twice. The watches of every owner count: on
// a shared store one HTTP session's requests may be served by several
// instances (the session lives in the store), and the instance that sees it
// end cancels them all. Session ids are random and never reused, so a watch
// of another process never names this one's session by chance. The stdio
// session has no id (""): it belongs to one process, and only this owner's
// watches of it are cancelled.
func (s *Service) SessionEnded(ctx context.Context, session string) DisconnectResult {
	return s.cancelWatched(ctx, func(owner, sess string) bool {
		return sess == session && (session != "" || owner == s.opts.Owner)
	})
}

// CancelOrphaned cancels the orders watched by instances that are gone, whose
// sessions ended when they died: for a SoleOwner every other owner (an
// earlier process of the same data file), on a shared store the owners the
// store knows to be gone (Store.OwnerLive), so that the live sessions of
// other instances keep their orders. sibyl serve runs it before serving and,
// on a shared store, every few seconds (an instance may die and never come
// back).
func (s *Service) CancelOrphaned(ctx context.Context) DisconnectResult {
	return s.cancelWatched(ctx, func(owner, sess string) bool {
		if sess != "" && s.opts.SessionLive != nil && s.opts.SessionLive(sess) {
			return false // the session outlived its instance (shared HTTP sessions)
		}
		return owner != s.opts.Owner && (s.opts.SoleOwner || !s.store.OwnerLive(owner))
	})
}

type watched struct {
	key                              []byte
	session, principal, venue, order string
}

func (s *Service) cancelWatched(ctx context.Context, pick func(owner, session string) bool) DisconnectResult {
	var res DisconnectResult
	var list []watched
	_ = s.store.ViewBucket(bucketDisconnect, func(b store.Bucket) error {
		return b.ForEachPrefix(nil, func(k, v []byte) error {
			parts := strings.SplitN(string(k), "\x00", 4)
			if len(parts) == 4 && pick(parts[0], parts[1]) {
				list = append(list, watched{key: k, session: parts[1], principal: string(v), venue: parts[2], order: parts[3]})
			}
			return nil
		})
	})
	var done [][]byte
	for _, w := range list {
		h := sha256.Sum256(w.key)
		key := "disconnect-" + hex.EncodeToString(h[:16])
		args, _ := json.Marshal(map[string]string{"venue": w.venue, "order_id": w.order, "ended_session": w.session})
		_, err := s.Cancel(ctx, CancelRequest{Principal: w.principal, Session: w.session, Transport: TransportSessionEnd, Key: key,
			Venue: w.venue, OrderID: w.order, Args: args})
		switch sibyl.ErrorCode(err) {
		case "":
			res.Cancelled++
			done = append(done, w.key)
		case sibyl.Conflict, sibyl.NotFound:
			res.WereFinal++
			done = append(done, w.key)
		default:
			res.Failed++
			s.opts.Logger.Error("cancel on disconnect: the cancel failed; tried again at the next start", "venue", w.venue, "order_id", w.order, "err", err)
		}
	}
	if len(done) > 0 {
		err := s.store.UpdateBucket(bucketDisconnect, func(b store.Bucket) error {
			for _, k := range done {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			res.Unwatched = len(done)
		}
	}
	return res
}
