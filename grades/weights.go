package grades

import "github.com/sibylmcp/sibyl"

// Weights and thresholds. They were chosen by Calibrate on the real daily history
// up to 2022-12-31 only (rebalance dates whose forward window also ends by then)
// and then frozen here; TestCalibrationFrozen re-runs the calibration and fails if
// these numbers drift from what the protocol gives. See GRADES.md.
//
// Rule: a component's weight is proportional to its in-sample mean rank IC (7-day
// horizon for Trader components, 30-day for Investor components) when that IC is
// positive, and 0 otherwise; the weights of a grade sum to 1.

// componentWeights maps component name to its weight within its grade.
var componentWeights = map[string]float64{
	"momentum_7d":                0.159, // in-sample IC +0.0226 (7-day horizon)
	"momentum_30d":               0.189, // +0.0268
	"trend_20_50":                0.134, // +0.0189
	"rsi_14":                     0.254, // +0.0359
	"macd_histogram":             0.208, // +0.0295
	"directional_14":             0,     // -0.0161
	"relative_strength_btc_30d":  0.056, // +0.0079
	"volume_trend":               0,     // -0.0195
	"trend_200":                  0.064, // in-sample IC +0.0120 (30-day horizon)
	"trend_50_200":               0.009, // +0.0017
	"momentum_180d":              0,     // -0.0256
	"relative_strength_btc_180d": 0,     // -0.0436
	"low_volatility":             0.594, // +0.1114
	"drawdown_180d":              0.226, // +0.0423
	"max_drawdown_180d":          0.108, // +0.0203
	"liquidity":                  0,     // -0.0363
}

// signalCuts are the Trader Grade thresholds of the signal: below [0] strong
// sell, below [1] sell, below [2] neutral, below [3] buy, else strong buy. They
// are the 10th, 30th, 70th and 90th percentiles of the in-sample Trader Grades,
// rounded to whole numbers, so in-sample 10% of grades are strong signals each way.
var signalCuts = [4]float64{31, 42, 59, 71}

// investorCuts are the same percentiles of the in-sample Investor Grades; the
// backtest uses them to score the Investor Grade's hit rate (the public Signal
// comes from the Trader Grade only).
var investorCuts = [4]float64{9, 21, 45, 66}

// SignalFor returns the signal of a Trader Grade.
func SignalFor(traderGrade float64) sibyl.Signal { return signalOf(traderGrade, signalCuts) }
