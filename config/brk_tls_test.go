package config

import (
	"strings"
	"testing"
)

// admin.listen on an edge.tls_listen address passed check (only
// edge.listen was compared), and up failed later with a bare "address
// already in use", after its release had run.
func TestCheckAdminListenCollidesWithTLSListen(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, c := range []struct {
		set  []string
		want string
	}{
		{[]string{"edge.tls=internal", "edge.tls_listen=[127.0.0.1:18443]", "admin.listen=127.0.0.1:18443"}, `admin.listen: "127.0.0.1:18443" collides with edge.tls_listen[0] "127.0.0.1:18443"`},
		{[]string{"edge.tls=internal", "edge.tls_listen=[127.0.0.1:8443, 0.0.0.0:18444]", "admin.listen=127.0.0.1:18444"}, `collides with edge.tls_listen[1]`},
	} {
		_, msg := loadErr(t, Options{Set: c.set})
		if !strings.Contains(msg, c.want) {
			t.Errorf("%q: %q, want %q", c.set, msg, c.want)
		}
	}
}
