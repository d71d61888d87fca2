package cli

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/internal/envnames"
	"github.com/stack-web/stack/internal/testport"
)

// The sockets `stack up` holds in mode: subprocess follow a reload as the
// edge does in this process: an address removed is closed at once (it
// refuses, rather than queue connections nobody will accept), one added is
// held from the edge child's next start; the appserver's socket file goes
// when its socket is closed for the stop. The child reads what it got.
func TestHeldSocketsFollowAReloadAndReachTheChild(t *testing.T) {
	a, b := freeAddr(t), freeAddr(t)
	sock := filepath.Join(t.TempDir(), "app.sock")
	f := &config.File{}
	f.Edge.Listen = []string{a}
	f.Appserver.Listen, f.Appserver.SocketMode, f.Appserver.ListenBacklog = "unix:"+sock, 0o660, 16
	h, err := holdSockets(f)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	dialable(t, a, true)

	files, env := inheritOnce(t, h, "edge", 4)
	if len(files) != 1 || env != envnames.InheritedListeners+"=edge:4:"+strings.ReplaceAll(a, ":", "%3A") {
		t.Fatalf("edge child gets %d files, %q", len(files), env)
	}
	t.Setenv(envnames.InheritedListeners, strings.TrimPrefix(env, envnames.InheritedListeners+"="))
	got, err := inheritedSockets()
	if err != nil || len(got) != 1 || takeInherited(got, heldEdge, a) != 4 || takeInherited(got, heldEdge, a) != -1 {
		t.Errorf("the child reads %+v, %v", got, err)
	}
	if _, set := os.LookupEnv(envnames.InheritedListeners); set {
		t.Error("the variable is left for the child's own children")
	}

	reloaded := &config.File{}
	reloaded.Edge.Listen = []string{b}
	if err := h.prepareEdge(reloaded); err != nil {
		t.Fatal(err)
	}
	h.reloadEdge(reloaded)
	dialable(t, a, false) // the child's own copy was closed in this test already
	dialable(t, b, false) // the running child opens it
	files, _ = inheritOnce(t, h, "edge", 3)
	if len(files) != 1 {
		t.Fatalf("after the reload the edge child gets %d files", len(files))
	}
	dialable(t, b, true)
	// A new address another program has refuses the reload, which
	// changes nothing: the child's next start still gets b.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	refused := &config.File{}
	refused.Edge.Listen = []string{b, busy.Addr().String()}
	if err := h.prepareEdge(refused); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("a reload adding an address in use: %v", err)
	}
	if files, _ := inheritOnce(t, h, "edge", 3); len(files) != 1 {
		t.Errorf("after the refused reload the edge child gets %d files", len(files))
	}

	files, env = inheritOnce(t, h, "appserver", 3)
	if len(files) != 1 || !strings.HasPrefix(env, envnames.InheritedListeners+"=appserver:3:") {
		t.Fatalf("appserver child gets %d files, %q", len(files), env)
	}
	h.closeKind(true)
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket file after closing it for the stop: %v", err)
	}
	if files, _ := inheritOnce(t, h, "appserver", 3); len(files) != 0 {
		t.Error("a child started during the stop gets the closed socket")
	}
}

func inheritOnce(t *testing.T, h *heldSockets, tier string, fd int) ([]*os.File, string) {
	t.Helper()
	files, env, err := h.inherit(tier, 0)(fd)
	if err != nil {
		t.Fatal(err)
	}
	closeFiles(files)
	return files, strings.Join(env, " ")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := testport.Free()
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}

func dialable(t *testing.T, addr string, want bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	if got := err == nil; got != want {
		t.Errorf("connecting to %s: %v, want it to connect: %v", addr, err, want)
	}
	if !want && !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connecting to %s: %v, want it refused", addr, err)
	}
}
