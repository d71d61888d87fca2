package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The interop tests run the real peers: Debian's nginx in front of `stack
// appserver`, and `stack edge` in front of Debian's uWSGI. The test command
// (see README) installs them; a machine without them fails these tests
// rather than skipping them, so a green run always means they ran.

func need(t *testing.T, prog string) string {
	t.Helper()
	path, err := exec.LookPath(prog)
	if err != nil {
		t.Fatalf("%s is not installed; run the README's test command (.ci/run), which installs nginx, uwsgi and uwsgi-plugin-python3", prog)
	}
	return path
}

// daemon runs a peer and kills it (its whole process group) when the test
// ends.
func daemon(t *testing.T, dir string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	log, err := os.Create(filepath.Join(dir, filepath.Base(name)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("%s output:\n%s", name, b)
		}
	})
	return cmd
}

// echoed is the JSON the echo app answers with.
type echoed struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	RawPath    string              `json:"raw_path"`
	Query      string              `json:"query"`
	Headers    map[string][]string `json:"headers"`
	Host       string              `json:"host"`
	Scheme     string              `json:"scheme"`
	RemoteAddr string              `json:"remote_addr"`
	BodyLength int64               `json:"body_length"`
	BodySHA256 string              `json:"body_sha256"`
}

func TestNginxInFrontOfStackAppserver(t *testing.T) { nginxInFrontOfStackAppserver(t, 0) }

// With worker processes (issue 7), nginx sees the same appserver.
func TestNginxInFrontOfStackAppserverWorkers(t *testing.T) { nginxInFrontOfStackAppserver(t, 2) }

func nginxInFrontOfStackAppserver(t *testing.T, processes int) {
	nginx := need(t, "nginx")
	dir := writeConfig(t, fmt.Sprintf(`
run_dir: run
appserver:
  listen: unix:run/app.sock
  socket_mode: "0666"
  app: echo
  processes: %d
`, processes))
	app := start(t, dir, "appserver")
	sock := filepath.Join(dir, "run", "app.sock")
	waitFile(t, sock)

	base := nginxFront(t, nginx, dir, `
        client_max_body_size 4m;
        location / {
            include /etc/nginx/uwsgi_params;
            uwsgi_pass unix:`+sock+`;
        }`)

	checkEchoBehindNginx(t, base, true)

	if strings.Contains(app.Output(), "bad packet") {
		t.Errorf("the appserver rejected a packet from nginx:\n%s", app.Output())
	}
}

// checkEchoBehindNginx runs the checks every protocol from nginx to
// `stack appserver` (echo) must pass: the request line, repeated headers,
// a 1 MiB and a chunked body, HEAD (with its Content-Length when
// headLength), status codes and a stream arriving line by line.
func checkEchoBehindNginx(t *testing.T, base string, headLength bool) {
	t.Run("method, escaped path, query, repeated headers", func(t *testing.T) {
		req, _ := http.NewRequest("DELETE", base+"/a%20b/%E4%B8%96?x=1&y=%2F&x=2", nil)
		req.Header.Add("X-Multi", "one")
		req.Header.Add("X-Multi", "two")
		req.Header.Set("User-Agent", "interop")
		e := doEcho(t, req)
		if e.Method != "DELETE" || e.Path != "/a b/世" || e.RawPath != "/a%20b/%E4%B8%96" || e.Query != "x=1&y=%2F&x=2" {
			t.Errorf("request line as seen: %+v", e)
		}
		// nginx 1.22 sends repeated lines as repeated variables, later
		// versions join them: either way the app sees both, in order.
		if got := strings.Join(e.Headers["X-Multi"], ", "); got != "one, two" {
			t.Errorf("repeated header = %q, want one, two", e.Headers["X-Multi"])
		}
		if got := strings.Join(e.Headers["User-Agent"], "|"); got != "interop" {
			t.Errorf("User-Agent %q", got)
		}
		if !strings.HasPrefix(e.Host, "127.0.0.1") {
			t.Errorf("host %q", e.Host)
		}
		if e.Scheme != "http" || !strings.HasPrefix(e.RemoteAddr, "127.0.0.1:") {
			t.Errorf("scheme %q remote %q", e.Scheme, e.RemoteAddr)
		}
	})

	t.Run("1 MiB body", func(t *testing.T) {
		body := strings.Repeat("0123456789abcdef", 65536)
		sum := sha256.Sum256([]byte(body))
		req, _ := http.NewRequest("POST", base+"/upload", strings.NewReader(body))
		e := doEcho(t, req)
		if e.BodyLength != int64(len(body)) || e.BodySHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("body %d bytes sha %s, want %d %x", e.BodyLength, e.BodySHA256, len(body), sum)
		}
	})

	t.Run("chunked body reaches the app with its length", func(t *testing.T) {
		body := strings.Repeat("z", 100000)
		req, _ := http.NewRequest("PUT", base+"/chunked", io.MultiReader(strings.NewReader(body)))
		req.ContentLength = -1
		e := doEcho(t, req)
		if e.BodyLength != int64(len(body)) {
			t.Errorf("body %d bytes, want %d", e.BodyLength, len(body))
		}
	})

	t.Run("HEAD", func(t *testing.T) {
		resp, err := http.Head(base + "/head")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) != 0 || headLength && resp.ContentLength <= 0 {
			t.Errorf("HEAD: %d, %d body bytes, Content-Length %d", resp.StatusCode, len(b), resp.ContentLength)
		}
	})

	t.Run("status codes pass through", func(t *testing.T) {
		for _, code := range []int{201, 404, 418, 503} {
			resp, err := http.Get(fmt.Sprintf("%s/status/%d", base, code))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != code {
				t.Errorf("/status/%d → %d", code, resp.StatusCode)
			}
		}
	})

	t.Run("stream arrives line by line", func(t *testing.T) {
		checkStream(t, base+"/stream/5?interval=0.2", 5, 200*time.Millisecond)
	})
}

