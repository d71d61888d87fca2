package edge_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver"
)

// With one thread in the app server, a client that reads a big response
// slowly must not keep the next request waiting: the edge takes the whole
// response off the app's hands (over uwsgi, with the app server's own
// response framing).
func TestBufferingFreesTheOnlyThreadFromASlowReader(t *testing.T) {
	const size = 4 << 20
	var busy, bigs atomic.Int32
	big := make([]byte, size)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		busy.Add(1)
		defer busy.Add(-1)
		if r.URL.Path == "/big" {
			bigs.Add(1)
			w.Header().Set("Content-Length", strconv.Itoa(size))
			w.Write(big)
			return
		}
		io.WriteString(w, "quick")
	})
	sock := filepath.Join(t.TempDir(), "app.sock")
	l, err := appserver.Listen("unix:"+sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	srv := &appserver.Server{Handler: app, Threads: 1, Logger: quiet}
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(l) })
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		wg.Wait()
	}()

	for i, buffering := range []bool{true, false} {
		cfg := proxyConfig("unix:" + sock)
		cfg.Buffering = buffering
		url := startEdge(t, cfg)

		// A client with a small window and Ethernet-sized segments that
		// reads nothing.
		d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
				syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 1460)
			})
		}}
		slow, err := d.Dial("tcp", url[len("http://"):])
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(slow, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
		// The big response has the thread (or has had it) before the next
		// request comes.
		for deadline := time.Now().Add(10 * time.Second); bigs.Load() != int32(i+1); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the big request did not reach the app")
			}
		}

		client := &http.Client{Timeout: 3 * time.Second}
		resp, err := client.Get(url + "/quick")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		switch {
		case buffering && (err != nil || resp.StatusCode != 200):
			t.Errorf("with buffering, the next request waited for a slow reader's response: %v", err)
		case !buffering && err == nil:
			t.Errorf("without buffering the next request was served at once: the test proves nothing")
		}

		// The slow client then reads its whole response.
		slow.SetDeadline(time.Now().Add(20 * time.Second))
		r, err := http.ReadResponse(bufio.NewReader(slow), nil)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil || n != size {
			t.Fatalf("buffering %v: the slow client read %d of %d bytes: %v", buffering, n, size, err)
		}
		slow.Close()
		for deadline := time.Now().Add(10 * time.Second); busy.Load() != 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the app is still busy")
			}
		}
	}
}
