package edge_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/edge"
)

// syncBuffer is a log destination shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// accessLine is a line of the JSON access log, every field typed as the
// README documents it.
type accessLine struct {
	Time         time.Time `json:"time"`
	Client       string    `json:"client"`
	Method       string    `json:"method"`
	URI          string    `json:"uri"`
	Proto        string    `json:"proto"`
	Host         string    `json:"host"`
	Status       int       `json:"status"`
	Bytes        int64     `json:"bytes"`
	Duration     float64   `json:"duration"`
	Upstream     string    `json:"upstream"`
	UpstreamTime *float64  `json:"upstream_time"`
	RequestID    string    `json:"request_id"`
	Referer      string    `json:"referer"`
	UserAgent    string    `json:"user_agent"`
}

// waitLines waits until path holds n lines and returns them.
func waitLines(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(b) > 0 && len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %q, want %d lines", path, b, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The JSON access log: one object per line that parses, with the
// upstream and its time, and the request id that the app received as
// X-Request-Id and the app server logged (from STACK_REQUEST_ID). A
// client's X-Request-Id is replaced; a hostile URI still gives a line
// that parses.
func TestJSONAccessLogAndRequestIDAcrossTiers(t *testing.T) {
	appLog := &syncBuffer{}
	sock := filepath.Join(t.TempDir(), "app.sock")
	l, err := appserver.Listen("unix:"+sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	var seenID sync.Map
	s := &appserver.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seenID.Store(r.URL.Path, r.Header.Get("X-Request-Id"))
			w.Write([]byte("hello"))
		}),
		Logger:      slog.New(slog.NewJSONHandler(appLog, nil)),
		LogRequests: true,
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.Serve(l) })
	t.Cleanup(func() { s.Close(); wg.Wait() })

	logPath := filepath.Join(t.TempDir(), "access.log")
	cfg := proxyConfig("unix:" + sock)
	cfg.AccessLog, cfg.AccessLogFormat = logPath, "json"
	base := startEdge(t, cfg)

	req, _ := http.NewRequest("GET", base+"/one?q=1", nil)
	req.Header.Set("X-Request-Id", "chosen-by-the-client")
	req.Header.Set("User-Agent", "test \"agent\" é")
	resp := mustDo(t, req)
	resp.Body.Close()
	code, _ := rawRequest(t, base, "GET /two/\"\xff\\ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if code != 200 {
		t.Fatalf("hostile URI: %d", code)
	}

	lines := waitLines(t, logPath, 2)
	var first, second accessLine
	for i, dst := range []*accessLine{&first, &second} {
		if err := json.Unmarshal([]byte(lines[i]), dst); err != nil {
			t.Fatalf("line %d does not parse: %v\n%s", i, err, lines[i])
		}
	}
	if first.Method != "GET" || first.URI != "/one?q=1" || first.Status != 200 || first.Bytes != 5 || first.Client != "127.0.0.1" ||
		first.Upstream != "unix:"+sock || first.UpstreamTime == nil || first.Duration <= 0 || first.UserAgent != "test \"agent\" é" ||
		time.Since(first.Time) > time.Minute {
		t.Errorf("first line: %+v\n%s", first, lines[0])
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(first.RequestID) {
		t.Errorf("request id %q: want 32 hex digits (a client's is replaced)", first.RequestID)
	}
	if got, _ := seenID.Load("/one"); got != first.RequestID {
		t.Errorf("the app saw X-Request-Id %q, the access log says %q", got, first.RequestID)
	}
	if second.RequestID == first.RequestID || second.URI != "/two/\"\ufffd\\" {
		t.Errorf("second line: %+v", second)
	}
	// The app server's line for the same request carries the same id.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(appLog.String(), `"request_id":"`+first.RequestID+`"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the app server's log lacks request_id %s:\n%s", first.RequestID, appLog.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, line := range strings.Split(strings.TrimSpace(appLog.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("app server line does not parse: %v\n%s", err, line)
		}
		if rec["request_id"] == first.RequestID && (rec["uri"] != "/one?q=1" || rec["status"] != float64(200)) {
			t.Errorf("app server line: %s", line)
		}
	}
}

// A trusted proxy's X-Request-Id is kept; an id with characters no id
// has is replaced even from it.
func TestTrustedProxyKeepsItsRequestID(t *testing.T) {
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
	cfg.TrustedProxies = []string{"127.0.0.1"}
	base := startEdge(t, cfg)
	for sent, kept := range map[string]bool{
		"f81d4fae-7dec-11d0-a765-00a0c91e6bf6":     true,
		"Root=1-67891233-abcdef012345678912345678": true,
		"bad id\"with quotes":                      false,
		strings.Repeat("a", 129):                   false,
	} {
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Header.Set("X-Request-Id", sent)
		got := getSeen(t, mustDo(t, req)).Header["X-Request-Id"]
		if len(got) != 1 || (got[0] == sent) != kept {
			t.Errorf("sent %q: the app got %q (kept: want %v)", sent, got, kept)
		}
	}
}

// The combined format is unchanged by the request id.
func TestCombinedAccessLogUnchanged(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "access.log")
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
	cfg.AccessLog = logPath
	base := startEdge(t, cfg)
	mustGet(t, base+"/x").Body.Close()
	line := waitLines(t, logPath, 1)[0]
	if !regexp.MustCompile(`^127\.0\.0\.1 - - \[[^]]+\] "GET /x HTTP/1\.1" 200 \d+ "-" "Go-http-client/1\.1" \d+\.\d{3}$`).MatchString(line) {
		t.Errorf("combined line %q", line)
	}
	_ = edge.HeaderRequestID
}

// A request net/http refuses before the edge's handler (a head over
// max_header_size: 431) still gets a JSON line that parses, with an id.
func TestJSONAccessLogOfARefusedHead(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "access.log")
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
	cfg.AccessLog, cfg.AccessLogFormat = logPath, "json"
	base := startEdge(t, cfg)
	code, _ := rawRequest(t, base, "GET /big HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 40<<10)+"\r\n\r\n")
	if code != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", code)
	}
	var line accessLine
	if err := json.Unmarshal([]byte(waitLines(t, logPath, 1)[0]), &line); err != nil {
		t.Fatal(err)
	}
	if line.Status != 431 || !strings.Contains(line.URI, "/big") || line.UpstreamTime != nil || len(line.RequestID) != 32 {
		t.Errorf("refused line: %+v", line)
	}
}

// A head net/http refuses itself (a malformed header line: 400) gets a
// JSON line too, the request line as it came in uri.
func TestJSONAccessLogOfAHeadNetHTTPRefuses(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "access.log")
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
	cfg.AccessLog, cfg.AccessLogFormat = logPath, "json"
	base := startEdge(t, cfg)
	code, _ := rawRequest(t, base, "GET /bad\"\xff HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
	if code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", code)
	}
	var line accessLine
	raw := waitLines(t, logPath, 1)[0]
	if err := json.Unmarshal([]byte(raw), &line); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	if line.Status != 400 || line.URI != "GET /bad\"\ufffd HTTP/1.1" || len(line.RequestID) != 32 {
		t.Errorf("refused line: %+v", line)
	}
}
