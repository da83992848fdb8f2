package main

import (
	"os"
	"path/filepath"
	"runtime"
)

// defaultDataDir returns the user's data directory for sibyl:
// $XDG_DATA_HOME/sibyl or ~/.local/share/sibyl on Linux and BSDs,
// ~/Library/Application Support/sibyl on macOS, %LocalAppData%\sibyl on Windows.
func defaultDataDir() string {
	home, _ := os.UserHomeDir()
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "sibyl")
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "sibyl")
		}
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "sibyl")
	}
	return filepath.Join(home, ".local", "share", "sibyl")
}
