package h1

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// A body sent by ReadFrom (a file: sendfile) leaves corked, the head with
// it, and the connection is uncorked after it: a kept-alive connection's
// next small answer must not wait for the cork's 200 ms.
func TestReadFromCorksTheSocket(t *testing.T) {
	var conn atomic.Pointer[net.TCPConn] // under the raw wrapper
	corkOf := func() int {
		rc, err := conn.Load().SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		v := -1
		rc.Control(func(fd uintptr) { v, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK) })
		return v
	}
	var during, after atomic.Int64
	during.Store(-1)
	after.Store(-1)
	body := strings.Repeat("b", 200<<10)
	addr := serve(t, &Server{
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateNew {
				tc, _ := tcpOf(c)
				conn.Store(tc)
			}
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/small" {
				after.Store(int64(corkOf())) // the next request on the connection
				io.WriteString(w, "small")
				return
			}
			w.Header().Set("Content-Length", "204800")
			src := readerFunc(func(p []byte) (int, error) {
				if during.Load() < 0 {
					during.Store(int64(corkOf()))
				}
				return strings.NewReader(body).Read(p)
			})
			w.(io.ReaderFrom).ReadFrom(&io.LimitedReader{R: src, N: int64(len(body))})
		}),
	})
	got := exchange(t, addr, "GET /big HTTP/1.1\r\nHost: a\r\n\r\nGET /small HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	if during.Load() != 1 {
		t.Errorf("TCP_CORK while the body was sent: %d, want 1", during.Load())
	}
	if after.Load() != 0 {
		t.Errorf("TCP_CORK after the response: %d, want 0", after.Load())
	}
	if !strings.Contains(got, "\r\n\r\n"+body+"HTTP/1.1 200 OK") || !strings.HasSuffix(got, "small") {
		t.Errorf("got %d bytes: %.200q", len(got), got)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
