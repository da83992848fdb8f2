package orders

import (
	"strings"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

// bucketOrderOwners records which principal placed which order on a venue
// that trades one shared account for every principal
// (sibyl.VenueInfo.SharedAccount): key venue NUL native order id, value the
// principal. It is written in the same transaction as the order's completed
// idempotency record and outlives the record's retention window, so
// get_order, list_orders and cancel_order can show and touch only the
// caller's own orders for as long as they exist.
const bucketOrderOwners = "order_owners"

func ownerKey(venue, nativeOrderID string) []byte {
	return []byte(venue + "\x00" + nativeOrderID)
}

// sharedAccount reports whether the named venue trades one account for every
// principal.
func (s *Service) sharedAccount(venue string) bool {
	v, ok := s.venues[venue]
	return ok && v.Info().SharedAccount
}

// putOwner records principal as the owner of the order, inside the
// completion's transaction.
func putOwner(t store.Txn, venue, nativeOrderID, principal string) error {
	b, err := t.Bucket(bucketOrderOwners)
	if err != nil {
		return err
	}
	return b.Put(ownerKey(venue, nativeOrderID), []byte(principal))
}

// OrderOwner returns the principal that placed the venue's order nativeOrderID
// through this sibyl; ok is false when none is recorded (an order placed
// elsewhere, or on a venue with an account per principal, where none is kept).
// Completions still queued are written first.
func (s *Service) OrderOwner(venue, nativeOrderID string) (principal string, ok bool, err error) {
	read := func() error {
		return s.store.ViewBucket(bucketOrderOwners, func(b store.Bucket) error {
			if v := b.Get(ownerKey(venue, nativeOrderID)); v != nil {
				principal, ok = string(v), true
			}
			return nil
		})
	}
	if err := read(); err != nil || ok {
		return principal, ok, err
	}
	s.Flush() // an order placed a moment ago may still be completing
	return principal, ok, read()
}

// Owns reports whether principal may see and touch the venue's order
// nativeOrderID: always on a venue with an account per principal (the venue
// itself keeps principals apart); on a shared-account venue only when this
// sibyl recorded principal as the one who placed it.
func (s *Service) Owns(principal, venue, nativeOrderID string) (bool, error) {
	if !s.sharedAccount(venue) {
		return true, nil
	}
	p, ok, err := s.OrderOwner(venue, strings.TrimSpace(nativeOrderID))
	if err != nil {
		return false, sibyl.WrapError(sibyl.Internal, err, "internal error")
	}
	return ok && p == principal, nil
}

// SharedAccount reports whether the named venue trades one account for every
// principal, so its balances and positions are the account's, not the
// caller's.
func (s *Service) SharedAccount(venue string) bool { return s.sharedAccount(venue) }

// liveGate is the one gate for real money, whatever the adapter does: a
// venue whose VenueInfo.RealMoney is set takes no order or cancel unless the
// server runs with --live (Options.Live). The refusal names --live; nothing
// is recorded or sent.
func (s *Service) liveGate(venue, tool string) error {
	v, ok := s.venues[venue]
	if !ok || s.opts.Live || !v.Info().RealMoney {
		return nil
	}
	return sibyl.Errorf(sibyl.Unauthorized,
		"venue %s trades real money and this server was started without --live (SIBYL_LIVE=1): %s is refused and nothing was sent; restart sibyl serve with --live to trade real money",
		venue, tool)
}

// notYours is the answer for another principal's order on a shared account:
// the same NotFound an unknown order gets, so nothing about it leaks.
func notYours(nativeOrderID string) error {
	return sibyl.FieldErrorf(sibyl.NotFound, "order_id", "no order %q of yours at this venue; list_orders shows your orders", nativeOrderID)
}
