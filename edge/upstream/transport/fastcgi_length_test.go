package transport

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/stack-web/stack/fastcgi"
)

// An answer without Content-Length (PHP's usual one) whose records up to
// END_REQUEST came at once gets its length, so the client gets it in one
// write, not as a chunked stream; STDERR among them is still logged and
// the split of STDOUT into records does not matter. One whose end is late
// streams as before, whole.
func TestFastCGIAnswerThatHasAllComeGetsItsLength(t *testing.T) {
	head := []byte("Content-Type: text/html\r\n\r\n")
	whole := append(fcgiRecord(fastcgi.TypeStdout, 1, append(head, "<h1>Hello"...), 3), fcgiRecord(fastcgi.TypeStderr, 1, []byte("note"), 0)...)
	whole = append(whole, fcgiRecord(fastcgi.TypeStdout, 1, []byte(", web!</h1>"), 0)...)
	whole = append(whole, fcgiRecord(fastcgi.TypeStdout, 1, nil, 0)...)
	whole = append(whole, fcgiEnd()...)
	const body = "<h1>Hello, web!</h1>"

	resp, got, err := fcgiRoundTrip(t, hostileFastCGI(t, whole))
	if err != nil || string(got) != body {
		t.Fatalf("whole answer: %q, %v", got, err)
	}
	if resp.ContentLength != int64(len(body)) || resp.Header.Get("Content-Length") != "20" {
		t.Errorf("whole answer: length %d (header %q), want 20", resp.ContentLength, resp.Header.Get("Content-Length"))
	}

	// The same records, END_REQUEST 50 ms later: no length, the body
	// streams to its end.
	cut := len(whole) - len(fcgiEnd())
	late := hostileFastCGIFunc(t, func(c net.Conn) {
		c.Write(whole[:cut])
		time.Sleep(50 * time.Millisecond)
		c.Write(whole[cut:])
	})
	resp, got, err = fcgiRoundTrip(t, late)
	if err != nil || string(got) != body {
		t.Fatalf("late end: %q, %v", got, err)
	}
	if resp.ContentLength != -1 {
		t.Errorf("late end: length %d before the end came, want -1 (streamed)", resp.ContentLength)
	}

	// An END_REQUEST that refuses (overloaded) is not a whole answer: the
	// read reports it, the client never gets a complete-looking body.
	refused := bytes.Replace(whole, fcgiEnd(), fcgiRecord(fastcgi.TypeEndRequest, 1, []byte{0, 0, 0, 0, fastcgi.StatusOverloaded, 0, 0, 0}, 0), 1)
	resp, _, err = fcgiRoundTrip(t, hostileFastCGI(t, refused))
	if err == nil {
		t.Errorf("overloaded END_REQUEST: body read whole (length %d), want an error", resp.ContentLength)
	}
}
