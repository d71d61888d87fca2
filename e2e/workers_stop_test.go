package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Once the stop has begun, no worker is started. The supervisor stops the
// edge first (its drain), and the appserver's master learnt of the stop
// only when its own turn came: a worker that died meanwhile was
// respawned, to be drained a second later (and one that the stop's signal
// to the process group killed as it started was also called a crash).
// Here a request's body is still on its way while the stack stops, and a
// worker is killed during the edge's drain: it is reported, not replaced,
// and the other worker answers the request.
func TestWorkersNoRespawnOnceTheStopHasBegun(t *testing.T) {
	p, dir, addr := workersStart(t, workersConfig(""))
	pids := workersPIDs(t, dir, 2)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	// A first request on the connection: the edge holds it, and the
	// second is in flight as soon as its head has come.
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
	time.Sleep(100 * time.Millisecond)

	p.cmd.Process.Signal(syscall.SIGTERM)
	waitLog(t, p, "stopping edge", 5*time.Second)
	syscall.Kill(pids[1], syscall.SIGKILL)
	waitLog(t, p, "worker died", 5*time.Second)
	time.Sleep(300 * time.Millisecond) // a respawn comes at once (the worker was ready)
	fmt.Fprintf(c, "cdefghij")
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Errorf("the request in flight during the stop: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("no exit within 10s of SIGTERM:\n%s", p.Output())
	}
	out := p.Output()
	if p.err != nil {
		t.Errorf("exit: %v:\n%s", p.err, out)
	}
	during := out[strings.Index(out, "stopping edge"):]
	if strings.Contains(during, "worker ready") {
		t.Errorf("a worker was started during the stop:\n%s", out)
	}
	if !strings.Contains(during, `status="signal: killed"`) {
		t.Errorf("the killed worker's death is not reported:\n%s", out)
	}
}
