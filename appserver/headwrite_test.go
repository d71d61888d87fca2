package appserver

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"testing"
)

// writeHeader writes what http.Header.Write writes.
func TestWriteHeaderAsNetHTTP(t *testing.T) {
	many := http.Header{}
	for i := range 40 {
		many[fmt.Sprintf("X-Field-%02d", 39-i)] = []string{fmt.Sprint(i)}
	}
	for name, h := range map[string]http.Header{
		"empty":    {},
		"usual":    {"Content-Type": {"text/plain"}, "Content-Length": {"12"}},
		"repeated": {"Set-Cookie": {"a=1", "b=2"}, "Vary": {"Accept-Encoding", "Cookie"}},
		"trimmed":  {"X-A": {"  spaced\t", "\t"}, "X-B": {""}},
		"bad names": {"Bad Name": {"x"}, "Bad:Name": {"x"}, "": {"x"}, "Ünicode": {"x"}, "Ok-Name": {"y"},
			"tchars!#$%&'*+-.^_`|~09": {"z"}},
		"no values": {"X-None": {}, "X-Nil": nil},
		"many":      many,
	} {
		var want bytes.Buffer
		h.Write(&want)
		var got bytes.Buffer
		bw := bufio.NewWriter(&got)
		writeHeader(bw, h)
		bw.Flush()
		if got.String() != want.String() {
			t.Errorf("%s: got\n%q\nwant\n%q", name, got.String(), want.String())
		}
	}
}

func BenchmarkWriteHeader(b *testing.B) {
	h := http.Header{"Content-Type": {"application/json"}, "Content-Length": {"512"}, "X-Stack-Keepalive": {"1"}}
	bw := bufio.NewWriterSize(nil, 4096)
	b.Run("writeHeader", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bw.Reset(discard{})
			writeHeader(bw, h)
		}
	})
	b.Run("http.Header.Write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bw.Reset(discard{})
			h.Write(bw)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// writeFields writes the added fields in their sorted places, as if they
// were in the map, and leaves the map as it was.
func TestWriteFieldsAddsInOrder(t *testing.T) {
	h := http.Header{"X-Stack-Keepalive-Not": {"a"}, "Content-Typf": {"b"}, "Date": {"c"}, "Vary": {"d", "e"}}
	added := []addedField{{name: "Content-Length", num: 512}, {name: "Content-Type", value: "text/plain", num: -1},
		{name: "X-Stack-Keepalive", value: "1", num: -1}, {name: "Transfer-Encoding", value: "chunked", num: -1}}
	merged := h.Clone()
	for _, f := range added {
		v := f.value
		if f.num >= 0 {
			v = fmt.Sprint(f.num)
		}
		merged[f.name] = []string{v}
	}
	var want bytes.Buffer
	merged.Write(&want)
	var got bytes.Buffer
	bw := bufio.NewWriter(&got)
	writeFields(bw, h, added)
	bw.Flush()
	if got.String() != want.String() {
		t.Errorf("got\n%q\nwant\n%q", got.String(), want.String())
	}
	if len(h) != 4 {
		t.Errorf("writeFields changed the handler's map: %v", h)
	}
}
