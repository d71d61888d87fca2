package appserver

import (
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver/internal/sockconn"
)

// A flood of connections that never write (a peer on the socket that is
// not the edge or nginx) must not hold the worker: a first read that finds
// nothing waits in ppoll holding its thread and P (sockconn.FirstReadWait), so
// 1500 of them in a row held a GOMAXPROCS=1 worker for 1.5 s, and a
// request queued behind them waited that long (before: ~10 µs each in the
// poller). After one such wait times out, the next first reads go to the
// poller at once for a while.
func TestBrkRawSilentFloodDoesNotStallTheWorker(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const socketTimeout = 5 * time.Second
	sock := startServer(t, &Server{SocketTimeout: socketTimeout, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})})
	const n = 1500
	silent := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range silent {
			c.Close()
		}
	}()
	start := time.Now()
	for range n {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		silent = append(silent, c)
	}
	dialed := time.Since(start)
	start = time.Now()
	out := rawExchange(t, sock, request("GET", "/", ""))
	took := time.Since(start)
	if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(out, "\r\n\r\nok") {
		t.Errorf("got %q", out)
	}
	t.Logf("%d silent connections dialed in %v; a request dialed after them answered in %v", n, dialed, took)
	if took >= n*sockconn.FirstReadWait/2 {
		t.Fatalf("a request behind %d silent connections took %v: their first reads held the worker (sockconn.FirstReadWait %v each)", n, took, sockconn.FirstReadWait)
	}
}
