package prefork

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// A stats reader that sends something first (curl's request line, garbage)
// still gets the whole document, over TCP and a Unix socket; readers that
// never read do not hold the others back.
func TestStatsReaderThatSendsGetsTheDocument(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "unix:" + filepath.Join(t.TempDir(), "stats.sock")} {
		m := &Master{}
		m.init()
		s, err := listenStats(addr, m)
		if err != nil {
			t.Fatal(err)
		}
		network, where := "tcp", s.l.Addr().String()
		if s.path != "" {
			network = "unix"
		}
		var idle []net.Conn
		for range 32 {
			c, err := net.Dial(network, where)
			if err != nil {
				t.Fatal(err)
			}
			idle = append(idle, c) // never read
		}
		for _, sent := range [][]byte{[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), bytes.Repeat([]byte{0, 0xff}, 50000)} {
			c, err := net.Dial(network, where)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(3 * time.Second))
			go c.Write(sent)
			b, err := io.ReadAll(c)
			c.Close()
			var doc map[string]any
			if err != nil || json.Unmarshal(b, &doc) != nil || doc["workers"] == nil {
				t.Errorf("%s: a reader that sent %d bytes got %d bytes, err %v: want the whole document", network, len(sent), len(b), err)
			}
		}
		for _, c := range idle {
			c.Close()
		}
		s.Close()
	}
}
