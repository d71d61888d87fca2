// Package echo answers every request with a JSON description of the request
// as the app saw it: the tool for debugging a proxy chain. As httpbin does,
// it also has /delay/SECONDS, /status/CODE and /stream/N for exercising
// timeouts, status handling and buffering, and /ws, a WebSocket that echoes
// each message (ws.go).
package echo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Request is the JSON object echo answers with. Tools and tests parse these
// exact fields.
type Request struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`     // decoded
	RawPath    string              `json:"raw_path"` // as sent, with its escapes
	Query      string              `json:"query"`    // the raw query string
	Headers    map[string][]string `json:"headers"`  // canonical name → values
	Host       string              `json:"host"`
	Scheme     string              `json:"scheme"`
	RemoteAddr string              `json:"remote_addr"`
	BodyLength int64               `json:"body_length"`
	BodySHA256 string              `json:"body_sha256"` // lower-case hex
}

// emptySHA256 is the SHA-256 of no bytes, a GET's body_sha256.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

const (
	maxDelay  = 300 * time.Second
	maxStream = 1000
)

// New returns the echo handler.
func New() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	switch rest, _ := strings.CutPrefix(r.URL.Path, "/"); {
	case rest == "ws":
		ws(w, r)
	case strings.HasPrefix(rest, "delay/"):
		delay(w, r, strings.TrimPrefix(rest, "delay/"))
	case strings.HasPrefix(rest, "status/"):
		status(w, r, strings.TrimPrefix(rest, "status/"))
	case strings.HasPrefix(rest, "stream/"):
		stream(w, r, strings.TrimPrefix(rest, "stream/"))
	default:
		reply(w, r)
	}
}

// reply answers the request as seen, or 400 if its body could not be read
// whole (a body shorter than its Content-Length, a client gone): never a
// 200 computed on half a body.
func reply(w http.ResponseWriter, r *http.Request) {
	req, err := describe(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	bp := bufPool.Get().(*[]byte)
	b := appendRequest((*bp)[:0], &req)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	if cap(b) <= 64<<10 { // a reply to a huge header is not kept
		*bp = b
		bufPool.Put(bp)
	}
}

// describe reads the body and returns the request as seen; the error is
// the body's read error.
func describe(r *http.Request) (Request, error) {
	var n int64
	sum := emptySHA256
	if r.Body != nil && r.Body != http.NoBody {
		h := sha256.New()
		var err error
		n, err = io.Copy(h, r.Body)
		if err != nil {
			return Request{}, fmt.Errorf("echo: reading the request body (%d bytes read): %w", n, err)
		}
		sum = hex.EncodeToString(h.Sum(nil))
	}
	rawPath, _, _ := strings.Cut(r.RequestURI, "?")
	if rawPath == "" {
		rawPath = r.URL.EscapedPath()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	headers := r.Header
	if headers == nil {
		headers = http.Header{}
	}
	return Request{
		Method: r.Method, Path: r.URL.Path, RawPath: rawPath, Query: r.URL.RawQuery,
		Headers: headers, Host: r.Host, Scheme: scheme, RemoteAddr: r.RemoteAddr,
		BodyLength: n, BodySHA256: sum,
	}, nil
}

// delay answers after SECONDS (a decimal number, at most 300), or when the
// client goes away.
func delay(w http.ResponseWriter, r *http.Request, arg string) {
	secs, err := strconv.ParseFloat(arg, 64)
	if err != nil || secs < 0 || secs*float64(time.Second) > float64(maxDelay) {
		http.Error(w, fmt.Sprintf("delay: %q is not a number of seconds between 0 and %v", arg, maxDelay.Seconds()), http.StatusBadRequest)
		return
	}
	t := time.NewTimer(time.Duration(secs * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		reply(w, r)
	case <-r.Context().Done():
	}
}

// status answers with CODE and a one-line body where a body is allowed.
func status(w http.ResponseWriter, r *http.Request, arg string) {
	code, err := strconv.Atoi(arg)
	if err != nil || code < 200 || code > 599 {
		http.Error(w, fmt.Sprintf("status: %q is not a status code between 200 and 599", arg), http.StatusBadRequest)
		return
	}
	if code == http.StatusNoContent || code == http.StatusNotModified {
		w.WriteHeader(code)
		return
	}
	if code >= 300 && code < 400 {
		w.Header().Set("Location", "/")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintf(w, "%d %s\n", code, http.StatusText(code))
}

// stream writes N JSON lines (at most 1000), flushing after each one, so a
// proxy that buffers shows up at once. ?interval=SECONDS pauses between
// lines. X-Accel-Buffering: no asks nginx not to buffer it, as SSE apps do.
func stream(w http.ResponseWriter, r *http.Request, arg string) {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 0 || n > maxStream {
		http.Error(w, fmt.Sprintf("stream: %q is not a line count between 0 and %d", arg, maxStream), http.StatusBadRequest)
		return
	}
	var interval time.Duration
	if s := r.URL.Query().Get("interval"); s != "" {
		secs, err := strconv.ParseFloat(s, 64)
		if err != nil || secs < 0 || secs > 10 {
			http.Error(w, fmt.Sprintf("stream: interval %q is not a number of seconds between 0 and 10", s), http.StatusBadRequest)
			return
		}
		interval = time.Duration(secs * float64(time.Second))
	}
	req, err := describe(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	line, err := json.Marshal(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	line = append(line, '\n')
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Accel-Buffering", "no")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	for i := range n {
		if i > 0 && interval > 0 {
			select {
			case <-time.After(interval):
			case <-r.Context().Done():
				return
			}
		}
		if _, err := w.Write(line); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