// nginxFront starts Debian's nginx (one process, its files under dir) with
// one server on a free port whose body is server, waits until it answers
// and returns its base URL, http://127.0.0.1:PORT.
func nginxFront(t *testing.T, nginx, dir, server string) string {
	t.Helper()
	port := freePort(t)
	os.MkdirAll(filepath.Join(dir, "nginx"), 0o755)
	conf := fmt.Sprintf(`
daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log info;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/nginx/body;
    uwsgi_temp_path %[1]s/nginx/uwsgi;
    proxy_temp_path %[1]s/nginx/proxy;
    fastcgi_temp_path %[1]s/nginx/fastcgi;
    scgi_temp_path %[1]s/nginx/scgi;
    server {
        listen 127.0.0.1:%[2]d;
%[3]s
    }
}
`, dir, port, server)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644)
	daemon(t, dir, nginx, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "nginx-error.log"))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, base+"/")
	return base
}

func doEcho(t *testing.T, req *http.Request) echoed {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e echoed
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return e
}

// checkStream reads n lines from url and checks that they arrived spread
// out, as written, not all at the end.
func checkStream(t *testing.T, url string, n int, interval time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	var at []time.Duration
	for i := 0; i < n; i++ {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if !strings.HasPrefix(line, "{") {
			t.Fatalf("line %d = %q", i, line)
		}
		at = append(at, time.Since(start))
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Errorf("after %d lines: %q", n, rest)
	}
	// The first line comes at once and the last one (n-1) intervals later;
	// a buffering proxy delivers them all at the end.
	if at[0] > time.Duration(n-1)*interval/2 {
		t.Errorf("first line after %v (lines at %v): the stream was buffered", at[0], at)
	}
	if span := at[n-1] - at[0]; span < time.Duration(n-2)*interval {
		t.Errorf("lines spread over %v (at %v), want about %v", span, at, time.Duration(n-1)*interval)
	}
}

// environApp is a WSGI app that answers with its environ as JSON (the
// string values), plus the body's length and SHA-256; /stream yields lines
// one by one.
const environApp = `
import hashlib, json, time

def application(environ, start_response):
    if environ["PATH_INFO"] == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        def lines():
            for i in range(5):
                yield ("line %d\n" % i).encode()
                time.sleep(0.2)
        return lines()
    n = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(n) if n else b""
    out = {k: v for k, v in environ.items() if isinstance(v, str)}
    out["wsgi.url_scheme"] = environ["wsgi.url_scheme"]
    out["body_length"] = str(len(body))
    out["body_sha256"] = hashlib.sha256(body).hexdigest()
    data = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
`

