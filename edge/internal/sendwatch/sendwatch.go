// Package sendwatch keeps send_timeout between a slow client's reads, not
// over a whole file, while the file goes out in one sendfile(2).
//
// Every quarter of the timeout a watchdog looks at how far the client got,
// and when it moved sets the write deadline to one timeout and a quarter
// from then. How far is the file's offset (which sendfile, or the copy
// that stands for it, advances) less what the socket still holds
// unacknowledged (SIOCOUTQ, through the h1 server's Unsent): the offset
// alone moves only when the kernel wakes the sender, which is once a third
// of a full send buffer has drained (over a second of a slow client with
// Linux's 4 MiB buffers), so a steady reader looked stalled. A client
// whose reads are less than a timeout apart is never cut, however slow;
// one that stops reading is cut between one and one and a half timeouts
// after its last progress.
package sendwatch

import (
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// unsentCounter is the h1 server's response: how many bytes its socket
// holds that the client has not acknowledged.
type unsentCounter interface{ Unsent() (int, bool) }

type writeDeadliner interface{ SetWriteDeadline(time.Time) error }

// Watchdog renews a response's write deadline while a file is sent.
type Watchdog struct {
	f       *os.File
	w       http.ResponseWriter // the server's
	timeout time.Duration

	unsent unsentCounter // nil where the socket's queue cannot be read

	mu    sync.Mutex
	taken int64 // how far the client got at the last look
	timer *time.Timer
	done  bool // the send ended: the deadline is the handler's again
}

// Start watches f going out through w (the server's ResponseWriter, under
// any of the edge's), from offset start (-1 if unknown: the first look
// counts as progress). The caller has set the deadline for the first
// timeout; Stop ends the watch.
func Start(f *os.File, start int64, w http.ResponseWriter, timeout time.Duration) *Watchdog {
	wd := &Watchdog{f: f, taken: start, w: w, timeout: timeout}
	wd.unsent, _ = w.(unsentCounter)
	wd.mu.Lock()
	wd.timer = time.AfterFunc(wd.every(), wd.look)
	wd.mu.Unlock()
	return wd
}

func (wd *Watchdog) look() {
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
		t := time.Now().Add(wd.timeout + wd.timeout/4)
		if d, ok := wd.w.(writeDeadliner); ok {
			d.SetWriteDeadline(t)
		} else {
			http.NewResponseController(wd.w).SetWriteDeadline(t)
		}
	}
	wd.timer.Reset(wd.every())
}

// every is how often the watchdog looks: a quarter of the timeout, but
// not more often than every millisecond (a send_timeout of a few
// nanoseconds would make it spin).
func (wd *Watchdog) every() time.Duration { return max(wd.timeout/4, time.Millisecond) }

// Stop ends the watchdog; no renewal happens after it returns.
func (wd *Watchdog) Stop() {
	wd.mu.Lock()
	wd.done = true
	wd.timer.Stop()
	wd.mu.Unlock()
}
