package bench

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Load is the built-in load generator: Conns keep-alive HTTP/1.1
// connections, each sending Request and reading the response, one at a
// time, until the context ends. It never retries: a request that fails
// (reset, EOF, timeout, a response it cannot parse) is counted by its kind
// and the connection is replaced by a new one, which sends the next
// request. A 5xx answer is counted apart from the successes.
type Load struct {
	Addr    string        // host:port
	Conns   int           // connections, each with one request in flight
	Request []byte        // the raw request, sent as is
	Timeout time.Duration // per request; 0 means 10s
}

// Result is what a run of Load counted.
type Result struct {
	Requests  int            // responses read, of any status
	Status5xx int            // of which 5xx
	Errors    map[string]int // failed requests by kind: reset, eof, timeout, refused, other
	// Unfinished requests were still waiting when the run ended; their
	// wait so far is among the latencies (a lower bound), so that a server
	// that answers nobody does not show a latency of 0.
	Unfinished int
	Latencies  []time.Duration // of the responses and the unfinished requests, sorted
	Elapsed    time.Duration
}

// Failed is the number of requests that got no response.
func (r *Result) Failed() int {
	n := 0
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// Percentile returns the p-th percentile latency (0 < p ≤ 100).
func (r *Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.Latencies))*p/100+0.5) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

// Run runs the load until ctx ends and returns the counts.
func (l Load) Run(ctx context.Context) *Result {
	timeout := l.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	start := time.Now()
	parts := make([]*Result, l.Conns)
	var wg sync.WaitGroup
	for i := range l.Conns {
		r := &Result{Errors: map[string]int{}}
		parts[i] = r
		wg.Go(func() { l.client(ctx, timeout, r) })
	}
	wg.Wait()
	total := &Result{Errors: map[string]int{}, Elapsed: time.Since(start)}
	for _, r := range parts {
		total.Requests += r.Requests
		total.Status5xx += r.Status5xx
		total.Unfinished += r.Unfinished
		for k, v := range r.Errors {
			total.Errors[k] += v
		}
		total.Latencies = append(total.Latencies, r.Latencies...)
	}
	slices.Sort(total.Latencies)
	return total
}

// endGrace is how long a request in flight when the run ends may still
// take: answered within it, it counts as any other; not, it is unfinished.
const endGrace = 500 * time.Millisecond

// client is one connection's loop.
func (l Load) client(ctx context.Context, timeout time.Duration, r *Result) {
	var c net.Conn
	var br *bufio.Reader
	stop := func() bool { return false }
	closeConn := func() {
		stop()
		c.Close()
		c = nil
	}
	defer func() {
		if c != nil {
			closeConn()
		}
	}()
	d := net.Dialer{Timeout: timeout}
	for ctx.Err() == nil {
		if c == nil {
			var err error
			c, err = d.DialContext(ctx, "tcp", l.Addr)
			if err != nil {
				c = nil
				if ctx.Err() != nil {
					return
				}
				r.Errors[errorKind(err)]++
				time.Sleep(10 * time.Millisecond) // a refused dial is instant: do not spin
				continue
			}
			conn := c
			// The run's end gives the request in flight endGrace more.
			stop = context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now().Add(endGrace)) })
			br = bufio.NewReaderSize(c, 16<<10)
		}
		t0 := time.Now()
		if ctx.Err() == nil {
			c.SetDeadline(t0.Add(timeout))
		}
		keep, status, err := roundTrip(c, br, l.Request)
		if err != nil {
			if ctx.Err() != nil && isTimeout(err) {
				// Still waiting when the run ended: its wait so far is
				// a lower bound of its latency.
				r.Unfinished++
				r.Latencies = append(r.Latencies, time.Since(t0))
			} else {
				r.Errors[errorKind(err)]++
			}
			closeConn()
			continue
		}
		r.Requests++
		r.Latencies = append(r.Latencies, time.Since(t0))
		if status >= 500 {
			r.Status5xx++
		}
		if !keep {
			closeConn()
		}
	}
}

// roundTrip writes req and reads one whole response.
func roundTrip(c net.Conn, br *bufio.Reader, req []byte) (keep bool, status int, err error) {
	if _, err := c.Write(req); err != nil {
		return false, 0, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // the server closed instead of answering
		}
		return false, 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, 0, err
	}
	return !resp.Close, resp.StatusCode, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

// errorKind names a failure for the table.
func errorKind(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case isTimeout(err):
		return "timeout"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "eof"
	}
	return "other"
}
