package tunnel

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// IsUpgrade reports whether r asks to switch protocols.
func IsUpgrade(r *http.Request) bool {
	if _, ok := r.Header["Upgrade"]; !ok {
		return false
	}
	for _, v := range r.Header["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// DropRefusedUpgrade removes the Upgrade header of a request that asks
// for an upgrade the edge never passes on, and reports whether it did;
// the request is then served as a plain one (a server may ignore an
// Upgrade, RFC 9110 §7.8):
//   - on HTTP/1.0, whose Upgrade a server must ignore (§7.8);
//   - to HTTP/2 (h2c, h2, HTTP/2.0): through the tunnel the client would
//     speak HTTP/2 to the app directly, every request past the edge's
//     locations, limits and internal paths (h2c smuggling).
func DropRefusedUpgrade(r *http.Request) bool {
	refuse := !r.ProtoAtLeast(1, 1)
	for _, v := range r.Header["Upgrade"] {
		for tok := range strings.SplitSeq(v, ",") {
			name, version, _ := strings.Cut(strings.TrimSpace(tok), "/")
			if strings.EqualFold(name, "h2c") || strings.EqualFold(name, "h2") ||
				(strings.EqualFold(name, "http") && strings.HasPrefix(version, "2")) {
				refuse = true
			}
		}
	}
	if refuse {
		delete(r.Header, "Upgrade")
		delete(r.Header, "Http2-Settings")
	}
	return refuse
}

// errUnaskedSwitch: an upstream answered 101 to a request that asked for
// no upgrade. Passed on, it would take the client's connection over.
var errUnaskedSwitch = errors.New("upstream answered 101 Switching Protocols to a request that asked for no upgrade")

// CheckSwitch refuses (502) a 101 to a request that asked for no upgrade,
// one to another protocol than asked, and one over a transport whose body
// is not the connection (FastCGI). ReverseProxy refused the last two
// itself, but without closing the body, which is the upstream connection
// (held until the garbage collector finds it, its server counted busy);
// refused here, the forwarder closes it. An accepted switch gets its body
// wrapped (switchedBody).
func CheckSwitch(resp *http.Response) error {
	if resp.Request == nil || !IsUpgrade(resp.Request) {
		return errUnaskedSwitch
	}
	asked, got := SwitchedTo(resp.Request.Header), SwitchedTo(resp.Header)
	if got == "" || !strings.EqualFold(asked, got) || strings.ContainsFunc(got, func(r rune) bool { return r < ' ' || r > '~' }) {
		return fmt.Errorf("upstream switched to protocol %q when %q was asked", got, asked)
	}
	if strings.EqualFold(asked, "websocket") {
		// A 101 without the handshake's answer was not made by a
		// WebSocket server (a handler that wrote the status and went on as
		// HTTP): the tunnel would take the client to the app's own
		// request parser, past the edge's rules. An RFC 6455 client fails
		// such a connection anyway (§4.1).
		key := resp.Request.Header.Get("Sec-WebSocket-Key")
		if key == "" || resp.Header.Get("Sec-WebSocket-Accept") != websocketAccept(key) {
			return errors.New("upstream answered 101 to a WebSocket request without the Sec-WebSocket-Accept its Sec-WebSocket-Key calls for (RFC 6455 §4.2.2): no handshake was made")
		}
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		return errors.New("upstream answered 101 Switching Protocols over a protocol that cannot switch (FastCGI: a response is records, not a connection to take over)")
	}
	resp.Body = &switchedBody{ReadWriteCloser: rwc, readEnded: make(chan struct{})}
	return nil
}

// switchedBody is the upstream's side of a switched connection, as
// the forwarder copies it (edge/internal/forward/upgrade.go). It ends both directions at the first
// error of either, so a write to an upstream that has closed (a WebSocket
// server closing with 1009 while the client still sends the rest of the
// message) would end it before the upstream's last bytes, its close
// frame, were copied to the client. A failed write waits for the reading
// side to reach the upstream's end first, for at most finalReadWait.
type switchedBody struct {
	io.ReadWriteCloser
	readEnded chan struct{}
	once      sync.Once
}

const finalReadWait = time.Second

func (b *switchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadWriteCloser.Read(p)
	if err != nil {
		b.once.Do(func() { close(b.readEnded) })
	}
	return n, err
}

func (b *switchedBody) Write(p []byte) (int, error) {
	n, err := b.ReadWriteCloser.Write(p)
	if err != nil {
		t := time.NewTimer(finalReadWait)
		defer t.Stop()
		select {
		case <-b.readEnded:
		case <-t.C:
		}
	}
	return n, err
}

// CloseWrite passes the client's half-close on where the upstream's side
// can take one (uwsgi); elsewhere the error ends both directions, as
// the forwarder does for a body without CloseWrite.
func (b *switchedBody) CloseWrite() error {
	if cw, ok := b.ReadWriteCloser.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// websocketAccept is the Sec-WebSocket-Accept that answers key.
func websocketAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// SwitchedTo is the protocol h upgrades to, as ReverseProxy and the forwarder read it: the
// Upgrade header when Connection lists "upgrade", else "".
func SwitchedTo(h http.Header) string {
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return h.Get("Upgrade")
			}
		}
	}
	return ""
}
