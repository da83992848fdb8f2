package kalshi

// The wire models below follow the official client's typed models
// (kalshi-typescript 3.30.0, dist/models/*.d.ts). Prices and counts stay the
// strings Kalshi sent; they are parsed with ParseDollars and ParseCount where
// they are used, so nothing passes through a float.

// wirePriceRange is PriceRange on the wire.
type wirePriceRange struct {
	Start string `json:"start"`
	End   string `json:"end"`
	Step  string `json:"step"`
}

// Market is a Kalshi market as GET /markets and GET /markets/{ticker} return it
// (the fields sibyl uses).
type Market struct {
	Ticker                 string           `json:"ticker"`
	EventTicker            string           `json:"event_ticker"`
	MarketType             string           `json:"market_type"`
	Title                  string           `json:"title"`
	Subtitle               string           `json:"subtitle"`
	YesSubTitle            string           `json:"yes_sub_title"`
	NoSubTitle             string           `json:"no_sub_title"`
	OpenTime               string           `json:"open_time"`
	CloseTime              string           `json:"close_time"`
	ExpectedExpirationTime string           `json:"expected_expiration_time"`
	ExpirationTime         string           `json:"expiration_time"`
	UpdatedTime            string           `json:"updated_time"`
	Status                 string           `json:"status"`
	YesBidDollars          string           `json:"yes_bid_dollars"`
	YesBidSizeFP           string           `json:"yes_bid_size_fp"`
	YesAskDollars          string           `json:"yes_ask_dollars"`
	YesAskSizeFP           string           `json:"yes_ask_size_fp"`
	NoBidDollars           string           `json:"no_bid_dollars"`
	NoAskDollars           string           `json:"no_ask_dollars"`
	LastPriceDollars       string           `json:"last_price_dollars"`
	VolumeFP               string           `json:"volume_fp"`
	Volume24hFP            string           `json:"volume_24h_fp"`
	OpenInterestFP         string           `json:"open_interest_fp"`
	Result                 string           `json:"result"`
	SettlementValueDollars string           `json:"settlement_value_dollars"`
	RulesPrimary           string           `json:"rules_primary"`
	RulesSecondary         string           `json:"rules_secondary"`
	StrikeType             string           `json:"strike_type"`
	FloorStrike            *jsonNumber      `json:"floor_strike"`
	CapStrike              *jsonNumber      `json:"cap_strike"`
	PriceLevelStructure    string           `json:"price_level_structure"`
	PriceRanges            []wirePriceRange `json:"price_ranges"`
	ExchangeIndex          int              `json:"exchange_index"`
	MveCollectionTicker    string           `json:"mve_collection_ticker"`
	// FractionalTradingEnabled appears on some markets (not in the 3.30.0
	// model); false means whole contracts only.
	FractionalTradingEnabled *bool `json:"fractional_trading_enabled"`
}

// MarketsPage is GET /markets.
type MarketsPage struct {
	Markets []Market `json:"markets"`
	Cursor  string   `json:"cursor"`
}

type marketEnvelope struct {
	Market Market `json:"market"`
}

// Event is a Kalshi event (a group of related markets).
type Event struct {
	EventTicker       string   `json:"event_ticker"`
	SeriesTicker      string   `json:"series_ticker"`
	Title             string   `json:"title"`
	SubTitle          string   `json:"sub_title"`
	Category          string   `json:"category"`
	MutuallyExclusive bool     `json:"mutually_exclusive"`
	StrikeDate        string   `json:"strike_date"`
	StrikePeriod      string   `json:"strike_period"`
	ExchangeIndex     int      `json:"exchange_index"`
	Markets           []Market `json:"markets"`
}

// EventsPage is GET /events.
type EventsPage struct {
	Events []Event `json:"events"`
	Cursor string  `json:"cursor"`
}

type eventEnvelope struct {
	Event   Event    `json:"event"`
	Markets []Market `json:"markets"`
}

// Series is a Kalshi series (a recurring family of events).
type Series struct {
	Ticker        string   `json:"ticker"`
	Frequency     string   `json:"frequency"`
	Title         string   `json:"title"`
	Category      string   `json:"category"`
	Categories    []string `json:"categories"`
	Tags          []string `json:"tags"`
	FeeType       string   `json:"fee_type"`
	ExchangeIndex int      `json:"exchange_index"`
}

