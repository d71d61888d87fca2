// The keys and construction of protocol: fastcgi upstreams; the transport
// is transport_fastcgi.go.
package upstream

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// DefaultSplitPathInfo is Debian's snippets/fastcgi-php.conf's split: the
// first ".php" followed by a slash or the end ends the script name.
const DefaultSplitPathInfo = `^(.+?\.php)(/.*)$`

// validateFastCGI checks the keys of protocol: fastcgi.
func (c Config) validateFastCGI(key string) []error {
	var errs []error
	bad := func(k, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", key, k, fmt.Sprintf(format, args...)))
	}
	if c.Protocol != "fastcgi" {
		if c.Root != "" {
			bad("root", "applies to protocol: fastcgi only")
		}
		if c.ScriptFilename != "" {
			bad("script_filename", "applies to protocol: fastcgi only")
		}
	}
	if c.Root != "" && !filepath.IsAbs(c.Root) {
		bad("root", "%q is not an absolute path (it is a path on the FastCGI server, sent as DOCUMENT_ROOT)", c.Root)
	}
	if c.ScriptFilename != "" && !filepath.IsAbs(c.ScriptFilename) {
		bad("script_filename", "%q is not an absolute path", c.ScriptFilename)
	}
	if strings.Contains(c.Index, "/") {
		bad("index", "%q must be a file name, without /", c.Index)
	}
	if c.SplitPathInfo != "" {
		re, err := regexp.Compile(c.SplitPathInfo)
		if err != nil {
			bad("split_path_info", "%q is not a regular expression: %v", c.SplitPathInfo, err)
		} else if re.NumSubexp() != 2 {
			bad("split_path_info", "%q has %d groups; it needs two, the script name and PATH_INFO, e.g. %s", c.SplitPathInfo, re.NumSubexp(), DefaultSplitPathInfo)
		}
	}
	return errs
}

// newFastCGITransport builds the transport of one server of a fastcgi
// upstream from a validated Config.
func newFastCGITransport(network, address string, cfg Config) (*FastCGITransport, error) {
	t := &FastCGITransport{Network: network, Address: address, ConnectTimeout: cfg.ConnectTimeout,
		ReadTimeout: cfg.ReadTimeout, SendTimeout: cfg.SendTimeout,
		Root: strings.TrimRight(cfg.Root, "/"), ScriptFilename: cfg.ScriptFilename, Index: cfg.Index,
		CheckScript: cfg.CheckScript}
	if cfg.SplitPathInfo != "" {
		re, err := regexp.Compile(cfg.SplitPathInfo)
		if err != nil {
			return nil, fmt.Errorf("split_path_info: %w", err)
		}
		t.SplitPathInfo = re
	}
	return t, nil
}

// scriptMissing reports whether CheckScript finds no regular file at
// Root + the script name of path, as nginx's
// try_files $fastcgi_script_name =404 (Debian's snippets/fastcgi-php.conf)
// finds. Without it PHP-FPM, with its default cgi.fix_pathinfo=1, runs
// the longest existing prefix of a missing script: an uploaded
// /uploads/evil.jpg runs as PHP when asked for as /uploads/evil.jpg/x.php.
// A fixed script_filename, or no root, is not checked.
func (t *FastCGITransport) scriptMissing(path string) bool {
	if !t.CheckScript || t.ScriptFilename != "" || t.Root == "" {
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
