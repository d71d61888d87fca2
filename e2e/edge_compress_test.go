package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// edgeCompressCurl runs Debian's curl (built with zlib, brotli and zstd)
// and returns the decoded body and the response head.
func edgeCompressCurl(t *testing.T, args ...string) (body []byte, head string) {
	t.Helper()
	hdr := filepath.Join(t.TempDir(), "head")
	cmd := exec.Command("curl", append([]string{"-sS", "--fail", "-D", hdr}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %s: %v %s", strings.Join(args, " "), err, stderr.String())
	}
	h, _ := os.ReadFile(hdr)
	return out, strings.ToLower(string(h))
}

// `curl --compressed` gets the same bytes as without it, through the real
// binary: a proxied page compressed on the fly, collectstatic's
// precompressed files, and a static file without siblings compressed on
// the fly.
func TestEdgeCompressCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed; scripts/test.sh installs it (apt-get install curl)")
	}
	if out, _ := exec.Command("curl", "--version").Output(); !bytes.Contains(out, []byte("zstd")) || !bytes.Contains(out, []byte("libz")) {
		t.Fatalf("this curl decodes neither zstd nor gzip:\n%s", out)
	}
	dir := writeConfig(t, `
run_dir: run
edge:
  listen: ["127.0.0.1:0"]
  compression: {gzip: true, zstd: true, min_length: 256}
  locations:
    - {path: /static/, root: collected}
    - {path: /, upstream: app}
appserver:
  app: polls
apps:
  polls: {debug: true}
`)
	stdout, stderr, code := run(t, dir, "collectstatic", "--compress", "collected")
	if code != 0 || !strings.Contains(stdout, "compressed files (.gz, .zst) written") {
		t.Fatalf("collectstatic --compress: %d\n%s%s", code, stdout, stderr)
	}
	css := filepath.Join(dir, "collected", "polls", "style.css")
	for _, ext := range []string{".gz", ".zst"} {
		if _, err := os.Stat(css + ext); err != nil {
			t.Fatalf("collectstatic --compress wrote no %s: %v", ext, err)
		}
	}
	notes := bytes.Repeat([]byte("a static text file without precompressed siblings\n"), 100)
	os.WriteFile(filepath.Join(dir, "collected", "notes.txt"), notes, 0o644)
	p := start(t, dir, "up")
	base := strings.TrimSuffix(p.url(), "/")

	for _, tc := range []struct {
		path, ae, coding string
		etag             string // how the ETag ends: the sibling's own, or weak
	}{
		{"/", "", "zstd", ""}, // curl's own list: deflate, gzip, br, zstd
		{"/", "gzip", "gzip", ""},
		{"/static/polls/style.css", "", "zstd", `-zstd"`},
		{"/static/polls/style.css", "gzip", "gzip", `-gzip"`},
		{"/static/notes.txt", "", "zstd", "w/"},
	} {
		plain, plainHead := edgeCompressCurl(t, base+tc.path)
		args := []string{"--compressed", base + tc.path}
		if tc.ae != "" {
			args = append([]string{"-H", "Accept-Encoding: " + tc.ae}, args...)
		}
		decoded, head := edgeCompressCurl(t, args...)
		if strings.Contains(plainHead, "content-encoding") {
			t.Errorf("%s without --compressed: %s", tc.path, plainHead)
		}
		if !strings.Contains(head, "content-encoding: "+tc.coding+"\r\n") || !strings.Contains(head, "vary: accept-encoding") {
			t.Errorf("%s %q: want %s with Vary:\n%s", tc.path, tc.ae, tc.coding, head)
		}
		if tc.etag != "" && !strings.Contains(head, "etag: "+tc.etag) && !strings.Contains(head, tc.etag+"\r\n") {
			t.Errorf("%s %q: ETag not %s:\n%s", tc.path, tc.ae, tc.etag, head)
		}
		if !bytes.Equal(decoded, plain) || len(plain) < 256 {
			t.Errorf("%s %q: curl --compressed got %d bytes, plain %d; they differ", tc.path, tc.ae, len(decoded), len(plain))
		}
	}
	orig, _ := os.ReadFile(css)
	if got, _ := edgeCompressCurl(t, "--compressed", base+"/static/polls/style.css"); !bytes.Equal(got, orig) {
		t.Error("the precompressed style.css does not decode to the collected one")
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}
