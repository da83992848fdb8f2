package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenRefusesDamagedFile: an empty, truncated or foreign file is refused
// with ErrDamaged naming the file, and left as it was; Open and OpenReadOnly
// alike.
func TestOpenRefusesDamagedFile(t *testing.T) {
	good := filepath.Join(t.TempDir(), "sibyl.db")
	s, err := Open(good)
	if err != nil {
		t.Fatal(err)
	}
	appendBulk(t, s, 3000)
	s.Close()
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	var used int64
	if m, ok := parseBoltMeta(data); ok {
		used = int64(m.pgid) * int64(m.pageSize)
	}
	if used <= 4*4096 {
		t.Fatalf("the file uses %d bytes, want more", used)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "is empty"},
		{"truncated", data[:used/2], "is truncated"},
		{"not bbolt", []byte(strings.Repeat("not a database\n", 1000)), "not a sibyl data file"},
	} {
		for _, open := range []func(string, Options) (*Bolt, error){OpenOptions, OpenReadOnly} {
			path := filepath.Join(t.TempDir(), "sibyl.db")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := open(path, Options{})
			if err == nil {
				s.Close()
				t.Fatalf("%s: opened, want ErrDamaged", tc.name)
			}
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: got %v, want ErrDamaged naming %s and %q", tc.name, err, path, tc.want)
			}
			if fi, _ := os.Stat(path); fi.Size() != int64(len(tc.data)) {
				t.Errorf("%s: the file is %d bytes after the refusal, want %d", tc.name, fi.Size(), len(tc.data))
			}
		}
	}
}
