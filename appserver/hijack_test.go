package appserver

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
	"github.com/stack-web/stack/uwsgi/uwsgitest"
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
// then Hijack) and echoes lines inside the handler; rawSwitchHandler as
// gorilla/websocket does (Hijack, then its own head) and echoes in a
// goroutine of its own after the handler returned.
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

func rawSwitchHandler(wg *sync.WaitGroup) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: lines\r\nConnection: Upgrade\r\n\r\n")
		wg.Go(func() { lineEcho(c, brw.Reader) })
	}
}

// listenBoth returns a listener of each kind the server serves: Listen's
// (raw descriptors) and any other net.Listener.
func listenBoth(t *testing.T) map[string]func() (net.Listener, string) {
	return map[string]func() (net.Listener, string){
		"raw": func() (net.Listener, string) {
			sock := filepath.Join(t.TempDir(), "a.sock")
			l, err := Listen("unix:"+sock, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			return l, sock
		},
		"net": func() (net.Listener, string) {
			sock := filepath.Join(t.TempDir(), "n.sock")
			l, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			return l, sock
		},
	}
}

// upgradePacket is an upgrade request as the edge sends it (chunked
// framing and keep-alive offered), followed by early bytes.
func upgradePacket(t *testing.T, early string) []byte {
	raw := uwsgitest.Request("GET", "/ws", "", "Connection", "Upgrade", "Upgrade", "lines")
	return append(keepVars(t, raw), early...)
}

// The uwsgi ResponseWriter is an http.Hijacker: the 101 head the handler
// set goes out as it is (no framing, no keep-alive), the bytes that came
// after the request are the handler's, and the connection then carries
// its protocol both ways, for longer than harakiri: a hijacked connection
// is out of the request's harakiri.
func TestUwsgiResponseWriterHijacks(t *testing.T) {
	for kind, listen := range listenBoth(t) {
		t.Run(kind, func(t *testing.T) {
			errs := make(chan error, 1)
			harakiris := make(chan string, 1)
			s := &Server{Handler: switchHandler(errs), Harakiri: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
				OnHarakiri: func(_, uri string) { harakiris <- uri }}
			l, sock := listen()
			done := make(chan error, 1)
			go func() { done <- s.Serve(l) }()
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := s.Shutdown(ctx); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
				<-done
			}()
			c, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Write(upgradePacket(t, "early\n"))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-errs; err != nil {
				t.Fatalf("Hijack: %v", err)
			}
			h := resp.Header
			if resp.StatusCode != 101 || h.Get("Upgrade") != "lines" || h.Get("Connection") != "Upgrade" ||
				h.Get("Transfer-Encoding") != "" || h.Get(uwsgi.KeepAliveHeader) != "" || h.Get("Content-Length") != "" {
				t.Fatalf("head: %d %v", resp.StatusCode, h)
			}
			if line, err := br.ReadString('\n'); err != nil || line != "early\n" {
				t.Fatalf("early bytes: %q %v", line, err)
			}
			time.Sleep(3 * s.Harakiri) // quiet past harakiri
			io.WriteString(c, "ping\n")
			if line, err := br.ReadString('\n'); err != nil || line != "ping\n" {
				t.Fatalf("after harakiri's time: %q %v", line, err)
			}
			select {
			case uri := <-harakiris:
				t.Errorf("harakiri fired on the hijacked %s", uri)
			default:
			}
			c.(*net.UnixConn).CloseWrite()
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("after the client's end: %v, want EOF (the handler closed)", err)
			}
		})
	}
}

// Shutdown waits for a hijacked connection that outlived its handler
// until the grace period ends, then closes it.
func TestShutdownClosesHijackedConnectionsAfterGrace(t *testing.T) {
	for kind, listen := range listenBoth(t) {
		t.Run(kind, func(t *testing.T) {
			var wg sync.WaitGroup
			defer wg.Wait()
			s := &Server{Handler: rawSwitchHandler(&wg), Logger: slog.New(slog.DiscardHandler)}
			l, sock := listen()
			done := make(chan error, 1)
			go func() { done <- s.Serve(l) }()
			c, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Write(upgradePacket(t, ""))
			br := bufio.NewReader(c)
			if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
				t.Fatalf("%v %v", resp, err)
			}
			io.WriteString(c, "one\n")
			if line, _ := br.ReadString('\n'); line != "one\n" {
				t.Fatalf("echo %q", line)
			}
			if n := s.hijacks.Count(); n != 1 {
				t.Fatalf("%d hijacked connections tracked, want 1", n)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err = s.Shutdown(ctx)
			if err == nil || !strings.Contains(err.Error(), "hijacked") {
				t.Errorf("Shutdown: %v, want the hijacked connections it closed", err)
			}
			<-done
			if _, err := br.ReadByte(); err == nil {
				t.Error("the hijacked connection is still open after Shutdown")
			}
		})
	}
}
