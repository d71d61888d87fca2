package cli

import (
	"strings"
	"testing"

	"github.com/stack-web/stack/config"
)

// admin.allowed_hosts is read when the admin's TCP listener opens: a
// reload that changes it is refused as needing a restart, as
// admin.listen is, rather than said to be applied while the old names
// stay in force.
func TestReloadRefusesAdminAllowedHosts(t *testing.T) {
	running, f := &config.File{}, &config.File{}
	running.Admin.AllowedHosts = []string{"metrics.internal"}
	f.Admin.AllowedHosts = []string{"metrics.internal", ".corp"}
	if got := strings.Join(restartOnlyChanges(running, f), "; "); !strings.Contains(got, "admin.allowed_hosts") {
		t.Errorf("restartOnlyChanges = %q, want admin.allowed_hosts named", got)
	}
	f.Admin.AllowedHosts = []string{"metrics.internal"}
	if got := restartOnlyChanges(running, f); len(got) != 0 {
		t.Errorf("the same names: restartOnlyChanges = %q", got)
	}
}
