package feeds

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"time"

	"github.com/sibylmcp/sibyl"
)

// Dir is a Source reading one CSV file per token from a directory (see ReadCSV for
// the format). A file's symbol comes from its name: BTCUSDT_1d.csv, BTC_1d.csv and
// BTC.csv all hold BTC (the name up to the first "_" or ".", upper-cased, with a
// trailing USDT removed). Files are read once, on first use, and kept in memory;
// a file that fails to parse is reported on every request for its symbol.
type Dir struct {
	path string

	mu    sync.Mutex
	files map[string]string         // symbol -> file path, nil until scanned
	data  map[string][]sibyl.Candle // parsed files
}

var _ Source = (*Dir)(nil)

// NewDir returns a Source over the CSV files in path. It fails with Invalid when
// path is not a readable directory holding at least one .csv file.
func NewDir(path string) (*Dir, error) {
	d := &Dir{path: path, data: map[string][]sibyl.Candle{}}
	if err := d.scan(); err != nil {
		return nil, err
	}
	return d, nil
}

// Name returns "csv:" and the directory.
func (d *Dir) Name() string { return "csv:" + d.path }

// Simulated returns false: CSV files hold whatever history they were given, taken
// to be real.
func (d *Dir) Simulated() bool { return false }

func (d *Dir) scan() error {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return &sibyl.Error{Code: sibyl.Invalid, Field: "ohlcv_dir", Message: fmt.Sprintf("cannot read OHLCV directory %s", d.path), Err: err}
	}
	files := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.EqualFold(filepath.Ext(name), ".csv") {
			continue
		}
		base := strings.TrimSuffix(name, filepath.Ext(name))
		if i := strings.IndexByte(base, '_'); i >= 0 {
			base = base[:i]
		}
		sym := NormalizeSymbol(base)
		if sym == "" {
			continue
		}
		if other, dup := files[sym]; dup {
			return sibyl.FieldErrorf(sibyl.Invalid, "ohlcv_dir", "files %s and %s both hold symbol %s", filepath.Base(other), name, sym)
		}
		files[sym] = filepath.Join(d.path, name)
	}
	if len(files) == 0 {
		return sibyl.FieldErrorf(sibyl.Invalid, "ohlcv_dir", "no .csv files in %s (want one SYMBOLUSDT_1d.csv per token)", d.path)
	}
	d.files = files
	return nil
}

// Symbols returns the symbols of the directory's files, sorted.
func (d *Dir) Symbols(ctx context.Context) ([]string, error) {
	out := make([]string, 0, len(d.files))
	for s := range d.files {
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

// Daily returns symbol's candles in [from, to]. Errors: NotFound for a symbol
// without a file, Invalid for a bad range, Unavailable (with line and column in
// the message) for a file that does not parse or has a gap.
func (d *Dir) Daily(ctx context.Context, symbol string, from, to time.Time) ([]sibyl.Candle, error) {
	from, to, err := checkRange(from, to)
	if err != nil {
		return nil, err
	}
	sym := NormalizeSymbol(symbol)
	all, err := d.load(sym)
	if err != nil {
		return nil, err
	}
	return sliceRange(sym, all, from, to)
}

func (d *Dir) load(sym string) ([]sibyl.Candle, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.data[sym]; ok {
		return c, nil
	}
	path, ok := d.files[sym]
	if !ok {
		known := make([]string, 0, len(d.files))
		for s := range d.files {
			known = append(known, s)
		}
		return nil, unknownSymbol(d.Name(), sym, known)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, sibyl.WrapError(sibyl.Unavailable, err, fmt.Sprintf("cannot open the price file for %s", sym))
	}
	defer f.Close()
	c, err := ReadCSV(f)
	if err != nil {
		var ce *CSVError
		if errors.As(err, &ce) {
			ce.File = filepath.Base(path)
			return nil, &sibyl.Error{Code: sibyl.Unavailable, Message: "bad price file for " + sym + ": " + ce.Error(), Err: err}
		}
		return nil, sibyl.WrapError(sibyl.Unavailable, err, "cannot read the price file for "+sym)
	}
	d.data[sym] = c
	return c, nil
}