type seriesEnvelope struct {
	Series Series `json:"series"`
}

// wireBook is GET /markets/{ticker}/orderbook in both shapes: the current
// orderbook_fp (["price","count"] strings) and the transitional legacy block
// that also carried integer cents and mixed string/number levels.
type wireBook struct {
	FP     *wireBookSides `json:"orderbook_fp"`
	Legacy *wireBookSides `json:"orderbook"`
}

type wireBookSides struct {
	YesDollars [][]jsonNumber `json:"yes_dollars"`
	NoDollars  [][]jsonNumber `json:"no_dollars"`
	Yes        [][]jsonNumber `json:"yes"` // legacy: [cents, count]
	No         [][]jsonNumber `json:"no"`
}

// CreateOrderRequest is the body of POST /portfolio/events/orders. Side is
// "bid" (buy YES) or "ask" (sell YES); Price is always the YES price.
type CreateOrderRequest struct {
	Ticker                  string `json:"ticker"`
	ClientOrderID           string `json:"client_order_id,omitempty"`
	Side                    string `json:"side"`
	Count                   string `json:"count"`
	Price                   string `json:"price"`
	TimeInForce             string `json:"time_in_force"`
	SelfTradePreventionType string `json:"self_trade_prevention_type"`
	ExpirationTime          int64  `json:"expiration_time,omitempty"`
	PostOnly                bool   `json:"post_only,omitempty"`
	ReduceOnly              bool   `json:"reduce_only,omitempty"`
	CancelOrderOnPause      bool   `json:"cancel_order_on_pause,omitempty"`
	Subaccount              *int   `json:"subaccount,omitempty"`
	ExchangeIndex           *int   `json:"exchange_index,omitempty"`
}

// Book sides and times in force of the V2 order endpoints.
const (
	SideBid = "bid" // buy YES
	SideAsk = "ask" // sell YES (= buy NO at 1-price)

	TIFFillOrKill        = "fill_or_kill"
	TIFGoodTillCanceled  = "good_till_canceled"
	TIFImmediateOrCancel = "immediate_or_cancel"

	STPTakerAtCross = "taker_at_cross"
	STPMaker        = "maker"
)

// CreateOrderResponse is the 201 answer of POST /portfolio/events/orders: not
// a full order (GET it for that).
type CreateOrderResponse struct {
	OrderID          string `json:"order_id"`
	ClientOrderID    string `json:"client_order_id"`
	FillCount        string `json:"fill_count"`
	RemainingCount   string `json:"remaining_count"`
	AverageFillPrice string `json:"average_fill_price"`
	AverageFeePaid   string `json:"average_fee_paid"`
	TsMs             int64  `json:"ts_ms"`
}

// CancelOrderResponse is the answer of DELETE /portfolio/events/orders/{id}.
type CancelOrderResponse struct {
	OrderID       string `json:"order_id"`
	ClientOrderID string `json:"client_order_id"`
	ReducedBy     string `json:"reduced_by"`
	TsMs          int64  `json:"ts_ms"`
}

// Order is a Kalshi order as GET /portfolio/orders[/{id}] return it.
type Order struct {
	OrderID               string `json:"order_id"`
	UserID                string `json:"user_id"`
	ClientOrderID         string `json:"client_order_id"`
	Ticker                string `json:"ticker"`
	OutcomeSide           string `json:"outcome_side"` // yes | no
	BookSide              string `json:"book_side"`    // bid | ask
	Type                  string `json:"type"`         // limit | market
	Status                string `json:"status"`       // resting | canceled | executed
	YesPriceDollars       string `json:"yes_price_dollars"`
	NoPriceDollars        string `json:"no_price_dollars"`
	FillCountFP           string `json:"fill_count_fp"`
	RemainingCountFP      string `json:"remaining_count_fp"`
	InitialCountFP        string `json:"initial_count_fp"`
	TakerFillCostDollars  string `json:"taker_fill_cost_dollars"`
	MakerFillCostDollars  string `json:"maker_fill_cost_dollars"`
	TakerFeesDollars      string `json:"taker_fees_dollars"`
	MakerFeesDollars      string `json:"maker_fees_dollars"`
	ExpirationTime        string `json:"expiration_time,omitempty"`
	CreatedTime           string `json:"created_time"`
	LastUpdateTime        string `json:"last_update_time,omitempty"`
	SelfTradePreventionTy string `json:"self_trade_prevention_type,omitempty"`
	SubaccountNumber      *int   `json:"subaccount_number,omitempty"`
	ExchangeIndex         int    `json:"exchange_index"`
}

