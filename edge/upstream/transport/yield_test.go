package transport

import (
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stack-web/stack/edge/upstream/internal/unixconn"
	"github.com/stack-web/stack/uwsgi"
)

// A new Unix connection whose answer comes while the edge has other work
// ready is read without joining the runtime's poller: the transport lets
// that work run (yieldForAnswer) before it reads, instead of reading at
// once, finding nothing, and registering the socket to wait. The app
// server is another process, as uWSGI is: it cannot answer between the
// transport's write and an immediate read.
func TestUwsgiTransportYieldsBeforeReadingAnswer(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "app.sock")
	srv := exec.Command(os.Args[0])
	srv.Env = append(os.Environ(), "EDGE_YIELD_CANNED_SOCK="+sock)
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the canned server did not listen: %v", err)
		}
	}

	rt := &UwsgiTransport{Network: "unix", Address: sock, ConnectTimeout: time.Second,
		ReadTimeout: 5 * time.Second, SendTimeout: 5 * time.Second, BufferSize: uwsgi.DefaultBufferSize}
	req, _ := http.NewRequest("GET", "http://app/", nil)
	req.RequestURI = "/"
	req.RemoteAddr = "127.0.0.1:40000"

	// One processor, and a goroutine ready to run on it for a while: the
	// edge under load, in miniature.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	polled := 0
	const rounds = 20
	for range rounds {
		go func() {
			for end := time.Now().Add(30 * time.Millisecond); time.Now().Before(end); {
			}
		}()
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || string(body) != "<h1>Hello, web!</h1>" {
			t.Fatalf("body %q, %v", body, err)
		}
		if resp.Body.(*uwsgiBody).conn.(*unixconn.Conn).Polled() {
			polled++
		}
		resp.Body.Close()
	}
	t.Logf("%d of %d connections joined the poller", polled, rounds)
	if polled > rounds/5 {
		t.Errorf("%d of %d connections joined the poller to wait for an answer that came while other work ran", polled, rounds)
	}
}

// TestMain runs the package's tests, or, in the process that
// TestUwsgiTransportYieldsBeforeReadingAnswer starts, its app server.
func TestMain(m *testing.M) {
	if sock := os.Getenv("EDGE_YIELD_CANNED_SOCK"); sock != "" {
		yieldCannedServer(sock)
		return
	}
	os.Exit(m.Run())
}

// yieldCannedServer answers every connection 2 ms after its request, with
// a length, and closes it, as uWSGI does, until it is killed.
func yieldCannedServer(sock string) {
	l, err := net.Listen("unix", sock)
	if err != nil {
		os.Exit(1)
	}
	answer := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 20\r\n\r\n<h1>Hello, web!</h1>")
	vars := make([]byte, 64<<10)
	for {
		c, err := l.Accept()
		if err != nil {
			os.Exit(0)
		}
		var head [4]byte
		if _, err := io.ReadFull(c, head[:]); err == nil {
			if _, err := io.ReadFull(c, vars[:binary.LittleEndian.Uint16(head[1:3])]); err == nil {
				time.Sleep(2 * time.Millisecond) // an app's time: far longer than from the write to a read at once
				c.Write(answer)
			}
		}
		c.Close()
	}
}
