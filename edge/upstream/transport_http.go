package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// bodyTimeoutTransport gives an http upstream's response body the
// read_timeout that UwsgiTransport keeps: http.Transport bounds only the
// wait for the head (ResponseHeaderTimeout), so a server that stopped in
// the middle of its body held the client until it closed. A read that
// waits longer than timeout cancels the request, which makes the
// transport close that connection and the read fail; the response to the
// client is then aborted, as a truncated one is.
type bodyTimeoutTransport struct {
	rt      *http.Transport
	timeout time.Duration
	addr    string // the server, for messages
}

func (t bodyTimeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	resp, err := t.rt.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel(nil)
		return nil, err
	}
	if rwc, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		// The connection, switched: no read_timeout (the location's
		// websocket limits bound it), and it must stay writable.
		resp.Body = upgradedBody{rwc, cancel}
		return resp, nil
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		// The transport is done with the connection; the context can go.
		cancel(nil)
		return resp, nil
	}
	b := &timedBody{body: resp.Body, cancel: cancel, timeout: t.timeout, addr: t.addr}
	b.timer = time.AfterFunc(time.Hour, b.expire)
	b.timer.Stop()
	resp.Body = b
	return resp, nil
}

// errBodyPause cancels a request whose response body paused too long.
var errBodyPause = errors.New("response body paused longer than read_timeout")

// CloseIdleConnections releases the pool's idle connections.
func (t bodyTimeoutTransport) CloseIdleConnections() { t.rt.CloseIdleConnections() }

// timedBody runs its timer only while a Read waits on the server: a pause
// of the client (which reads at its own pace when buffering is off) is
// not the server's.
type timedBody struct {
	body    io.ReadCloser
	cancel  context.CancelCauseFunc
	timeout time.Duration
	addr    string
	timer   *time.Timer

	mu      sync.Mutex
	expired bool
}

func (b *timedBody) expire() {
	b.mu.Lock()
	b.expired = true
	b.mu.Unlock()
	b.cancel(errBodyPause)
}

func (b *timedBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.timeout)
	n, err := b.body.Read(p)
	b.timer.Stop()
	b.mu.Lock()
	expired := b.expired
	b.mu.Unlock()
	if expired && err != nil {
		err = &upstreamTimeoutError{fmt.Errorf("reading the response body of %s: no data within read_timeout %v", b.addr, b.timeout)}
	}
	return n, err
}

func (b *timedBody) Close() error {
	b.timer.Stop()
	err := b.body.Close()
	b.cancel(nil)
	return err
}
