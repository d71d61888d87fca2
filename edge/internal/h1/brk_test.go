package h1

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Break-it tests of the h1 server: each is a defect found by running the
// edge's binary against raw sockets, compared with net/http's server.

// brkDial opens a raw connection to addr for the test.
func brkDial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c, bufio.NewReader(c)
}

// A write deadline a handler set (the edge's send_timeout, through
// http.ResponseController) belongs to that request: net/http clears it when
// the request ends. Kept on a keep-alive connection, it was in the past by
// the time a later request came, and that request's answer, if its handler
// wrote no body (HEAD, 204, a 304 revalidation: nothing renews the
// deadline), was lost: the connection closed without a byte.
func TestBrkWriteDeadlineOutlivesRequest(t *testing.T) {
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/first" {
			http.NewResponseController(w).SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			io.WriteString(w, "first")
			return
		}
		w.WriteHeader(http.StatusNotModified)
	})})
	c, br := brkDial(t, addr)
	for i, path := range []string{"/first", "/second"} {
		if i > 0 {
			time.Sleep(200 * time.Millisecond) // past the first request's deadline
		}
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: no answer: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if want := []int{200, 304}[i]; resp.StatusCode != want {
			t.Fatalf("%s: status %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// RFC 9110 10.1.1: "A server that receives a 100-continue expectation in an
// HTTP/1.0 request MUST ignore that expectation." net/http and nginx do;
// h1 answered 417 and never served the request.
func TestBrkExpectContinueOnHTTP10Ignored(t *testing.T) {
	addr := serve(t, &Server{Handler: http.HandlerFunc(echo)})
	got := exchange(t, addr, "POST /e HTTP/1.0\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
	if !strings.HasPrefix(got, "HTTP/1.0 200 ") || !strings.Contains(got, `body="abc"`) || strings.Contains(got, "100 Continue") {
		t.Fatalf("got %q, want the request served without a 100", got)
	}
	// An expectation h1 does not know is still refused, as net/http does.
	if got := exchange(t, addr, "POST /e HTTP/1.1\r\nHost: a\r\nExpect: fly\r\nContent-Length: 3\r\n\r\nabc"); !strings.HasPrefix(got, "HTTP/1.1 417 ") {
		t.Fatalf("unknown expectation: got %q, want 417", got)
	}
}

// A chunked body's trailer section is field lines (RFC 9112 7.1.2), and
// net/http refuses one that is not. h1 dropped any line, so a request
// line hidden there ("GET /admin HTTP/1.1", no colon) or a bare CR, which
// a proxy in front may read as a line end, was swallowed as "trailer":
// the kind of disagreement about where a message ends that smuggling is
// built on.
func TestBrkTrailerLinesAreFields(t *testing.T) {
	addr := serve(t, &Server{Handler: http.HandlerFunc(echo)})
	for _, tc := range []struct{ name, trailer, want string }{
		{"field", "X-Sum: 1\r\n", `body="abc"`},
		{"empty value", "X-Sum:\r\n", `body="abc"`},
		{"request line", "GET /admin HTTP/1.1\r\n", "body error"},
		{"no colon", "garbage\r\n", "body error"},
		{"space before colon", "X-Sum : 1\r\n", "body error"},
		{"bare CR", "X-Sum: a\rb\r\n", "body error"},
		{"NUL", "X-Sum: a\x00b\r\n", "body error"},
		{"empty name", ": 1\r\n", "body error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := exchange(t, addr, "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n"+tc.trailer+"\r\n")
			if !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// A handler that declares a Content-Length and then copies a longer source
// (io.Copy into the writer takes its ReadFrom, sendfile for a file that
// grew) had every byte of it sent: past the declared length, the rest was
// read by a kept-alive client as the start of the next response. Write
// refuses the excess (http.ErrContentLength); ReadFrom now stops at the
// declared length too.
func TestBrkReadFromStopsAtContentLength(t *testing.T) {
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		io.Copy(w, struct{ io.Reader }{strings.NewReader("helloHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil")})
	})})
	c, br := brkDial(t, addr)
	io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
	for i := range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hello" {
			t.Fatalf("response %d: body %q, want %q (the excess went out as a response)", i+1, b, "hello")
		}
	}
}

// Shutdown under keep-alive load, with clients that never retry: a
// request that a client had sent on an idle kept-alive connection when
// Shutdown closed it was lost (reset, or EOF with no answer), where
// waiting a moment lets it be answered, with Connection: close. Clients
// that send a request the moment they have their answer are what a busy
// edge sees. (A connection's first request can still be lost to the
// listener closing with connections in its backlog: counted apart.)
func TestBrkShutdownLosesNoKeptAliveRequest(t *testing.T) {
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { s.Serve(l); close(served) }()
	addr := l.Addr().String()
	type tally struct{ ok, closed, lost, firstLost int }
	results := make(chan tally)
	for range 16 {
		go func() {
			var n tally
			defer func() { results <- n }()
			for {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					return // the listener is closed: nothing was sent
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				for i := 0; ; i++ {
					_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
					var resp *http.Response
					if err == nil {
						resp, err = http.ReadResponse(br, nil)
					}
					if err != nil {
						if i == 0 {
							n.firstLost++
						} else {
							n.lost++
						}
						break
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					n.ok++
					if resp.Close {
						n.closed++
						break
					}
				}
				c.Close()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	<-served
	var total tally
	for range 16 {
		n := <-results
		total.ok, total.closed, total.lost, total.firstLost = total.ok+n.ok, total.closed+n.closed, total.lost+n.lost, total.firstLost+n.firstLost
	}
	t.Logf("%d requests answered, %d with Connection: close; lost: %d on kept-alive connections, %d first requests", total.ok, total.closed, total.lost, total.firstLost)
	if total.lost > 0 {
		t.Fatalf("%d requests sent on kept-alive connections were lost by Shutdown", total.lost)
	}
}

// A client that sends its request and half-closes (nc -N, a script's
// shutdown(SHUT_WR)) is taken for gone, as nginx takes it: the request's
// context is cancelled and the edge's proxy abandons the upstream and
// answers nothing (its access log says 499). The server then made up an
// answer, "200 OK" with an empty body: a success the app never gave. It
// now closes with no answer, as nginx does.
func TestBrkNoAnswerMadeUpForAClientGone(t *testing.T) {
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
			io.WriteString(w, "late")
		}
	})})
	c, _ := brkDial(t, addr)
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	c.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(c)
	if len(got) != 0 {
		t.Fatalf("got %q, want the connection closed with no answer", got)
	}
}
