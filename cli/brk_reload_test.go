package cli

import (
	"strings"
	"testing"

	"github.com/stack-web/stack/config"
)

// A SIGHUP with a new appserver.socket_mode was accepted ("reloaded") but
// the socket, made once by the master, kept its old mode: tightening
// "0666" to "0600" left it open to every local user while the running
// configuration (and /config) said 0600. listen_backlog was ignored the
// same way. Both are now refused as needing a restart, as listen is.
func TestBrkReloadRefusesSocketModeAndBacklog(t *testing.T) {
	running := &config.File{}
	running.Appserver.Listen = "unix:/run/app.sock"
	running.Appserver.SocketMode = 0o666
	running.Appserver.ListenBacklog = 1024
	f := &config.File{}
	f.Appserver = running.Appserver
	f.Appserver.SocketMode = 0o600
	f.Appserver.ListenBacklog = 100
	got := strings.Join(restartOnlyChanges(running, f), "; ")
	for _, key := range []string{"appserver.socket_mode", "appserver.listen_backlog"} {
		if !strings.Contains(got, key) {
			t.Errorf("restartOnlyChanges = %q, want %s named", got, key)
		}
	}
	// A TCP socket has no mode: changing the key there changes nothing.
	running.Appserver.Listen, f.Appserver.Listen = "127.0.0.1:3031", "127.0.0.1:3031"
	if got := strings.Join(restartOnlyChanges(running, f), "; "); strings.Contains(got, "socket_mode") {
		t.Errorf("with a TCP listen, restartOnlyChanges = %q names socket_mode", got)
	}
}
