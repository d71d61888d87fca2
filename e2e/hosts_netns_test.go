package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/internal/pgtest"
)

// The many-hosts test, with no virtual machines: network namespaces are the
// hosts. An edge host holds a bridge (the LAN) and PostgreSQL; two app
// server hosts and the test's own end (the outside world's client) are
// plugged into it by veth pairs.
//
//	root ns (client, .100) ──veth──┐
//	app host a (.2, stack appserver) ──veth──┤ br0 (.1) in the edge host:
//	app host b (.3, stack appserver) ──veth──┘ stack edge, postgres

// hostsLAN is the namespaces and addresses of one test's network.
type hostsLAN struct {
	prefix           string // "10.77.N." of the /24
	edge, a, b       string // namespace names
	rootLink         string // the client's veth in the root namespace
	edgeIP, aIP, bIP string
	clientIP         string
}

// hostsIP runs ip(8), failing the test with its output.
func hostsIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// hostsNewLAN makes the namespaces and links; t.Cleanup removes every one
// of them, however the test ends.
func hostsNewLAN(t *testing.T) *hostsLAN {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the many-hosts test makes network namespaces: run it as root (the CI does)")
	}
	id := os.Getpid() % 100000
	n := &hostsLAN{
		prefix: fmt.Sprintf("10.77.%d.", 20+id%200), // apart from a concurrent run's
		edge:   fmt.Sprintf("stk%de", id), a: fmt.Sprintf("stk%da", id), b: fmt.Sprintf("stk%db", id),
		rootLink: fmt.Sprintf("stk%dr0", id),
	}
	n.edgeIP, n.aIP, n.bIP, n.clientIP = n.prefix+"1", n.prefix+"2", n.prefix+"3", n.prefix+"100"
	t.Cleanup(func() {
		for _, ns := range []string{n.edge, n.a, n.b} {
			exec.Command("ip", "netns", "del", ns).Run()
		}
		exec.Command("ip", "link", "del", n.rootLink).Run()
		// Namespaces are torn down asynchronously; wait for our links to go.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			out, _ := exec.Command("ip", "-o", "link", "show").Output()
			if !strings.Contains(string(out), fmt.Sprintf("stk%d", id)) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		out, _ := exec.Command("ip", "netns", "list").Output()
		if strings.Contains(string(out), fmt.Sprintf("stk%d", id)) {
			t.Errorf("namespaces left behind:\n%s", out)
		}
	})
	for _, ns := range []string{n.edge, n.a, n.b} {
		exec.Command("ip", "netns", "del", ns).Run() // a killed run's leftover of the same name
		hostsIP(t, "netns", "add", ns)
		hostsIP(t, "-n", ns, "link", "set", "lo", "up")
	}
	hostsIP(t, "-n", n.edge, "link", "add", "br0", "type", "bridge")
	hostsIP(t, "-n", n.edge, "addr", "add", n.edgeIP+"/24", "dev", "br0")
	hostsIP(t, "-n", n.edge, "link", "set", "br0", "up")
	for i, h := range []struct{ ns, ip string }{{n.a, n.aIP}, {n.b, n.bIP}} {
		port := fmt.Sprintf("p%d", i)
		hostsIP(t, "link", "add", "eth0", "netns", h.ns, "type", "veth", "peer", "name", port, "netns", n.edge)
		hostsIP(t, "-n", h.ns, "addr", "add", h.ip+"/24", "dev", "eth0")
		hostsIP(t, "-n", h.ns, "link", "set", "eth0", "up")
		hostsIP(t, "-n", n.edge, "link", "set", port, "master", "br0", "up")
	}
	exec.Command("ip", "link", "del", n.rootLink).Run() // a killed run's leftover
	hostsIP(t, "link", "add", n.rootLink, "type", "veth", "peer", "name", "client", "netns", n.edge)
	hostsIP(t, "addr", "add", n.clientIP+"/24", "dev", n.rootLink)
	hostsIP(t, "link", "set", n.rootLink, "up")
	hostsIP(t, "-n", n.edge, "link", "set", "client", "master", "br0", "up")
	return n
}

// hostsStartIn runs the stack binary in namespace ns (ip netns exec execs
// it in place, so the process is stack itself), as start does.
func hostsStartIn(t *testing.T, ns, dir string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, binary}, args...)...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	// Its own process group: "the host dies" kills the master and its
	// workers at once.
	// Pdeathsig: a test binary that dies (a timeout's panic skips
	// t.Cleanup) leaves no host process behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return startCmd(t, cmd, "stack "+strings.Join(args, " ")+" in "+ns, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
}

