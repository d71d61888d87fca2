package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/supervisor"
)

// reloadSet is what SIGHUP does: read the configuration again with the
// same file and flags and, if it is valid, hand it to every tier that can
// reload in place. An invalid configuration is refused with the messages
// `stack check` prints, and the running one keeps serving.
type reloadSet struct {
	c *cmdEnv
	// scope is what the running command validates (config.Options.Scope):
	// `stack edge` must not start refusing reloads over the app's settings.
	scope string
	// running is the configuration the command started with, when it
	// runs the appserver (itself or as a child): a reload that changes a
	// key only a restart applies is refused, or the edge would follow a
	// new appserver.listen to a socket nobody listens on.
	running *config.File
	// supervises: the command runs running's processes entries (stack up,
	// dev), which are started once; a reload that changes them is refused.
	supervises bool
	// sup takes the new shutdown_timeout, which bounds the next stop.
	sup     *supervisor.Supervisor
	reloads []tierReload
	mu      sync.Mutex                  // one reload at a time
	current atomic.Pointer[config.File] // what /config shows
	// stopping is set when the stop begins (supervisor.OnStopping, before
	// any tier is interrupted): a reload that races it (a SIGHUP and a ^C
	// together) finds tiers shut down under it, which is no failure.
	stopping atomic.Bool
}

// errStopping is a reload's answer once the stop has begun.
var errStopping = errors.New("reload ignored: stopping")

// raced says whether the stop has begun, err being a tier's reload error
// or nil: a tier shut down under the reload says so itself.
func (r *reloadSet) raced(err error) bool {
	return r.stopping.Load() || errors.Is(err, appserver.ErrServerClosed) || errors.Is(err, edge.ErrClosed)
}

// ignore drops a reload that raced the stop: no failure, as the stop's
// exit status is the command's.
func (r *reloadSet) ignore(attrs ...any) error {
	r.c.logger.Info(errStopping.Error(), attrs...)
	return errStopping
}

// tierReload is one tier's part in a reload: apply, or, for a tier that
// can make a configuration ready without changing what it serves (the
// edge), prepare, whose commit applies what it made ready and whose abort
// drops it.
type tierReload struct {
	name    string
	apply   func(*config.File) error
	prepare func(*config.File) (commit func() error, abort func(), err error)
}

// add registers one tier's reload.
func (r *reloadSet) add(tier string, fn func(*config.File) error) {
	r.reloads = append(r.reloads, tierReload{name: tier, apply: fn})
}

// addPrepared registers a tier that prepares a reload first and applies
// it once every other tier has taken it.
func (r *reloadSet) addPrepared(tier string, prepare func(*config.File) (func() error, func(), error)) {
	r.reloads = append(r.reloads, tierReload{name: tier, prepare: prepare})
}

// hook returns the function for supervisor.AddSignals.
func (r *reloadSet) hook() func() {
	return func() { r.reload() }
}

