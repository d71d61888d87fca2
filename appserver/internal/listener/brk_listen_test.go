package listener

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Close removed whatever was at the socket's path: after the socket file
// had been removed and another appserver had started on the same path, or
// a regular file put there, stopping the first appserver deleted the
// second one's live socket (it went on running, unreachable) or the file.
// Close now removes the path only while it is still the socket it bound.
func TestBrkListenCloseLeavesAReplacedSocketFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.sock")
	first, err := Listen("unix:"+path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path) // an operator, a deploy script
	second, err := Listen("unix:"+path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	first.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the second server's socket is gone after the first one closed: %v", err)
	}
	second.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("the second server left its own socket file on Close: %v", err)
	}

	third, err := Listen("unix:"+path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	if err := os.WriteFile(path, []byte("not a socket"), 0o600); err != nil {
		t.Fatal(err)
	}
	third.Close()
	if b, err := os.ReadFile(path); err != nil || string(b) != "not a socket" {
		t.Errorf("a regular file put at the socket's path: after Close %q, %v", b, err)
	}
}

// With a TCP appserver.listen the prefork master's socket and the copy it
// passes to its workers were both in its runtime poller (net.Listen, then
// File), so every connection a worker took woke the master: behind nginx
// with processes: 4 it used ~17 µs of CPU a request against ~3 µs over a
// Unix socket. A TCP listener now stays out of the poller until the first
// Accept, as a Unix one does.
func TestBrkListenTCPNotPolledUntilAccept(t *testing.T) {
	l, err := ListenBacklog("127.0.0.1:0", 0, 77)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sc, ok := l.(syscall.Conn)
	if !ok {
		t.Fatalf("a TCP listener (%T) has no SyscallConn: ListenQueue cannot read its queue", l)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	rc.Control(func(d uintptr) { fd = int(d) })
	lf, err := ListenerFile(l)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	dup := int(lf.Fd())
	if p := polledFDs(t); p[fd] || p[dup] {
		t.Fatalf("TCP listener (fd %d, in poller %v) or its copy for workers (fd %d, in poller %v) is in the runtime poller before any accept", fd, p[fd], dup, p[dup])
	}
	if _, max := ListenQueue(l); max != 77 {
		t.Errorf("ListenQueue's limit = %d, want the backlog 77", max)
	}

	go func() {
		if c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*net.TCPConn); !ok {
		t.Errorf("Accept returned a %T, want a *net.TCPConn (allow, Reset)", c)
	}
	c.Close()
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
	if _, err := l.Accept(); err == nil {
		t.Error("Accept on a closed listener succeeded")
	}
}