// hostsKillAll SIGKILLs every process in namespace ns, as if the host lost
// power, and waits until none is left.
func hostsKillAll(t *testing.T, ns string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command("ip", "netns", "pids", ns).Output()
		if err != nil {
			t.Fatalf("ip netns pids %s: %v", ns, err)
		}
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left in %s after SIGKILL: %v", ns, pids)
		}
		for _, p := range pids {
			var pid int
			fmt.Sscan(p, &pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hostsWaitListening waits until addr takes TCP connections.
func hostsWaitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening after 30s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hostsFirstSessionJar is a cookie jar that keeps the first session
// cookie it is given and ignores its updates. One goroutine uses each.
type hostsFirstSessionJar struct {
	http.CookieJar
	has bool
}

func (j *hostsFirstSessionJar) SetCookies(u *url.URL, cs []*http.Cookie) {
	var keep []*http.Cookie
	for _, c := range cs {
		if c.Name == "sessionid" {
			if j.has {
				continue
			}
			j.has = true
		}
		keep = append(keep, c)
	}
	j.CookieJar.SetCookies(u, keep)
}

// hostsCount counts the lines of out that contain every one of parts.
func hostsCount(out string, parts ...string) int {
	n := 0
lines:
	for line := range strings.Lines(out) {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue lines
			}
		}
		n++
	}
	return n
}

// hostsVotes and hostsGets count an app host's request log lines.
func hostsVotes(out string) int {
	return hostsCount(out, "appserver: request", "uri=/polls/1/vote/", "status=302")
}
func hostsGets(out string) int {
	return hostsCount(out, "appserver: request", "method=GET uri=/polls/1/ ")
}

