package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// In mode: subprocess a tier child that dies is started again after its
// back-off. Each child bound its sockets itself, so for the back-off and the
// child's start the edge's address refused every connection, and the
// appserver's socket did too (the edge answered 502): nginx's master holds
// the listening sockets, and a worker's restart is a delay to a client, not
// an error. `stack up` holds them now; the test SIGKILLs each child under a
// client loop that never retries and wants no refused connection, and every
// request made after the child died answered 200 once it is back.
func TestSubprocessChildRestartRefusesNothing(t *testing.T) {
	for _, tier := range []string{"edge", "appserver"} {
		t.Run(tier, func(t *testing.T) {
			dir := writeConfig(t, "mode: subprocess\n"+workersConfig(""))
			started := time.Now()
			p := start(t, dir, "up")
			u, err := url.Parse(p.url())
			if err != nil {
				t.Fatal(err)
			}
			waitFile(t, filepath.Join(dir, "run", "stats.sock"))
			pid := tierPID(t, p, tier, 0)

			stop := make(chan struct{})
			var rec restartRecord
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() { rec.loop(u.Host, stop) })
			}
			// A child that dies within its start-up (3s) stops the stack.
			time.Sleep(time.Until(started.Add(3500 * time.Millisecond)))
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			for syscall.Kill(pid, 0) == nil { // until its parent has reaped it
				time.Sleep(time.Millisecond)
			}
			died := time.Now()
			for range 3 { // the loops may all be in requests begun before
				wg.Go(func() { rec.once(u.Host) })
			}
			tierPID(t, p, tier, pid) // started again, after the back-off
			restarted := time.Now()
			time.Sleep(300 * time.Millisecond)
			close(stop)
			wg.Wait()

			var gap, after, refused, failed int
			for _, r := range rec.results {
				if r.refused {
					if refused++; refused <= 3 {
						t.Errorf("connection refused (%v after the kill): %v", r.start.Sub(died), r.err)
					}
				}
				if !r.start.After(died) {
					continue // accepted by the child that died: cut, as with nginx
				}
				after++
				if r.start.Before(restarted) {
					gap++
				}
				if r.err != nil || r.status != http.StatusOK {
					if failed++; failed <= 3 {
						t.Errorf("a request made %v after the kill: status %d, %v", r.start.Sub(died), r.status, r.err)
					}
				}
			}
			t.Logf("%d requests, %d made after the kill, %d of them while the child was down (%v); %d refused, %d made after the kill failed",
				len(rec.results), after, gap, restarted.Sub(died), refused, failed)
			if gap == 0 {
				t.Error("no request was made while the child was down")
			}
			if code := p.stop(syscall.SIGTERM); code != 0 {
				t.Errorf("exit status %d after SIGTERM", code)
			}
		})
	}
}

var processStarted = regexp.MustCompile(`msg="process started" tier=supervisor process=(\S+) pid=(\d+)`)

// tierPID waits for the supervisor's line that tier's child started with a
// pid other than not, and returns that pid.
func tierPID(t *testing.T, p *proc, tier string, not int) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, m := range processStarted.FindAllStringSubmatch(p.Output(), -1) {
			if pid, _ := strconv.Atoi(m[2]); m[1] == tier && pid != not {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s child started (other than %d):\n%s", tier, not, p.Output())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// restartResult is one request of restartRecord's loop.
type restartResult struct {
	start   time.Time
	status  int
	err     error
	refused bool
}

// restartRecord is a client loop's results: a new connection per request,
// no retry.
type restartRecord struct {
	mu      sync.Mutex
	results []restartResult
}

func (rec *restartRecord) loop(addr string, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		if rec.once(addr) != nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// once makes one request and records it.
func (rec *restartRecord) once(addr string) error {
	r := restartResult{start: time.Now()}
	r.status, r.err = getOnce(addr)
	r.refused = errors.Is(r.err, syscall.ECONNREFUSED)
	rec.mu.Lock()
	rec.results = append(rec.results, r)
	rec.mu.Unlock()
	return r.err
}

// getOnce makes one GET / on a connection of its own.
func getOnce(addr string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// A reload's new edge address is the edge child's own until the child's
// next start, and stack up's from then on: a later crash of the child
// leaves it queueing, not refusing. One the reload removes refuses at once:
// stack up closes its copy as the child closes its own.
func TestSubprocessReloadedAddressIsHeldFromTheNextStart(t *testing.T) {
	a := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	b := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dir := writeConfig(t, "mode: subprocess\n"+edgeReloadConfig(a, b, false))
	if err := os.MkdirAll(filepath.Join(dir, "site"), 0o755); err != nil { // the reload's static root
		t.Fatal(err)
	}
	started := time.Now()
	p := start(t, dir, "up")
	p.url()
	edgeReload(t, p, "mode: subprocess\n"+edgeReloadConfig(a, b, true), `msg="edge: listening"`)
	if status, err := getOnce(b); status != 200 {
		t.Fatalf("the reload's new address: %d, %v", status, err)
	}

	// Its first restart gives stack up the new address; during its second,
	// connections to it wait.
	time.Sleep(time.Until(started.Add(3500 * time.Millisecond))) // past the child's start-up
	pid := 0
	for range 2 {
		pid = tierPID(t, p, "edge", pid)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for syscall.Kill(pid, 0) == nil {
			time.Sleep(time.Millisecond)
		}
	}
	var during sync.WaitGroup // both at once: the first waits for the restart
	for _, addr := range []string{a, b} {
		during.Go(func() {
			if status, err := getOnce(addr); status != 200 {
				t.Errorf("%s during the edge child's second restart: %d, %v", addr, status, err)
			}
		})
	}
	during.Wait()

	edgeReload(t, p, "mode: subprocess\n"+edgeReloadConfig(b, "", false), `msg="edge: stopped listening"`)
	if _, err := getOnce(a); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("the address the reload removed: %v, want it refused", err)
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
}
