// Package dev is what `stack dev` adds to the stack it runs: the first
// build of the user's program (the workers' command), the loop that
// watches the project and rebuilds, chain-reloads or reloads on a change
// (package devloop), and, with the app in debug, the live-reload hub and
// the edge's location that reaches it. It stands alone because it is the
// development loop around the stack, not a tier: cli hands it the
// configuration and the appserver's reload, and runs the stack itself.
package dev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/devloop"
	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/edge/upstream"
	"github.com/stack-web/stack/supervisor"
)

// devUpstream is the edge's upstream for the dev loop's own URLs.
const devUpstream = "stack_dev"

// WorkerFlag makes a worker inject the live-reload script into its app's
// HTML pages (stack dev, app in debug).
const WorkerFlag = "dev-reload-script"

// State is what `stack dev` adds to the stack that cli's runStack wires.
type State struct {
	binary string // the last good build, the workers' command
	loop   *devloop.Loop
	hub    *devloop.Hub // nil unless the app is in debug
	sock   string       // the hub's socket, which the edge proxies Prefix to
	lis    net.Listener // on sock, once wired
}

// New makes the first build and prepares the loop, logging to logger and
// printing a failed build to stderr. Without a go.mod here there is no
// program to build: dev is run in the user's project.
func New(ctx context.Context, f *config.File, pkg, ldflags string, logger *slog.Logger, stderr io.Writer) (*State, error) {
	root, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return nil, errors.New("dev: no go.mod here: run stack dev in your project's directory (go run . dev), where it can build your program")
	}
	runDir, err := filepath.Abs(f.RunDir)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(runDir, "dev")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dev: %w", err)
	}
	d := &State{binary: filepath.Join(dir, "app")}
	logger = logger.With("tier", "dev")
	if appDebug(f.Apps[f.Appserver.App]) {
		d.hub = &devloop.Hub{}
		d.sock = filepath.Join(dir, "dev.sock")
	}
	d.Adjust(f)
	w := &devloop.Watcher{Root: root, Skip: []string{runDir}, Interval: 150 * time.Millisecond}
	w.Baseline() // a file saved during the first build is built again
	// No VCS stamp: it runs git on every build, for a binary nobody ships.
	b := &devloop.Builder{Dir: root, Package: pkg, Out: d.binary, Flags: []string{"-buildvcs=false"}}
	if ldflags != "" {
		b.Flags = append(b.Flags, "-ldflags="+ldflags)
	}
	start := time.Now()
	// The supervisor handles signals only once the stack runs: until then
	// a Ctrl-C cancels the build (its own process group) here.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	out, err := b.Build(ctx)
	interrupted := ctx.Err() != nil
	stop() // (which cancels ctx)
	if interrupted {
		return nil, errors.New("dev: interrupted during the first build")
	}
	if err != nil {
		fmt.Fprintf(stderr, "stack dev: build failed; serving this program's own build until it is fixed:\n%s\n", strings.TrimRight(string(out), "\n"))
		// This program is itself a build of the project (go run . dev):
		// the workers run it until a build succeeds.
		if err := copyExecutable(d.binary); err != nil {
			return nil, fmt.Errorf("dev: %w", err)
		}
		if d.hub != nil {
			d.hub.Built(string(out), false)
		}
	} else {
		logger.Info("dev: build ok", "took", time.Since(start).Round(time.Millisecond), "binary", d.binary)
		if d.hub != nil {
			d.hub.Built("", true)
		}
	}
	var static []string
	f.Edge.EachLocation(func(_ string, l edge.LocationConfig) {
		if l.Root != "" {
			if abs, err := filepath.Abs(l.Root); err == nil {
				static = append(static, abs)
			}
		}
	})
	var cfgPath string
	if f.Source != "" && f.Source != "built-in defaults" {
		cfgPath, _ = filepath.Abs(f.Source)
	}
	d.loop = &devloop.Loop{
		Config:         cfgPath,
		Watcher:        w,
		Builder:        b,
		Hub:            d.hub,
		Static:         static,
		TemplateReload: d.hub != nil,            // debug: the framework re-reads templates
		Settle:         1100 * time.Millisecond, // a second, the framework's and the edge's
		Logger:         logger,
		Out:            stderr,
	}
	return d, nil
}

