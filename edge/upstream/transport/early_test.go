package transport

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stack-web/stack/uwsgi"
	"github.com/stack-web/stack/uwsgi/uwsgitest"
)

// earlyServer reads each request's packet but not its body, writes answer
// (nothing if empty) and closes, as a handler that ignores a large upload
// does behind an app server that drains only so much.
func earlyServer(t *testing.T, answer string) string {
	sock, _ := uwsgitest.Serve(t, func(c net.Conn) {
		if uwsgitest.ReadPacket(c) {
			io.WriteString(c, answer)
		}
	})
	return sock
}

// The server's answer to a request whose body it did not read is the
// response, not a 502: the app has run the request. The connection is
// not kept, even when offered.
func TestAnswerBeforeTheWholeBodyIsTheResponse(t *testing.T) {
	sock := earlyServer(t, "HTTP/1.1 201 Created\r\nContent-Length: 5\r\n"+uwsgi.KeepAliveHeader+": 1\r\n\r\nmade\n")
	tr := keptTransport(sock)
	body := strings.Repeat("b", 4<<20) // more than the socket buffers hold
	req, _ := http.NewRequest("POST", "http://app/upload", strings.NewReader(body))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("an answer before the whole body: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(b) != "made\n" || err != nil {
		t.Errorf("got %d %q (%v), want the server's 201", resp.StatusCode, b, err)
	}
	if len(tr.idle.conns) != 0 {
		t.Errorf("a connection whose request was not sent whole was kept")
	}

	// No answer at all: the send's error, naming what failed.
	tr = keptTransport(earlyServer(t, ""))
	req, _ = http.NewRequest("POST", "http://app/upload", strings.NewReader(body))
	if resp, err := tr.RoundTrip(req); err == nil {
		resp.Body.Close()
		t.Fatalf("no answer and a broken send: got %d", resp.StatusCode)
	} else if !strings.Contains(err.Error(), "sending request body") {
		t.Errorf("error %q does not say the body could not be sent", err)
	}
}
