package appserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi/uwsgitest"
)

// A peer that connected to the uwsgi socket and sent nothing held a
// graceful stop until socket_timeout (4s here): Shutdown counted its
// connection as a request in flight. It is closed a quarter second into
// the stop now (FreshGrace), while a request in progress at the stop is
// still answered, and so is one whose packet comes within that quarter
// second. Both listener kinds, with and without threads.
func TestShutdownEndsSilentConnections(t *testing.T) {
	for kind, listen := range listenBoth(t) {
		for _, threads := range []int{0, 2} {
			t.Run(fmt.Sprintf("%s/threads=%d", kind, threads), func(t *testing.T) {
				testSilentStop(t, listen, threads)
			})
		}
	}
}

func testSilentStop(t *testing.T, listen func() (net.Listener, string), threads int) {
	started := make(chan struct{}, 1)
	s := &Server{SocketTimeout: 4 * time.Second, Threads: threads, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			time.Sleep(300 * time.Millisecond)
			io.WriteString(w, "done")
		})}
	l, sock := listen()
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()

	// With threads each silent connection holds a slot: one is left for
	// the request.
	silent := 5
	if threads > 0 {
		silent = threads - 1
	}
	var quiet []net.Conn
	for range silent {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		quiet = append(quiet, c)
	}
	time.Sleep(50 * time.Millisecond) // accepted, waiting for their first byte
	req, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer req.Close()
	req.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := req.Write(uwsgitest.Request("GET", "/", "")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the request's handler did not start")
	}

	var late net.Conn // accepted silent, writes its packet as the stop begins
	if threads == 0 {
		if late, err = net.Dial("unix", sock); err != nil {
			t.Fatal(err)
		}
		defer late.Close()
		time.Sleep(50 * time.Millisecond)
		late.SetDeadline(time.Now().Add(10 * time.Second))
		time.AfterFunc(50*time.Millisecond, func() { late.Write(uwsgitest.Request("GET", "/late", "")) })
	}
	ShutdownWithinASecond(t, s, silent)
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(req), nil)
	if err != nil {
		t.Fatalf("the request in progress at the stop got no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "done" {
		t.Errorf("the request in progress at the stop: %d %q", resp.StatusCode, body)
	}
	if late != nil {
		if resp, err := http.ReadResponse(bufio.NewReader(late), nil); err != nil || resp.StatusCode != 200 {
			t.Errorf("a packet sent 50ms into the stop on a connection accepted before: %v, %v", resp, err)
		}
	}
	for i, c := range quiet {
		c.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("silent connection %d: read %d, %v; want it closed", i, n, err)
		}
	}
}

// ShutdownWithinASecond stops s and fails the test if that took a second
// or more with silent connections open (for appserver_test too).
func ShutdownWithinASecond(t *testing.T, s Service, silent int) {
	t.Helper()
	begun := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if took := time.Since(begun); took > time.Second {
		t.Errorf("Shutdown took %v with %d silent connections open (socket_timeout 4s): it waited for them", took, silent)
	}
}
