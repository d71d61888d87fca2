package appserver

import (
	"bytes"
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
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// packetWithID is a GET packet carrying the request id as the edge sends
// it: the header and the STACK_REQUEST_ID variable.
func packetWithID(uri, id string) []byte {
	var e uwsgi.Encoder
	e.Reset(nil, 0, 0)
	for _, kv := range [][2]string{{"REQUEST_METHOD", "GET"}, {"REQUEST_URI", uri}, {"PATH_INFO", uri},
		{"QUERY_STRING", ""}, {"SERVER_PROTOCOL", "HTTP/1.1"}, {"HTTP_HOST", "test"}, {"HTTP_X_REQUEST_ID", id}, {"STACK_REQUEST_ID", id}} {
		e.Add(kv[0], kv[1])
	}
	b, err := e.Bytes(0)
	if err != nil {
		panic(err)
	}
	return b
}

// waitLog waits until the log holds want.
func waitLog(t *testing.T, log *lockedBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %q:\n%s", want, log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// log_requests writes one line per request with the edge's id (or the
// X-Request-Id header another proxy sets); off, none.
func TestLogRequestsCarriesTheRequestID(t *testing.T) {
	log := &lockedBuffer{}
	s := &Server{Logger: slog.New(slog.NewTextHandler(log, nil)), LogRequests: true,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "tea")
		})}
	sock := startServer(t, s)
	do(t, sock, "GET", packetWithID("/a", "edge-id-1"))
	waitLog(t, log, `msg="appserver: request" request_id=edge-id-1 method=GET uri=/a status=418 bytes=3`)
	do(t, sock, "GET", request("GET", "/b", "", "X-Request-Id", "nginx-id-2"))
	waitLog(t, log, `request_id=nginx-id-2 method=GET uri=/b`)

	quiet := &lockedBuffer{}
	s2 := &Server{Logger: slog.New(slog.NewTextHandler(quiet, nil)), Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	do(t, startServer(t, s2), "GET", packetWithID("/c", "x"))
	if quiet.String() != "" {
		t.Errorf("log_requests off logged: %s", quiet.String())
	}
}

// The harakiri and panic lines name the request id.
func TestErrorLinesCarryTheRequestID(t *testing.T) {
	log := &lockedBuffer{}
	s := &Server{Logger: slog.New(slog.NewTextHandler(log, nil)), Harakiri: 100 * time.Millisecond,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/panic" {
				panic("boom")
			}
			<-r.Context().Done()
		})}
	sock := startServer(t, s)
	if resp, _ := do(t, sock, "GET", packetWithID("/slow", "slow-id")); resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("harakiri: %d", resp.StatusCode)
	}
	waitLog(t, log, `request_id=slow-id ran=`)
	if resp, _ := do(t, sock, "GET", packetWithID("/panic", "panic-id")); resp.StatusCode != 500 {
		t.Errorf("panic: %d", resp.StatusCode)
	}
	waitLog(t, log, `msg="appserver: handler panicked" method=GET uri=/panic request_id=panic-id`)
}

// BenchmarkServerLogRequests is BenchmarkServe with log_requests on and
// the edge's id: compare the two for the cost of the line.
func BenchmarkServerLogRequests(b *testing.B) {
	s := &Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), LogRequests: true, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello, web!\n")
	})}
	path := filepath.Join(b.TempDir(), "app.sock")
	l, err := Listen("unix:"+path, 0o660)
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()
	raw := packetWithID("/", "0123456789abcdef0123456789abcdef")
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		c.Write(raw)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
	}
}

// Behind a server that passes the client's X-Request-Id on (nginx's
// default uwsgi_params send every header), the id is the client's: one
// that is not an id (4 KiB, spaces, quotes) is not logged, or a client
// could fill every line the app server writes about it.
func TestRequestIDIsLoggedOnlyWhenItIsAnID(t *testing.T) {
	for id, want := range map[string]string{
		"6f1c0e2a9b3d4c5e8f7a6b5c4d3e2f1a":      "6f1c0e2a9b3d4c5e8f7a6b5c4d3e2f1a",
		"Root=1-67891233-abcdef012345678912345": "Root=1-67891233-abcdef012345678912345",
		strings.Repeat("x", 129):                "",
		"a b":                                   "",
		`a"b`:                                   "",
		"":                                      "",
	} {
		req := &http.Request{Header: http.Header{"X-Request-Id": {id}}}
		if got := requestID(req); got != want {
			t.Errorf("requestID(%.20q) = %q, want %q", id, got, want)
		}
	}
}