// reload does what SIGHUP does and returns why it refused or failed (nil:
// every tier reloaded). Reloads never overlap: the admin's POST /reload
// waits for a SIGHUP's under way, and the other way round.
func (r *reloadSet) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.raced(nil) {
		return r.ignore()
	}
	if len(r.reloads) == 0 {
		r.c.logger.Warn("SIGHUP: nothing to reload in this mode; ignoring it")
		return errors.New("nothing to reload in this mode")
	}
	if err := r.c.rereadable(); err != nil {
		r.c.logger.Error("reload refused; the running configuration stays", "err", err)
		return err
	}
	// A blank file is refused unless the running configuration was read
	// from one (a start on an empty stack.yaml and STACK_* variables):
	// it is most likely one being written, truncated and not yet
	// filled, and the defaults it would apply are not what runs.
	old := r.current.Load()
	refuseBlank := old == nil || !old.Held.File || len(bytes.TrimSpace(old.Held.Data)) > 0
	f, err := r.c.loadOnly(r.scope, refuseBlank)
	if r.raced(nil) {
		return r.ignore() // whatever the file says, the next start reads it again
	}
	if errors.Is(err, config.ErrBlank) || errors.Is(err, config.ErrChanged) {
		r.c.logger.Error("reload refused; the running configuration stays", "err", err)
		return fmt.Errorf("the running configuration stays: %w", err)
	}
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) && r.c.logFormat != "json" {
			// As `stack check` prints it. With log_format: json the
			// record below carries it: stderr stays one object a line.
			fmt.Fprintln(r.c.stderr, ce.Error())
		}
		r.c.logger.Error("reload refused: the configuration is not valid; the running one stays", "err", err)
		return fmt.Errorf("the configuration is not valid; the running one stays: %w", err)
	}
	if old != nil && old.Held.File && !f.Held.File {
		// stack.yaml, found at start (no --config), is gone: loading
		// applies the built-in defaults (another listen, app, debug on),
		// where nginx's reload of a missing file keeps the running one.
		err := fmt.Errorf("%s, read at start, is gone: a reload would apply the built-in defaults; the running configuration stays (restore the file, or restart to run on the defaults)", config.DefaultPath)
		r.c.logger.Error("reload refused", "err", err)
		return err
	}
	if r.c.dev != nil {
		r.c.dev.adjust(f) // stack dev's own location, as at start
	}
	// What start warns about (an edge no longer reaching the app
	// server) is as likely a mistake in a reload, and is said again.
	for _, w := range f.Warnings {
		r.c.logger.Warn(w)
	}
	changed := restartOnlyChanges(r.running, f)
	if old := r.current.Load(); old != nil && old.LogFormat != f.LogFormat {
		// Each tier's logger, the workers', the children's lines are made
		// in it at start: a reload switched only this process's own
		// records, and the stream mixed the two.
		changed = append(changed, fmt.Sprintf("log_format (%s → %s)", old.LogFormat, f.LogFormat))
	}
	if r.supervises && r.running != nil && !reflect.DeepEqual(r.running.Processes, f.Processes) {
		// Taken, /config showed the new entries while the old ones ran
		// on, and were restarted as they were.
		changed = append(changed, "processes (the commands supervised beside the tiers)")
	}
	if len(changed) > 0 {
		r.c.logger.Error("reload refused: these keys need a restart, which applies them; the running configuration stays",
			"keys", strings.Join(changed, ", "))
		return fmt.Errorf("these keys need a restart, which applies them; the running configuration stays: %s", strings.Join(changed, ", "))
	}
	return r.applyAll(f)
}

// applyAll gives f to every tier, or to none, as nginx keeps its old
// configuration when the new one fails, so that what /config reports is
// what runs: the tiers that prepare (the edge: its state, certificates and
// new addresses, a port in use among them) do so first, then the others
// take f (the appserver's chain reload), and only then do the first apply
// theirs. A tier that fails leaves every tier on the running
// configuration, but for the workers a failed chain reload had already
// replaced. The children started once the preparing tiers have (and the
// tier children of mode: subprocess, told by their apply or commit) load f.
func (r *reloadSet) applyAll(f *config.File) error {
	old := r.current.Load()
	var commits []func() error
	var aborts []func()
	undo := func() {
		for _, abort := range aborts {
			abort()
		}
		if old == nil {
			return
		}
		if err := r.c.heldCfg.Hold(old.Held); err != nil {
			r.c.logger.Error("the children started from now on load the configuration that failed to reload", "err", err)
		}
	}
	fail := func(tier string, err error) error {
		undo()
		if r.raced(err) {
			return r.ignore("tier", tier)
		}
		r.c.logger.Error("reload failed; every tier keeps the running configuration", "tier", tier, "err", err)
		if strings.HasPrefix(err.Error(), tier+": ") {
			return fmt.Errorf("reload failed; every tier keeps the running configuration: %w", err) // it names its tier
		}
		return fmt.Errorf("reload failed; every tier keeps the running configuration: %s: %w", tier, err)
	}
	var names []string
	for _, t := range r.reloads {
		if t.prepare == nil {
			continue
		}
		if r.raced(nil) {
			return fail(t.name, errStopping)
		}
		commit, abort, err := t.prepare(f)
		if err != nil {
			return fail(t.name, err)
		}
		commits, aborts, names = append(commits, commit), append(aborts, abort), append(names, t.name)
	}
	// Held once every tier that prepares has: the children started from
	// now on (the chain reload's workers, a tier child restarting) load f.
	// A reload a preparing tier refused reached none of them.
	if err := r.c.heldCfg.Hold(f.Held); err != nil {
		return fail("held configuration", err)
	}
	for _, t := range r.reloads {
		if t.apply == nil {
			continue
		}
		if r.raced(nil) {
			return fail(t.name, errStopping)
		}
		if err := t.apply(f); err != nil {
			return fail(t.name, err)
		}
		r.c.logger.Info("reloaded", "tier", t.name, "config", f.Source)
	}
	for i, commit := range commits {
		if err := commit(); err != nil { // only once the stop has begun
			for _, abort := range aborts[i+1:] {
				abort()
			}
			return r.ignore("tier", names[i])
		}
		r.c.logger.Info("reloaded", "tier", names[i], "config", f.Source)
	}
	r.sup.SetShutdownTimeout(f.ShutdownTimeout)
	r.current.Store(f)
	return nil
}

