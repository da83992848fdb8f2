//go:build !linux

package main

import "net"

// samePeer trusts the socket's owner-only mode where SO_PEERCRED is not
// available.
func samePeer(net.Conn) (bool, string) { return true, "" }
