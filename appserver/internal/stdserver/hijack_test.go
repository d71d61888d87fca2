package stdserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// lineEcho echoes lines on a hijacked connection until the peer closes.
func lineEcho(c net.Conn, r *bufio.Reader) {
	defer c.Close()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := io.WriteString(c, line); err != nil {
			return
		}
	}
}

// switchHandler switches protocols as coder/websocket does (WriteHeader(101),
// then Hijack) and echoes lines inside the handler.
func switchHandler(errs chan<- error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Upgrade", "lines")
		w.Header().Set("Connection", "Upgrade")
		w.WriteHeader(http.StatusSwitchingProtocols)
		c, brw, err := http.NewResponseController(w).Hijack()
		errs <- err
		if err == nil {
			lineEcho(c, brw.Reader)
		}
	}
}

// Over FastCGI there is no connection to hand over: Hijack says so, as
// http.ErrNotSupported with a message that names the protocol.
func TestFastCGIHijackIsNotSupported(t *testing.T) {
	var got error
	g := &handlerGuard{fcgi: true, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _, got = http.NewResponseController(w).Hijack()
	})}
	g.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/ws", nil))
	if !errors.Is(got, http.ErrNotSupported) || !strings.Contains(got.Error(), "FastCGI") {
		t.Errorf("Hijack over FastCGI: %v", got)
	}
}

// Over http the hijack is net/http's, out of harakiri's reach, and
// Shutdown closes what is left at the end of its grace period.
func TestHTTPProtocolHijack(t *testing.T) {
	errs := make(chan error, 1)
	harakiris := make(chan string, 1)
	s := NewHTTPServer(switchHandler(errs), Options{Harakiri: 200 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), OnHarakiri: func(_, uri string) { harakiris <- uri }})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: lines\r\n\r\n")
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("%v %v", resp, err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * s.guard.Harakiri)
	io.WriteString(c, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("after harakiri's time: %q %v", line, err)
	}
	select {
	case uri := <-harakiris:
		t.Errorf("harakiri fired on the hijacked %s", uri)
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); err == nil {
		t.Error("Shutdown reported nothing closed")
	}
	<-done
	if _, err := br.ReadByte(); err == nil {
		t.Error("the hijacked connection is still open after Shutdown")
	}
}
