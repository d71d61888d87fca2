package config

import (
	"strings"
	"testing"
)

func TestAdminDefaultsFollowRunDir(t *testing.T) {
	t.Chdir(t.TempDir())
	f, msg := loadErr(t, Options{Set: []string{"run_dir=/srv/data"}})
	if msg != "" {
		t.Fatal(msg)
	}
	if f.Admin.Listen != "127.0.0.1:8001" || f.Admin.Socket != "/srv/data/admin.sock" || f.AdminGiven {
		t.Errorf("admin %+v given %v", f.Admin, f.AdminGiven)
	}
	t.Setenv("STACK_ADMIN_SOCKET", "/tmp/ctl.sock")
	f, msg = loadErr(t, Options{Set: []string{"admin.listen="}})
	if msg != "" {
		t.Fatal(msg)
	}
	if f.Admin.Listen != "" || f.Admin.Socket != "/tmp/ctl.sock" || !f.AdminGiven {
		t.Errorf("admin %+v given %v", f.Admin, f.AdminGiven)
	}
}

// What `stack check` says of bad admin keys, each naming the key and
// where it was written.
func TestCheckCatchesAdminProblems(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, c := range []struct {
		set  []string
		want string
	}{
		{[]string{"admin.listen=8001"}, `--set admin.listen: admin.listen: "8001" is not host:port`},
		{[]string{"admin.listen=127.0.0.1:8000"}, `admin.listen: "127.0.0.1:8000" collides with edge.listen[0]`},
		{[]string{"admin.listen=0.0.0.0:9000", "edge.listen=127.0.0.1:9000"}, "collides with edge.listen[0]"},
		{[]string{"admin.listen=10.255.255.1:8001"}, "cannot listen on 10.255.255.1"},
		{[]string{"admin.socket=run/app.sock"}, `admin.socket: "run/app.sock" is also appserver.listen's socket`},
		{[]string{"admin.socket=/" + strings.Repeat("x", 110)}, "at most 107"},
		{[]string{"admin.colour=blue"}, "admin.colour: unknown key (known keys: allowed_hosts, listen, socket)"},
	} {
		_, msg := loadErr(t, Options{Set: c.set})
		if !strings.Contains(msg, c.want) {
			t.Errorf("%q: %q, want %q", c.set, msg, c.want)
		}
	}
	// The edge alone does not care about the app server's socket.
	if _, msg := loadErr(t, Options{Scope: "edge", Set: []string{"admin.socket=run/app.sock"}}); msg != "" {
		t.Errorf("edge scope: %s", msg)
	}
}

func TestWarnsOfAnAdminListenerOffLoopback(t *testing.T) {
	t.Chdir(t.TempDir())
	f, msg := loadErr(t, Options{Set: []string{"admin.listen=0.0.0.0:8001"}})
	if msg != "" {
		t.Fatal(msg)
	}
	if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0], "no authentication") {
		t.Errorf("warnings %q", f.Warnings)
	}
	if f, _ := loadErr(t, Options{}); len(f.Warnings) != 0 {
		t.Errorf("default: warnings %q", f.Warnings)
	}
}

// Found by running the binary (break-it 14): a stats server on every
// interface, or an app server socket every local user may write to, drew
// no warning, as an admin listener off loopback does.
func TestWarnsOfAStatsServerOffLoopbackAndAnOpenSocket(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, c := range []struct {
		set  []string
		want string // "" for no warning
	}{
		{[]string{"appserver.processes=2", "appserver.stats=0.0.0.0:9191"}, "appserver.stats"},
		{[]string{"appserver.processes=2", "appserver.stats=:9191"}, "appserver.stats"},
		{[]string{"appserver.processes=2", "appserver.stats=127.0.0.1:9191"}, ""},
		{[]string{"appserver.processes=2", "appserver.stats=unix:run/stats.sock"}, ""},
		{[]string{"appserver.socket_mode=0666"}, "appserver.socket_mode"},
		{[]string{"appserver.socket_mode=0777"}, "appserver.socket_mode"},
		{[]string{"appserver.socket_mode=0660"}, ""},
		{[]string{"appserver.listen=127.0.0.1:3031", "appserver.socket_mode=0666"}, ""}, // no socket file
	} {
		f, msg := loadErr(t, Options{Set: c.set})
		if msg != "" {
			t.Fatalf("%v: %s", c.set, msg)
		}
		var got []string
		for _, w := range f.Warnings {
			if strings.Contains(w, "appserver.") {
				got = append(got, w)
			}
		}
		switch {
		case c.want == "" && len(got) != 0:
			t.Errorf("%v: warnings %q, want none", c.set, got)
		case c.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], c.want)):
			t.Errorf("%v: warnings %q, want one about %s", c.set, got, c.want)
		}
	}
}
