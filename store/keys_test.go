package store

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAPIKeys(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "sibyl.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	token, key, err := s.CreateAPIKey("pipeline", []string{"read"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, "sibyl_"+key.ID+"_") || strings.Contains(key.Hash, token[len("sibyl_"+key.ID+"_"):]) {
		t.Fatalf("token %q / key %+v: want sibyl_<id>_<secret> with only a hash stored", token, key)
	}
	got, err := s.AuthenticateAPIKey(token)
	if err != nil || got.ID != key.ID || got.Principal() != "key:"+key.ID || len(got.Scopes) != 1 {
		t.Fatalf("authenticate: got %+v, %v", got, err)
	}
	for _, bad := range []string{"", "sibyl_", token + "x", token[:len(token)-1], "sibyl_000000000000_" + token[len("sibyl_"+key.ID+"_"):], strings.Replace(token, "sibyl_", "other_", 1)} {
		if _, err := s.AuthenticateAPIKey(bad); !errors.Is(err, ErrBadAPIKey) {
			t.Errorf("token %q: got %v, want ErrBadAPIKey", bad, err)
		}
	}
	if err := s.RevokeAPIKey(key.ID, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateAPIKey(token); !errors.Is(err, ErrBadAPIKey) {
		t.Errorf("revoked key: got %v, want ErrBadAPIKey", err)
	}
	if err := s.RevokeAPIKey("nope", now); err == nil {
		t.Error("revoking an unknown key: got no error")
	}
	keys, err := s.APIKeys()
	if err != nil || len(keys) != 1 || keys[0].Revoked.IsZero() {
		t.Fatalf("list: got %+v, %v; want the one revoked key", keys, err)
	}
}