// TestHostsEdgeTwoAppServersPostgres is issue 12 point 4: an edge balancing
// over two app server hosts by uwsgi over TCP, each with worker processes
// and an allow-list, polls on one PostgreSQL; 2,000 votes counted exactly;
// one host SIGKILLed under GET load with no failed request, and back in
// rotation once restarted.
func TestHostsEdgeTwoAppServersPostgres(t *testing.T) {
	lan := hostsNewLAN(t)
	pg := pgtest.Start(t, pgtest.Options{Host: lan.edgeIP, Port: 5432, Allow: lan.prefix + "0/24",
		Wrap: []string{"ip", "netns", "exec", lan.edge}})
	t.Logf("postgres at %s (password redacted in every log line)", strings.Replace(pg.URL, pg.Password, "…", 1))

	appConfig := func(ip string) string {
		return fmt.Sprintf(`
run_dir: run
shutdown_timeout: 5s
appserver:
  listen: %s:3031
  allow: [%s]
  app: polls
  processes: 2
  log_requests: true
apps:
  polls:
    debug: false
    secret_key: the-same-secret-on-every-app-host-0123456789
    allowed_hosts: ["*"]
    database: %s
`, ip, lan.edgeIP, pg.URL)
	}
	dirA, dirB := writeConfig(t, appConfig(lan.aIP)), writeConfig(t, appConfig(lan.bIP))
	a := hostsStartIn(t, lan.a, dirA, "appserver")
	b := hostsStartIn(t, lan.b, dirB, "appserver")
	edgeDir := writeConfig(t, fmt.Sprintf(`
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["%s:8000"]
  locations:
    - {path: /, upstream: app}
  upstreams:
    app:
      servers: ["%s:3031", "%s:3031"]
      retries: 1
      max_fails: 1
      fail_timeout: 1s
      connect_timeout: 1s
      read_timeout: 10s
`, lan.edgeIP, lan.aIP, lan.bIP))
	edge := hostsStartIn(t, lan.edge, edgeDir, "edge")
	edge.url()
	edgeAddr := lan.edgeIP + ":8000"
	hostsWaitListening(t, lan.aIP+":3031")
	hostsWaitListening(t, lan.bIP+":3031")

	// The test's client is not the edge: the app hosts refuse it.
	for _, p := range []*proc{a, b} {
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(p.Output(), "not in appserver.allow") && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if out := p.Output(); !strings.Contains(out, "not in appserver.allow") || !strings.Contains(out, lan.clientIP) {
			t.Fatalf("an app host did not refuse the client %s:\n%s", lan.clientIP, out)
		}
	}

	// 2,000 votes through the edge, from 16 browsers.
	db, err := pg.Local()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sumVotes := func() int {
		var n int
		if err := db.QueryRow(`SELECT coalesce(sum(votes), 0) FROM choice WHERE question_id = 1`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitHTTP(t, "http://"+edgeAddr+"/polls/")
	before := sumVotes()
	const browsers, each = 16, 125
	var failed atomic.Int64
	var sample atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for i := range browsers {
		wg.Go(func() {
			jar, _ := cookiejar.New(nil)
			// The browsers do not follow the vote's redirect (the results
			// page would double the requests) and keep their first session
			// cookie, which holds the CSRF secret: the updates a vote sends
			// add a flash message each, which the results page would take
			// out again.
			c := &http.Client{Jar: &hostsFirstSessionJar{CookieJar: jar}, Timeout: 10 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := c.Get("http://" + edgeAddr + "/polls/1/")
			if err != nil {
				failed.Add(each)
				sample.Store(err.Error())
				return
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			m := regexp.MustCompile(`name="csrfmiddlewaretoken" value="([^"]+)"`).FindSubmatch(page)
			if m == nil {
				failed.Add(each)
				sample.Store(fmt.Sprintf("no CSRF token: %d %s", resp.StatusCode, page))
				return
			}
			for j := range each {
				resp, err := c.PostForm("http://"+edgeAddr+"/polls/1/vote/", url.Values{"csrfmiddlewaretoken": {string(m[1])}, "choice": {fmt.Sprint(1 + (i+j)%3)}})
				if err != nil {
					failed.Add(1)
					sample.Store(err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound {
					failed.Add(1)
					sample.Store(fmt.Sprint("status ", resp.StatusCode))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	counted := sumVotes() - before
	// An app server logs a request after answering it: the last lines may
	// still be on their way.
	votesA, votesB := hostsVotes(a.Output()), hostsVotes(b.Output())
	for wait := time.Now().Add(3 * time.Second); votesA+votesB < browsers*each && time.Now().Before(wait); {
		time.Sleep(50 * time.Millisecond)
		votesA, votesB = hostsVotes(a.Output()), hostsVotes(b.Output())
	}
	t.Logf("2,000 votes in %v (%.0f/s) through the edge: host a answered %d, host b %d; PostgreSQL counted %d",
		elapsed.Round(time.Millisecond), float64(browsers*each)/elapsed.Seconds(), votesA, votesB, counted)
	if failed.Load() != 0 {
		t.Fatalf("%d votes failed, e.g. %v", failed.Load(), sample.Load())
	}
	if counted != browsers*each {
		t.Errorf("PostgreSQL counted %d votes, want %d", counted, browsers*each)
	}
	if votesA == 0 || votesB == 0 || votesA+votesB != browsers*each {
		t.Errorf("votes by host: a %d, b %d; want both > 0, summing to %d", votesA, votesB, browsers*each)
	}

	// GET load; host a's process SIGKILLed, then restarted.
	stop := make(chan struct{})
	var res *loadResult
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		res = load{Addr: edgeAddr, Conns: 8, Request: func(int, int) string {
			return "GET /polls/1/ HTTP/1.1\r\nHost: " + edgeAddr + "\r\n\r\n"
		}}.run(t, stop, 20*time.Second)
	}()
	time.Sleep(time.Second)
	killed := time.Now()
	hostsKillAll(t, lan.a) // the host dies: its master and workers at once
	<-a.done
	time.Sleep(time.Second)
	bGetsBefore := hostsGets(b.Output())
	time.Sleep(500 * time.Millisecond)
	if n := hostsGets(b.Output()); n <= bGetsBefore {
		t.Errorf("host b served no GET while host a was down (%d then %d)", bGetsBefore, n)
	}
	a2 := hostsStartIn(t, lan.a, dirA, "appserver")
	restarted := time.Now()
	deadline := time.Now().Add(15 * time.Second)
	for hostsGets(a2.Output()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	rejoined := time.Since(restarted)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-loaded
	aGets := hostsGets(a2.Output())
	t.Logf("GET load: %s over %v; host a SIGKILLed, restarted after %v, served again %v after its restart (%d GETs since)",
		res, time.Since(killed).Round(time.Millisecond), restarted.Sub(killed).Round(time.Millisecond), rejoined.Round(time.Millisecond), aGets)
	if res.Failed() != 0 || res.OK == 0 {
		t.Errorf("GET load while a host died: %s; want no failure", res)
	}
	if aGets == 0 {
		t.Errorf("host a did not rejoin the rotation within 15s of its restart")
	}
	// The edge said so: out of rotation, then back.
	server := "server=" + lan.aIP + ":3031"
	if hostsCount(edge.Output(), "upstream server marked down", server) == 0 || hostsCount(edge.Output(), "upstream server is up again", server) == 0 {
		t.Errorf("the edge did not log host a marked down and up again:\n%s", edge.Output())
	}
	for _, p := range []*proc{a2, b, edge} {
		if strings.Contains(p.Output(), pg.Password) {
			t.Errorf("the database password appears in a log:\n%s", p.Output())
		}
	}
}
