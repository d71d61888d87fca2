package rawio

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// chunkWatch is a RawConn whose Write records the most bytes of f one call
// of the callback sent: what the goroutine sent without once returning to
// Go code that can be preempted.
type chunkWatch struct {
	syscall.RawConn
	f     *os.File
	most  int64
	calls int
}

func (c *chunkWatch) Write(fn func(uintptr) bool) error {
	return c.RawConn.Write(func(fd uintptr) bool {
		before, _ := Seek(c.f.Fd(), 0, io.SeekCurrent)
		done := fn(fd)
		after, _ := Seek(c.f.Fd(), 0, io.SeekCurrent)
		c.most = max(c.most, after-before)
		c.calls++
		return done
	})
}

// A raw sendfile is no point where the scheduler can stop the goroutine,
// and neither is the loop around it: one callback that kept calling
// sendfile while a fast client kept the socket's buffer from filling held
// its processor for the whole file (645 calls of 1 MiB in a row, 0.4 s,
// under strace -f; with GOMAXPROCS=1, every other request of the edge
// waited up to 710 ms behind one download of a 3 GiB file, against 21 ms
// with net's sendfile), and a stop-the-world (the GC's) waited as long.
// SendFile must come back to Go code after each chunk.
func TestSendFileReturnsToTheSchedulerAfterEachChunk(t *testing.T) {
	server, client := tcpPair(t)
	rc, _ := server.SyscallConn()
	name := filepath.Join(t.TempDir(), "sparse")
	const size = 64 * MaxSendfileChunk
	if err := os.WriteFile(name, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(name, size); err != nil { // sparse: read as fast as memory
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := &chunkWatch{RawConn: rc, f: f}
	x := New(w)
	read := make(chan int64, 1)
	go func() {
		n, _ := io.CopyBuffer(io.Discard, client, make([]byte, 4<<20))
		read <- n
	}()
	n, err := x.SendFile(f.Fd(), size)
	if err != nil || n != size {
		t.Fatalf("SendFile = %d, %v; want %d, nil", n, err, size)
	}
	server.CloseWrite()
	if got := <-read; got != size {
		t.Errorf("the client read %d bytes, want %d", got, size)
	}
	t.Logf("%d callbacks, at most %d bytes in one", w.calls, w.most)
	if w.most > MaxSendfileChunk {
		t.Errorf("one callback sent %d bytes (%.1f chunks) without returning to the scheduler", w.most, float64(w.most)/MaxSendfileChunk)
	}
}
