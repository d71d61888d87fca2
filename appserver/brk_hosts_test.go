package appserver

import (
	"net"
	"strconv"
	"testing"
	"time"
)

// Go's "tcp" listens on 0.0.0.0 as a dual-stack [::] socket: `listen:
// 0.0.0.0:3031` also took IPv6 connections (nginx's and uWSGI's
// 0.0.0.0 are IPv4 only), and logs named the listener [::]:3031. An IPv4
// address listens on IPv4 only.
func TestListenIPv4AddressIsIPv4Only(t *testing.T) {
	l, err := ListenBacklog("0.0.0.0:0", 0, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ta := l.Addr().(*net.TCPAddr)
	if ta.IP.To4() == nil {
		t.Errorf("listening on %s, want 0.0.0.0", l.Addr())
	}
	c, err := net.DialTimeout("tcp6", net.JoinHostPort("::1", strconv.Itoa(ta.Port)), 2*time.Second)
	if err == nil {
		c.Close()
		t.Errorf("an IPv6 client reached the 0.0.0.0 listener")
	}
}