// rereadable says whether a reload can read the configuration again: not
// a pipe or /dev/stdin, read once at start, where a reload would read
// nothing and apply the defaults. (A child loads its parent's, held.)
func (c *cmdEnv) rereadable() error {
	if c.inherited != nil || c.cfgPath == "" {
		return nil
	}
	if fi, err := os.Stat(c.cfgPath); err == nil && fi.IsDir() {
		return fmt.Errorf("--config %s is a directory now: a reload reads a file; put the configuration back there (the stack runs on the one it holds)", c.cfgPath)
	} else if err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("--config %s is not a regular file (a pipe or /dev/stdin is read once): a reload has nothing to read; restart the stack to change its configuration", c.cfgPath)
	}
	return nil
}

// effective is the configuration last applied (the start's, or the last
// reload's).
func (r *reloadSet) effective() *config.File { return r.current.Load() }

// restartOnlyChanges names the keys that differ between the running
// configuration and f and that a reload cannot apply: the process layout,
// the appserver master's own settings (its socket and the socket's mode
// and queue, workers, stats server, user) and the admin's sockets and
// allowed hosts. Applying the rest alone would be worse than refusing: the
// edge's default upstream is appserver.listen, so it would move to the new
// socket while the appserver keeps the old one and every request got 502.
func restartOnlyChanges(running, f *config.File) []string {
	if running == nil {
		return nil
	}
	var changed []string
	diff := func(key string, a, b any) {
		if a != b {
			changed = append(changed, fmt.Sprintf("%s (%v → %v)", key, a, b))
		}
	}
	a, b := running.Appserver, f.Appserver
	diff("mode", running.Mode, f.Mode)
	diff("run_dir", running.RunDir, f.RunDir)
	diff("appserver.listen", a.Listen, b.Listen)
	diff("appserver.processes", a.Processes, b.Processes)
	diff("edge.processes", running.Edge.Processes, f.Edge.Processes) // how many children run
	if f.Edge.Processes > 1 {
		// Each child would open a new address itself as it reloads (held.go),
		// and all but the first would find it taken.
		sorted := func(a []string) string { return fmt.Sprint(slices.Sorted(slices.Values(a))) } // the order is no change
		diff("edge.listen", sorted(running.Edge.Listen), sorted(f.Edge.Listen))
		diff("edge.tls_listen", sorted(running.Edge.TLSListen), sorted(f.Edge.TLSListen))
	}
	// The socket is made once, by the master: its mode and queue stay.
	if strings.HasPrefix(b.Listen, "unix:") {
		diff("appserver.socket_mode", fmt.Sprintf("%04o", a.SocketMode.Perm()), fmt.Sprintf("%04o", b.SocketMode.Perm()))
	}
	diff("appserver.listen_backlog", a.ListenBacklog, b.ListenBacklog)
	diff("appserver.stats", a.Stats, b.Stats)
	diff("appserver.user", a.User, b.User)
	diff("appserver.group", a.Group, b.Group)
	if b.Processes == 0 {
		// Served in this process, the listener's allow-list is fixed at
		// start (worker processes, re-executed by a reload, read the new
		// one); a security setting is refused rather than ignored.
		diff("appserver.allow", fmt.Sprint(a.Allow), fmt.Sprint(b.Allow))
	}
	diff("admin.listen", running.Admin.Listen, f.Admin.Listen)
	diff("admin.socket", running.Admin.Socket, f.Admin.Socket)
	diff("admin.allowed_hosts", fmt.Sprint(running.Admin.AllowedHosts), fmt.Sprint(f.Admin.AllowedHosts))
	return changed
}
