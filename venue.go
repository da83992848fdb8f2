package sibyl

import (
	"context"
	"time"
)

// Venue is a prediction-market venue: the paper venue, Kalshi or Polymarket.
//
// Error contract. Adapters translate their exchange's errors into *Error codes:
//   - NotFound: an unknown market, outcome or order (or another principal's order);
//   - MarketClosed, InsufficientFunds, Invalid: deterministic refusals, nothing was
//     created; Invalid names the argument at fault in Field (limit_price, quantity,
//     ...);
//   - Conflict: the request clashes with the order's state (cancelling a final order);
//   - RateLimited: the venue refused the request before accepting it (HTTP 429);
//     nothing was created, retry after a pause;
//   - Unauthorized: missing or refused credentials; nothing was created;
//   - Unavailable: the outcome is UNKNOWN. A timeout, a 5xx or 408, a dropped
//     connection or a cancelled context after the request may have left the
//     process: the order may or may not exist at the venue. The caller (orders/)
//     must reconcile with OrderByClientID before it sends anything again, and must
//     never treat Unavailable as "not placed".
//
// Any other error (not an *Error) is treated like Unavailable by the order path.
//
// Ids. Methods that take a market take the venue's native id (no "venue:"
// prefix); Market, Order and Position values name their market by
// "venue:native_id" (MarketID / Market.ID). Orders are named by the venue's
// native order id (Order.NativeID), always together with the venue's name.
//
// Money. Prices and quantities of orders and fills cross this interface as
// exact decimals (decimal.Decimal): an adapter formats them onto its wire
// exactly and never through a float64. The market's OrderRules say which
// prices and quantities it accepts; orders/ checks requests against them
// before anything is sent (CheckOrder).
//
// Principals. A venue either keeps an account per principal (the paper venue)
// or trades one real account for every principal (VenueInfo.SharedAccount):
// then the principal argument only scopes what the venue may be asked about,
// and sibyl itself records which principal placed which order (see store's
// order ownership) to show and touch only the caller's orders.
type Venue interface {
	// Info describes the venue. It does no I/O.
	Info() VenueInfo

	// SearchMarkets returns one page of markets matching q. NextCursor is
	// empty on the last page; a cursor the venue did not produce is Invalid
	// (Field "cursor").
	SearchMarkets(ctx context.Context, q MarketQuery) (MarketPage, error)
	// Market returns one market by its native id, or a NotFound error.
	Market(ctx context.Context, nativeID string) (Market, error)
	// OrderBook returns up to depth levels per side of one outcome's book
	// (all levels when depth <= 0): bids best (highest) first, asks best
	// (lowest) first. An unknown market or outcome is NotFound.
	OrderBook(ctx context.Context, nativeID, outcome string, depth int) (OrderBook, error)

	// PlaceOrder sends an order. req.NativeMarketID is the native market id;
	// req.ClientOrderID is the same on every attempt of one intended order. A
	// venue that already has an order with req.ClientOrderID for this principal
	// must not create a second one: it returns the existing order or a
	// Conflict error. A venue that implements Preparer gets req.Prepared set to
	// the prepared order stored before the first send and must send exactly
	// its Payload. The answer may have Status OrderAccepted when the venue
	// acknowledged the order without saying its state (Kalshi's create
	// answer); GetOrder tells the rest later. A deterministic refusal
	// (insufficient funds, closed market, bad price) is an *Error with a
	// non-retryable code; Unavailable means the order may or may not exist.
	PlaceOrder(ctx context.Context, req OrderRequest) (Order, error)
	// CancelOrder cancels a resting order, named by its native id, and
	// returns its final state (or OrderAccepted-like partial state when the
	// venue acknowledged the cancel without the order). Cancelling an order
	// that is already final returns it unchanged with a Conflict error; an
	// unknown order is NotFound; Unavailable means the cancel may or may not
	// have happened.
	CancelOrder(ctx context.Context, principal, nativeOrderID string) (Order, error)
	// GetOrder returns one of principal's orders by its native id, or NotFound.
	GetOrder(ctx context.Context, principal, nativeOrderID string) (Order, error)
	// OrderByClientID returns principal's order with the given client order
	// id, or NotFound when the venue certainly has none. It is how a lost
	// response is reconciled, so NotFound must be certain: an adapter that
	// cannot complete its search (a page failed) returns Unavailable. hint is
	// what sibyl's idempotency record knows about the order (its market, when
	// it was claimed, the prepared order): a venue that cannot look orders up
	// by client order id pages its order list from that market and time; one
	// whose order id is known before sending (Prepared.NativeOrderID) asks
	// for that id.
	OrderByClientID(ctx context.Context, principal, clientOrderID string, hint LookupHint) (Order, error)
	// ListOrders returns one page of principal's orders, newest first. On a
	// shared-account venue it returns the account's orders: the caller filters
	// them by ownership.
	ListOrders(ctx context.Context, principal string, q OrderQuery) (OrderPage, error)
	// Portfolio returns principal's cash and positions, marked to market. On a
	// shared-account venue they are the account's (Portfolio.SharedAccount).
	Portfolio(ctx context.Context, principal string) (Portfolio, error)
}

// Preparer is implemented by venues whose order id is fixed by the order's
// content before it is sent, such as Polymarket (the order id is the hash of
// the signed order). orders/ calls PrepareOrder once per idempotency key,
// before the claim; the prepared order is stored in the claim's transaction
// (on disk before the first send), and every send and resend passes the stored
// one in OrderRequest.Prepared, never a fresh one, so a resend after an
// unknown outcome is byte-identical and the venue sees one order.
//
// PrepareOrder must do no I/O that changes venue state (signing is fine). A
// deterministic refusal (Invalid, NotFound, MarketClosed) refuses the order
// before anything is recorded; Unavailable fails the call with nothing
// recorded or sent.
type Preparer interface {
	PrepareOrder(ctx context.Context, req OrderRequest) (PreparedOrder, error)
}

// PreparedOrder is an order made ready to send by a Preparer.
type PreparedOrder struct {
	// NativeOrderID is the venue's order id when it is known before sending
	// (Polymarket's order hash), else empty.
	NativeOrderID string `json:"native_order_id,omitempty"`
	// Payload is opaque to sibyl: the exact bytes the venue resends (such as
	// the signed order's JSON body).
	Payload []byte `json:"payload"`
}

// LookupHint is what the idempotency record knows about an order whose
// response may have been lost, passed to OrderByClientID.
type LookupHint struct {
	// NativeMarketID is the order's market (native id); empty when unknown
	// (a cancel's record).
	NativeMarketID string
	// ClaimedAt is when sibyl claimed the idempotency key, before the first
	// send: the order, if it exists, was created at the venue after it (allow
	// for clock skew between sibyl and the venue; a minute is ample). Zero when
	// unknown: search everything.
	ClaimedAt time.Time
	// Prepared is the stored prepared order, for Preparer venues; nil otherwise.
	Prepared *PreparedOrder
}
