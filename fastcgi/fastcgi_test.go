package fastcgi

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestPairsRoundTrip(t *testing.T) {
	long := strings.Repeat("v", 300)
	var b []byte
	b = AppendPair(b, "REQUEST_METHOD", "GET")
	b = AppendPair(b, "HTTP_X_LONG", long)
	b = AppendPair(b, strings.Repeat("N", 200), "")
	if want := PairLen("REQUEST_METHOD", "GET") + PairLen("HTTP_X_LONG", long) + PairLen(strings.Repeat("N", 200), ""); len(b) != want {
		t.Fatalf("encoded %d bytes, PairLen says %d", len(b), want)
	}
	var got []string
	if err := ParsePairs(b, func(n, v []byte) { got = append(got, string(n)+"="+string(v)) }); err != nil {
		t.Fatal(err)
	}
	want := []string{"REQUEST_METHOD=GET", "HTTP_X_LONG=" + long, strings.Repeat("N", 200) + "="}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q", got)
	}
}

func TestParsePairsRefusesBadLengths(t *testing.T) {
	for name, b := range map[string][]byte{
		"name past the end":       {5, 0, 'a'},
		"value past the end":      {1, 3, 'a', 'b'},
		"four-byte length cut":    {0x80, 0},
		"huge four-byte length":   {0xff, 0xff, 0xff, 0xff, 0, 'a'},
		"a value length missing":  {1},
		"a pair cut after a pair": {1, 1, 'a', 'b', 2},
	} {
		if err := ParsePairs(b, func(_, _ []byte) {}); !errors.Is(err, ErrMalformedParams) {
			t.Errorf("%s: err = %v, want ErrMalformedParams", name, err)
		}
	}
}

func TestRecordsSplitAndPad(t *testing.T) {
	content := bytes.Repeat([]byte("x"), MaxContent+10)
	b := AppendRecord(nil, TypeStdout, 1, content)
	b = AppendRecord(b, TypeStderr, 1, []byte("oops\n"))
	b = append(b, Version1, TypeEndRequest, 0, 1, 0, 8, 0, 0, 0, 0, 0, 7, StatusRequestComplete, 0, 0, 0)
	var errs []string
	s := NewStdout(NewReader(bytes.NewReader(b), 1), func(p []byte) { errs = append(errs, string(p)) })
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content) || len(errs) != 1 || errs[0] != "oops\n" {
		t.Errorf("stdout %d bytes, stderr %q", len(got), errs)
	}
	if s.End == nil || s.End.AppStatus != 7 {
		t.Errorf("end = %+v", s.End)
	}
	for i := 0; i < len(b); {
		n, pad := int(b[i+4])<<8|int(b[i+5]), int(b[i+6])
		if (n+pad)%8 != 0 {
			t.Errorf("record at %d: %d+%d bytes, not a multiple of 8", i, n, pad)
		}
		i += HeaderSize + n + pad
	}
}

