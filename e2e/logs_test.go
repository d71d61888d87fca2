package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// With log_format: json and the edge's JSON access log, `stack up` in
// subprocess mode (each tier a child, the app server with a worker
// process) writes one JSON object per line for every record, unprefixed
// and uncoloured (stderr is not a terminal), and the request id of each
// access-log line is on the app server's line for the same request. The
// parent puts each child's name in its records ("child": "edge").
func TestLogsJSONAndRequestIDAcrossTiers(t *testing.T) {
	port := freePort(t)
	dir := writeConfig(t, fmt.Sprintf(`
mode: subprocess
log_format: json
edge:
  listen: ["127.0.0.1:%d"]
  access_log: stderr
  access_log_format: json
appserver:
  app: echo
  processes: 1
  log_requests: true
`, port))
	p := configStart(t, dir, opsFastExit, "up")
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stack did not answer: %v\n%s", err, p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	const n = 5
	for i := range n {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/req/%d", url, i), nil)
		req.Header.Set("X-Request-Id", "forged") // not a trusted proxy: replaced
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	time.Sleep(300 * time.Millisecond) // the last lines cross two pipes
	if code := p.stopWith(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.output())
	}
	out := p.output()
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour escapes in output that is not a terminal:\n%q", out)
	}
	access := map[string]string{} // uri → request id
	app := map[string]string{}
	records := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "{") {
			// The parent's announcement and the children's, plain text.
			if !strings.HasPrefix(line, "stack: ") && !strings.HasPrefix(line, "[edge] stack: ") && !strings.HasPrefix(line, "[appserver] stack: ") {
				t.Errorf("a line that is neither JSON nor an announcement: %q", line)
			}
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("a JSON line does not parse: %v: %q", err, line)
			continue
		}
		records++
		uri, _ := rec["uri"].(string)
		id, _ := rec["request_id"].(string)
		if !strings.HasPrefix(uri, "/req/") {
			continue
		}
		// Each child's records are named by the child.
		if _, isAccess := rec["upstream_time"]; isAccess {
			access[uri] = id
			if rec["child"] != "edge" {
				t.Errorf("an access-log record not named by its child edge: %q", line)
			}
		} else if rec["msg"] == "appserver: request" {
			app[uri] = id
			if rec["child"] != "appserver" {
				t.Errorf("an app server record not named by its child appserver: %q", line)
			}
		}
	}
	if records < 2*n {
		t.Errorf("%d JSON records, want at least %d", records, 2*n)
	}
	for i := range n {
		uri := fmt.Sprintf("/req/%d", i)
		if access[uri] == "" || access[uri] == "forged" || access[uri] != app[uri] {
			t.Errorf("%s: access log id %q, app server id %q:\n%s", uri, access[uri], app[uri], out)
		}
	}
}

// On a terminal, the children's prefixes are coloured, each tier its own.
func TestLogsPrefixesAreColouredOnATerminal(t *testing.T) {
	master, slave := opsOpenPTY(t)
	port := freePort(t)
	dir := writeConfig(t, fmt.Sprintf("mode: subprocess\nedge:\n  listen: [\"127.0.0.1:%d\"]\nappserver:\n  app: hello\n", port))
	cmd := exec.Command(binary, "up")
	cmd.Dir, cmd.Env = dir, append(append(cleanEnv(), "NO_COLOR="), opsFastExit...)
	cmd.Stdout, cmd.Stderr = slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	output, done := readPTY(master)
	want := []string{"\x1b[36m[edge]\x1b[0m stack: edge listening", "\x1b[33m[appserver]\x1b[0m stack: appserver serving hello"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := output()
		if strings.Contains(got, want[0]) && strings.Contains(got, want[1]) {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no coloured prefixes on the terminal:\n%q", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
	master.Close()
	<-done
}

// readPTY reads what is written to master's terminal until a read fails
// (master closed, or no slave left open): output returns it so far, and
// done is closed at the end.
func readPTY(master *os.File) (output func() string, done <-chan struct{}) {
	var mu sync.Mutex
	var out []byte
	end := make(chan struct{})
	go func() {
		defer close(end)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			out = append(out, buf[:n]...)
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return string(out)
	}, end
}

// opsOpenPTY opens a pseudo-terminal pair, as a terminal's.
func opsOpenPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	var n, unlock uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatal(e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}
