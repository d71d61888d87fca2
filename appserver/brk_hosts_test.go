package appserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Go's "tcp" listens on 0.0.0.0 as a dual-stack [::] socket: `listen:
// 0.0.0.0:3031` also took IPv6 connections (nginx's and uWSGI's
// 0.0.0.0 are IPv4 only), and logs named the listener [::]:3031. An IPv4
// address listens on IPv4 only.
func TestListenIPv4AddressIsIPv4Only(t *testing.T) {
	l, err := ListenBacklog("0.0.0.0:0", 0, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ta := l.Addr().(*net.TCPAddr)
	if ta.IP.To4() == nil {
		t.Errorf("listening on %s, want 0.0.0.0", l.Addr())
	}
	c, err := net.DialTimeout("tcp6", net.JoinHostPort("::1", strconv.Itoa(ta.Port)), 2*time.Second)
	if err == nil {
		c.Close()
		t.Errorf("an IPv6 client reached the 0.0.0.0 listener")
	}
}

// appserver.allow was applied by the uwsgi server only: with protocol:
// http or fastcgi, check passed the list and then any host could connect
// and be served. Every protocol's service refuses the others.
func TestAllowListAppliesToEveryProtocol(t *testing.T) {
	for _, proto := range []string{"http", "fastcgi", "uwsgi"} {
		t.Run(proto, func(t *testing.T) {
			logs := &syncBuffer{}
			cfg := DefaultConfig()
			cfg.Protocol, cfg.Listen, cfg.Allow = proto, "0.0.0.0:0", []string{"127.0.0.2"}
			var calls atomic.Int64
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
			svc := NewService(cfg, h, slog.New(slog.NewTextHandler(logs, nil)), Hooks{})
			l, err := Listen("127.0.0.1:0", 0)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- svc.Serve(l) }()
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				svc.Shutdown(ctx)
				<-done
			}()
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, Timeout: 5 * time.Second}
			c, err := d.Dial("tcp", l.Addr().String())
			if err == nil {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
				b, rerr := io.ReadAll(c)
				if len(b) != 0 || rerr != nil && !errors.Is(rerr, syscall.ECONNRESET) {
					t.Errorf("a client from 127.0.0.1 (not allowed) read %q, %v; want nothing", b, rerr)
				}
			} else if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(logs.String(), "not in appserver.allow") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if !strings.Contains(logs.String(), "not in appserver.allow") {
				t.Errorf("no refusal logged:\n%s", logs.String())
			}
			if calls.Load() != 0 {
				t.Errorf("the handler ran %d times for a refused client", calls.Load())
			}
		})
	}
}

// An address with a zone (fe80::1%eth0) was accepted and its zone
// dropped, admitting fe80::1 on every interface, while a prefix with a
// zone was refused: both are refused, naming the entry.
func TestParseAllowRefusesAnAddressWithAZone(t *testing.T) {
	_, _, err := ParseAllow([]string{"10.0.0.1", "fe80::1%eth0"})
	if err == nil || !strings.Contains(err.Error(), `appserver.allow[1]: "fe80::1%eth0" has a zone`) {
		t.Errorf("ParseAllow(fe80::1%%eth0): %v, want an error naming the entry's zone", err)
	}
}
