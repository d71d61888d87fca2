package h1

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stack-web/stack/internal/rawio"
)

func sendfileTestFile(t *testing.T, size int) (*os.File, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, data
}

// ReadFrom sends a section of a file with the raw sendfile calls: from the
// file's offset, exactly the limit, in several calls (more than
// rawio.MaxSendfileChunk) and poller waits (a client that reads slowly),
// leaving the offset and the LimitedReader where a read would have.
func TestRawTCPSendFileSection(t *testing.T) {
	raw, client := tcpPair(t)
	const size, from, n = 5<<20 + 123, 1000, 3<<20 + 7
	if n <= 2*rawio.MaxSendfileChunk {
		t.Fatal("the section must take several calls")
	}
	f, data := sendfileTestFile(t, size)
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		var b []byte
		buf := make([]byte, 64<<10)
		for len(b) < n {
			time.Sleep(time.Millisecond) // slower than the sender: its buffer fills
			m, err := client.Read(buf)
			b = append(b, buf[:m]...)
			if err != nil {
				break
			}
		}
		got <- b
	}()
	lr := &io.LimitedReader{R: f, N: n}
	sent, err := raw.ReadFrom(lr)
	if err != nil || sent != n {
		t.Fatalf("ReadFrom = %d, %v; want %d, nil", sent, err, n)
	}
	if lr.N != 0 {
		t.Errorf("LimitedReader left with N = %d, want 0", lr.N)
	}
	if pos, _ := f.Seek(0, io.SeekCurrent); pos != from+n {
		t.Errorf("file offset after = %d, want %d", pos, from+n)
	}
	if b := <-got; !bytes.Equal(b, data[from:from+n]) {
		t.Errorf("client got %d bytes, not the section's %d", len(b), n)
	}
}

// A file shorter than the limit (truncated under the sender) ends the send
// short without an error: the caller sees the count, as from net's.
func TestRawTCPSendFileShortFile(t *testing.T) {
	raw, client := tcpPair(t)
	f, data := sendfileTestFile(t, 100<<10)
	go io.Copy(io.Discard, client)
	lr := &io.LimitedReader{R: f, N: 1 << 20}
	sent, err := raw.ReadFrom(lr)
	if err != nil || sent != int64(len(data)) || lr.N != 1<<20-int64(len(data)) {
		t.Fatalf("ReadFrom = %d, %v (N left %d); want %d, nil", sent, err, lr.N, len(data))
	}
}

// A client that reads nothing: the send ends at the write deadline with
// the timeout error net.TCPConn gives, having sent what the buffers took.
func TestRawTCPSendFileDeadline(t *testing.T) {
	raw, _ := tcpPair(t)
	f, _ := sendfileTestFile(t, 32<<20)
	raw.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	start := time.Now()
	sent, err := raw.ReadFrom(&io.LimitedReader{R: f, N: 32 << 20})
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadFrom to a stalled client: %d, %v; want a timeout", sent, err)
	}
	if sent <= 0 || sent >= 32<<20 {
		t.Errorf("sent %d bytes, want some but not all", sent)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the deadline took %v", d)
	}
}

// What sendfile cannot read (a pipe) goes the TCPConn's way, whole.
func TestRawTCPSendFileFromPipe(t *testing.T) {
	raw, client := tcpPair(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	data := bytes.Repeat([]byte("pipe "), 20000)
	go func() {
		pw.Write(data)
		pw.Close()
	}()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	sent, err := raw.ReadFrom(&io.LimitedReader{R: pr, N: int64(len(data))})
	if err != nil || sent != int64(len(data)) {
		t.Fatalf("ReadFrom(pipe) = %d, %v; want %d, nil", sent, err, len(data))
	}
	raw.CloseWrite()
	if b := <-got; !bytes.Equal(b, data) {
		t.Errorf("client got %d bytes, want %d", len(b), len(data))
	}
}
