package listener

import (
	"net"
	"path/filepath"
	"testing"
)

// The stats' listen queue is the kernel's: connections not yet accepted,
// and the backlog (listen_backlog, capped by somaxconn), for Unix and TCP.
func TestListenQueueCountsPendingConnections(t *testing.T) {
	for _, addr := range []string{"unix:" + filepath.Join(t.TempDir(), "q.sock"), "127.0.0.1:0"} {
		l, err := ListenBacklog(addr, 0o600, 64)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		network, dial := "unix", l.Addr().String()
		if _, ok := l.(*Listener); !ok {
			network = "tcp"
		}
		for range 3 {
			c, err := net.Dial(network, dial)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
		}
		q, limit := ListenQueue(l)
		if q != 3 || limit != 64 {
			t.Errorf("%s: listen queue %d of %d, want 3 of 64", addr, q, limit)
		}
	}
}
