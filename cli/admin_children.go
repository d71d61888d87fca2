package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stack-web/stack/admin"
	"github.com/stack-web/stack/config"
)

// In mode: subprocess the parent serves the admin surface, and each tier
// child serves its own on a Unix socket only, RUN_DIR/admin-TIER.sock
// (mode 0600), which the parent reads: their metrics (with a tier label),
// their readiness, workers and upstreams, and the scaling requests.

// childAdmin are the flags that give a tier child its admin socket, or
// turn its admin off when the parent has none.
func childAdmin(f *config.File, tier string) []string {
	if f.Admin.Listen == "" && f.Admin.Socket == "" {
		return []string{"--set", "admin.listen=", "--set", "admin.socket="}
	}
	return []string{"--set", "admin.listen=", "--set", "admin.socket=" + childAdminSocket(f, tier)}
}

// edgeChildNames are the edge's children: "edge", or with edge.processes
// above 1 "edge-1", "edge-2"...: their output's prefix and admin socket.
func edgeChildNames(f *config.File) []string {
	if f.Edge.Processes <= 1 {
		return []string{"edge"}
	}
	names := make([]string, f.Edge.Processes)
	for i := range names {
		names[i] = "edge-" + strconv.Itoa(i+1)
	}
	return names
}

// tierChildNames are every tier child's names: the edge's, then the appserver's.
func tierChildNames(f *config.File) []string {
	return append(edgeChildNames(f), "appserver")
}

func childAdminSocket(f *config.File, tier string) string {
	return filepath.Join(f.RunDir, "admin-"+tier+".sock")
}

// removeChildAdminSockets removes the tier children's admin sockets
// once the stack has stopped and its children are gone. A child removes
// its own as it stops; one killed (SIGKILL, a crash) left it behind, and
// when the stack stopped before the child's restart, which removes a
// stale socket before it binds, the file stayed in run_dir. Only a socket
// nobody answers on is removed.
func removeChildAdminSockets(f *config.File, logger *slog.Logger) {
	if f.Admin.Listen == "" && f.Admin.Socket == "" {
		return // the children had none
	}
	for _, tier := range tierChildNames(f) {
		path := childAdminSocket(f, tier)
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode().Type() != fs.ModeSocket {
			continue
		}
		if c, err := net.DialTimeout("unix", path, 100*time.Millisecond); err == nil {
			c.Close()
			continue // someone serves it: not ours to remove
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			logger.Warn("removing a tier child's admin socket", "path", path, "err", err)
		}
	}
}

// childSources reads the children through their admin sockets.
func (a *adminWiring) childSources(src *admin.Sources) {
	var edges []*admin.Remote
	for i, name := range edgeChildNames(a.f) {
		r := admin.NewRemote("edge", childAdminSocket(a.f, name))
		if a.f.Edge.Processes > 1 {
			r.Process = strconv.Itoa(i + 1)
		}
		edges = append(edges, r)
	}
	appR := admin.NewRemote("appserver", childAdminSocket(a.f, "appserver"))
	src.Remotes = append(slices.Clone(edges), appR)
	// Ready while the appserver and one edge process are: the others'
	// connections wait in their sockets' queues while one restarts, and a
	// balancer that took the whole stack out for it would lose more.
	src.Ready = func() error {
		var errs []error
		for _, r := range edges {
			err := r.Ready()
			if err == nil {
				return appR.Ready()
			}
			if r.Process != "" {
				err = fmt.Errorf("process %s: %w", r.Process, err)
			}
			errs = append(errs, err)
		}
		return errors.Join(append(errs, appR.Ready())...)
	}
	src.Tiers = func() []admin.Tier {
		var out []admin.Tier
		for _, r := range src.Remotes {
			st, err := r.Status()
			if err != nil {
				out = append(out, admin.Tier{Name: strings.TrimSpace(r.Name + " " + r.Process), Addrs: []string{"(child process not answering)"}, State: "starting"})
				continue
			}
			for _, t := range st.Tiers {
				if t.Name == r.Name {
					t.Addrs = append(t.Addrs, fmt.Sprintf("child process pid %d", st.PID))
					if r.Process != "" {
						t.Name += " " + r.Process
					}
					out = append(out, t)
				}
			}
		}
		for _, p := range a.reload.effective().Processes {
			out = append(out, admin.Tier{Name: p.Name, Addrs: []string{strings.Join(config.RedactCommand(p.Command), " ")}, State: "child process"})
		}
		return out
	}
	src.Workers = func() []admin.Worker {
		if st, err := appR.Status(); err == nil {
			return st.Workers
		}
		return nil
	}
	// Each edge process has its own view of the upstreams (passive
	// health, kept connections); the first that answers stands for them.
	src.Upstreams = func() []admin.Upstream {
		for _, r := range edges {
			if st, err := r.Status(); err == nil {
				return st.Upstreams
			}
		}
		return nil
	}
	scale := func(path string) func() (int, error) {
		return func() (int, error) {
			msg, err := appR.Post(path)
			if err != nil {
				return 0, err
			}
			var id int
			fmt.Sscanf(msg, "worker %d", &id)
			return id, nil
		}
	}
	src.AddWorker, src.RemoveWorker = scale("/workers/add"), scale("/workers/remove")
}
