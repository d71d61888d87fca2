package uwsgi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// FuzzReadRequest feeds arbitrary bytes to the server side of the protocol:
// ReadPacket, then NewRequest. It must never panic, never read past the
// block it announced, and every packet it accepts must survive a re-encode
// unchanged.
func FuzzReadRequest(f *testing.F) {
	var e Encoder
	e.Reset(nil, 0, 0)
	for _, v := range nginxVars() {
		e.Add(v.Key, v.Value)
	}
	nginx, _ := e.Bytes(0)
	f.Add(append(append([]byte{}, nginx...), "{}"...), 4096)
	f.Add(packet(0, 0, "REQUEST_METHOD", "GET", "PATH_INFO", "/"), 4096)
	f.Add(packet(0, 0, "REQUEST_METHOD", "GET", "REQUEST_URI", "/a%2f?b"), 100)
	f.Add(packet(30, 0, "REQUEST_METHOD", "GET", "SCRIPT_NAME", "/x", "PATH_INFO", "/x/y"), 4096)
	f.Add(packet(0, 0, "K", "V", "K", "V"), 4096)
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), 4096)
	f.Add([]byte{0, 0xff, 0xff, 0}, 65535)
	f.Add([]byte{0, 3, 0, 0, 9, 0, 'a'}, 0)
	f.Add([]byte{}, 4096)

	f.Fuzz(func(t *testing.T, data []byte, max int) {
		max = max % (MaxBufferSize + 2)
		br := bufio.NewReaderSize(bytes.NewReader(data), 4096)
		p, err := ReadPacket(br, max, nil)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) &&
				!errors.Is(err, ErrModifier) && !errors.Is(err, ErrBlockTooLarge) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		size := int(data[1]) | int(data[2])<<8
		// An input that fits the reader's buffer is read in one fill, so
		// what is still buffered is exactly what follows the block.
		if len(data) <= br.Size() && br.Buffered() != len(data)-HeaderSize-size {
			t.Fatalf("consumed %d bytes, want header+block = %d", len(data)-br.Buffered(), HeaderSize+size)
		}

		// Re-encoding the accepted vars reproduces the packet byte for byte.
		var e Encoder
		e.Reset(nil, p.Modifier1, p.Modifier2)
		for _, v := range p.Vars {
			e.Add(v.Key, v.Value)
		}
		again, err := e.Bytes(0)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(again, data[:HeaderSize+size]) {
			t.Fatalf("re-encoded packet differs:\n%q\n%q", again, data[:HeaderSize+size])
		}

		r, err := NewRequest(context.Background(), p, io.NopCloser(br))
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("NewRequest: unclassified error %v", err)
			}
			return
		}
		if r.Method == "" || r.URL == nil || r.Header == nil || r.Body == nil {
			t.Fatalf("incomplete request %#v", r)
		}
		if r.ContentLength < 0 {
			t.Fatalf("negative ContentLength %d", r.ContentLength)
		}
	})
}
