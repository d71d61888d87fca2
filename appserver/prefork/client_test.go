package prefork

// Test clients for a master's workers, as in appserver's own tests: raw
// uwsgi packets as nginx sends them, over the shared socket.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// request encodes a request packet as nginx would send it.
func request(method, uri string, body string, headers ...string) []byte {
	var e uwsgi.Encoder
	e.Reset(nil, 0, 0)
	path, query, _ := strings.Cut(uri, "?")
	e.Add("QUERY_STRING", query)
	e.Add("REQUEST_METHOD", method)
	e.Add("CONTENT_LENGTH", fmt.Sprint(len(body)))
	e.Add("REQUEST_URI", uri)
	e.Add("PATH_INFO", path)
	e.Add("SERVER_PROTOCOL", "HTTP/1.1")
	e.Add("REMOTE_ADDR", "127.0.0.1")
	e.Add("REMOTE_PORT", "1234")
	e.Add("HTTP_HOST", "test")
	for i := 0; i+1 < len(headers); i += 2 {
		e.AddHeader(headers[i], headers[i+1])
	}
	b, err := e.Bytes(0)
	if err != nil {
		panic(err)
	}
	return append(b, body...)
}

// do sends raw on a new connection and parses the response.
func do(t *testing.T, sock string, method string, raw []byte) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp, string(body)
}

// rawExchange sends raw and returns every byte the server sent until it
// closed.
func rawExchange(t *testing.T, sock string, raw []byte) string {
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(raw)
	out, _ := io.ReadAll(c)
	return string(out)
}
