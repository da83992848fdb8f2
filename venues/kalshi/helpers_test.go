package kalshi

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/shopspring/decimal"
)

// venueTestdata returns the shared venue test data folder: SIBYL_VENUE_TESTDATA,
// else the first shared/testdata/venues found walking up from this package
// (../shared/testdata/venues from the repository root of /work/main, or from
// the parent of a worktree folder). It skips the test when there is none.
func venueTestdata(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("SIBYL_VENUE_TESTDATA"); d != "" {
		if _, err := os.Stat(d); err != nil {
			tb.Skipf("SIBYL_VENUE_TESTDATA=%s: %v", d, err)
		}
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		cand := filepath.Join(dir, "shared", "testdata", "venues")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("venue test data (shared/testdata/venues) not found above this package; set SIBYL_VENUE_TESTDATA to its path")
		}
		dir = parent
	}
}

func readTestdata(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(venueTestdata(tb), rel))
	if err != nil {
		tb.Skipf("recorded file %s not found: %v", rel, err)
	}
	return b
}

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
