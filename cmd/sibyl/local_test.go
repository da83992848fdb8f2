package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestForwardedArgs(t *testing.T) {
	wd, _ := os.Getwd()
	got := absPathFlags([]string{"verify", "--anchor", "a.log", "-anchor=b.log", "--data-dir", "d"})
	want := []string{"verify", "--anchor", filepath.Join(wd, "a.log"), "-anchor=" + filepath.Join(wd, "b.log"), "--data-dir", "d"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	t.Setenv("SIBYL_DATA_DIR", "/env/dir")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "--name", "x"}, "/env/dir"},
		{[]string{"create", "--data-dir", "/a", "--name", "x"}, "/a"},
		{[]string{"tail", "-data-dir=/b"}, "/b"},
	} {
		if got := dataDirArg(tc.args); got != tc.want {
			t.Errorf("dataDirArg(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}
