package sibyl

import (
	"time"

	"github.com/shopspring/decimal"
)

// Side is buy or sell.
type Side string

// Order sides.
const (
	Buy  Side = "buy"
	Sell Side = "sell"
)

// OrderType is limit or market.
type OrderType string

// Order types.
const (
	LimitOrder  OrderType = "limit"  // rests at LimitPrice or better
	MarketOrder OrderType = "market" // takes liquidity at any price, never rests
)

// TimeInForce says how long an order may rest.
type TimeInForce string

// Times in force.
const (
	GTC TimeInForce = "gtc" // good till cancelled
	IOC TimeInForce = "ioc" // immediate or cancel: fill what is possible now, cancel the rest
	FOK TimeInForce = "fok" // fill or kill: fill all now or nothing
)

// OrderStatus is where an order is in its life.
type OrderStatus string

// Order statuses. Accepted, Open and PartiallyFilled orders may still trade;
// the rest are final.
const (
	// OrderAccepted: the venue acknowledged the order (it exists, with a native
	// id) but did not say its state, as Kalshi's create answer does. Not final:
	// GetOrder (or reconciliation) asks again.
	OrderAccepted        OrderStatus = "accepted"
	OrderOpen            OrderStatus = "open"             // resting, nothing filled
	OrderPartiallyFilled OrderStatus = "partially_filled" // resting, some filled
	OrderFilled          OrderStatus = "filled"           // completely filled
	OrderCancelled       OrderStatus = "cancelled"        // cancelled (perhaps after partial fills)
	OrderRejected        OrderStatus = "rejected"         // refused by the venue
	OrderExpired         OrderStatus = "expired"          // the market closed while it rested
)

// Final reports whether no further fills or state changes can happen.
func (s OrderStatus) Final() bool {
	switch s {
	case OrderAccepted, OrderOpen, OrderPartiallyFilled:
		return false
	}
	return true
}

// OrderRequest is an order as sibyl sends it to a venue. ClientOrderID is chosen by
// sibyl (a UUIDv5 of the idempotency key) and is the same on every attempt, so the
// venue can recognise a resend and sibyl can find the order after a lost response.
// Quantity and LimitPrice are exact decimals on the market's steps (see
// OrderRules); an adapter formats them onto its wire without a float64.
type OrderRequest struct {
	Principal      string          // who places it (API key id, or "local" on stdio)
	ClientOrderID  string          // sibyl's id for this order, stable across retries
	NativeMarketID string          // the venue's native market id (no "venue:" prefix)
	Outcome        string          // outcome name, such as "Yes"
	Side           Side            // buy or sell
	Type           OrderType       // limit or market
	Quantity       decimal.Decimal // contracts, > 0, on the market's quantity step
	LimitPrice     decimal.Decimal // dollars, in (0,1) on a price step; zero for market orders
	TimeInForce    TimeInForce     // gtc, ioc or fok
	// Prepared is the stored prepared order (see Preparer), set by orders/ on
	// every send to a Preparer venue; nil for other venues.
	Prepared *PreparedOrder `json:",omitempty"`
}

// Order is the venue's view of an order. Quantities, prices and fees are exact.
type Order struct {
	// NativeID is the venue's own order id (no "venue:" prefix): what
	// GetOrder and CancelOrder take, together with Venue. It is stored as "ID"
	// in JSON for the records written before it had this name.
	NativeID       string          `json:"ID"`
	ClientOrderID  string          // sibyl's id (see OrderRequest)
	Venue          string          // venue name
	MarketID       string          // "venue:native_id"
	Outcome        string          // outcome name
	Side           Side            // buy or sell
	Type           OrderType       // limit or market
	TimeInForce    TimeInForce     // gtc, ioc or fok
	Quantity       decimal.Decimal // contracts ordered
	LimitPrice     decimal.Decimal // dollars; zero for market orders
	FilledQuantity decimal.Decimal // contracts filled so far
	AveragePrice   decimal.Decimal // volume-weighted fill price, dollars; zero when nothing filled
	Fees           decimal.Decimal // fees charged so far, dollars
	Status         OrderStatus     // see OrderStatus
	RejectReason   string          // why the venue refused it, when Status is rejected
	Fills          []Fill          // the fills, oldest first
	CreatedAt      time.Time       // when the venue accepted it
	UpdatedAt      time.Time       // when it last changed
	Simulated      bool            // true for the paper venue
}

// Fill is one execution of part of an order.
type Fill struct {
	ID       string          // the venue's fill or trade id
	Price    decimal.Decimal // dollars per contract
	Quantity decimal.Decimal // contracts
	Fee      decimal.Decimal // dollars
	Maker    bool            // true when the order was resting (provided liquidity)
	Time     time.Time       // when it happened
}

// OrderQuery selects orders for ListOrders. Zero fields do not filter.
type OrderQuery struct {
	NativeMarketID string      // the venue's native market id
	Status         OrderStatus // only orders in this status
	Limit          int         // page size; the venue applies its default when 0
	Cursor         string      // opaque cursor from a previous page
}

// OrderPage is one page of orders, newest first. NextCursor is empty on the last page.
type OrderPage struct {
	Orders     []Order
	NextCursor string
}

// Position is a holding of one outcome's contracts, marked to market.
type Position struct {
	MarketID      string  // "venue:native_id"
	Outcome       string  // outcome name
	Quantity      float64 // contracts held (never negative: selling what you hold reduces it)
	AveragePrice  float64 // average cost per contract, dollars
	MarkPrice     float64 // current mid (or settlement value), dollars
	MarketValue   float64 // Quantity x MarkPrice
	UnrealizedPnL float64 // MarketValue - Quantity x AveragePrice
	RealizedPnL   float64 // profit taken by sells and settlement
}

// Portfolio is a principal's cash and positions at one venue.
type Portfolio struct {
	Venue     string
	Cash      float64 // available cash, dollars (excludes cash reserved by resting buys)
	Reserved  float64 // cash held by resting buy orders, dollars
	Positions []Position
	Equity    float64 // Cash + Reserved + the positions' market value
	Time      time.Time
	Simulated bool
	// SharedAccount is true when these are the venue account's cash and
	// positions, shared by every principal of this sibyl (see
	// VenueInfo.SharedAccount), not the caller's own.
	SharedAccount bool
}
