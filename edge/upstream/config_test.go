package upstream

import (
	"errors"
	"strings"
	"testing"
)

// Each problem is reported on its own, under the key the caller gives,
// and the defaults with a server have none.
func TestConfigValidateNamesEachKey(t *testing.T) {
	c := Default()
	c.Servers = []string{"unix:run/app.sock"}
	if errs := c.Validate("edge.upstreams.app"); len(errs) != 0 {
		t.Fatalf("defaults refused: %v", errors.Join(errs...))
	}
	c.Protocol, c.Balance, c.BufferSize = "gopher", "random", 100
	errs := c.Validate("edge.upstreams.app")
	want := []string{
		`edge.upstreams.app.protocol: "gopher" is not one of uwsgi, fastcgi, http`,
		`edge.upstreams.app.balance: "random" is not one of`,
		"edge.upstreams.app.buffer_size: 100 is outside 512..65535",
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d problems, want %d: %v", len(errs), len(want), errors.Join(errs...))
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("problem %d: %q, want it to start with %q", i, errs[i], w)
		}
	}
	// The servers' problems name the item, with one colon: it read
	// "edge.upstreams.app.servers: : every server is a backup".
	for servers, w := range map[string]string{
		"unix:run/app.sock backup":   "edge.upstreams.app.servers: every server is a backup",
		"unix:run/app.sock weight=0": "edge.upstreams.app.servers[0]: \"weight=0\"",
	} {
		c := Default()
		c.Servers = []string{servers}
		errs := c.Validate("edge.upstreams.app")
		if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), w) {
			t.Errorf("servers %q: %v, want one problem starting with %q", servers, errs, w)
		}
	}
}

// protocol: fastcgi is accepted with its keys, which are checked, and
// refused on other protocols.
func TestConfigFastCGIKeys(t *testing.T) {
	c := Default()
	c.Servers = []string{"unix:run/php.sock"}
	c.Protocol, c.Root = "fastcgi", "/srv/php"
	if errs := c.Validate("edge.upstreams.php"); len(errs) != 0 {
		t.Fatalf("a valid fastcgi upstream refused: %v", errors.Join(errs...))
	}
	c.Root, c.ScriptFilename, c.Index, c.SplitPathInfo = "srv/php", "index.php", "a/b", `^(.+\.php)$`
	want := []string{
		`edge.upstreams.php.root: "srv/php" is not an absolute path`,
		`edge.upstreams.php.script_filename: "index.php" is not an absolute path`,
		`edge.upstreams.php.index: "a/b" must be a file name`,
		`edge.upstreams.php.split_path_info: "^(.+\\.php)$" has 1 groups`,
	}
	errs := c.Validate("edge.upstreams.php")
	if len(errs) != len(want) {
		t.Fatalf("got %d problems, want %d: %v", len(errs), len(want), errors.Join(errs...))
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("problem %d: %q, want it to start with %q", i, errs[i], w)
		}
	}
	c = Default()
	c.Servers = []string{"unix:run/app.sock"}
	c.Root = "/srv/php"
	if errs := c.Validate("edge.upstreams.app"); len(errs) != 1 || !strings.Contains(errs[0].Error(), "edge.upstreams.app.root: applies to protocol: fastcgi only") {
		t.Errorf("root on a uwsgi upstream: %v", errs)
	}
}
