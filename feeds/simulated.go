package feeds

import (
	"context"
	"sort"
	"time"

	"github.com/sibylmcp/sibyl"
)

// Simulated adapts the paper world's price paths to a Source, so grades work with
// no network. cmd plugs in the paper venue's symbol list and daily-candle function;
// this package never imports the venue. Every answer is marked simulated.
type Simulated struct {
	name    string
	symbols func() []string
	daily   func(symbol string, from, to time.Time) ([]sibyl.Candle, error)
}

var _ Source = (*Simulated)(nil)

// NewSimulated returns a Source named name (such as "paper") over symbols and
// daily. daily receives the normalized symbol and a range of UTC days (a zero
// from or to is passed through); its errors are returned unchanged when they are
// *sibyl.Error and as Unavailable otherwise.
func NewSimulated(name string, symbols func() []string, daily func(symbol string, from, to time.Time) ([]sibyl.Candle, error)) *Simulated {
	return &Simulated{name: name, symbols: symbols, daily: daily}
}

// Name returns the name given to NewSimulated.
func (s *Simulated) Name() string { return s.name }

// Simulated returns true.
func (s *Simulated) Simulated() bool { return true }

// Symbols returns the simulated world's symbols, normalized and sorted.
func (s *Simulated) Symbols(ctx context.Context) ([]string, error) {
	raw := s.symbols()
	out := make([]string, len(raw))
	for i, r := range raw {
		out[i] = NormalizeSymbol(r)
	}
	sort.Strings(out)
	return out, nil
}

// Daily returns the simulated candles of symbol in [from, to]. Errors: NotFound
// for a symbol the world does not have, Invalid for a bad range, and the world's
// own errors.
func (s *Simulated) Daily(ctx context.Context, symbol string, from, to time.Time) ([]sibyl.Candle, error) {
	from, to, err := checkRange(from, to)
	if err != nil {
		return nil, err
	}
	sym := NormalizeSymbol(symbol)
	known, _ := s.Symbols(ctx)
	i := sort.SearchStrings(known, sym)
	if i == len(known) || known[i] != sym {
		return nil, unknownSymbol(s.name, sym, known)
	}
	c, err := s.daily(sym, from, to)
	if err != nil {
		if sibyl.ErrorCode(err) == sibyl.Internal {
			return nil, sibyl.WrapError(sibyl.Unavailable, err, "the simulated price feed failed for "+sym)
		}
		return nil, err
	}
	return c, nil
}
