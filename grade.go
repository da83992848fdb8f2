package sibyl

import "time"

// Signal is a grade's plain recommendation, from strong sell to strong buy. It is
// derived from the Trader Grade by fixed, documented thresholds (see GRADES.md).
type Signal string

// The five signals, weakest first.
const (
	SignalStrongSell Signal = "strong_sell"
	SignalSell       Signal = "sell"
	SignalNeutral    Signal = "neutral"
	SignalBuy        Signal = "buy"
	SignalStrongBuy  Signal = "strong_buy"
)

// Component is one named, transparent input to a grade. Score is 0-100 (50 is
// neutral, higher is more bullish); Value is the raw measurement it came from, in
// Unit; Weight is its share of its grade (the weights of one grade sum to 1, and a
// component with weight 0 is shown but does not count).
type Component struct {
	Name        string  // stable identifier such as "momentum_30d"; usable for ranking
	Grade       string  // "trader" or "investor": the grade it feeds
	Score       float64 // 0-100, higher is more bullish
	Weight      float64 // share of its grade, 0-1
	Value       float64 // the raw measurement
	Unit        string  // unit of Value, such as "ratio", "%", "sigma"
	Description string  // what it measures, in plain words
}

// Grade is a token's Trader Grade (short-term momentum) and Investor Grade
// (long-term trend, risk and liquidity), each 0-100, as of one UTC day, computed
// only from price history up to and including that day. Every component that went
// into it is listed.
type Grade struct {
	Symbol        string      // token symbol, such as "BTC"
	AsOf          time.Time   // the UTC day whose close is the last data used
	TraderGrade   float64     // 0-100
	InvestorGrade float64     // 0-100
	Signal        Signal      // from the Trader Grade, see GRADES.md for thresholds
	Components    []Component // every input of both grades
	Explanation   string      // 1-3 plain sentences naming the strongest and weakest components
	Source        string      // the price feed's name
	Simulated     bool        // true when the prices come from the simulated paper world
}
