package h1

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener's connections count the deadlines set on them.
type countingListener struct {
	net.Listener
	reads, writes atomic.Int64
}

type countingConn struct {
	net.Conn
	l *countingListener
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{c, l}, nil
}

func (c *countingConn) SetReadDeadline(t time.Time) error {
	c.l.reads.Add(1)
	return c.Conn.SetReadDeadline(t)
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.l.writes.Add(1)
	return c.Conn.SetWriteDeadline(t)
}

// Kept-alive requests as the edge serves them (the handler waits on its
// context and sets a write deadline, send_timeout, before writing) cost no
// deadline each: the keep-alive wait's and the write deadline are moved
// only when they have drifted, the head's only for a head that needs a
// read of its own. They were five a request.
func TestDeadlinesAreNotSetPerRequest(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: l}
	s := &Server{ReadHeaderTimeout: time.Minute, IdleTimeout: 10 * time.Minute,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			stop := context.AfterFunc(r.Context(), func() {})
			defer stop()
			http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute))
			io.WriteString(w, "ok")
		})}
	done := make(chan struct{})
	go func() { s.Serve(cl); close(done) }()
	defer func() { s.Close(); <-done }()
	c, br := brkDial(t, l.Addr().String())
	const n = 50
	for range n {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		readAnswer(t, br, "ok")
	}
	reads, writes := cl.reads.Load(), cl.writes.Load()
	t.Logf("%d requests: %d read and %d write deadlines set", n, reads, writes)
	if reads > 4 || writes > 2 {
		t.Errorf("%d read and %d write deadlines set for %d requests", reads, writes, n)
	}
}

// A kept-alive connection's next head is bounded by ReadHeaderTimeout
// from its first byte, not by the longer keep-alive wait, although the
// head's deadline is set only when the head needs a read of its own.
func TestSlowHeadOnAKeptAliveConnection(t *testing.T) {
	addr := serve(t, &Server{Handler: http.HandlerFunc(echo), ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: 10 * time.Second})
	c, br := brkDial(t, addr)
	io.WriteString(c, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n")
	readAnswer(t, br, `GET /a a body=""`)
	start := time.Now()
	for range 60 {
		if _, err := io.WriteString(c, "G"); err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := br.ReadByte()
	took := time.Since(start)
	t.Logf("slow head cut after %v", took)
	if err == nil || took > 2500*time.Millisecond {
		t.Errorf("slow head not cut by ReadHeaderTimeout: %v after %v", err, took)
	}
}

// The keep-alive wait's read deadline, left set while a bodiless request
// is served, bounds neither a body read after it nor the read-ahead that
// watches the client of a handler slower than the wait.
func TestWaitDeadlineIsNotTheHandlers(t *testing.T) {
	addr := serve(t, &Server{ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: 200 * time.Millisecond,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				stop := context.AfterFunc(r.Context(), func() {})
				defer stop()
				select {
				case <-r.Context().Done():
					t.Error("the read-ahead failed on the keep-alive wait's deadline")
					return
				case <-time.After(600 * time.Millisecond):
				}
				io.WriteString(w, "slow")
				return
			}
			echo(w, r)
		})})
	c, br := brkDial(t, addr)
	io.WriteString(c, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n")
	readAnswer(t, br, `GET /a a body=""`)
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	readAnswer(t, br, "slow")
	io.WriteString(c, "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n")
	time.Sleep(500 * time.Millisecond) // past the wait's deadline
	io.WriteString(c, "body")
	readAnswer(t, br, `POST /b a body="body"`)
}

// A write deadline is approximated only within 1/32 of its time, earlier,
// never later, and never when it is zero or past.
func TestCloseEnough(t *testing.T) {
	now := time.Now()
	want := now.Add(32 * time.Second)
	for _, c := range []struct {
		cur  time.Time
		want time.Time
		ok   bool
	}{
		{want, want, true},
		{want.Add(-time.Second), want, true},
		{want.Add(-1001 * time.Millisecond), want, false},
		{want.Add(time.Millisecond), want, false}, // later
		{time.Time{}, want, false},
		{want, time.Time{}, false},
		{time.Time{}, time.Time{}, true},
		{aLongTimeAgo, aLongTimeAgo, false}, // past: always set
		{now.Add(-time.Second), now.Add(-time.Second), false},
	} {
		if got := closeEnough(c.cur, c.want, now); got != c.ok {
			t.Errorf("closeEnough(now%+v, now%+v) = %v", c.cur.Sub(now), c.want.Sub(now), got)
		}
	}
}
