package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// brkStaticConfig serves root at /static/ with a short send_timeout, and
// echo elsewhere.
func brkStaticConfig(root string, extra string) string {
	return `
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["127.0.0.1:0"]
  send_timeout: 2s
  locations:
    - {path: /static/, root: ` + root + `}
    - {path: /, upstream: app}
  upstreams:
    app: {servers: ["unix:run/app.sock"]}
appserver:
  listen: unix:run/app.sock
  app: echo
` + extra
}

// brkRaw sends raw on c and reads one response.
func brkRaw(t *testing.T, c net.Conn, br *bufio.Reader, raw, method string) (*http.Response, string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("writing %q: %v", raw[:min(len(raw), 60)], err)
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	for err == nil && resp.StatusCode < 200 { // 100 Continue
		resp, err = http.ReadResponse(br, &http.Request{Method: method})
	}
	if err != nil {
		t.Fatalf("after %q: %v", raw[:min(len(raw), 60)], err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("body after %q: %v", raw[:min(len(raw), 60)], err)
	}
	return resp, string(b)
}

// After each odd request, the next one (a GET that the edge sends on a
// kept upstream connection) gets its own answer: echo's JSON names its path.
func TestBrkSpeedNoDesyncOnKeptConnections(t *testing.T) {
	dir := writeConfig(t, brkStaticConfig(t.TempDir(), ""))
	p := start(t, dir, "up")
	addr := strings.TrimSuffix(strings.TrimPrefix(p.url(), "http://"), "/")
	big := strings.Repeat("x", 2<<20)
	attacks := []struct{ name, raw, method string }{
		{"head", "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD"},
		{"204", "GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n", "GET"},
		{"304", "GET /status/304 HTTP/1.1\r\nHost: x\r\n\r\n", "GET"},
		{"head204", "HEAD /status/204 HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD"},
		{"headstream", "HEAD /stream/200 HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD"},
		{"stream", "GET /stream/50 HTTP/1.1\r\nHost: x\r\n\r\n", "GET"},
		{"unread-small", "POST /status/200 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "POST"},
		{"unread-big", "POST /status/200 HTTP/1.1\r\nHost: x\r\nContent-Length: " + fmt.Sprint(len(big)) + "\r\n\r\n" + big, "POST"},
		{"unread-get-body", "GET /status/200 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "GET"},
		{"expect", "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello", "POST"},
		{"chunked", "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "POST"},
		{"options", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", "OPTIONS"},
		{"options-path", "OPTIONS /o HTTP/1.1\r\nHost: x\r\n\r\n", "OPTIONS"},
		{"get-body", "GET /gb HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", "GET"},
		{"head-body", "HEAD /hb HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", "HEAD"},
		{"500", "GET /status/500 HTTP/1.1\r\nHost: x\r\n\r\n", "GET"},
		{"bad-status", "GET /status/abc HTTP/1.1\r\nHost: x\r\n\r\n", "GET"},
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for round := range 3 {
		for i, a := range attacks {
			resp, body := brkRaw(t, c, br, a.raw, a.method)
			if resp.Close {
				c.Close()
				c, _ = net.Dial("tcp", addr)
				br = bufio.NewReader(c)
			}
			for k := range 3 {
				path := fmt.Sprintf("/next/%d/%d/%s/%d", round, i, a.name, k)
				resp2, body2 := brkRaw(t, c, br, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
				if resp2.StatusCode != 200 || !strings.Contains(body2, `"path": "`+path+`"`) {
					t.Fatalf("after %s (%d, %d bytes): GET %s got %d %q", a.name, resp.StatusCode, len(body), path, resp2.StatusCode, body2[:min(len(body2), 200)])
				}
			}
		}
	}
	if strings.Contains(p.Output(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", p.Output())
	}
}

// brkChaosConfig: subprocess mode, two workers recycled every 50 requests,
// a 1s harakiri, each request logged by the app server.
func brkChaosConfig() string {
	return `
run_dir: run
mode: subprocess
shutdown_timeout: 5s
edge:
  listen: ["127.0.0.1:0"]
  locations:
    - {path: /, upstream: app}
  upstreams:
    app: {servers: ["unix:run/app.sock"]}
appserver:
  listen: unix:run/app.sock
  app: echo
  processes: 2
  max_requests: 50
  harakiri: 1s
  log_requests: true
  stats: unix:run/stats.sock
`
}

func brkFDs(pid int) int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents)
}

// GETs and POSTs under SIGHUP, SIGKILLed workers, recycling and harakiri:
// no GET fails, no POST runs twice.
func TestBrkSpeedChaos(t *testing.T) {
	p, dir, addr := brkStart(t, brkChaosConfig())
	stop := make(chan struct{})
	gets := make(chan *loadResult)
	go func() { gets <- load{Addr: addr, Conns: 8, Timeout: 5 * time.Second}.run(t, stop, 12*time.Second) }()
	posts := make(chan *loadResult)
	post := func(c, i int) string {
		return fmt.Sprintf("POST /post/%d/%d HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", c, i)
	}
	go func() {
		posts <- load{Addr: addr, Conns: 2, Request: post, Timeout: 5 * time.Second}.run(t, stop, 12*time.Second)
	}()
	slow := make(chan *loadResult)
	go func() {
		slow <- load{Addr: addr, Conns: 1, Timeout: 5 * time.Second, Request: func(c, i int) string {
			return "GET /delay/2 HTTP/1.1\r\nHost: x\r\n\r\n"
		}}.run(t, stop, 12*time.Second)
	}()
	for i := range 4 {
		time.Sleep(time.Second)
		if i%2 == 0 {
			p.cmd.Process.Signal(syscall.SIGHUP)
		} else {
			for _, pid := range workersPIDs(t, dir, 2) {
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
		}
	}
	time.Sleep(2 * time.Second)
	close(stop)
	g, ps, sl := <-gets, <-posts, <-slow
	t.Logf("GETs: %s\nPOSTs: %s\nslow: %s", g, ps, sl)
	out := p.Output()
	seen := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "uri=/post/"); i >= 0 && strings.Contains(line, "status=") {
			uri := strings.Fields(line[i:])[0]
			seen[uri]++
		}
	}
	dups := 0
	for uri, n := range seen {
		if n > 1 {
			dups++
			t.Errorf("%s ran %d times", uri, n)
		}
	}
	t.Logf("%d POSTs logged by the app server, %d twice; %d recycles, %d harakiri", len(seen), dups,
		strings.Count(out, "worker replaced"), strings.Count(out, "harakiri: request ran too long"))
	if n := g.Failed(); n != 0 {
		t.Errorf("%d GETs failed: %s", n, g)
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// brkChildren returns the pids of pid's children with their command lines.
func brkChildren(pid int) map[int]string {
	out := map[int]string{}
	var all []string
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		all = append(all, strings.Fields(string(b))...)
	}
	for _, f := range all {
		var c int
		fmt.Sscan(f, &c)
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c))
		out[c] = strings.ReplaceAll(string(cmd), "\x00", " ")
	}
	return out
}

// brkStart is workersStart for mode: subprocess, whose stats socket comes
// a moment after the edge announces itself.
func brkStart(t *testing.T, cfg string) (*proc, string, string) {
	t.Helper()
	dir := writeConfig(t, cfg)
	p := start(t, dir, "up")
	addr := strings.TrimSuffix(strings.TrimPrefix(p.url(), "http://"), "/")
	// The socket's file appears at its bind, a moment before its listen:
	// wait until it takes a connection.
	stats := filepath.Join(dir, "run", "stats.sock")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", stats); err == nil {
			c.Close()
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("stats socket: %v", err)
		}
	}
	workersPIDs(t, dir, 2)
	return p, dir, addr
}

// Descriptors: after load and edge reloads (each retiring a pool of kept
// connections), the edge holds at most its pool (keepalive 64) beyond what
// it held idle, and so do the workers together; a SIGTERM with the pool
// full stops at once.
func TestBrkSpeedFDsAndIdleShutdown(t *testing.T) {
	cfg := strings.Replace(brkChaosConfig(), "  max_requests: 50\n", "", 1)
	p, dir, addr := brkStart(t, cfg)
	var edgePID int
	for pid, cmd := range brkChildren(p.cmd.Process.Pid) {
		if strings.Contains(cmd, " edge") {
			edgePID = pid
		}
	}
	if edgePID <= 0 {
		t.Fatalf("edge not found: %v", brkChildren(p.cmd.Process.Pid))
	}
	workers := workersPIDs(t, dir, 2)
	count := func() (edge, inWorkers int) {
		for _, pid := range workers {
			inWorkers += brkFDs(pid)
		}
		return brkFDs(edgePID), inWorkers
	}
	edge0, workers0 := count()
	res := load{Addr: addr, Conns: 100}.run(t, nil, time.Second)
	e, w := count()
	t.Logf("fds idle: edge %d, workers %d; after load (%s): edge %d, workers %d", edge0, workers0, res, e, w)
	for range 2 {
		syscall.Kill(edgePID, syscall.SIGHUP)
		time.Sleep(300 * time.Millisecond)
		res = load{Addr: addr, Conns: 100}.run(t, nil, 500*time.Millisecond)
		e, w = count()
		t.Logf("after an edge SIGHUP and load (%s): edge %d, workers %d", res, e, w)
	}
	time.Sleep(time.Second) // the clients' connections close
	e, w = count()
	t.Logf("a second later: edge %d, workers %d", e, w)
	if e > edge0+64+4 || w > workers0+64+4 {
		t.Errorf("descriptors leak: edge %d (idle %d), workers %d (idle %d), with 64 kept", e, edge0, w, workers0)
	}
	t0 := time.Now()
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
	t.Logf("SIGTERM with a full pool of kept connections: stopped in %v", time.Since(t0))
	// A race-detector build sleeps a second as each process exits.
	if d := time.Since(t0); d > 5*time.Second && !raceEnabled {
		t.Errorf("stopping took %v, past shutdown_timeout", d)
	}
}

// `stack edge` and `stack appserver` as separate processes over TCP: the
// app server restarts under keep-alive GET load; once the new one
// answers, no GET fails (the edge's kept connections to the old one are
// found closed and the requests sent again), and odd requests do not
// desynchronise the kept TCP connections.
func TestBrkSpeedSeparateTiersOverTCP(t *testing.T) {
	port := freePort(t)
	dir := writeConfig(t, fmt.Sprintf(`
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["127.0.0.1:0"]
  locations:
    - {path: /, upstream: app}
  upstreams:
    app: {servers: ["127.0.0.1:%d"]}
appserver:
  listen: 127.0.0.1:%d
  app: echo
`, port, port))
	app := start(t, dir, "appserver")
	e := start(t, dir, "edge")
	addr := strings.TrimSuffix(strings.TrimPrefix(e.url(), "http://"), "/")
	waitHTTP(t, "http://"+addr+"/")
	res := load{Addr: addr, Conns: 16, Timeout: 5 * time.Second}.run(t, nil, time.Second)
	t.Logf("before the restart: %s", res)
	if code := app.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("appserver exit %d", code)
	}
	app = start(t, dir, "appserver")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := interplayGet(addr, "/"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 200 within 10s of the restart:\n%s", app.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	res2 := load{Addr: addr, Conns: 16, Timeout: 5 * time.Second}.run(t, nil, time.Second)
	t.Logf("after the restart: %s", res2)
	if res.Failed() != 0 || res2.Failed() != 0 {
		t.Errorf("failed GETs: before %s; after %s", res, res2)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i, a := range []struct{ raw, method string }{
		{"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD"},
		{"GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n", "GET"},
		{"GET /stream/30 HTTP/1.1\r\nHost: x\r\n\r\n", "GET"},
		{"POST /status/200 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "POST"},
		{"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "POST"},
	} {
		brkRaw(t, c, br, a.raw, a.method)
		path := fmt.Sprintf("/next/%d", i)
		resp, body := brkRaw(t, c, br, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
		if resp.StatusCode != 200 || !strings.Contains(body, `"path": "`+path+`"`) {
			t.Errorf("after %q: GET %s got %d %q", a.raw[:20], path, resp.StatusCode, body[:min(len(body), 120)])
		}
	}
}

func brkRSS(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int
			fmt.Sscan(v, &kb)
			return kb
		}
	}
	return 0
}

// A cached small file that becomes a FIFO, a link out of the root, or
// goes away is answered as on disk within the cache's second; missing
// files do not grow the edge.
func TestBrkSpeedStaticCacheFollowsTheDisk(t *testing.T) {
	top := t.TempDir()
	root := filepath.Join(top, "root")
	os.MkdirAll(root, 0o755)
	os.WriteFile(filepath.Join(top, "secret.txt"), []byte("SECRET"), 0o644)
	for _, n := range []string{"fifo.txt", "link.txt", "gone.txt", "r.txt"} {
		os.WriteFile(filepath.Join(root, n), []byte("cached "+n), 0o644)
	}
	dir := writeConfig(t, brkStaticConfig(root, ""))
	p := start(t, dir, "up")
	addr := strings.TrimSuffix(strings.TrimPrefix(p.url(), "http://"), "/")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	getStatic := func(name string, hdr string) (int, string) {
		resp, body := brkRaw(t, c, br, "GET /static/"+name+" HTTP/1.1\r\nHost: x\r\n"+hdr+"\r\n", "GET")
		return resp.StatusCode, body
	}
	for _, n := range []string{"fifo.txt", "link.txt", "gone.txt", "r.txt"} {
		if code, body := getStatic(n, ""); code != 200 || body != "cached "+n {
			t.Fatalf("%s: %d %q", n, code, body)
		}
	}
	if code, body := getStatic("r.txt", "Range: bytes=1-3\r\n"); code != 206 || body != "ach" {
		t.Errorf("range on a cached file: %d %q", code, body)
	}
	os.Remove(filepath.Join(root, "fifo.txt"))
	syscall.Mkfifo(filepath.Join(root, "fifo.txt"), 0o644)
	os.Remove(filepath.Join(root, "link.txt"))
	os.Symlink(filepath.Join(top, "secret.txt"), filepath.Join(root, "link.txt"))
	os.Remove(filepath.Join(root, "gone.txt"))
	time.Sleep(1100 * time.Millisecond)
	for n, want := range map[string]int{"fifo.txt": 403, "gone.txt": 404} {
		if code, body := getStatic(n, ""); code != want {
			t.Errorf("%s: %d %q, want %d", n, code, body, want)
		}
	}
	if code, body := getStatic("link.txt", ""); code == 200 || strings.Contains(body, "SECRET") {
		t.Errorf("a link out of the root: %d %q", code, body)
	}
	var edgePID int
	for pid := range brkChildren(p.cmd.Process.Pid) {
		edgePID = pid
	}
	if edgePID == 0 {
		edgePID = p.cmd.Process.Pid
	}
	before := brkRSS(edgePID)
	for i := range 2 {
		res := load{Addr: addr, Conns: 8, Request: func(c, j int) string {
			return fmt.Sprintf("GET /static/missing-%d-%d-%d.css HTTP/1.1\r\nHost: x\r\n\r\n", i, c, j)
		}}.run(t, nil, 500*time.Millisecond)
		t.Logf("missing files, round %d: %s; RSS %d KiB (before %d KiB)", i, res, brkRSS(edgePID), before)
	}
}

// A body the handler never reads, small and over the app server's 1 MiB
// drain, with and without Expect: 100-continue: each POST gets the app's
// answer (once), and the next GET on the same client connection its own.
func TestBrkSpeedUnreadBodies(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) { brkUnreadBodies(t, network) })
	}
}

func brkUnreadBodies(t *testing.T, network string) {
	cfg := strings.Replace(brkStaticConfig(t.TempDir(), "  log_requests: true\n"), "  send_timeout: 2s\n", "  send_timeout: 2s\n  client_max_body_size: 8MiB\n", 1)
	if network == "tcp" {
		port := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg = strings.NewReplacer(`"unix:run/app.sock"`, `"`+port+`"`, "listen: unix:run/app.sock", "listen: "+port).Replace(cfg)
	}
	dir := writeConfig(t, cfg)
	p := start(t, dir, "up")
	addr := strings.TrimSuffix(strings.TrimPrefix(p.url(), "http://"), "/")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i, size := range []int{5, 900 << 10, 3 << 20, 6 << 20} {
		for _, expect := range []string{"", "Expect: 100-continue\r\n"} {
			path := fmt.Sprintf("/status/201?i=%d&expect=%t", i, expect != "")
			raw := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n%s", path, size, expect, strings.Repeat("b", size))
			resp, body := brkRaw(t, c, br, raw, "POST")
			if resp.StatusCode != 201 {
				t.Errorf("POST of %d unread bytes (%q): %d %q", size, expect, resp.StatusCode, body)
			}
			if resp.Close {
				c.Close()
				c, _ = net.Dial("tcp", addr)
				br = bufio.NewReader(c)
			}
			next := fmt.Sprintf("/next/%d/%t", i, expect != "")
			resp, body = brkRaw(t, c, br, "GET "+next+" HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
			if resp.StatusCode != 200 || !strings.Contains(body, `"path": "`+next+`"`) {
				t.Errorf("after %d unread bytes: GET %s got %d %q", size, next, resp.StatusCode, body[:min(len(body), 120)])
			}
		}
	}
	// Each request's log line is written once its answer has gone out, so
	// the last ones may still be on their way when the client has read
	// them: wait for them (a POST run twice would still count 9).
	count := func() int { return strings.Count(p.Output(), "uri=\"/status/201") }
	for deadline := time.Now().Add(5 * time.Second); count() < 8 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := count(); n != 8 {
		t.Errorf("the app ran %d POSTs, want 8:\n%s", n, p.Output())
	}
}

// Large files, whole and in ranges (sent with sendfile in pieces), arrive
// byte for byte.
func TestBrkSpeedLargeFileRanges(t *testing.T) {
	root := t.TempDir()
	data := make([]byte, 3<<20+12345)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	os.WriteFile(filepath.Join(root, "big.bin"), data, 0o644)
	dir := writeConfig(t, brkStaticConfig(root, ""))
	p := start(t, dir, "up")
	addr := strings.TrimSuffix(strings.TrimPrefix(p.url(), "http://"), "/")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for _, r := range [][2]int{{0, len(data) - 1}, {1, 200000}, {131071, 131073 + 300000}, {65537, len(data) - 1}, {len(data) - 70000, len(data) - 1}} {
		resp, body := brkRaw(t, c, br, fmt.Sprintf("GET /static/big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=%d-%d\r\n\r\n", r[0], r[1]), "GET")
		if resp.StatusCode != 206 || body != string(data[r[0]:r[1]+1]) {
			t.Errorf("range %v: %d, %d bytes, want %d", r, resp.StatusCode, len(body), r[1]-r[0]+1)
		}
	}
	resp, body := brkRaw(t, c, br, "GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
	if resp.StatusCode != 200 || body != string(data) {
		t.Errorf("whole: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = brkRaw(t, c, br, "GET /static/big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9,200000-400000\r\n\r\n", "GET")
	if resp.StatusCode != 206 || !strings.Contains(body, string(data[200000:400001])) {
		t.Errorf("two ranges: %d, %d bytes", resp.StatusCode, len(body))
	}
}
