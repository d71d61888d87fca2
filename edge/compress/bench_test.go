package compress

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// samplePage is an HTML page about n bytes long, with the variety of a
// rendered list (ids, dates, words), not one line repeated.
func samplePage(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"poll", "question", "choice", "votes", "what", "is", "your", "favourite", "colour", "language", "editor", "framework", "today", "yesterday", "results"}
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Polls</title><link rel=\"stylesheet\" href=\"/static/polls/style.css\"></head>\n<body><main><h1>Latest polls</h1><ul class=\"polls\">\n")
	for i := 0; b.Len() < n-40; i++ {
		fmt.Fprintf(&b, "<li id=\"q%d\"><a href=\"/polls/%d/\">", i, rng.IntN(100000))
		for range 3 + rng.IntN(6) {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "</a> <time datetime=\"2026-11-%02dT%02d:%02d\">%d votes</time></li>\n", 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(5000))
	}
	b.WriteString("</ul></main></body></html>\n")
	return b.Bytes()
}

// BenchmarkResponse is the wrapper's cost per response through a writer
// that keeps nothing: passing (a small hello, a client with no
// Accept-Encoding) and compressing a page with each coding.
func BenchmarkResponse(b *testing.B) {
	hello := []byte("Hello, world!\n")
	for _, tc := range []struct {
		name string
		ae   string
		body []byte
	}{
		{"unwrapped/hello", "gzip, deflate, br, zstd", hello}, // the handler alone: the baseline
		{"pass/hello", "gzip, deflate, br, zstd", hello},
		{"pass/binary", "gzip, deflate, br, zstd", bytes.Repeat([]byte{0}, 1024)},
		{"pass/no-accept-encoding", "", samplePage(4 << 10)},
		{"gzip/4KiB", "gzip", samplePage(4 << 10)},
		{"zstd/4KiB", "zstd", samplePage(4 << 10)},
		{"gzip/64KiB", "gzip", samplePage(64 << 10)},
		{"zstd/64KiB", "zstd", samplePage(64 << 10)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			length, typ := []string{strconv.Itoa(len(tc.body))}, []string{"text/html; charset=utf-8"}
			if strings.HasSuffix(tc.name, "binary") {
				typ = []string{"application/octet-stream"}
			}
			var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h["Content-Type"] = typ
				h["Content-Length"] = length
				w.WriteHeader(200)
				w.Write(tc.body)
			})
			if !strings.HasPrefix(tc.name, "unwrapped") {
				h = New(on(), h)
			}
			req := httptest.NewRequest("GET", "/", nil)
			if tc.ae != "" {
				req.Header.Set("Accept-Encoding", tc.ae)
			}
			hdr := http.Header{}
			w := &nopWriter{h: hdr}
			b.SetBytes(int64(len(tc.body)))
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				clear(hdr)
				h.ServeHTTP(w, req)
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system time, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// countWriter counts what an encoder writes.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// BenchmarkLevels compares the levels the defaults were chosen from, with
// the compressed size as a percentage of the original (the "%" column).
func BenchmarkLevels(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10} {
		body := samplePage(size)
		run := func(name string, e interface {
			io.Writer
			Close() error
			Reset(io.Writer)
		}) {
			b.Run(fmt.Sprintf("%s/%dKiB", name, size>>10), func(b *testing.B) {
				var cw countWriter
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				cpu := cpuTime()
				for b.Loop() {
					cw.n = 0
					e.Reset(&cw)
					e.Write(body)
					e.Close()
				}
				// CPU time tells more than wall time on a busy machine.
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(100*float64(cw.n)/float64(len(body)), "%")
			})
		}
		for _, l := range []int{1, 5, 6} {
			g, _ := gzip.NewWriterLevel(nil, l)
			run(fmt.Sprintf("gzip-%d", l), g)
		}
		for _, l := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault} {
			z, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(zstdWindow))
			run("zstd-"+l.String(), z)
		}
	}
}
