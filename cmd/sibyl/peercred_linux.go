//go:build linux

package main

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// samePeer reports whether the process at the other end of a local socket
// connection runs as this process's user (SO_PEERCRED), besides the socket's
// owner-only mode.
func samePeer(c net.Conn) (bool, string) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return false, "not a unix socket"
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return false, err.Error()
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return false, err.Error()
	}
	if cerr != nil {
		return false, cerr.Error()
	}
	if int(cred.Uid) != os.Getuid() {
		return false, fmt.Sprintf("uid %d", cred.Uid)
	}
	return true, ""
}
