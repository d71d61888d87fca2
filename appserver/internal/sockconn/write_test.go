package sockconn

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// BenchmarkFDWriteKept is a response's write on a kept connection (a
// descriptor already in the poller, as every kept connection of the edge's
// is after its first idle wait), with the peer reading it: the write path's
// cost per response, without a handler or a scheduler in the way.
func BenchmarkFDWriteKept(b *testing.B) {
	c, peer := polledPair(b, 4*time.Second)
	resp := make([]byte, 160) // hello's response through the worker
	buf := make([]byte, 4096)
	// The thread's CPU time, not the wall clock, on a busy shared machine.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(resp); err != nil {
			b.Fatal(err)
		}
		if n, err := syscall.Read(peer, buf); err != nil || n != len(resp) {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(threadCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// polledPair is a connected Unix socket pair: its one end an FD with
// the given timeout, already in the poller (as a kept connection is after
// its first idle wait), its other a raw descriptor; both closed at the
// test's end.
func polledPair(tb testing.TB, timeout time.Duration) (*FD, int) {
	tb.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { syscall.Close(fds[1]) })
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		tb.Fatal(err)
	}
	c := &FD{fd: fds[0], timeout: timeout}
	tb.Cleanup(func() { c.Close() })
	c.poll()
	return c, fds[1]
}

// threadCPU is the calling thread's user and system time, in ns.
func threadCPU() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// A kept connection's writes that the socket takes at once set no write
// deadline; one that finds the socket full still waits, and times out
// after the connection's timeout.
func TestFDWriteWaitsWithDeadlineOnlyWhenFull(t *testing.T) {
	c, _ := polledPair(t, 200*time.Millisecond)
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatalf("small write: %v", err)
	}
	// Nobody reads the peer: a big write fills the socket, waits in the
	// poller, and must end in a timeout, not hang nor claim success.
	big := make([]byte, 16<<20)
	start := time.Now()
	n, err := c.Write(big)
	if err == nil || n >= len(big) {
		t.Fatalf("write into a full socket = %d, %v; want a timeout", n, err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("the write returned after %v", el)
	}
	t.Logf("write into a full socket: %d bytes, then %v", n, err)
}

// socket_timeout bounds a pause in a write, not the whole of it (uWSGI's
// socket-timeout and nginx's send_timeout are per operation): one big
// Write, as a handler writing a 4 MiB body at once makes, to a reader
// that is slow but never pauses as long as the timeout, goes out whole.
// With one deadline for the whole write it was cut once the timeout had
// passed (seen as a slow client's truncated 4 MiB response under load).
func TestFDBigWriteToASlowReaderIsNotCut(t *testing.T) {
	c, peer := polledPair(t, 300*time.Millisecond)
	const size = 2 << 20
	got := make(chan int)
	go func() {
		buf := make([]byte, 64<<10)
		n := 0
		for n < size {
			time.Sleep(25 * time.Millisecond) // 64 KiB each 25 ms: ~0.8 s in all
			m, err := syscall.Read(peer, buf)
			if err != nil || m == 0 {
				break
			}
			n += m
		}
		got <- n
	}()
	start := time.Now()
	n, err := c.Write(make([]byte, size))
	el := time.Since(start)
	if err != nil || n != size {
		t.Fatalf("a %d-byte write to a slow reader: %d written after %v, %v; want all (no pause reached the %v timeout)", size, n, el, err, c.timeout)
	}
	if r := <-got; r != size {
		t.Fatalf("the reader got %d of %d bytes", r, size)
	}
	t.Logf("%d bytes in %v with a %v timeout", size, el, c.timeout)
}
