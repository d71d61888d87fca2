package edge

import (
	"io"
	"os"

	"github.com/stack-web/stack/edge/internal/sendwatch"
	"github.com/stack-web/stack/internal/rawio"
)

// sendFile copies a file to the client in one ReadFrom, which is one
// sendfile(2) call on a fast link where pieces of renewEvery bytes were
// sixteen calls, sixteen deadline renewals and sixteen passes through
// net/http for a 1 MiB file (about a fifth of the edge's CPU for it).
// send_timeout still counts between the client's reads, as in nginx, and
// not for the whole file (edge/internal/sendwatch).
func (w *clientWriter) sendFile(rf io.ReaderFrom, lr *io.LimitedReader, f *os.File) (int64, error) {
	// Raw (rawio.Seek): f is this response's until ReadFrom returns.
	start, errno := rawio.Seek(f.Fd(), 0, io.SeekCurrent)
	if errno != 0 {
		start = -1 // the watchdog's first look counts as progress
	}
	w.renew()
	wd := sendwatch.Start(f, start, w.ResponseWriter, w.timeout)
	n, err := rf.ReadFrom(lr)
	wd.Stop()
	w.bytes += n
	w.renewedAt = w.bytes
	return n, err
}
