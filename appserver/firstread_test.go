package appserver

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A one-shot connection's first read waits a moment holding its thread
// (sockconn.FD.Read, sockconn.FirstReadWait) before the runtime poller takes over. Peers
// whose packet comes at once, a moment after the connect, well after it,
// or in pieces must all be answered the same.
func TestFirstReadPacketTiming(t *testing.T) {
	sock := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "path="+r.URL.Path)
	})})
	cases := map[string]struct {
		before time.Duration // after the connect, before the first byte
		split  int           // bytes sent first, then the rest after between (0: all at once)
		// between the two parts
		between time.Duration
	}{
		"at once":               {},
		"after 200µs":           {before: 200 * time.Microsecond},
		"after 5ms":             {before: 5 * time.Millisecond},
		"header, then the rest": {split: 4, between: 3 * time.Millisecond},
		"half, then the rest":   {before: 100 * time.Microsecond, split: 20, between: 2 * time.Millisecond},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := "/" + strings.ReplaceAll(name, " ", "-")
			pkt := request("GET", path, "")
			c, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			time.Sleep(tc.before)
			if tc.split > 0 {
				if _, err := c.Write(pkt[:tc.split]); err != nil {
					t.Fatal(err)
				}
				time.Sleep(tc.between)
				pkt = pkt[tc.split:]
			}
			if _, err := c.Write(pkt); err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(got, "\r\n\r\npath="+path) {
				t.Errorf("got %q", got)
			}
		})
	}
}

// Connections that never send anything hold a worker (GOMAXPROCS 1, as
// with processes: 2 on two cores) for at most sockconn.FirstReadWait each (or
// until the runtime preempts the wait, 10 ms), then wait in the poller
// until socket_timeout: requests behind them are served long before that,
// and the silent ones are closed then.
func TestSilentPeersDoNotStallTheWorker(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const socketTimeout = time.Second
	sock := startServer(t, &Server{SocketTimeout: socketTimeout, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})})
	var silent []net.Conn
	defer func() {
		for _, c := range silent {
			c.Close()
		}
	}()
	for range 20 {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		silent = append(silent, c)
	}
	var wg sync.WaitGroup
	took := make([]time.Duration, 5)
	start := time.Now()
	for i := range took {
		wg.Go(func() {
			out := rawExchange(t, sock, request("GET", "/", ""))
			took[i] = time.Since(start)
			if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(out, "\r\n\r\nok") {
				t.Errorf("got %q", out)
			}
		})
	}
	wg.Wait()
	for _, d := range took {
		if d >= socketTimeout/2 {
			t.Fatalf("requests behind 20 silent connections took %v (socket_timeout %v): a first read held the worker", took, socketTimeout)
		}
	}
	t.Logf("requests behind 20 silent connections answered after %v", took)
	// The silent ones are closed at socket_timeout, unanswered.
	silent[0].SetReadDeadline(time.Now().Add(2 * socketTimeout))
	if n, err := silent[0].Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("a silent connection read %d, %v; want 0, EOF (closed at socket_timeout)", n, err)
	}
}

// A response larger than the socket buffer, read slowly, makes the writes
// wait in the runtime poller (sockconn.FD's pollIO): every byte arrives, in order, and
// the request that follows on a new connection is served as usual.
func TestPolledWritesDeliverEveryByte(t *testing.T) {
	const size = 4 << 20
	body := make([]byte, size)
	for i := range body {
		body[i] = byte(i % 251)
	}
	sock := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Write(body)
	})})
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(request("GET", "/big", "")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the server fill the socket buffer and wait
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("got %d bytes, want %d, equal %v", len(got), len(body), bytes.Equal(got, body))
	}
	if out := rawExchange(t, sock, request("GET", "/", "")); !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") {
		t.Errorf("next request got %.100q", out)
	}
}
