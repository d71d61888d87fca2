package fastcgi

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzStdout feeds arbitrary bytes to the record reader, as a hostile or
// broken server would send them: it must end with io.EOF only after a
// well-formed END_REQUEST, and otherwise with an error, never a panic, a
// hang or more bytes than were sent.
func FuzzStdout(f *testing.F) {
	ok := AppendRecord(nil, TypeStdout, 1, []byte("Status: 404\r\nContent-Type: text/plain\r\n\r\nno"))
	ok = AppendRecord(ok, TypeStderr, 1, []byte("PHP message: x"))
	ok = append(ok, Version1, TypeEndRequest, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	f.Add(ok)
	f.Add([]byte{1, TypeStdout, 0, 1, 0xff, 0xff, 0, 0})
	f.Add([]byte{1, TypeEndRequest, 0, 1, 0, 8, 255, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewStdout(NewReader(bytes.NewReader(data), 1), func(p []byte) {
			if len(p) > MaxContent {
				t.Fatalf("stderr chunk of %d bytes", len(p))
			}
		})
		out, err := io.ReadAll(s)
		if len(out) > len(data) {
			t.Fatalf("read %d bytes of stdout from %d bytes", len(out), len(data))
		}
		if err == nil && s.End == nil {
			t.Fatal("a stream without END_REQUEST ended cleanly")
		}
		if err != nil && s.End != nil && s.End.ProtocolStatus == StatusRequestComplete {
			t.Fatalf("a complete END_REQUEST read with error %v", err)
		}
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrProtocol) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		// Pairs: the same bytes as a PARAMS content.
		ParsePairs(data, func(n, v []byte) {
			if len(n)+len(v) > len(data) {
				t.Fatalf("pair longer than its input")
			}
		})
	})
}
