package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// edgeBigApp is an HTTP upstream with a 1 MiB response (/big, with
// Content-Length) and a stream of flushed lines (/lines); busy counts the
// handlers still writing, as an app server counts busy workers.
type edgeBigApp struct {
	busy  atomic.Int32
	bigs  atomic.Int32 // requests for /big begun
	lines atomic.Int32 // lines of /lines written so far
}

const edgeBigSize = 1 << 20

func (a *edgeBigApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.busy.Add(1)
	defer a.busy.Add(-1)
	if strings.HasSuffix(r.URL.Path, "/lines") {
		a.lines.Store(0)
		for i := range 5 {
			fmt.Fprintf(w, "line %d\n", i)
			http.NewResponseController(w).Flush()
			a.lines.Add(1)
			time.Sleep(200 * time.Millisecond)
		}
		return
	}
	a.bigs.Add(1)
	w.Header().Set("Content-Length", fmt.Sprint(edgeBigSize))
	// A new upstream connection each time: one reused after fast
	// transfers has a receive buffer grown large enough to hold it all.
	w.Header().Set("Connection", "close")
	w.Write(edgeBigBody)
}

var edgeBigBody = func() []byte {
	b := make([]byte, edgeBigSize)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

// edgeSlowReader sends GET path on a connection with a small receive
// buffer and reads nothing until told.
func edgeSlowReader(addr, path string) (net.Conn, error) {
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		// A small window and segments of Ethernet's size (loopback's 64 KiB
		// segments would let the edge's kernel buffer a megabyte itself).
		return c.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 1460)
		})
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// edgeWaitIdle waits up to limit for the app to have no busy handler.
func edgeWaitIdle(app *edgeBigApp, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < limit {
		if app.busy.Load() == 0 {
			return time.Since(start), true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return limit, false
}

func TestEdgeBuffersResponsesForSlowClients(t *testing.T) {
	app := &edgeBigApp{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: app, ConnState: func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			// A small send buffer on the app's side, so that the kernel
			// does not hold the whole response on the edge's behalf.
			c.(*net.TCPConn).SetWriteBuffer(16 << 10)
		}
	}}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	dir := writeConfig(t, fmt.Sprintf(`
run_dir: run
edge:
  listen: ["127.0.0.1:0"]
  locations:
    - {path: /, upstream: app}
    - {path: /nobuf/, upstream: app, buffering: false}
  upstreams:
    app: {protocol: http, servers: [%q]}
`, l.Addr().String()))
	url := start(t, dir, "edge").url()
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")

	// 200 clients that read nothing: the app finishes writing anyway.
	// (50 under the race detector, which slows the edge's copying tenfold.)
	n := 200
	if raceEnabled {
		n = 50
	}
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := edgeSlowReader(addr, "/big")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	took, idle := edgeWaitIdle(app, 10*time.Second)
	t.Logf("%d clients reading nothing of 1 MiB each: the app was free after %v", n, took)
	if !idle {
		t.Fatalf("%d handlers still busy 10s after %d requests: the slow clients hold the app", app.busy.Load(), n)
	}
	// Every client then gets its whole, intact response.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, c := range conns {
		wg.Go(func() { errs <- edgeReadBig(c) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// Without buffering, a client that reads nothing keeps the app busy:
	// the measurement above can fail.
	c, err := edgeSlowReader(addr, "/nobuf/big")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); app.bigs.Load() != int32(n+1); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the request for /nobuf/big did not reach the app")
		}
	}
	time.Sleep(300 * time.Millisecond)
	if _, idle := edgeWaitIdle(app, time.Second); idle {
		t.Errorf("with buffering: false the app finished 1 MiB for a client that read nothing; the test proves nothing")
	}
	c.Close()

	// A response the app flushes line by line arrives line by line.
	resp, err := http.Get(url + "lines")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	written := app.lines.Load()
	if err != nil || first != "line 0\n" {
		t.Fatalf("first line %q, %v", first, err)
	}
	if written >= 5 {
		t.Errorf("the first line arrived only after the app had written all %d: the stream was held back", written)
	}
	rest, _ := io.ReadAll(br)
	if strings.Count(string(rest), "\n") != 4 {
		t.Errorf("rest of the stream %q", rest)
	}
}

// edgeReadBig reads one answer of /big from c and checks every byte.
func edgeReadBig(c net.Conn) error {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 64<<10), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading /big: %w after %d bytes", err, len(b))
	}
	if resp.StatusCode != 200 || len(b) != edgeBigSize {
		return fmt.Errorf("/big: %d with %d bytes", resp.StatusCode, len(b))
	}
	if !bytes.Equal(b, edgeBigBody) {
		return fmt.Errorf("/big: the body differs from what the app sent")
	}
	return nil
}
