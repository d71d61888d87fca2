//go:build !linux

package h1

import "net"

// cork is TCP_CORK on Linux (cork_linux.go); elsewhere nothing.
func cork(net.Conn) func() { return nil }

// unsent is SIOCOUTQ on Linux (cork_linux.go); elsewhere unknown.
func unsent(net.Conn) (int, bool) { return 0, false }
