package appserver

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
)

func FuzzBrkWriteHeaderAsNetHTTP(f *testing.F) {
	f.Add("X-A", " v ", "x-a", "w", "Set-Cookie", "b\t")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		h := http.Header{}
		for _, kv := range [][2]string{{k1, v1}, {k2, v2}, {k3, v3}} {
			if strings.ContainsAny(kv[1], "\r\n\x00") {
				continue
			}
			h[kv[0]] = append(h[kv[0]], kv[1])
		}
		var a, b bytes.Buffer
		bw := bufio.NewWriter(&a)
		writeHeader(bw, h)
		bw.Flush()
		h.Write(&b)
		if a.String() != b.String() {
			t.Fatalf("%q\nwriteHeader %q\nHeader.Write %q", h, a.String(), b.String())
		}
	})
}
