package orders

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

// CancelAllResult counts what CancelAllOpen did.
type CancelAllResult struct {
	Cancelled int // resting orders cancelled (or found cancelled by an earlier run with the same tag: replayed)
	WereFinal int // filled, cancelled or expired already
	Failed    int // the venue did not answer or refused: run again with the same tag
}

// CancelAllOpen cancels every order sibyl placed that may still rest, on
// every venue: the orders its records list as open, and the orders of records
// whose outcome is unknown that the venue has (asked read-only by client
// order id; a record the venue has nothing for is left to its retry). Each
// cancel goes through the exactly-once cancel path under a key made of tag
// and the order, so a second run with the same tag (say after a restart)
// cancels nothing twice. transport names the cause in the audit log. It is
// the kill switch's --cancel-open.
func (s *Service) CancelAllOpen(ctx context.Context, tag, transport string) CancelAllResult {
	var res CancelAllResult
	// Orders claimed before the halt may be on their way to the venue: let
	// those calls finish (the halt refuses every later claim), so that the
	// lists below see them.
	s.placing.Lock()
	s.placing.Unlock() //nolint:staticcheck // a barrier, not a critical section
	s.Flush()          // accepted orders' completions, so the index lists them
	type target struct{ principal, venue, order string }
	var targets []target
	for _, o := range s.store.OpenOrders(s.now().Add(time.Hour), 0) {
		targets = append(targets, target{o.Principal, o.Venue, o.OrderID})
	}
	for _, id := range s.store.PendingRecords(ToolPlaceOrder, s.now().Add(time.Hour), 0) {
		rec, ok, err := s.store.Record(id)
		if err != nil || !ok || rec.State != store.Pending {
			continue
		}
		v, ok := s.venues[rec.Venue]
		if !ok {
			res.Failed++
			continue
		}
		vctx, cancel := context.WithTimeout(ctx, s.opts.SendTimeout)
		o, found, err := findByClientID(id.Principal)(vctx, v, ClientOrderID(id.Principal, id.Tool, id.Key), rec.LookupHint())
		cancel()
		switch {
		case err != nil:
			res.Failed++
			s.opts.Logger.Error("cancel all: looking up an order whose outcome is unknown", "venue", rec.Venue, "key", id.Key, "err", err)
		case found && !o.Status.Final():
			targets = append(targets, target{id.Principal, rec.Venue, o.NativeID})
		}
	}
	for _, t := range targets {
		h := sha256.Sum256([]byte(t.venue + "\x00" + t.order))
		key := tag + "-" + hex.EncodeToString(h[:12])
		args, _ := json.Marshal(map[string]string{"venue": t.venue, "order_id": t.order, "cause": tag})
		_, err := s.Cancel(ctx, CancelRequest{Principal: t.principal, Transport: transport, Key: key, Venue: t.venue, OrderID: t.order, Args: args})
		switch sibyl.ErrorCode(err) {
		case "":
			res.Cancelled++
		case sibyl.Conflict:
			res.WereFinal++
		default:
			res.Failed++
			s.opts.Logger.Error("cancel all: cancelling a resting order", "venue", t.venue, "order_id", t.order, "err", err)
		}
	}
	return res
}
