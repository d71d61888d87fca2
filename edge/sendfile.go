package edge

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/stack-web/stack/internal/rawio"
)

// sendFile copies a file to the client in one ReadFrom, which is one
// sendfile(2) call on a fast link where pieces of renewEvery bytes were
// sixteen calls, sixteen deadline renewals and sixteen passes through
// net/http for a 1 MiB file (about a fifth of the edge's CPU for it).
//
// send_timeout still counts between the client's reads, as in nginx, and
// not for the whole file: every quarter of the timeout a watchdog looks
// at how far the client got, and when it moved sets the write deadline
// to one timeout and a quarter from then. How far is the file's offset
// (which sendfile, or the copy that stands for it, advances) less what
// the socket still holds unacknowledged (SIOCOUTQ): the offset alone
// moves only when the kernel wakes the sender, which is once a third of
// a full send buffer has drained (over a second of a slow client with
// Linux's 4 MiB buffers), so a steady reader looked stalled. A client
// whose reads are less than a timeout apart is never cut, however slow;
// one that stops reading is cut between one and one and a half timeouts
// after its last progress.
func (w *clientWriter) sendFile(rf io.ReaderFrom, lr *io.LimitedReader, f *os.File) (int64, error) {
	// Raw (rawio.Seek): f is this response's until ReadFrom returns.
	start, errno := rawio.Seek(f.Fd(), 0, io.SeekCurrent)
	if errno != 0 {
		start = -1 // the watchdog's first look counts as progress
	}
	w.renew()
	wd := &sendWatchdog{f: f, taken: start, w: w, timeout: w.timeout}
	wd.unsent, _ = w.ResponseWriter.(unsentCounter)
	wd.mu.Lock()
	wd.timer = time.AfterFunc(wd.every(), wd.look)
	wd.mu.Unlock()
	n, err := rf.ReadFrom(lr)
	wd.stop()
	w.bytes += n
	w.renewedAt = w.bytes
	return n, err
}

// unsentCounter is the h1 server's response: how many bytes its socket
// holds that the client has not acknowledged.
type unsentCounter interface{ Unsent() (int, bool) }

// sendWatchdog renews a response's write deadline while a file is sent.
type sendWatchdog struct {
	f       *os.File
	w       *clientWriter
	timeout time.Duration

	unsent unsentCounter // nil where the socket's queue cannot be read

	mu    sync.Mutex
	taken int64 // how far the client got at the last look
	timer *time.Timer
	done  bool // the send ended: the deadline is the handler's again
}

func (wd *sendWatchdog) look() {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	if wd.done {
		return
	}
	off, err := wd.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return // the deadline set last stands
	}
	if wd.unsent != nil {
		if q, ok := wd.unsent.Unsent(); ok {
			off -= int64(q)
		}
	}
	if off != wd.taken {
		wd.taken = off
		wd.w.setWriteDeadline(time.Now().Add(wd.timeout + wd.timeout/4))
	}
	wd.timer.Reset(wd.every())
}

// every is how often the watchdog looks: a quarter of the timeout, but
// not more often than every millisecond (a send_timeout of a few
// nanoseconds would make it spin).
func (wd *sendWatchdog) every() time.Duration { return max(wd.timeout/4, time.Millisecond) }

// stop ends the watchdog; no renewal happens after it returns.
func (wd *sendWatchdog) stop() {
	wd.mu.Lock()
	wd.done = true
	wd.timer.Stop()
	wd.mu.Unlock()
}
