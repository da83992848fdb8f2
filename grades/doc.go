// Package grades computes sibyl's token grades in the open: technical indicators
// (pure functions on price series), a Trader Grade and an Investor Grade 0-100,
// each a documented weighted mean of named 0-100 components, a signal from strong
// sell to strong buy, a plain-language explanation, and a walk-forward backtest
// that measures the grades' predictive power against baselines.
//
// A grade as of a day uses only candles up to and including that day: the Grader
// asks its feed for history ending at as_of and nothing later. Grades are
// deterministic: the same candles give the same grade, bit for bit.
//
// The methodology, weights, thresholds and measured results are in GRADES.md at
// the repository root. This package does no network I/O of its own (it reads
// through a feeds.Source) and never imports tools or mcp.
package grades
