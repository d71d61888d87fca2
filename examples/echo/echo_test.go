package echo

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestEchoFields(t *testing.T) {
	srv := httptest.NewServer(New())
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/a%20b/c?x=1&y=%2F", strings.NewReader("hello"))
	req.Header.Add("X-Multi", "1")
	req.Header.Add("X-Multi", "2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := "body_length body_sha256 headers host method path query raw_path remote_addr scheme"
	if strings.Join(keys, " ") != want {
		t.Fatalf("fields %v, want exactly %s", keys, want)
	}
	var got Request
	b, _ := json.Marshal(raw)
	json.Unmarshal(b, &got)
	sum := sha256.Sum256([]byte("hello"))
	if got.Method != "POST" || got.Path != "/a b/c" || got.RawPath != "/a%20b/c" || got.Query != "x=1&y=%2F" ||
		got.Scheme != "http" || got.BodyLength != 5 || got.BodySHA256 != hex.EncodeToString(sum[:]) ||
		strings.Join(got.Headers["X-Multi"], ",") != "1,2" || got.Host != strings.TrimPrefix(srv.URL, "http://") ||
		!strings.HasPrefix(got.RemoteAddr, "127.0.0.1:") {
		t.Errorf("echo = %+v", got)
	}
}

func TestEchoRoutes(t *testing.T) {
	srv := httptest.NewServer(New())
	defer srv.Close()
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/status/418", 418, "418 I'm a teapot\n"},
		{"/status/204", 204, ""},
		{"/status/99", 400, "status:"},
		{"/status/abc", 400, "status:"},
		{"/delay/0.05", 200, `"method": "GET"`},
		{"/delay/-1", 400, "delay:"},
		{"/delay/9999", 400, "delay:"},
		{"/stream/x", 400, "stream:"},
		{"/stream/2?interval=99", 400, "interval"},
	}
	for _, tt := range tests {
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b := new(strings.Builder)
		bufio.NewReader(resp.Body).WriteTo(b)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(b.String(), tt.body) {
			t.Errorf("%s: %d %q, want %d containing %q", tt.path, resp.StatusCode, b, tt.status, tt.body)
		}
	}
}

func TestStreamFlushesEachLine(t *testing.T) {
	srv := httptest.NewServer(New())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/stream/3?interval=0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("X-Accel-Buffering") != "no" {
		t.Error("no X-Accel-Buffering: no")
	}
	br := bufio.NewReader(resp.Body)
	start := time.Now()
	var at []time.Duration
	for range 3 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		var r Request
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Path != "/stream/3" {
			t.Errorf("line %q: %v", line, err)
		}
		at = append(at, time.Since(start))
	}
	if at[0] > 80*time.Millisecond || at[2] < 150*time.Millisecond {
		t.Errorf("lines arrived at %v: want the first at once and the rest spaced", at)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Error("more than 3 lines")
	}
}

// errReader returns some bytes, then an error: a body cut short.
type errReader struct{ n int }

func (e *errReader) Read(p []byte) (int, error) {
	if e.n > 0 {
		k := min(len(p), e.n)
		e.n -= k
		return k, nil
	}
	return 0, io.ErrUnexpectedEOF
}

// A body that ends before its Content-Length (the appserver returns
// io.ErrUnexpectedEOF) is answered 400, never 200 on half a body, on
// every route that reads it.
func TestEchoShortBodyIs400(t *testing.T) {
	for _, path := range []string{"/", "/delay/0", "/stream/2"} {
		r := httptest.NewRequest("POST", path, &errReader{n: 10})
		r.ContentLength = 100
		w := httptest.NewRecorder()
		New().ServeHTTP(w, r)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "unexpected EOF") {
			t.Errorf("%s with a short body: %d %q, want 400 naming the read error", path, w.Code, w.Body.String())
		}
	}
}
