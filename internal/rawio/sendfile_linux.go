package rawio

import (
	"os"
	"syscall"
)

// MaxSendfileChunk bounds one sendfile(2) call. A raw call is not a
// point where the scheduler can stop the goroutine: a stop-the-world (the
// GC's) waits for it to return, and so does the processor it holds. A
// call copies until the socket's buffer is full or the chunk is sent
// (about 250 µs for 1 MiB over loopback), so the wait stays a fraction of
// a millisecond; a 1 MiB file still goes in one call, as from nginx
// (sendfile_max_chunk 2m).
const MaxSendfileChunk = 1 << 20

// SendFile sends n bytes of the regular file src, from its offset (which
// it advances, as read(2) would), with sendfile(2), waiting in the poller
// while the socket's buffer is full, under the socket's write deadline.
// It returns how many bytes went; fewer than n with a nil error when the
// file ended first (it was truncated). Errors as Write's.
//
// The calls are raw, as Write's: net.TCPConn's ReadFrom enters the
// scheduler's syscall state around sendfile, and a call that long (a
// whole file into the socket's buffer) always outlived the runtime
// monitor's patience: it took the processor away and woke another thread
// to run it, and the sender, back from the kernel, had to wait for one.
// The price is that a call that must read the file from disk holds its
// processor meanwhile, as an nginx worker without aio is held: a static
// file is served from the page cache as a rule, and a call reads at most
// MaxSendfileChunk.
func (x *IO) SendFile(src uintptr, n int64) (int64, error) {
	if n <= 0 {
		return 0, nil
	}
	x.wmu.Lock()
	defer x.wmu.Unlock()
	var sent int64
	var errno syscall.Errno
	eof := false
	// One chunk a callback: the loop back through rc.Write is where the
	// scheduler can stop this goroutine (a raw call and a loop of them
	// are not), so a client fast enough that the socket's buffer never
	// fills holds the processor, and a stop-the-world waits, for one
	// chunk and not for the whole file.
	chunk := func(fd uintptr) bool {
		for {
			m, e := Sendfile(fd, src, int(min(n-sent, MaxSendfileChunk)))
			switch e {
			case 0:
				eof = m == 0
				sent += int64(m)
				return true
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				errno = e
				return true
			}
		}
	}
	for sent < n && !eof && errno == 0 {
		if err := x.rc.Write(chunk); err != nil {
			return sent, err
		}
	}
	if errno != 0 {
		return sent, os.NewSyscallError("sendfile", errno)
	}
	return sent, nil
}
