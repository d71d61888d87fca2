package config

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/stack-web/stack/edge"
)

// Validate checks the whole configuration, as `stack up` uses it,
// including the cross-tier rules. apps, when not nil, lists the app names
// this binary knows.
func (f *File) Validate(apps map[string]func() any) error {
	return f.validate("up", apps)
}

// validate checks what the command of the given scope runs, and only
// that: `stack edge` in front of another app server does not need the
// app's secret key (see Options.Scope). Everything `up` would refuse at
// start is refused here, so that `stack check` can be trusted.
func (f *File) validate(scope string, apps map[string]func() any) error {
	runs := scopeOf(scope)
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if runs.stack {
		switch f.Mode {
		case "inprocess", "subprocess":
		default:
			bad("mode", "%q is not inprocess or subprocess", f.Mode)
		}
		if err := CheckRunDir(f.RunDir); err != nil {
			bad("run_dir", "%v", err)
		}
		if f.ShutdownTimeout <= 0 {
			bad("shutdown_timeout", "must be a positive duration such as 10s")
		}
		errs = append(errs, f.checkAdmin(runs)...)
	}
	switch f.LogFormat {
	case "text", "json":
	default:
		bad("log_format", "%q is not text or json", f.LogFormat)
	}
	if runs.edge {
		if err := f.Edge.Validate(); err != nil {
			errs = append(errs, unjoin(err)...)
		}
		errs = append(errs, f.checkEdgePlaces()...)
	}
	if runs.appserver {
		if err := f.Appserver.Validate(); err != nil {
			errs = append(errs, unjoin(err)...)
		}
		if !runs.worker {
			if err := f.checkAppserverListen(); err != nil {
				bad("appserver.listen", "%v", err)
			}
			if err := f.checkStats(runs.edge); err != nil {
				bad("appserver.stats", "%v", err)
			}
			if err := f.checkWorkerUser(); err != nil {
				bad("appserver.user", "%v", err)
			}
		}
	}
	if runs.edge && !runs.appserver && f.Edge.Processes > 1 {
		bad("edge.processes", "%d: `stack edge` runs the edge in one process; `stack up` runs several (or run one `stack edge` per port behind a balancer)", f.Edge.Processes)
	}
	if runs.edge && runs.appserver && !strings.HasPrefix(f.Appserver.Listen, "unix:") {
		for i, a := range f.Edge.Listen {
			if sameListenAddr(a, f.Appserver.Listen) {
				bad("appserver.listen", "%q is also edge.listen[%d]; the second to bind would fail", f.Appserver.Listen, i)
			}
		}
	}
	if runs.app {
		if apps != nil && f.Appserver.App != "" {
			if _, ok := apps[f.Appserver.App]; !ok {
				bad("appserver.app", "%q is not built into this binary (known: %s)", f.Appserver.App, strings.Join(sortedKeys(apps), ", "))
			}
		}
		// Only the app that is served needs valid settings: one that is
		// configured but not run does not stop the stack.
		name := f.Appserver.App
		if v, ok := f.Apps[name].(interface{ Validate() error }); ok {
			if err := v.Validate(); err != nil {
				for _, e := range unjoin(err) {
					if strings.HasPrefix(e.Error(), "apps."+name+".") {
						errs = append(errs, e) // already names its key
					} else {
						bad("apps."+name, "%v", e)
					}
				}
			}
		}
	}
	if runs.processes {
		errs = append(errs, f.checkProcesses()...)
		errs = append(errs, f.checkRelease()...)
	}
	return errors.Join(errs...)
}

// scope is what a command runs.
type scope struct {
	stack     bool // run_dir, mode, shutdown_timeout: every serving command
	edge      bool
	appserver bool
	app       bool
	processes bool
	worker    bool // the machine was checked by the master (see scopeOf)
}

