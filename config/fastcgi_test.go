package config

import (
	"strings"
	"testing"
)

// The FastCGI keys, as `stack check` reports them: each problem names its
// key; and the default upstream follows appserver.protocol.
func TestCheckFastCGIKeys(t *testing.T) {
	for _, c := range []struct {
		set  []string
		want string
	}{
		{[]string{"appserver.protocol=gopher"}, `appserver.protocol: "gopher" is not one of uwsgi, fastcgi, http`},
		{[]string{"appserver.protocol=fastcgi", "appserver.queue_timeout=1s"}, "appserver.queue_timeout: reads the edge's uwsgi variable"},
		{[]string{"edge.upstreams.app.protocol=fastcgi", "edge.upstreams.app.root=www"}, `edge.upstreams.app.root: "www" is not an absolute path`},
		{[]string{"edge.upstreams.app.split_path_info=(x"}, "edge.upstreams.app.split_path_info"},
		{[]string{"edge.upstreams.app.root=/srv"}, "edge.upstreams.app.root: applies to protocol: fastcgi only"},
	} {
		_, msg := loadErr(t, Options{Set: c.set})
		if !strings.Contains(msg, c.want) {
			t.Errorf("--set %q: err = %q, want %q", c.set, msg, c.want)
		}
	}
	f, err := Load(Options{Set: []string{"appserver.protocol=fastcgi", "run_dir=" + t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	if u := f.Edge.Upstreams["app"]; u.Protocol != "fastcgi" || len(u.Servers) != 1 || u.Servers[0] != f.Appserver.Listen {
		t.Errorf("default upstream %s %v, want fastcgi to %s", u.Protocol, u.Servers, f.Appserver.Listen)
	}
	f, err = Load(Options{Set: []string{"edge.upstreams.php.protocol=fastcgi", "edge.upstreams.php.servers=unix:/run/php.sock", "edge.upstreams.php.root=/srv/php", "edge.locations=[{path: /, upstream: php}]", "run_dir=" + t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	if u := f.Edge.Upstreams["php"]; u.Root != "/srv/php" || u.Index != "index.php" || u.SplitPathInfo == "" {
		t.Errorf("php upstream %+v", u)
	}
}
