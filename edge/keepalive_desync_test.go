package edge_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func desyncMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "12345")
	})
	mux.HandleFunc("/short-big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		io.WriteString(w, strings.Repeat("a", 50000))
	})
	mux.HandleFunc("/long", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "1234567890")
	})
	mux.HandleFunc("/long-big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "50000")
		io.WriteString(w, strings.Repeat("a", 40000))
		io.WriteString(w, strings.Repeat("b", 40000))
	})
	mux.HandleFunc("/panic-early", func(w http.ResponseWriter, r *http.Request) { panic("early") })
	mux.HandleFunc("/panic-mid", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic("mid")
	})
	mux.HandleFunc("/panic-held", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "held back")
		panic("held")
	})
	mux.HandleFunc("/abort", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "x")
		panic(http.ErrAbortHandler)
	})
	mux.HandleFunc("/204body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "3")
		w.WriteHeader(204)
		io.WriteString(w, "abc")
	})
	mux.HandleFunc("/304body", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(304)
		io.WriteString(w, "abc")
	})
	mux.HandleFunc("/cl0-write", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "0")
		io.WriteString(w, "abc")
	})
	mux.HandleFunc("/te-header", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Transfer-Encoding", "chunked")
		io.WriteString(w, "abc")
	})
	mux.HandleFunc("/cl-bad", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "abc")
		io.WriteString(w, "abc")
	})
	mux.HandleFunc("/cl-two", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Length"] = []string{"3", "4"}
		io.WriteString(w, "abc")
	})
	mux.HandleFunc("/cl-space", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Length"] = []string{" 3"}
		io.WriteString(w, "abc")
	})
	mux.HandleFunc("/cl-plus", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Length"] = []string{"+3"}
		io.WriteString(w, "abc")
	})
	mux.HandleFunc("/cl-late", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "abc")
	})
	mux.HandleFunc("/103", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(103)
		io.WriteString(w, "abc")
	})
	mux.HandleFunc("/conn-close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "abc")
	})
	mux.HandleFunc("/partial-read", func(w http.ResponseWriter, r *http.Request) {
		io.CopyN(io.Discard, r.Body, 10)
		io.WriteString(w, "abc")
	})
	mux.HandleFunc("/close-body", func(w http.ResponseWriter, r *http.Request) {
		r.Body.Close()
		io.WriteString(w, "abc")
	})
	mux.HandleFunc("/next/", echoHandler)
	return mux
}

// After each misbehaving handler, the next requests (on kept upstream
// connections) get their own answers.
func TestKeptUpstreamConnectionsNeverDesync(t *testing.T) {
	base := startEdge(t, proxyConfig("unix:"+startApp(t, desyncMux())))
	addr := strings.TrimPrefix(base, "http://")
	paths := []string{"/short", "/short-big", "/long", "/long-big", "/panic-early", "/panic-mid", "/panic-held", "/abort",
		"/204body", "/304body", "/cl0-write", "/te-header", "/cl-bad", "/cl-two", "/cl-space", "/cl-plus", "/cl-late", "/103", "/conn-close",
		"/partial-read", "/close-body"}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for round := range 2 {
		for _, path := range paths {
			for _, m := range []string{"GET", "HEAD", "POST20", "POST2M", "OPTIONS"} {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				switch m {
				case "POST20":
					fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 20\r\n\r\n%s", path, strings.Repeat("p", 20))
				case "POST2M":
					fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 900000\r\n\r\n%s", path, strings.Repeat("p", 900000))
				default:
					fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", m, path)
				}
				first, _ := io.ReadAll(c)
				c.Close()
				for k := range 3 {
					next := fmt.Sprintf("/next/%d%s/%s/%d", round, path, m, k)
					resp, err := client.Get(base + next)
					if err != nil {
						t.Fatalf("after %s %s (%q): %v", m, path, first[:min(len(first), 80)], err)
					}
					s := getSeen(t, resp)
					if s.Path != next {
						t.Fatalf("after %s %s: asked %s, got the answer to %s", m, path, next, s.Path)
					}
				}
			}
		}
	}
}