func scopeOf(s string) scope {
	switch s {
	case "edge":
		return scope{stack: true, edge: true}
	case "appserver":
		return scope{stack: true, appserver: true, app: true}
	case "app":
		return scope{app: true}
	case "inspect":
		// A command that builds the app only to look at it (routes,
		// collectstatic): the caller relaxes what serving would need.
		return scope{}
	case "worker":
		// A worker process of the appserver's master: the master has
		// checked the machine (run_dir, the socket it bound and passes
		// down), and a worker may run as another user who cannot write
		// there. What the worker builds itself is still checked.
		return scope{appserver: true, app: true, worker: true}
	default:
		return scope{stack: true, edge: true, appserver: true, app: true, processes: true}
	}
}

func (f *File) checkProcesses() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	names := map[string]bool{"edge": true, "appserver": true}
	for i, p := range f.Processes {
		key := fmt.Sprintf("processes[%d]", i)
		switch {
		case p.Name == "":
			bad(key+".name", "empty; every process needs a name for its log lines")
		case names[p.Name]:
			bad(key+".name", "%q is used twice (edge and appserver are taken)", p.Name)
		}
		names[p.Name] = true
		if len(p.Command) == 0 || p.Command[0] == "" {
			bad(key+".command", "empty; give the program and its arguments as a list")
		} else if err := checkRunnable(p.Command[0], p.Dir); err != nil {
			bad(key+".command", "%v", err)
		}
		if p.Dir != "" {
			if fi, err := os.Stat(p.Dir); err != nil {
				bad(key+".dir", "%v", err)
			} else if !fi.IsDir() {
				bad(key+".dir", "%s is not a directory", p.Dir)
			}
		}
		for j, kv := range p.Env {
			if !strings.Contains(kv, "=") {
				bad(fmt.Sprintf("%s.env[%d]", key, j), "%q is not KEY=VALUE", kv)
			}
		}
		switch p.Restart {
		case "always", "on-failure", "never":
		default:
			bad(key+".restart", "%q is not always, on-failure or never", p.Restart)
		}
	}
	return errs
}

// checkRelease says whether every release command can be started: "stack"
// is this binary, found by the command line; any other program as a
// process's.
func (f *File) checkRelease() []error {
	var errs []error
	for i, argv := range f.Release {
		key := fmt.Sprintf("release[%d]", i)
		switch {
		case len(argv) == 0 || argv[0] == "":
			errs = append(errs, fmt.Errorf("%s: empty; give the program and its arguments as a list, e.g. [stack, migrate]", key))
		case argv[0] == "stack":
			if err := CheckReleaseStep(argv); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
			}
		default:
			if err := checkRunnable(argv[0], ""); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
			}
		}
	}
	return errs
}

// CheckReleaseStep refuses a release step `stack ...` that serves until it
// is stopped: the release would never end.
func CheckReleaseStep(argv []string) error {
	if sub := stackServes(argv); sub != "" {
		return fmt.Errorf("`stack %s` serves until it is stopped, so the release would never end (and a `stack up` there runs the release again, which starts another, without end); the release is for steps that finish, such as [stack, migrate]", sub)
	}
	return nil
}

// stackServes returns the subcommand of a release step `stack ...` that
// serves until it is stopped (up, edge, appserver, dev), or "". As a step,
// `stack up` ran its own release, `stack up` again, each process started
// before its child's ports were taken: processes without end until the
// machine's memory was gone; `stack edge` held the start for ever (break-it 15).
func stackServes(argv []string) string {
	if len(argv) == 0 || argv[0] != "stack" {
		return ""
	}
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			return ""
		case a == "-c" || a == "--config" || a == "--set" || a == "--log-level":
			i++ // the flag's value
		case strings.HasPrefix(a, "-"):
		case a == "up" || a == "edge" || a == "appserver" || a == "dev" || a == "appserver-worker":
			return a
		default:
			return "" // the first word that is not a flag is the command
		}
	}
	return ""
}

