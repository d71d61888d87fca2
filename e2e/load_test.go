package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// load is a load client that never retries: each connection sends one
// request at a time over raw HTTP/1.1 keep-alive and reads the answer with
// http.ReadResponse. A request that fails (reset, EOF before the answer, a
// timeout) is counted as failed and the connection is redialled; it is
// never sent again. Go's http.Client would silently re-send a GET that
// failed on a reused connection and hide exactly the losses these tests
// look for.
type load struct {
	// Addr is host:port of the edge (or any HTTP server).
	Addr string
	// Conns is the number of concurrent keep-alive connections.
	Conns int
	// Request builds the raw request text for the i-th request of a
	// connection; it must end with the blank line (and carry its body).
	// Nil sends GET / with Host set.
	Request func(conn, i int) string
	// Timeout bounds one request from write to the end of its body.
	Timeout time.Duration
}

// loadResult counts what came back.
type loadResult struct {
	mu       sync.Mutex
	OK       int            // 2xx
	Status   map[int]int    // every status seen
	Failures map[string]int // kind of failure → count (reset, eof, timeout, other)
	Samples  []string       // a few failure messages, for the log
}

// Failed is every request that did not get a 2xx answer.
func (r *loadResult) Failed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for code, c := range r.Status {
		if code < 200 || code > 299 {
			n += c
		}
	}
	for _, c := range r.Failures {
		n += c
	}
	return n
}

// Total is every request sent.
func (r *loadResult) Total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.Status {
		n += c
	}
	for _, c := range r.Failures {
		n += c
	}
	return n
}

func (r *loadResult) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	codes := make([]int, 0, len(r.Status))
	for c := range r.Status {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var b strings.Builder
	for _, c := range codes {
		fmt.Fprintf(&b, "%d×%d ", c, r.Status[c])
	}
	for k, c := range r.Failures {
		fmt.Fprintf(&b, "%s×%d ", k, c)
	}
	if len(r.Samples) > 0 {
		fmt.Fprintf(&b, "(e.g. %s)", strings.Join(r.Samples, "; "))
	}
	return strings.TrimSpace(b.String())
}

func (r *loadResult) status(code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Status[code]++
	if code >= 200 && code <= 299 {
		r.OK++
	}
}

func (r *loadResult) fail(err error) {
	kind := "other"
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		kind = "reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		kind = "refused"
	case errors.Is(err, syscall.EPIPE):
		kind = "broken-pipe"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		kind = "eof"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		kind = "timeout"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Failures[kind]++
	if len(r.Samples) < 5 {
		r.Samples = append(r.Samples, err.Error())
	}
}

// run sends requests until stop is closed (and at most for limit), then
// waits for the requests in flight. It returns what came back.
func (l load) run(t *testing.T, stop <-chan struct{}, limit time.Duration) *loadResult {
	t.Helper()
	if l.Timeout == 0 {
		l.Timeout = 10 * time.Second
	}
	if l.Request == nil {
		l.Request = func(int, int) string { return "GET / HTTP/1.1\r\nHost: " + l.Addr + "\r\n\r\n" }
	}
	res := &loadResult{Status: map[int]int{}, Failures: map[string]int{}}
	end := time.Now().Add(limit)
	var wg sync.WaitGroup
	for c := 0; c < l.Conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.conn(c, res, stop, end)
		}()
	}
	wg.Wait()
	return res
}

// conn drives one client connection.
func (l load) conn(c int, res *loadResult, stop <-chan struct{}, end time.Time) {
	var conn net.Conn
	var br *bufio.Reader
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		if time.Now().After(end) {
			return
		}
		if conn == nil {
			var err error
			conn, err = net.DialTimeout("tcp", l.Addr, l.Timeout)
			if err != nil {
				res.fail(err)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			br = bufio.NewReader(conn)
		}
		conn.SetDeadline(time.Now().Add(l.Timeout))
		keep, err := l.roundTrip(conn, br, l.Request(c, i), res)
		if err != nil {
			res.fail(err)
		}
		if err != nil || !keep {
			conn.Close()
			conn = nil
		}
	}
}

// roundTrip writes one request and reads its whole answer. keep reports
// whether the connection may carry another request.
func (l load) roundTrip(conn net.Conn, br *bufio.Reader, raw string, res *loadResult) (keep bool, err error) {
	if _, err := io.WriteString(conn, raw); err != nil {
		return false, err
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		return false, fmt.Errorf("load: bad request text: %w", err)
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, err
	}
	res.status(resp.StatusCode)
	return !resp.Close, nil
}
