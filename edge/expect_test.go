package edge_test

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/edge"
)

// A client that sends "Expect: 100-continue" waits for 100 or for the
// answer before sending its body. An answer given without reading the body
// (405 from a static location, 404 with no location, 400 for a bad path)
// was never sent: net/http tried to read the body the edge had wrapped,
// and the client waited for a 100 that could no longer come.
func TestEarlyAnswerReachesAnExpectContinueClient(t *testing.T) {
	root := t.TempDir()
	cfg := edge.DefaultConfig()
	cfg.Locations = []edge.LocationConfig{{Path: "/static/", Root: root}}
	base := startEdge(t, cfg)
	for _, c := range []struct {
		path string
		cl   int
		want int
	}{
		{"/static/a.txt", 1000, 405},
		{"/static/a.txt", 500 << 10, 405},
		{"/elsewhere", 1000, 404},
		{"/elsewhere", 500 << 10, 404},
		{"/static/%2e%2e/%2e%2e/x", 1000, 400},
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		conn.Write([]byte("POST " + c.path + " HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: " + strconv.Itoa(c.cl) + "\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		conn.Close()
		if err != nil {
			t.Errorf("POST %s (%d bytes announced): no answer: %v", c.path, c.cl, err)
			continue
		}
		if resp.StatusCode != c.want {
			t.Errorf("POST %s: status %d, want %d", c.path, resp.StatusCode, c.want)
		}
	}
}
