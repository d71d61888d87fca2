package hijack

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// A tracked connection reads the bytes read ahead first, leaves the set
// when its handler closes it, and Shutdown waits for that.
func TestConnsTrackAndShutdown(t *testing.T) {
	var s Conns
	a, b := net.Pipe()
	defer b.Close()
	hc := s.Track(a, []byte("early "))
	go io.WriteString(b, "late")
	buf := make([]byte, 16)
	n, _ := hc.Read(buf)
	m, _ := hc.Read(buf[n:])
	if got := string(buf[:n+m]); got != "early late" {
		t.Fatalf("read %q, want the early bytes, then the socket's", got)
	}
	if s.Count() != 1 {
		t.Fatalf("Count = %d, want 1", s.Count())
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		hc.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("Shutdown after the handler closed its connection: %v", err)
	}
	if s.Count() != 0 {
		t.Errorf("Count = %d after Close, want 0", s.Count())
	}
}

// At the end of the grace period Shutdown closes what is left and says so.
func TestConnsShutdownClosesTheRest(t *testing.T) {
	var s Conns
	a, b := net.Pipe()
	defer b.Close()
	s.Track(a, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := s.Shutdown(ctx, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "closed 1 hijacked") {
		t.Fatalf("Shutdown: %v, want the one connection it closed", err)
	}
	if _, err := b.Read(make([]byte, 1)); err == nil {
		t.Error("the peer still reads: the connection was not closed")
	}
	if n := s.CloseAll(); n != 0 {
		t.Errorf("CloseAll after Shutdown closed %d, want 0", n)
	}
}
