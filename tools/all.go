package tools

// All returns every tool sibyl serves with d.
func All(d *Deps) []Tool {
	var ts []Tool
	ts = append(ts, MarketTools(d)...)
	ts = append(ts, HistoryTools(d)...)
	ts = append(ts, SpotTools(d)...)
	ts = append(ts, CompareTools(d)...)
	ts = append(ts, GradeTools(d)...)
	ts = append(ts, OrderTools(d)...)
	ts = append(ts, HedgeTools(d)...)
	return ts
}
