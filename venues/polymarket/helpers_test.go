package polymarket

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedTestdata returns ../shared/testdata/<rel> resolved from the module root,
// and skips the test when it is absent. The files are read in place, never
// copied into the repository.
func sharedTestdata(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	for _, up := range []string{"..", filepath.Join("..", "..")} {
		p := filepath.Join(dir, up, "shared", "testdata", rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skipf("shared test data %s is absent (it sits beside the repository as ../shared/testdata)", rel)
	return ""
}

func readShared(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(sharedTestdata(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
