package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/edge/upstream"
	"github.com/stack-web/stack/fastcgi"
)

// WireBytes measures the bytes the edge sends to an app server for one
// request, per protocol: the real edge (in this process) forwards raw, a
// request as a client sends it, to a server that records what arrives up
// to the end of the request (uwsgi: the packet; FastCGI: the records to
// the empty STDIN one; HTTP: the head) and answers. Nothing is estimated:
// the figure is the encoders' real output for that request.
func WireBytes(raw []byte, protocols ...string) (map[string]int, error) {
	out := map[string]int{}
	for _, proto := range protocols {
		n, _, err := wireBytes(raw, proto)
		if err != nil {
			return nil, fmt.Errorf("bench: measuring the %s request: %w", proto, err)
		}
		out[proto] = n
	}
	return out, nil
}

// wireBytes returns the size and the bytes of the request the edge sent
// over proto.
func wireBytes(raw []byte, proto string) (int, []byte, error) {
	dir, err := os.MkdirTemp("", "stack-bench-wire-")
	if err != nil {
		return 0, nil, err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "up.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		return 0, nil, err
	}
	defer l.Close()
	got := make(chan []byte, 1)
	errc := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		var rec bytes.Buffer
		br := bufio.NewReader(io.TeeReader(c, &rec))
		if err := readRequest(br, proto); err != nil {
			errc <- err
			return
		}
		// What the request took, less what the reader read ahead (nothing
		// follows a bodiless request, but be exact).
		got <- rec.Bytes()[:rec.Len()-br.Buffered()]
		answer(c, proto)
	}()

	cfg := edge.DefaultConfig()
	cfg.Listen = []string{"127.0.0.1:0"}
	up := upstream.Default()
	up.Protocol, up.Servers, up.Retries = proto, []string{"unix:" + sock}, 0
	cfg.Upstreams = map[string]upstream.Config{"app": up}
	cfg.Locations = []edge.LocationConfig{{Path: "/", Upstream: "app"}}
	e, err := edge.New(cfg, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		return 0, nil, err
	}
	if err := e.Listen(); err != nil {
		e.Close()
		return 0, nil, err
	}
	done := make(chan struct{})
	go func() { e.Serve(); close(done) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		e.Shutdown(ctx)
		<-done
	}()
	c, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		return 0, nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(raw); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	select {
	case b := <-got:
		return len(b), b, nil
	case err := <-errc:
		return 0, nil, err
	}
}

// readRequest reads one bodiless request of proto to its end.
func readRequest(br *bufio.Reader, proto string) error {
	switch proto {
	case "uwsgi":
		var h [4]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return err
		}
		_, err := br.Discard(int(binary.LittleEndian.Uint16(h[1:3])))
		return err
	case "fastcgi":
		for {
			var h [fastcgi.HeaderSize]byte
			if _, err := io.ReadFull(br, h[:]); err != nil {
				return err
			}
			n := int(binary.BigEndian.Uint16(h[4:])) + int(h[6])
			if _, err := br.Discard(n); err != nil {
				return err
			}
			if h[1] == fastcgi.TypeStdin && n == 0 {
				return nil
			}
		}
	case "http":
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return err
			}
			if len(bytes.TrimRight(line, "\r\n")) == 0 {
				return nil
			}
		}
	}
	return fmt.Errorf("unknown protocol %q", proto)
}

// answer sends a small complete response in proto.
func answer(c net.Conn, proto string) {
	const resp = "Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
	switch proto {
	case "fastcgi":
		b := fastcgi.AppendRecord(nil, fastcgi.TypeStdout, 1, []byte(resp))
		b = fastcgi.AppendRecord(b, fastcgi.TypeStdout, 1, nil)
		c.Write(append(b, 1, fastcgi.TypeEndRequest, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
	default:
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	}
}

// referenceRequest is the request every way is measured with: what a
// client (curl, a browser without cookies) sends for a page.
func referenceRequest(host, path string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: stack-bench\r\nAccept: */*\r\n\r\n")
}