// Adjust adds to a configuration what dev serves besides it: with the
// app in debug, the edge's location for the dev loop's URLs.
func (d *State) Adjust(f *config.File) {
	if d.hub != nil {
		addDevLocation(&f.Edge, d.sock)
	}
}

// addDevLocation routes the dev loop's URLs to its socket, unbuffered (an
// event stream), ahead of the configured locations.
func addDevLocation(cfg *edge.Config, sock string) {
	u := upstream.Default()
	u.Protocol = "http"
	u.Servers = []string{"unix:" + sock}
	u.Retries = 0
	if cfg.Upstreams == nil {
		cfg.Upstreams = map[string]upstream.Config{}
	}
	cfg.Upstreams[devUpstream] = u
	off := false
	dev := edge.LocationConfig{Path: devloop.Prefix, Upstream: devUpstream, Buffering: &off}
	if len(cfg.Locations) > 0 || len(cfg.Servers) == 0 {
		cfg.Locations = append([]edge.LocationConfig{dev}, cfg.Locations...)
	}
	for i := range cfg.Servers { // every virtual host's pages reach the loop
		cfg.Servers[i].Locations = append([]edge.LocationConfig{dev}, cfg.Servers[i].Locations...)
	}
}

// Wire adds the loop (and, in debug, the hub's server) to the stack, with
// restart (the appserver's chain reload) as the loop's restart and
// reloadConfig (SIGHUP's reload) for a change to the configuration file.
func (d *State) Wire(sup *supervisor.Supervisor, restart, reloadConfig func() error, stderr io.Writer) error {
	d.loop.Restart = restart
	d.loop.ReloadConfig = reloadConfig
	if d.hub != nil {
		os.Remove(d.sock) // a stale one from a killed run; run_dir is ours
		l, err := net.Listen("unix", d.sock)
		if err != nil {
			return fmt.Errorf("dev: %w", err)
		}
		d.lis = l
		srv := &http.Server{Handler: d.hub, ReadHeaderTimeout: 10 * time.Second}
		sup.OnStopping(d.hub.Close) // open pages must not hold the edge's drain
		sup.AddServer("dev", func() error {
			if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}, srv.Shutdown)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sup.Add(func() error { return d.loop.Run(ctx) }, func(error) { cancel() })
	fmt.Fprintf(stderr, "stack dev: watching %s; workers run %s\n", d.loop.Watcher.Root, d.binary)
	return nil
}

// Close releases what Wire opened, also when the stack failed before it
// ran (the server's Shutdown has closed it otherwise).
func (d *State) Close() {
	if d.lis != nil {
		d.lis.Close()
	}
}

// WorkerArgv is the dev workers' command: the last good build, running
// its worker subcommand with childArgs (the configuration's flags).
func (d *State) WorkerArgv(worker string, childArgs []string) []string {
	argv := []string{d.binary, worker}
	if d.hub != nil {
		argv = append(argv, "--"+WorkerFlag)
	}
	return append(argv, childArgs...)
}

// appDebug reports whether an app's settings have debug on: a bool field
// Debug, as framework.Settings has (or a struct embedding it).
func appDebug(settings any) bool {
	v := reflect.ValueOf(settings)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return false
	}
	fv := v.FieldByName("Debug")
	return fv.IsValid() && fv.Kind() == reflect.Bool && fv.Bool()
}

// copyExecutable copies this program to path, for the workers to run.
func copyExecutable(path string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	src, err := os.Open(exe)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := path + ".new"
	dst, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