// Kalshi order statuses.
const (
	StatusResting  = "resting"
	StatusCanceled = "canceled"
	StatusExecuted = "executed"
)

// OrdersPage is GET /portfolio/orders.
type OrdersPage struct {
	Orders []Order `json:"orders"`
	Cursor string  `json:"cursor"`
}

type orderEnvelope struct {
	Order Order `json:"order"`
}

// Fill is one execution, from GET /portfolio/fills.
type Fill struct {
	FillID          string `json:"fill_id"`
	TradeID         string `json:"trade_id"`
	OrderID         string `json:"order_id"`
	Ticker          string `json:"ticker"`
	OutcomeSide     string `json:"outcome_side"`
	BookSide        string `json:"book_side"`
	CountFP         string `json:"count_fp"`
	YesPriceDollars string `json:"yes_price_dollars"`
	NoPriceDollars  string `json:"no_price_dollars"`
	IsTaker         bool   `json:"is_taker"`
	CreatedTime     string `json:"created_time"`
	FeeCost         string `json:"fee_cost"`
	ExchangeIndex   int    `json:"exchange_index"`
}

// FillsPage is GET /portfolio/fills.
type FillsPage struct {
	Fills  []Fill `json:"fills"`
	Cursor string `json:"cursor"`
}

// Balance is GET /portfolio/balance: Balance in cents and BalanceDollars,
// which can be sub-cent.
type Balance struct {
	Balance        int64  `json:"balance"`
	BalanceDollars string `json:"balance_dollars"`
	PortfolioValue int64  `json:"portfolio_value"`
	UpdatedTs      int64  `json:"updated_ts"`
}

// MarketPosition is one market's position: PositionFP is signed (negative
// means NO contracts).
type MarketPosition struct {
	Ticker                string `json:"ticker"`
	ExchangeIndex         int    `json:"exchange_index"`
	TotalTradedDollars    string `json:"total_traded_dollars"`
	PositionFP            string `json:"position_fp"`
	MarketExposureDollars string `json:"market_exposure_dollars"`
	RealizedPnlDollars    string `json:"realized_pnl_dollars"`
	FeesPaidDollars       string `json:"fees_paid_dollars"`
	LastUpdatedTs         string `json:"last_updated_ts"`
}

// PositionsPage is GET /portfolio/positions.
type PositionsPage struct {
	Cursor          string           `json:"cursor"`
	MarketPositions []MarketPosition `json:"market_positions"`
}

// BucketLimit is one token bucket of GET /account/limits.
type BucketLimit struct {
	RefillRate     float64 `json:"refill_rate"`
	BucketCapacity float64 `json:"bucket_capacity"`
}

// AccountLimits is GET /account/limits.
type AccountLimits struct {
	UsageTier string      `json:"usage_tier"`
	Read      BucketLimit `json:"read"`
	Write     BucketLimit `json:"write"`
}

// wireError is both shapes of an error body: {"error":{code,message,details}}
// and, for bodies the API could not parse, {code,message,details} at the top.
// A 429 carries {"error":"too many requests"}.
type wireError struct {
	Error   jsonErrorField `json:"error"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details string         `json:"details"`
}

// Trade is one public trade, from GET /markets/trades.
type Trade struct {
	TradeID          string `json:"trade_id"`
	Ticker           string `json:"ticker"`
	CountFP          string `json:"count_fp"`
	YesPriceDollars  string `json:"yes_price_dollars"`
	NoPriceDollars   string `json:"no_price_dollars"`
	TakerBookSide    string `json:"taker_book_side"`
	TakerOutcomeSide string `json:"taker_outcome_side"`
	CreatedTime      string `json:"created_time"`
}

// TradesPage is GET /markets/trades.
type TradesPage struct {
	Trades []Trade `json:"trades"`
	Cursor string  `json:"cursor"`
}
