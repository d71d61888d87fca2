//go:build !linux

package h1

import "net"

// cork is TCP_CORK on Linux (cork_linux.go); elsewhere nothing.
func cork(net.Conn) func() { return nil }

// unsent is SIOCOUTQ on Linux (cork_linux.go); elsewhere unknown.
func unsent(net.Conn) (int, bool) { return 0, false }

// wrapTCP reads and writes raw on Linux (rawtcp_linux.go); elsewhere c.
func wrapTCP(c net.Conn) net.Conn { return c }
