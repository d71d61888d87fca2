package control

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-web/stack/admin"
)

// fakeAdmin serves a status and refuses a reload on a Unix socket, as the
// admin's control socket does.
func fakeAdmin(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "admin.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status.json", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(admin.Status{PID: 4242, Uptime: 61, Ready: true,
			Tiers:   []admin.Tier{{Name: "edge", State: "serving", Addrs: []string{"http://127.0.0.1:8000/"}}},
			Workers: []admin.Worker{{ID: 1, PID: 4243, State: "busy", Requests: 17, RSS: 3 << 20, Current: "GET /polls/", Running: 0.25}}})
	})
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "these keys need a restart: mode", http.StatusConflict)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func execute(t *testing.T, e *Env, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	e.Stdout = &out
	c := StatusCommand(e)
	switch args[0] {
	case "reload":
		c = ReloadCommand(e)
	case "top":
		c = TopCommand(e)
	}
	c.SetArgs(args[1:])
	c.SilenceUsage, c.SilenceErrors = true, true
	err := c.Execute()
	return out.String(), err
}

// status, top --once and reload over the socket: --socket wins over the
// configuration's, the tables show what the admin said, and a refused
// reload is an error carrying the admin's reason.
func TestControlCommandsOverTheSocket(t *testing.T) {
	sock := fakeAdmin(t)
	e := &Env{Terminal: func() bool { return false }, Socket: func(flag string) (string, error) {
		if flag != sock {
			t.Errorf("Socket(%q), want --socket's %q", flag, sock)
		}
		return flag, nil
	}}
	out, err := execute(t, e, "status", "--socket", sock)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"stack pid 4242, up 1m1s, ready", "edge  serving  http://127.0.0.1:8000/", "3.0MiB", "GET /polls/ (250ms)"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if out, err := execute(t, e, "status", "--socket", sock, "--json"); err != nil || !strings.Contains(out, `"pid":4242`) {
		t.Errorf("status --json: %v\n%s", err, out)
	}
	if out, err := execute(t, e, "top", "--socket", sock); err != nil || !strings.Contains(out, "DELTA") || strings.Contains(out, "\x1b[") {
		t.Errorf("top without a terminal: %v\n%q", err, out)
	}
	if _, err := execute(t, e, "reload", "--socket", sock); err == nil || err.Error() != "these keys need a restart: mode" {
		t.Errorf("a refused reload: %v", err)
	}
}

func TestControlSocketNobodyListensOn(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	e := &Env{Terminal: func() bool { return false }, Socket: func(string) (string, error) { return sock, nil }}
	if _, err := execute(t, e, "status"); err == nil || !strings.Contains(err.Error(), "is the stack running") {
		t.Errorf("no stack: %v", err)
	}
}
