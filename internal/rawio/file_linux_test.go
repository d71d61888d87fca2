package rawio

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The raw calls agree with package syscall's: lseek moves and reports the
// offset, fstat gives the size, setsockopt sets what getsockopt reads.
func TestRawFileCalls(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, make([]byte, 12345), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if off, e := Seek(f.Fd(), 100, io.SeekStart); e != 0 || off != 100 {
		t.Fatalf("Seek = %d, %v", off, e)
	}
	if pos, _ := f.Seek(0, io.SeekCurrent); pos != 100 {
		t.Errorf("the file's offset is %d after a raw seek to 100", pos)
	}
	var st syscall.Stat_t
	if e := Fstat(f.Fd(), &st); e != 0 || st.Size != 12345 {
		t.Fatalf("Fstat: size %d, %v", st.Size, e)
	}
	if _, e := Seek(^uintptr(0), 0, io.SeekStart); e != syscall.EBADF {
		t.Errorf("Seek of a bad descriptor: %v, want EBADF", e)
	}

	server, _ := tcpPair(t)
	rc, _ := server.SyscallConn()
	rc.Control(func(fd uintptr) {
		if e := SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_CORK, 1); e != 0 {
			t.Fatalf("SetsockoptInt: %v", e)
		}
		if v, err := syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK); err != nil || v != 1 {
			t.Errorf("TCP_CORK reads %d, %v after setting 1", v, err)
		}
	})
}

// SendFile sends from the file's offset, in several calls and poller
// waits, and stops short, without an error, where the file ends.
func TestSendFile(t *testing.T) {
	server, client := tcpPair(t)
	rc, _ := server.SyscallConn()
	x := New(rc)
	data := bytes.Repeat([]byte("0123456789"), (3*MaxSendfileChunk)/10)
	name := filepath.Join(t.TempDir(), "f")
	os.WriteFile(name, data, 0o644)
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Seek(10, io.SeekStart)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	n, err := x.SendFile(f.Fd(), int64(len(data))) // 10 more than there are
	if err != nil || n != int64(len(data)-10) {
		t.Fatalf("SendFile = %d, %v; want %d, nil", n, err, len(data)-10)
	}
	server.CloseWrite()
	if b := <-got; !bytes.Equal(b, data[10:]) {
		t.Errorf("got %d bytes, want the %d after the offset", len(b), len(data)-10)
	}
}

// Past the socket's write deadline, SendFile returns the deadline's error.
func TestSendFileDeadline(t *testing.T) {
	server, _ := tcpPair(t)
	rc, _ := server.SyscallConn()
	x := New(rc)
	name := filepath.Join(t.TempDir(), "f")
	os.WriteFile(name, make([]byte, 64<<20), 0o644)
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	server.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := x.SendFile(f.Fd(), 64<<20)
	if !os.IsTimeout(err) {
		t.Fatalf("SendFile to a client that reads nothing: %d, %v; want a timeout", n, err)
	}
}

func tcpPair(t *testing.T) (*net.TCPConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server.(*net.TCPConn), client
}
