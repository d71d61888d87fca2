package transport

import (
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
)

// cannedCloser answers every request on a new socket with resp and closes
// the connection, as uWSGI does; it costs next to nothing, so that the
// figures are the transport's.
func cannedCloser(b *testing.B, resp string) string {
	sock := filepath.Join(b.TempDir(), "canned.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	vars := make([]byte, 64<<10)
	answer := []byte(resp)
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			// Served inline, into one buffer: the server allocates only
			// what its Accept does.
			var head [4]byte
			if _, err := io.ReadFull(c, head[:]); err == nil {
				if _, err := io.ReadFull(c, vars[:binary.LittleEndian.Uint16(head[1:3])]); err == nil {
					c.Write(answer)
				}
			}
			c.Close()
		}
	})
	b.Cleanup(func() { l.Close(); wg.Wait() })
	return sock
}

// One GET through the uwsgi transport, a connection per request (in front
// of uWSGI): the transport's CPU (with the canned server's) and
// allocations per request, for an answer with its length and one that
// ends at the close (a WSGI app's through uWSGI).
func BenchmarkUwsgiTransportConnPerRequest(b *testing.B) {
	for name, resp := range map[string]string{
		"sized":       "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 20\r\n\r\n<h1>Hello, web!</h1>",
		"close-ended": "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>Hello, web!</h1>",
	} {
		b.Run(name, func(b *testing.B) {
			rt := &UwsgiTransport{Network: "unix", Address: cannedCloser(b, resp), ConnectTimeout: time.Second,
				ReadTimeout: 5 * time.Second, SendTimeout: 5 * time.Second, BufferSize: uwsgi.DefaultBufferSize}
			req, _ := http.NewRequest("GET", "http://app/", nil)
			req.RequestURI = "/"
			req.RemoteAddr = "127.0.0.1:40000"
			buf := make([]byte, 512)
			b.ReportAllocs()
			cpu0 := benchCPU(b)
			for b.Loop() {
				resp, err := rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := resp.Body.Read(buf); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
				resp.Body.Close()
			}
			b.ReportMetric(float64(benchCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

func benchCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
