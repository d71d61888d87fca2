package transport

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
	"github.com/stack-web/stack/uwsgi/uwsgitest"
)

// switchingUwsgi answers every request with 101, then "early" in the same
// write, and echoes what follows until the edge closes. vars receives each
// request's variables.
func switchingUwsgi(t *testing.T, vars chan<- uwsgi.Vars, ended chan<- error) string {
	sock, _ := uwsgitest.Serve(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		p, err := uwsgi.ReadPacket(br, uwsgi.MaxBufferSize, nil)
		if err != nil {
			return
		}
		vars <- p.Vars
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nearly")
		_, err = io.Copy(c, br) // the echo, until the edge closes
		ended <- err
	})
	return sock
}

func upgradeRequest(t *testing.T, upgrade bool) *http.Request {
	req, err := http.NewRequestWithContext(context.Background(), "GET", "http://app/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.RequestURI = "/ws"
	if upgrade {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
	}
	return req
}

// An upgrade request reaches a uwsgi server with HTTP_UPGRADE and
// HTTP_CONNECTION; its 101 comes back with the connection as the body,
// readable (what came after the head first) and writable, and closing it
// closes the connection: never kept, even when the server offers.
func TestUwsgiTransportSwitchesProtocols(t *testing.T) {
	vars, ended := make(chan uwsgi.Vars, 2), make(chan error, 2)
	tr := &UwsgiTransport{Network: "unix", Address: switchingUwsgi(t, vars, ended), ReadTimeout: 200 * time.Millisecond,
		SendTimeout: time.Second, BufferSize: uwsgi.DefaultBufferSize, KeepAlive: 4, KeepAliveTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(upgradeRequest(t, true))
	if err != nil {
		t.Fatal(err)
	}
	v := <-vars
	if v.Value("HTTP_UPGRADE") != "websocket" || v.Value("HTTP_CONNECTION") != "Upgrade" {
		t.Errorf("HTTP_UPGRADE %q, HTTP_CONNECTION %q", v.Value("HTTP_UPGRADE"), v.Value("HTTP_CONNECTION"))
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("got %d %v", resp.StatusCode, resp.Header)
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("body %T is not an io.ReadWriteCloser", resp.Body)
	}
	// Quiet for longer than read_timeout: the request's timeouts no
	// longer apply to a switched connection.
	time.Sleep(400 * time.Millisecond)
	if _, err := io.WriteString(rwc, "ping"); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("earlyping"))
	if _, err := io.ReadFull(rwc, got); err != nil || string(got) != "earlyping" {
		t.Fatalf("read %q, %v", got, err)
	}
	rwc.Close()
	select {
	case <-ended: // the server saw the end: the connection was closed, not pooled
	case <-time.After(5 * time.Second):
		t.Fatal("the switched connection was not closed by Close")
	}
	if c := tr.idle.get(time.Minute); c != nil {
		t.Error("a switched connection went to the keep-alive pool")
	}
}

// A 101 to a request that asked for no upgrade is an error (the proxy
// answers 502): a server must not take a connection over unasked.
func TestUwsgiTransportRefusesAnUnaskedSwitch(t *testing.T) {
	vars, ended := make(chan uwsgi.Vars, 2), make(chan error, 2)
	tr := &UwsgiTransport{Network: "unix", Address: switchingUwsgi(t, vars, ended), ReadTimeout: time.Second,
		SendTimeout: time.Second, BufferSize: uwsgi.DefaultBufferSize}
	resp, err := tr.RoundTrip(upgradeRequest(t, false))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got %d, want an error", resp.StatusCode)
	}
	// Neither a timeout (504) nor a failed connection (tried elsewhere):
	// a refused response, which the group answers 502.
	var te *TimeoutError
	var de *DialError
	if !strings.Contains(err.Error(), "asked for no upgrade") || errors.As(err, &te) || errors.As(err, &de) || IsTimeout(err) {
		t.Errorf("err %v, want a refused response", err)
	}
}