func TestStackEdgeInFrontOfUWSGI(t *testing.T) {
	uwsgi := need(t, "uwsgi")
	dir := writeConfig(t, `
run_dir: run
edge:
  listen: ["127.0.0.1:0"]
  client_max_body_size: 4MiB
  locations:
    - {path: /, upstream: py}
  upstreams:
    py: {protocol: uwsgi, servers: ["unix:py.sock"]}
appserver:
  app: hello
`)
	os.WriteFile(filepath.Join(dir, "environ_app.py"), []byte(environApp), 0o644)
	daemon(t, dir, uwsgi, "--plugin", "python3", "--master", "--processes", "1", "--socket", filepath.Join(dir, "py.sock"),
		"--chmod-socket=600", "--wsgi-file", filepath.Join(dir, "environ_app.py"), "--need-app", "--die-on-term", "--disable-logging")
	waitFile(t, filepath.Join(dir, "py.sock"))
	edge := start(t, dir, "edge")
	base := strings.TrimSuffix(edge.url(), "/")

	environ := func(req *http.Request) map[string]string {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		var env map[string]string
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		return env
	}

	t.Run("environ", func(t *testing.T) {
		body := strings.Repeat("0123456789abcdef", 65536)
		sum := sha256.Sum256([]byte(body))
		req, _ := http.NewRequest("POST", base+"/a%20b/c?x=1&y=%2F", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Add("X-Multi", "one")
		req.Header.Add("X-Multi", "two")
		req.Header["X_Sneaky"] = []string{"dropped"}
		req.Header.Set("X-Forwarded-For", "6.6.6.6")
		env := environ(req)
		want := map[string]string{
			"REQUEST_METHOD":         "POST",
			"PATH_INFO":              "/a b/c",
			"REQUEST_URI":            "/a%20b/c?x=1&y=%2F",
			"QUERY_STRING":           "x=1&y=%2F",
			"CONTENT_LENGTH":         fmt.Sprint(len(body)),
			"CONTENT_TYPE":           "application/octet-stream",
			"SERVER_PROTOCOL":        "HTTP/1.1",
			"REMOTE_ADDR":            "127.0.0.1",
			"HTTP_X_MULTI":           "one, two",
			"HTTP_X_FORWARDED_FOR":   "127.0.0.1",
			"HTTP_X_FORWARDED_PROTO": "http",
			"wsgi.url_scheme":        "http",
			"body_length":            fmt.Sprint(len(body)),
			"body_sha256":            hex.EncodeToString(sum[:]),
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s = %q, want %q", k, env[k], v)
			}
		}
		if !strings.HasPrefix(env["HTTP_HOST"], "127.0.0.1:") || env["SERVER_PORT"] == "" || env["REMOTE_PORT"] == "" {
			t.Errorf("HTTP_HOST %q SERVER_PORT %q REMOTE_PORT %q", env["HTTP_HOST"], env["SERVER_PORT"], env["REMOTE_PORT"])
		}
		if _, ok := env["HTTP_X_SNEAKY"]; ok {
			t.Error("a header with an underscore reached the app")
		}
	})

	t.Run("GET without body", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/plain", nil)
		env := environ(req)
		if env["REQUEST_METHOD"] != "GET" || env["body_length"] != "0" || (env["CONTENT_LENGTH"] != "" && env["CONTENT_LENGTH"] != "0") {
			t.Errorf("env %v", env)
		}
	})

	t.Run("chunked upload is de-chunked", func(t *testing.T) {
		body := strings.Repeat("q", 70000)
		req, _ := http.NewRequest("POST", base+"/c", io.MultiReader(strings.NewReader(body)))
		req.ContentLength = -1
		env := environ(req)
		if env["CONTENT_LENGTH"] != "70000" || env["body_length"] != "70000" {
			t.Errorf("CONTENT_LENGTH %q body %q", env["CONTENT_LENGTH"], env["body_length"])
		}
	})

	t.Run("HEAD", func(t *testing.T) {
		resp, err := http.Head(base + "/h")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) != 0 {
			t.Errorf("HEAD %d with %d body bytes", resp.StatusCode, len(b))
		}
	})

	t.Run("stream arrives line by line", func(t *testing.T) {
		start := time.Now()
		resp, err := http.Get(base + "/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		var at []time.Duration
		for i := 0; i < 5; i++ {
			line, err := br.ReadString('\n')
			if err != nil || line != fmt.Sprintf("line %d\n", i) {
				t.Fatalf("line %d = %q, %v", i, line, err)
			}
			at = append(at, time.Since(start))
		}
		if at[4]-at[0] < 600*time.Millisecond {
			t.Errorf("lines arrived at %v: buffered", at)
		}
	})
}
