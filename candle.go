package sibyl

import "time"

// Candle is one day (or other period) of a token's price history: open, high, low
// and close prices in the quote currency (USDT or USD) and the traded volume.
//
// Time is the start of the period in UTC; for daily candles it is midnight of the
// UTC day the candle covers, so a daily candle is complete only after Time+24h.
// Volume is in the base asset (BTC for BTC/USDT) unless the feed documents otherwise.
type Candle struct {
	Time   time.Time // start of the period, UTC
	Open   float64   // first traded price of the period
	High   float64   // highest traded price
	Low    float64   // lowest traded price
	Close  float64   // last traded price
	Volume float64   // quantity traded, base asset unless the feed says otherwise
}