// checkRunnable says whether the supervisor can start program, as
// os/exec would find it: a name without a slash in PATH, a path relative
// to the process's dir.
func checkRunnable(program, dir string) error {
	if !strings.Contains(program, "/") {
		if _, err := exec.LookPath(program); err != nil {
			return fmt.Errorf("%q: %w", program, err)
		}
		return nil
	}
	path := program
	if !filepath.IsAbs(path) && dir != "" {
		path = filepath.Join(dir, path)
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a directory, not a program", path)
	case fi.Mode()&0o111 == 0:
		return fmt.Errorf("%s is not executable (chmod +x it, or run it through its interpreter: [sh, %s])", path, program)
	}
	if err := syscall.Access(path, 0o1); err != nil { // X_OK, for this user
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// warnings lists what will not stop the command but is probably wrong.
func (f *File) warnings(scopeName string) []string {
	runs := scopeOf(scopeName)
	tilde := f.tildePaths(runs)
	for _, w := range []string{f.exposedAdmin(runs), f.exposedStats(runs), f.openSocket(runs)} {
		if w != "" {
			tilde = append(tilde, w)
		}
	}
	if runs.app {
		// What the served app accepts but flags (a weak secret_key).
		if v, ok := f.Apps[f.Appserver.App].(interface{ Warnings() []string }); ok {
			tilde = append(tilde, v.Warnings()...)
		}
	}
	if !runs.edge || !runs.appserver {
		return tilde
	}
	if w := f.unreachedAppserver(); w != "" {
		tilde = append(tilde, w)
	}
	return tilde
}

// tildePaths warns about paths written as ~/...: no shell reads the
// file, so the stack would make a directory named "~" in the working
// directory rather than use the home directory.
func (f *File) tildePaths(runs scope) []string {
	var out []string
	check := func(key, path string) {
		if path == "~" || strings.HasPrefix(path, "~/") {
			out = append(out, fmt.Sprintf("%s: %q is relative to a directory named ~ in the working directory (~ is not expanded); write the home directory's path", key, path))
		}
	}
	if runs.stack {
		check("run_dir", f.RunDir)
	}
	if runs.edge {
		check("edge.access_log", f.Edge.AccessLog)
		f.Edge.EachLocation(func(key string, l edge.LocationConfig) { check("edge."+key+".root", l.Root) })
	}
	if sock := strings.TrimPrefix(f.Appserver.Listen, "unix:"); runs.appserver && !strings.HasPrefix(sock, f.RunDir+"/") {
		check("appserver.listen", sock) // not when it follows run_dir: said once is enough
	}
	if runs.processes {
		for i, p := range f.Processes {
			check(fmt.Sprintf("processes[%d].dir", i), p.Dir)
		}
	}
	return out
}

// unreachedAppserver warns when no upstream the edge uses has the app
// server among its servers.
func (f *File) unreachedAppserver() string {
	// The edge must reach the app server that `up` starts, or every
	// request is a 502 while both tiers look healthy.
	used := map[string]bool{}
	f.Edge.EachLocation(func(_ string, l edge.LocationConfig) {
		if l.Upstream != "" {
			used[l.Upstream] = true
		}
	})
	if len(used) == 0 {
		return ""
	}
	for _, name := range sortedKeys(used) {
		for _, s := range f.Edge.Upstreams[name].Addresses() {
			if sameServer(s, f.Appserver.Listen) {
				return ""
			}
		}
	}
	return fmt.Sprintf("edge.upstreams: no upstream that edge.locations use has appserver.listen (%s) among its servers, so no request reaches the app server this command starts; leave edge.upstreams.app.servers out to follow appserver.listen", f.Appserver.Listen)
}

// sameServer reports whether an upstream server address dials the app
// server's listen address.
func sameServer(server, listen string) bool {
	sp, sok := strings.CutPrefix(server, "unix:")
	lp, lok := strings.CutPrefix(listen, "unix:")
	if sok || lok {
		if !sok || !lok {
			return false
		}
		a, err1 := filepath.Abs(sp)
		b, err2 := filepath.Abs(lp)
		return err1 == nil && err2 == nil && a == b
	}
	return sameListenAddr(server, listen)
}
