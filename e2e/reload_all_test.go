package e2e

import (
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A reload one tier cannot take (the edge: a new address already in use)
// is taken by none: the appserver took it, chain-reloading its workers,
// and the admin's /config showed the new file while the edge ran the old
// one. As nginx keeps its old configuration when the new one fails, the
// edge now makes the reload ready first (its new addresses opened), and
// the appserver takes it only then.
func TestAReloadOneTierCannotTakeChangesNoTier(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := writeConfig(t, workersConfig(""))
	p := start(t, dir, "up", "--set", "admin.socket=run/admin.sock")
	u, err := url.Parse(p.url())
	if err != nil {
		t.Fatal(err)
	}
	addr, admin := u.Host, unixClient(filepath.Join(dir, "run", "admin.sock"))
	workersPIDs(t, dir, 2)

	changed := strings.Replace(workersConfig("  log_requests: true\n"), `listen: ["127.0.0.1:0"]`,
		`listen: ["127.0.0.1:0", "`+busy.Addr().String()+`"]`, 1)
	if !strings.Contains(changed, busy.Addr().String()) {
		t.Fatal("the test's edge.listen replacement found nothing")
	}
	heldWrite(t, filepath.Join(dir, "stack.yaml"), changed)
	if code, body := adminDo(t, admin, http.MethodPost, "/reload"); code != http.StatusConflict || !strings.Contains(body, "address already in use") {
		t.Errorf("POST /reload: %d %s, want 409 naming the address in use", code, body)
	} else if !strings.Contains(body, "configuration: edge: listen on") || strings.Contains(body, "edge: edge:") {
		t.Errorf("POST /reload: %s, want the tier named once", body) // break-it 15: "edge: edge: listen on"
	}
	if out := p.Output(); strings.Contains(out, "chain reload") {
		t.Errorf("the appserver reloaded although the edge could not:\n%s", out)
	}
	if _, body := adminDo(t, admin, http.MethodGet, "/config"); strings.Contains(body, "log_requests: true") || strings.Contains(body, busy.Addr().String()) {
		t.Errorf("/config shows the configuration no tier runs:\n%s", body)
	}
	// And the workers, respawned too, run the old one.
	pids := workersPIDs(t, dir, 2)
	for _, pid := range pids {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
	heldRespawned(t, dir, pids, 1, 2)
	heldLogsNoRequest(t, p, addr, "workers log requests after a reload every tier refused")
}
