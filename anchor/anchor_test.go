package anchor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anchor")
	key := []byte("k")
	w, err := Open(path, key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	hash := strings.Repeat("ab", 32)
	for seq := uint64(1); seq <= 3; seq++ {
		if err := w.Append(seq, hash, now); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	cps, err := Read(path)
	if err != nil || len(cps) != 3 {
		t.Fatalf("Read: got %d checkpoints, %v; want 3", len(cps), err)
	}
	for _, c := range cps {
		if !c.ValidHMAC(key) {
			t.Errorf("checkpoint %d: HMAC invalid with the key it was signed with", c.Seq)
		}
		if c.ValidHMAC([]byte("other")) {
			t.Errorf("checkpoint %d: HMAC valid with another key", c.Seq)
		}
		forged := c
		forged.Seq++
		if forged.ValidHMAC(key) {
			t.Errorf("checkpoint %d with its seq changed: HMAC still valid", c.Seq)
		}
	}

	// A torn last line (a crash during a write) is skipped; a bad line in the
	// middle is an error.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":4,"ha`)
	f.Close()
	if cps, err := Read(path); err != nil || len(cps) != 3 {
		t.Errorf("Read with a torn last line: got %d, %v; want the 3 whole checkpoints", len(cps), err)
	}
	f, _ = os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("\n" + `{"seq":5,"hash":"` + hash + `","time":"2026-12-03T09:00:00Z"}` + "\n")
	f.Close()
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("Read with a bad line in the middle: got %v, want an error naming line 4", err)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Read of a missing file: got nil error")
	}
}
