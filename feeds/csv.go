package feeds

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sibylmcp/sibyl"
)

// CSVError is a problem at one place of a CSV file. Line is the 1-based line in
// the file (the header is line 1); Column is the 1-based column, 0 when the whole
// row is at fault.
type CSVError struct {
	File   string // file name, may be empty
	Line   int    // 1-based line number
	Column int    // 1-based column number, 0 for the whole row
	Name   string // column name from the header, may be empty
	Msg    string // what is wrong
}

// Error implements error.
func (e *CSVError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "line %d", e.Line)
	if e.Column > 0 {
		fmt.Fprintf(&b, " column %d", e.Column)
		if e.Name != "" {
			fmt.Fprintf(&b, " (%s)", e.Name)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// maxCSVRows bounds one file, so a hostile file cannot exhaust memory: 100 000
// daily rows is 270 years.
const maxCSVRows = 100_000

// ReadCSV parses daily OHLCV candles from r, strictly.
//
// The first line is a header naming the columns, in any order and any letter case:
// a time column (timestamp, date, time, open_time or opentime), open, high, low,
// close and volume; other columns are ignored. This is the format of Binance's
// public 1d exports (timestamp,open,high,low,close,volume). A time is a UTC date
// (2024-01-31), an RFC 3339 instant at a UTC midnight, or Unix seconds or
// milliseconds at a UTC midnight. Prices must be finite and positive, volume finite
// and not negative, low <= open, close <= high; rows must be one per day, oldest
// first, with no missing day. Blank lines are skipped.
//
// Any violation returns a *CSVError naming the line and column; ReadCSV never
// panics on any input.
func ReadCSV(r io.Reader) ([]sibyl.Candle, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, &CSVError{Line: 1, Msg: "empty file: want a header line such as timestamp,open,high,low,close,volume"}
	}
	if err != nil {
		return nil, csvReadError(err)
	}
	cols := map[string]int{"time": -1, "open": -1, "high": -1, "low": -1, "close": -1, "volume": -1}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch name {
		case "timestamp", "date", "time", "open_time", "opentime":
			name = "time"
		}
		if j, ok := cols[name]; ok {
			if j >= 0 {
				return nil, &CSVError{Line: 1, Column: i + 1, Name: name, Msg: "duplicate column"}
			}
			cols[name] = i
		}
	}
	for _, name := range []string{"time", "open", "high", "low", "close", "volume"} {
		if cols[name] < 0 {
			return nil, &CSVError{Line: 1, Msg: fmt.Sprintf("header lacks a %s column (want timestamp,open,high,low,close,volume)", name)}
		}
	}
	var out []sibyl.Candle
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvReadError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(out) >= maxCSVRows {
			return nil, &CSVError{Line: line, Msg: fmt.Sprintf("more than %d rows", maxCSVRows)}
		}
		var c sibyl.Candle
		field := func(name string) (string, *CSVError) {
			i := cols[name]
			return strings.TrimSpace(rec[i]), &CSVError{Line: line, Column: i + 1, Name: name}
		}
		s, e := field("time")
		if c.Time, err = parseDay(s); err != nil {
			e.Msg = err.Error()
			return nil, e
		}
		for _, p := range []struct {
			name string
			dst  *float64
		}{{"open", &c.Open}, {"high", &c.High}, {"low", &c.Low}, {"close", &c.Close}, {"volume", &c.Volume}} {
			s, e := field(p.name)
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				e.Msg = fmt.Sprintf("%q is not a number", s)
				return nil, e
			}
			if msg := badValue(p.name, v); msg != "" {
				e.Msg = msg
				return nil, e
			}
			*p.dst = v
		}
		if msg := badPrices(c); msg != "" {
			return nil, &CSVError{Line: line, Msg: msg}
		}
		if n := len(out); n > 0 {
			prev := out[n-1].Time
			switch d := c.Time.Sub(prev); {
			case d == 0:
				return nil, &CSVError{Line: line, Column: cols["time"] + 1, Name: "time", Msg: "duplicate day " + c.Time.Format(time.DateOnly)}
			case d < 0:
				return nil, &CSVError{Line: line, Column: cols["time"] + 1, Name: "time",
					Msg: fmt.Sprintf("day %s comes after %s: rows must be oldest first", c.Time.Format(time.DateOnly), prev.Format(time.DateOnly))}
			case d > Day:
				return nil, &CSVError{Line: line, Column: cols["time"] + 1, Name: "time",
					Msg: fmt.Sprintf("gap: %d missing day(s) between %s and %s", int(d/Day)-1, prev.Format(time.DateOnly), c.Time.Format(time.DateOnly))}
			}
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, &CSVError{Line: 2, Msg: "no data rows after the header"}
	}
	return out, nil
}

// csvReadError turns encoding/csv's errors (wrong field counts, bad quotes) into
// a *CSVError with the position it reports.
func csvReadError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &CSVError{Line: pe.Line, Column: pe.Column, Msg: pe.Err.Error()}
	}
	return &CSVError{Msg: err.Error()}
}

// minDay and maxDay bound accepted dates, which keeps time arithmetic far from
// overflow and catches unit mistakes (seconds read as milliseconds).
var (
	minDay = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDay = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// parseDay reads a UTC day in one of the accepted time forms.
func parseDay(s string) (time.Time, error) {
	var t time.Time
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch {
		case n >= 1e11 && n < 1e14: // milliseconds
			t = time.UnixMilli(n).UTC()
		case n >= 0 && n < 1e11: // seconds
			t = time.Unix(n, 0).UTC()
		default:
			return t, fmt.Errorf("unix time %d is out of range", n)
		}
	} else if d, err := time.Parse(time.DateOnly, s); err == nil {
		t = d
	} else if d, err := time.Parse(time.RFC3339, s); err == nil {
		t = d.UTC()
	} else {
		return t, fmt.Errorf("%q is not a date (want YYYY-MM-DD, RFC 3339 or unix seconds/milliseconds)", s)
	}
	if t.Before(minDay) || !t.Before(maxDay) {
		return t, fmt.Errorf("date %s is outside 1970-2199", t.Format(time.DateOnly))
	}
	if !t.Equal(UTCDay(t)) {
		return t, fmt.Errorf("%q is not at a UTC midnight: daily candles start at 00:00 UTC", s)
	}
	return t, nil
}
