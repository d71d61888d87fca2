package appserver

import (
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// A peer that sends its packet a byte at a time, each byte within
// socket_timeout, must not hold a threads slot past socket_timeout: the
// whole packet has that long. Otherwise a few such peers take every slot
// and the app serves nothing.
func TestSlowPacketSenderDoesNotHoldTheSlot(t *testing.T) {
	sock := startServer(t, &Server{Threads: 1, SocketTimeout: 300 * time.Millisecond,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })})
	pkt := request("GET", "/", "")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	for range 2 {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer c.Close()
			for _, b := range pkt {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := c.Write([]byte{b}); err != nil {
					return // closed by the server: what should happen
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	got := make(chan string, 1)
	go func() {
		c, err := net.Dial("unix", sock)
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(pkt)
		b, _ := io.ReadAll(c)
		got <- string(b)
	}()
	select {
	case out := <-got:
		if len(out) < 15 || out[:15] != "HTTP/1.1 200 OK" {
			t.Errorf("a normal request behind slow senders got %q", out)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("slow packet senders (a byte every 100ms, socket_timeout 300ms) held the only slot for 5s")
	}
}
