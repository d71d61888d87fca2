package forward

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// switchProtocols serves an upstream's 101 to a request that asked to
// upgrade (Modify has checked the protocol and the handshake: edge/internal/tunnel):
// the client's connection is taken over (clientWriter.Hijack counts and
// bounds it), the 101's head written to it, and bytes copied both ways
// until either side ends, as ReverseProxy's handleUpgradeResponse does.
func (f *Forwarder) switchProtocols(w http.ResponseWriter, out *http.Request, resp *http.Response) {
	backConn, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		f.Fail(w, out, errors.New("internal error: 101 switching protocols response with non-writable body"))
		return
	}
	conn, brw, hijackErr := http.NewResponseController(w).Hijack()
	if errors.Is(hijackErr, http.ErrNotSupported) {
		backConn.Close()
		f.Fail(w, out, fmt.Errorf("can't switch protocols using non-Hijacker ResponseWriter type %T", w))
		return
	}
	// The request's end (its context: the location's limits, Shutdown)
	// closes the upstream's side, which ends the copying.
	closed := make(chan struct{})
	go func() {
		select {
		case <-out.Context().Done():
		case <-closed:
		}
		backConn.Close()
	}()
	defer close(closed)
	if hijackErr != nil {
		f.Fail(w, out, fmt.Errorf("Hijack failed on protocol switch: %v", hijackErr))
		return
	}
	defer conn.Close()

	copyHeader(w.Header(), resp.Header, false)
	resp.Header = w.Header()
	resp.Body = nil // resp.Write writes the head alone; the body is backConn
	if err := resp.Write(brw); err != nil {
		f.Fail(w, out, fmt.Errorf("response write: %v", err))
		return
	}
	if err := brw.Flush(); err != nil {
		f.Fail(w, out, fmt.Errorf("response flush: %v", err))
		return
	}
	errc := make(chan error, 1)
	go copySwitched(conn, backConn, errc) // upstream → client
	go copySwitched(backConn, conn, errc) // client → upstream
	// Both directions ended, or one failed.
	if err := <-errc; err == nil {
		<-errc
	}
}

// errCopyDone: a direction ended at its source's end and the other side
// cannot be half-closed; the switched connection is over.
var errCopyDone = errors.New("switched connection copy complete")

// copySwitched copies one direction of a switched connection, then passes
// its end on as a half-close where dst can take one.
func copySwitched(dst io.Writer, src io.Reader, errc chan<- error) {
	if _, err := io.Copy(dst, src); err != nil {
		errc <- err
		return
	}
	if wc, ok := dst.(interface{ CloseWrite() error }); ok {
		errc <- wc.CloseWrite()
		return
	}
	errc <- errCopyDone
}
