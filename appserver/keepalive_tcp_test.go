package appserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// Over TCP (a listener not made by Listen), Shutdown closes an idle kept
// connection from its own goroutine while the connection's goroutine
// waits on it: Abort must not read the connection's fields the serving
// goroutine writes (a data race under -race: Abort copied the sockconn.Net).
func TestKeepAliveShutdownOverTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: keepAliveMux(), Logger: slog.New(slog.DiscardHandler)}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	k := &keptConn{t: t, c: c, br: bufio.NewReader(c)}
	if _, body := k.do("GET", keepVars(t, keptRequest("GET", "/hello", ""))); body != "Hello, web!\n" {
		t.Fatalf("got %q", body)
	}
	time.Sleep(50 * time.Millisecond) // the connection waits for its next request
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	if _, err := k.br.ReadByte(); err != io.EOF {
		t.Errorf("the idle kept connection after Shutdown: %v, want EOF", err)
	}
}
