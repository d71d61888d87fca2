package edge

import (
	"io"
	"os"
	"sync"
	"time"
)

// sendFile copies a file to the client in one ReadFrom, which is one
// sendfile(2) call on a fast link where pieces of renewEvery bytes were
// sixteen calls, sixteen deadline renewals and sixteen passes through
// net/http for a 1 MiB file (about a fifth of the edge's CPU for it).
//
// send_timeout still counts between writes, as in nginx, and not for the
// whole file: a watchdog looks at the file's offset, which sendfile (or
// the copy that stands for it) advances as the client takes bytes, every
// quarter of the timeout, and when it moved sets the write deadline to
// one timeout and a quarter from then. A client whose reads are less than
// a timeout apart is never cut, however slow; one that stops reading is
// cut between one and one and a half timeouts after its last progress.
// (The kernel wakes a sender only once much of a full send buffer has
// drained, so a slow reader's progress comes in bursts.)
func (w *clientWriter) sendFile(rf io.ReaderFrom, lr *io.LimitedReader, f *os.File) (int64, error) {
	start, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		start = -1 // the watchdog's first look counts as progress
	}
	w.renew()
	wd := &sendWatchdog{f: f, offset: start, w: w, timeout: w.timeout}
	wd.mu.Lock()
	wd.timer = time.AfterFunc(w.timeout/4, wd.look)
	wd.mu.Unlock()
	n, err := rf.ReadFrom(lr)
	wd.stop()
	w.bytes += n
	w.renewedAt = w.bytes
	return n, err
}

// sendWatchdog renews a response's write deadline while a file is sent.
type sendWatchdog struct {
	f       *os.File
	w       *clientWriter
	timeout time.Duration

	mu     sync.Mutex
	offset int64 // the file's offset at the last look
	timer  *time.Timer
	done   bool // the send ended: the deadline is the handler's again
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
	if off != wd.offset {
		wd.offset = off
		wd.w.setWriteDeadline(time.Now().Add(wd.timeout + wd.timeout/4))
	}
	wd.timer.Reset(wd.timeout / 4)
}

// stop ends the watchdog; no renewal happens after it returns.
func (wd *sendWatchdog) stop() {
	wd.mu.Lock()
	wd.done = true
	wd.timer.Stop()
	wd.mu.Unlock()
}
