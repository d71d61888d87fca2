package listener

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// polledFDs returns the descriptors this process's epoll instances watch
// (the runtime poller's among them), from /proc/self/fdinfo.
func polledFDs(t *testing.T) map[int]bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	polled := map[int]bool{}
	for _, e := range ents {
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || link != "anon_inode:[eventpoll]" {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(info), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "tfd:" {
				if n, err := strconv.Atoi(f[1]); err == nil {
					polled[n] = true
				}
			}
		}
	}
	return polled
}

func listenerFD(t *testing.T, l *Listener) int {
	t.Helper()
	var n int
	if err := l.ctl.Control(func(fd uintptr) { n = int(fd) }); err != nil {
		t.Fatal(err)
	}
	return n
}

// A prefork master holds the listening socket and the copy it passes to
// its workers, and never accepts: neither may be in its runtime poller,
// where every connection the workers take would wake it (about a tenth of
// the appserver's CPU behind nginx). The first Accept puts a copy in.
func TestListenerNotPolledUntilAccept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.sock")
	nl, err := Listen("unix:"+path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	l := nl.(*Listener)
	lf, err := ListenerFile(l)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	fd, dup := listenerFD(t, l), int(lf.Fd())
	if p := polledFDs(t); p[fd] || p[dup] {
		t.Fatalf("listener (fd %d, in poller %v) or its copy for workers (fd %d, in poller %v) is in the runtime poller before any accept", fd, p[fd], dup, p[dup])
	}

	go func() {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	var polled int
	l.rc.Control(func(fd uintptr) { polled = int(fd) })
	if !polledFDs(t)[polled] {
		t.Errorf("after an Accept the accepting copy (fd %d) is not in the poller", polled)
	}
	// Close ends a waiting Accept.
	done := make(chan error, 1)
	go func() { _, err := l.Accept(); done <- err }()
	time.Sleep(20 * time.Millisecond)
	l.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Accept after Close succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a waiting Accept")
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("Close left the socket file")
	}
}
