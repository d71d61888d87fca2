package h1

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// readAheadRan reports whether the connection serving ctx's request has
// ever started a read-ahead (its buffer is made by the first).
func readAheadRan(ctx context.Context) bool {
	cr := &ctx.(*reqCtx).c.cr
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.ahead != nil
}

// A handler that waits on its context, as the proxy does (context.AfterFunc
// in the uwsgi transport), but answers within watchDelay, costs no
// read-ahead: the next request on the connection is read by the
// connection's own goroutine.
func TestWatchNotStartedForAFastAnswer(t *testing.T) {
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stop := context.AfterFunc(r.Context(), func() {})
		defer stop()
		if r.URL.Path == "/check" && readAheadRan(r.Context()) {
			t.Error("a read-ahead ran for answers given within watchDelay")
		}
		io.WriteString(w, "ok")
	})})
	c, br := brkDial(t, addr)
	for i := range 20 {
		path := "/"
		if i == 19 {
			path = "/check"
		}
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %s", i, resp.Status)
		}
	}
}

// A client that leaves at once, before the watch starts, while a slow
// upstream answer is awaited, is still noticed: the read-ahead starts
// watchDelay after the handler asked, reads the EOF and cancels the
// request's context.
func TestWatchNoticesAClientGoneBeforeItStarts(t *testing.T) {
	asked := make(chan time.Time, 1)
	cancelled := make(chan time.Time, 1)
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stop := context.AfterFunc(r.Context(), func() {}) // as the proxy asks
		defer stop()
		asked <- time.Now()
		select {
		case <-r.Context().Done():
			cancelled <- time.Now()
		case <-time.After(5 * time.Second): // the slow upstream
			io.WriteString(w, "late")
		}
	})})
	c, _ := brkDial(t, addr)
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	start := <-asked
	c.Close()
	select {
	case at := <-cancelled:
		// A bound, not a speed: without the delayed start the client
		// would be noticed only when the slow answer is written.
		took := at.Sub(start)
		t.Logf("client gone noticed %v after the handler asked (watchDelay %v)", took, watchDelay)
		if took > watchDelay+2*time.Second {
			t.Errorf("noticed after %v", took)
		}
	case <-time.After(watchDelay + 3*time.Second):
		t.Fatal("the context was not cancelled when the client left")
	}
}

// Handlers that end just before, at and just after watchDelay, on one
// kept-alive connection with requests pipelined behind them or not: the
// timer fires while the handler ends (startLocked checks inHandler under
// the reader's lock), and every answer comes, in order, with nothing read
// twice or lost. Run with -race.
func TestWatchRacesTheHandlersEnd(t *testing.T) {
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stop := context.AfterFunc(r.Context(), func() {})
		defer stop()
		var d time.Duration
		fmt.Sscanf(r.URL.Query().Get("us"), "%d", &d)
		time.Sleep(d * time.Microsecond)
		if r.Context().Err() != nil {
			t.Errorf("%s: context cancelled with the client there", r.URL)
		}
		io.WriteString(w, r.URL.RawQuery)
	})})
	c, br := brkDial(t, addr)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	base := int(watchDelay / time.Microsecond)
	var sent []string
	for i := range 24 {
		q := fmt.Sprintf("us=%d&i=%d", base-1000+i*100, i)
		sent = append(sent, q)
		io.WriteString(c, "GET /?"+q+" HTTP/1.1\r\nHost: a\r\n\r\n")
		switch i % 3 {
		case 1:
			// The next one arrives about when this handler ends: the
			// read-ahead, if it started, receives it.
			time.Sleep(watchDelay - 2*time.Millisecond + time.Duration(i)*200*time.Microsecond)
			continue
		case 2:
			continue // the next one is sent at once: pipelined
		}
		for len(sent) > 0 {
			readAnswer(t, br, sent[0])
			sent = sent[1:]
		}
	}
	for _, q := range sent {
		readAnswer(t, br, q)
	}
}

func readAnswer(t *testing.T, br *bufio.Reader, want string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("waiting for %s: %v", want, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
}
