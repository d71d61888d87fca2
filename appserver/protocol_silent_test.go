package appserver_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/edge/upstream"
)

// With every protocol, peers that connected and sent nothing do not hold
// a graceful stop: net/http's Shutdown waited 5s for them (http), the
// FastCGI drain a second, the uwsgi server socket_timeout. A request in
// progress at the stop is still answered.
func TestProtocolShutdownClosesSilentConnections(t *testing.T) {
	for _, proto := range []string{"uwsgi", "fastcgi", "http"} {
		t.Run(proto, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "app.sock")
			l, err := appserver.Listen("unix:"+sock, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			started := make(chan struct{})
			s := appserver.NewService(appserver.Config{Protocol: proto, SocketTimeout: 4 * time.Second},
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					close(started)
					time.Sleep(300 * time.Millisecond)
					io.WriteString(w, "finished")
				}), slog.New(slog.DiscardHandler), appserver.Hooks{})
			done := make(chan error, 1)
			go func() { done <- s.Serve(l) }()
			var quiet []net.Conn
			for range 3 {
				c, err := net.Dial("unix", sock)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				quiet = append(quiet, c)
			}
			up := upstream.Default()
			up.Protocol, up.Servers, up.Retries = proto, []string{"unix:" + sock}, 0
			rt, err := upstream.New("app", up, nil)
			if err != nil {
				t.Fatal(err)
			}
			answered := make(chan string, 1)
			go func() {
				_, body := get(t, rt, "/slow")
				answered <- body
			}()
			<-started
			appserver.ShutdownWithinASecond(t, s, len(quiet))
			if body := <-answered; body != "finished" {
				t.Errorf("the request in progress at the stop got %q", body)
			}
			if err := <-done; err != appserver.ErrServerClosed {
				t.Errorf("Serve: %v", err)
			}
			for i, c := range quiet {
				c.SetReadDeadline(time.Now().Add(time.Second))
				if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || os.IsTimeout(err) {
					t.Errorf("silent connection %d: read %d, %v; want it closed", i, n, err)
				}
			}
		})
	}
}
