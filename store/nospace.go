package store

import (
	"errors"
	"syscall"
)

// IsNoSpace reports whether err comes from the file system refusing a write
// because it is full (ENOSPC) or the user's quota is spent (EDQUOT). The write
// transaction that met it was rolled back whole: nothing of it is on disk, and
// the same write may succeed once space is freed.
func IsNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
