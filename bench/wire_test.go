package bench

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/stack-web/stack/fastcgi"
	"github.com/stack-web/stack/uwsgi"
)

// The bytes-on-the-wire figures are the encoders' real output: each is
// exactly one well-formed request of its protocol, decoded back by that
// protocol's own reader, with nothing before or after it.
func TestWireBytesAreTheEncodersOutput(t *testing.T) {
	raw := referenceRequest("127.0.0.1:8000", "/")
	for _, proto := range []string{"uwsgi", "fastcgi", "http"} {
		n, b, err := wireBytes(raw, proto)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(b) || n == 0 {
			t.Fatalf("%s: figure %d for %d bytes", proto, n, len(b))
		}
		switch proto {
		case "uwsgi":
			br := bufio.NewReader(bytes.NewReader(b))
			p, err := uwsgi.ReadPacket(br, uwsgi.MaxBufferSize, nil)
			if err != nil {
				t.Fatalf("uwsgi: %v", err)
			}
			if size := uwsgi.HeaderSize + int(b[1]) + int(b[2])<<8; size != n || br.Buffered() != 0 {
				t.Errorf("uwsgi: the packet is %d bytes, the figure %d, %d bytes left", size, n, br.Buffered())
			}
			if p.Vars.Value("REQUEST_METHOD") != "GET" || p.Vars.Value("HTTP_USER_AGENT") != "stack-bench" {
				t.Errorf("uwsgi: vars %v", p.Vars)
			}
		case "fastcgi":
			// BEGIN_REQUEST, PARAMS records, the empty PARAMS and STDIN ones.
			total, params := 0, []byte(nil)
			for total < len(b) {
				h := b[total:]
				clen, pad := int(h[4])<<8|int(h[5]), int(h[6])
				if h[1] == fastcgi.TypeParams {
					params = append(params, h[8:8+clen]...)
				}
				total += fastcgi.HeaderSize + clen + pad
			}
			vars := map[string]string{}
			if err := fastcgi.ParsePairs(params, func(k, v []byte) { vars[string(k)] = string(v) }); err != nil {
				t.Fatal(err)
			}
			if total != n || vars["REQUEST_METHOD"] != "GET" || vars["HTTP_USER_AGENT"] != "stack-bench" {
				t.Errorf("fastcgi: records of %d bytes, figure %d, vars %v", total, n, vars)
			}
		case "http":
			br := bufio.NewReader(bytes.NewReader(b))
			req, err := http.ReadRequest(br)
			if err != nil {
				t.Fatal(err)
			}
			if rest, _ := io.ReadAll(br); len(rest) != 0 || req.UserAgent() != "stack-bench" {
				t.Errorf("http: %d bytes after the head; UA %q", len(rest), req.UserAgent())
			}
		}
		t.Logf("%s: %d bytes", proto, n)
	}
}
