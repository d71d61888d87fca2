package e2e

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// Break-it tests of the edge's plain HTTP/1.1 front (edge/internal/h1),
// each a defect found by running the binary against raw sockets.

// SIGTERM under keep-alive load with clients that never retry: every
// request sent is answered (those after the signal with Connection:
// close); a client may only find the port closed when it dials again.
// Before, the edge closed idle kept-alive connections under clients that
// had just sent their next request, and a few of them were lost per
// SIGTERM (resets and EOFs with no answer), as net/http's server loses
// them.
func TestBrkH1SIGTERMUnderLoadLosesNoRequest(t *testing.T) {
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dir := writeConfig(t, `
run_dir: run
shutdown_timeout: 5s
edge:
  listen: [`+listen+`]
  locations:
    - {path: /, upstream: app}
  upstreams:
    app: {servers: ["unix:run/app.sock"]}
appserver:
  listen: unix:run/app.sock
  app: echo
`)
	p := start(t, dir, "up")
	stop := make(chan struct{})
	exited := make(chan int, 1)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		exited <- p.stop(syscall.SIGTERM)
		close(stop)
	}()
	res := load{Addr: listen, Conns: 16}.run(t, stop, 30*time.Second)
	if code := <-exited; code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	t.Logf("SIGTERM during %d requests on 16 keep-alive connections: %s", res.Total(), res)
	lost := res.Failed() - res.Failures["refused"]
	if lost != 0 || res.OK == 0 {
		t.Fatalf("%d of %d requests sent were not answered 2xx across SIGTERM, want 0: %s", lost, res.Total(), res)
	}
}
