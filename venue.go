package sibyl

import "context"

// Venue is a prediction-market venue: the paper venue, Kalshi or Polymarket.
// Adapters translate their exchange's errors into *Error codes: NotFound for an
// unknown market or order, MarketClosed, InsufficientFunds and Invalid for
// deterministic rejections, and Unavailable for anything whose outcome is unknown
// (timeouts, 5xx, dropped connections).
type Venue interface {
	// Info describes the venue. It does no I/O.
	Info() VenueInfo

	// SearchMarkets returns one page of markets matching q.
	SearchMarkets(ctx context.Context, q MarketQuery) (MarketPage, error)
	// Market returns one market by its native id, or a NotFound error.
	Market(ctx context.Context, nativeID string) (Market, error)
	// OrderBook returns up to depth levels per side of one outcome's book
	// (all levels when depth <= 0).
	OrderBook(ctx context.Context, nativeID, outcome string, depth int) (OrderBook, error)

	// PlaceOrder sends an order. A venue that already has an order with
	// req.ClientOrderID for this principal must not create a second one: it returns
	// the existing order or a Conflict error. A deterministic refusal (insufficient
	// funds, closed market, bad price) is an *Error with a non-retryable code; an
	// Unavailable error means the order may or may not exist.
	PlaceOrder(ctx context.Context, req OrderRequest) (Order, error)
	// CancelOrder cancels a resting order and returns its final state. Cancelling
	// an order that is already final returns it unchanged with a Conflict error.
	CancelOrder(ctx context.Context, principal, orderID string) (Order, error)
	// GetOrder returns one of principal's orders by the venue's id, or NotFound.
	GetOrder(ctx context.Context, principal, orderID string) (Order, error)
	// OrderByClientID returns principal's order with the given client order id,
	// or NotFound. It is how a lost response is reconciled.
	OrderByClientID(ctx context.Context, principal, clientOrderID string) (Order, error)
	// ListOrders returns one page of principal's orders, newest first.
	ListOrders(ctx context.Context, principal string, q OrderQuery) (OrderPage, error)
	// Portfolio returns principal's cash and positions, marked to market.
	Portfolio(ctx context.Context, principal string) (Portfolio, error)
}
