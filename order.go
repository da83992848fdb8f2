package sibyl

import "time"

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

// Order statuses. Open and PartiallyFilled orders may still trade; the rest are final.
const (
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
	case OrderOpen, OrderPartiallyFilled:
		return false
	}
	return true
}

// OrderRequest is an order as sibyl sends it to a venue. ClientOrderID is chosen by
// sibyl (a UUIDv5 of the idempotency key) and is the same on every attempt, so the
// venue can recognise a resend and sibyl can find the order after a lost response.
type OrderRequest struct {
	Principal     string      // who places it (API key id, or "local" on stdio)
	ClientOrderID string      // sibyl's id for this order, stable across retries
	MarketID      string      // the venue's native market id
	Outcome       string      // outcome name, such as "Yes"
	Side          Side        // buy or sell
	Type          OrderType   // limit or market
	Quantity      float64     // contracts, > 0
	LimitPrice    float64     // dollars, in (0,1); 0 for market orders
	TimeInForce   TimeInForce // gtc, ioc or fok
}

// Order is the venue's view of an order.
type Order struct {
	ID             string      // the venue's order id
	ClientOrderID  string      // sibyl's id (see OrderRequest)
	Venue          string      // venue name
	MarketID       string      // "venue:native_id"
	Outcome        string      // outcome name
	Side           Side        // buy or sell
	Type           OrderType   // limit or market
	TimeInForce    TimeInForce // gtc, ioc or fok
	Quantity       float64     // contracts ordered
	LimitPrice     float64     // dollars; 0 for market orders
	FilledQuantity float64     // contracts filled so far
	AveragePrice   float64     // volume-weighted fill price, dollars; 0 when nothing filled
	Fees           float64     // fees charged so far, dollars
	Status         OrderStatus // see OrderStatus
	RejectReason   string      // why the venue refused it, when Status is rejected
	Fills          []Fill      // the fills, oldest first
	CreatedAt      time.Time   // when the venue accepted it
	UpdatedAt      time.Time   // when it last changed
	Simulated      bool        // true for the paper venue
}

// Fill is one execution of part of an order.
type Fill struct {
	ID       string    // the venue's fill or trade id
	Price    float64   // dollars per contract
	Quantity float64   // contracts
	Fee      float64   // dollars
	Maker    bool      // true when the order was resting (provided liquidity)
	Time     time.Time // when it happened
}

// OrderQuery selects orders for ListOrders. Zero fields do not filter.
type OrderQuery struct {
	MarketID string      // the venue's native market id
	Status   OrderStatus // only orders in this status
	Limit    int         // page size; the venue applies its default when 0
	Cursor   string      // opaque cursor from a previous page
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
}
