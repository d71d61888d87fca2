package transport

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// scriptMissing reports whether CheckScript finds no regular file at
// Root + the script name of path, as nginx's
// try_files $fastcgi_script_name =404 (Debian's snippets/fastcgi-php.conf)
// finds. Without it PHP-FPM, with its default cgi.fix_pathinfo=1, runs
// the longest existing prefix of a missing script: an uploaded
// /uploads/evil.jpg runs as PHP when asked for as /uploads/evil.jpg/x.php.
// A fixed script_filename is not checked, nor an upstream without root
// (edge/upstream leaves CheckScript off then); Root "" here is root: /,
// trimmed.
func (t *FastCGITransport) scriptMissing(path string) bool {
	if !t.CheckScript || t.ScriptFilename != "" {
		return false
	}
	script, _ := t.split(path)
	fi, err := os.Stat(t.Root + script)
	return err != nil || !fi.Mode().IsRegular()
}

// notFound is the edge's own 404, as errpage writes it, in place of the
// FastCGI server's answer.
func notFound(req *http.Request) *http.Response {
	const body = "404 Not Found\n"
	return &http.Response{
		Status: "404 Not Found", StatusCode: http.StatusNotFound, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "X-Content-Type-Options": {"nosniff"},
			"Content-Length": {strconv.Itoa(len(body))}},
		ContentLength: int64(len(body)), Body: io.NopCloser(strings.NewReader(body)), Request: req,
	}
}