func TestStdoutRefusesBadStreams(t *testing.T) {
	rec := func(typ uint8, id uint16, content []byte) []byte { return AppendRecord(nil, typ, id, content) }
	end := func(status uint8) []byte {
		return append([]byte{Version1, TypeEndRequest, 0, 1, 0, 8, 0, 0}, 0, 0, 0, 0, status, 0, 0, 0)
	}
	for name, tc := range map[string]struct {
		stream []byte
		want   error
	}{
		"closed before END_REQUEST":     {rec(TypeStdout, 1, []byte("Status: 200\r\n\r\nhi")), io.ErrUnexpectedEOF},
		"content length past the end":   {[]byte{1, TypeStdout, 0, 1, 0xff, 0xff, 0, 0, 'a', 'b'}, io.ErrUnexpectedEOF},
		"padding past the end":          {[]byte{1, TypeStdout, 0, 1, 0, 1, 200, 0, 'a'}, io.ErrUnexpectedEOF},
		"header cut":                    {[]byte{1, TypeStdout, 0}, io.ErrUnexpectedEOF},
		"version 2":                     {[]byte{2, TypeStdout, 0, 1, 0, 0, 0, 0}, ErrProtocol},
		"another request id":            {rec(TypeStdout, 2, []byte("x")), ErrProtocol},
		"END_REQUEST of 4 bytes":        {[]byte{1, TypeEndRequest, 0, 1, 0, 4, 0, 0, 0, 0, 0, 0}, ErrProtocol},
		"a record a server never sends": {rec(TypeParams, 1, nil), ErrProtocol},
		"overloaded":                    {end(StatusOverloaded), ErrProtocol},
	} {
		_, err := io.ReadAll(NewStdout(NewReader(bytes.NewReader(tc.stream), 1), nil))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
}

func TestWriteStdin(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 10000)
	var out bytes.Buffer
	if err := WriteStdin(&out, 1, bytes.NewReader(body), int64(len(body)), make([]byte, 32<<10)); err != nil {
		t.Fatal(err)
	}
	// Read it back as a server would.
	var got []byte
	b := out.Bytes()
	ends := 0
	for len(b) > 0 {
		n, pad := int(b[4])<<8|int(b[5]), int(b[6])
		if b[0] != Version1 || b[1] != TypeStdin || (n+pad)%8 != 0 {
			t.Fatalf("bad record header % x", b[:8])
		}
		if n == 0 {
			ends++
		}
		got = append(got, b[8:8+n]...)
		b = b[8+n+pad:]
	}
	if !bytes.Equal(got, body) || ends != 1 {
		t.Errorf("got %d bytes, %d end records", len(got), ends)
	}
	err := WriteStdin(io.Discard, 1, bytes.NewReader(body[:10]), 20, make([]byte, 4096))
	if err == nil {
		t.Error("a body shorter than announced was written without error")
	}
}

// Remaining counts the content left before a successful END_REQUEST
// when every record up to it is at hand, and says nothing otherwise.
func TestStdoutRemaining(t *testing.T) {
	rec := func(typ uint8, id uint16, content string) []byte {
		return AppendRecord(nil, typ, id, []byte(content))
	}
	end := func(status uint8) []byte {
		return AppendRecord(nil, TypeEndRequest, 1, []byte{0, 0, 0, 0, status, 0, 0, 0})
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	full := cat(rec(TypeStdout, 1, "abc"), rec(TypeStderr, 1, "log"), rec(TypeStdout, 1, "de"), rec(TypeStdout, 1, ""), end(StatusRequestComplete))
	for _, c := range []struct {
		name  string
		next  []byte
		n     int
		whole bool
	}{
		{"all there", full, 5, true},
		{"end cut short", full[:len(full)-1], 0, false},
		{"no end yet", full[:len(full)-16], 0, false},
		{"nothing", nil, 0, false},
		{"overloaded", cat(rec(TypeStdout, 1, "abc"), end(StatusOverloaded)), 0, false},
		{"another request's record", cat(rec(TypeStdout, 2, "abc"), end(StatusRequestComplete)), 0, false},
		{"an unknown type", cat(rec(TypeStdin, 1, "abc"), end(StatusRequestComplete)), 0, false},
	} {
		s := NewStdout(NewReader(bytes.NewReader(nil), 1), nil)
		if n, whole := s.Remaining(c.next); n != c.n || whole != c.whole {
			t.Errorf("%s: Remaining = %d, %v; want %d, %v", c.name, n, whole, c.n, c.whole)
		}
	}
	// What is already read counts: a record half read, then the rest.
	s := NewStdout(NewReader(bytes.NewReader(full), 1), nil)
	p := make([]byte, 1)
	if _, err := s.Read(p); err != nil {
		t.Fatal(err)
	}
	if n, whole := s.Remaining(full[len(rec(TypeStdout, 1, "abc")):]); n != 4 || !whole {
		t.Errorf("after one byte read: Remaining = %d, %v; want 4, true", n, whole)
	}
}
