package stdserver

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Over http, socket_timeout bounds each pause: a client that stops sending
// the body it announced, or stops reading the response, frees the handler
// (and its threads slot) within it, as over uwsgi; a handler that pauses
// longer than it between two writes, on a kept connection, is not cut.
// Before, both clients held their handler for as long as they liked.
func TestHTTPProtocolSocketTimeoutBoundsEachPause(t *testing.T) {
	ended := make(chan string, 4)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/upload":
			_, err := io.ReadAll(r.Body)
			ended <- "upload: " + errText(err)
		case "/big":
			chunk := []byte(strings.Repeat("x", 64<<10))
			var err error
			for i := 0; i < 4096 && err == nil; i++ { // 256 MiB: more than any socket buffer
				_, err = w.Write(chunk)
			}
			ended <- "big: " + errText(err)
		case "/slow":
			io.WriteString(w, "a")
			http.NewResponseController(w).Flush()
			time.Sleep(500 * time.Millisecond) // longer than the timeout, with no write pending
			io.WriteString(w, "b")
		}
	})
	s := NewHTTPServer(h, Options{Threads: 1, SocketTimeout: 300 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.Shutdown(ctx)
	}()
	dial := func() net.Conn {
		d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
			c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10) })
			return nil
		}}
		c, err := d.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	wait := func(what string) {
		t.Helper()
		select {
		case got := <-ended:
			if !strings.HasPrefix(got, what+": ") || !strings.Contains(got, "timeout") {
				t.Errorf("%s ended with %q, want a timeout", what, got)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("%s: the handler still runs 3s after its client went quiet (socket timeout 300ms)", what)
		}
	}
	io.WriteString(dial(), "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
	wait("upload")
	io.WriteString(dial(), "GET /big HTTP/1.1\r\nHost: a\r\n\r\n") // and never read
	wait("big")

	c := dial()
	br := bufio.NewReader(c)
	for range 2 { // the second on the kept connection
		io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || string(body) != "ab" {
			t.Fatalf("a handler pausing between writes: %q %v, want \"ab\"", body, err)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}
