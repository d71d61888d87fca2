package edge_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/edge"
)

// rawGET sends GET path on c (keep-alive) and returns status and body.
func rawGET(t *testing.T, c net.Conn, br *bufio.Reader, path string) (int, string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

func TestReloadAppliesToTheNextRequestOnTheSameConnection(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(dirA, "f"), []byte("A"), 0o644)
	os.WriteFile(filepath.Join(dirB, "f"), []byte("B"), 0o644)
	sock := startApp(t, http.HandlerFunc(echoHandler))
	config := func(root string, keepalive time.Duration, listen ...string) edge.Config {
		cfg := proxyConfig("unix:" + sock)
		cfg.Locations = append(cfg.Locations, edge.LocationConfig{Path: "/s/", Root: root})
		cfg.KeepaliveTimeout = keepalive
		cfg.Listen = listen
		return cfg
	}
	e, err := edge.New(config(dirA, time.Minute, "127.0.0.1:0"), t.TempDir(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.Serve() }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	addr := e.Addrs()[0].String()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if code, body := rawGET(t, c, br, "/s/f"); code != 200 || body != "A" {
		t.Fatalf("before: %d %q", code, body)
	}

	// A request in flight across the reload finishes (on the old state).
	slow := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+addr+"/slowpost", "text/plain", strings.NewReader("x"))
		if err != nil {
			slow <- -1
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	time.Sleep(200 * time.Millisecond)

	// A new keep-alive timeout takes a new http.Server generation; a new
	// address is opened beside the old one, which stays the same socket.
	if err := e.Reload(config(dirB, 50*time.Second, "127.0.0.1:0", "localhost:0")); err != nil {
		t.Fatal(err)
	}
	if code, body := rawGET(t, c, br, "/s/f"); code != 200 || body != "B" {
		t.Fatalf("after the reload, on the same connection: %d %q", code, body)
	}
	addrs := e.Addrs()
	if len(addrs) != 2 || addrs[0].String() != addr {
		t.Fatalf("addresses after adding one: %v (was %s)", addrs, addr)
	}
	c2, err := net.Dial("tcp", addrs[1].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if code, body := rawGET(t, c2, bufio.NewReader(c2), "/s/f"); code != 200 || body != "B" {
		t.Fatalf("on the added address: %d %q", code, body)
	}
	if code := <-slow; code != 200 {
		t.Errorf("the request in flight across the reload got %d", code)
	}

	// An invalid configuration changes nothing.
	bad := config(dirA, time.Minute, "127.0.0.1:0")
	bad.Locations[1].Upstream = "nope"
	if err := e.Reload(bad); err == nil {
		t.Fatal("an invalid configuration was accepted")
	}
	if code, body := rawGET(t, c, br, "/s/f"); code != 200 || body != "B" {
		t.Fatalf("after a refused reload: %d %q", code, body)
	}

	// Removing the added address closes it; the first connection lives on.
	if err := e.Reload(config(dirA, time.Minute, "127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", addrs[1].String(), time.Second); err == nil {
		t.Errorf("%s still accepts after its removal", addrs[1])
	}
	if code, body := rawGET(t, c, br, "/s/f"); code != 200 || body != "A" {
		t.Fatalf("after the second reload: %d %q", code, body)
	}
}
