package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/devloop"
	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/edge/upstream"
	"github.com/stack-web/stack/supervisor"
)

// devUpstream is the edge's upstream for the dev loop's own URLs.
const devUpstream = "stack_dev"

// devWorkerFlag makes a worker inject the live-reload script into its
// app's HTML pages (stack dev, app in debug).
const devWorkerFlag = "dev-reload-script"

// devState is what `stack dev` adds to the stack that runStack wires.
type devState struct {
	binary string // the last good build, the workers' command
	loop   *devloop.Loop
	hub    *devloop.Hub // nil unless the app is in debug
	sock   string       // the hub's socket, which the edge proxies Prefix to
	lis    net.Listener // on sock, once wired
}

func (c *cmdEnv) devCommand() *cobra.Command {
	var pkg, ldflags string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the stack for development: rebuild on a Go change, reload on a template or static change, refresh the open pages",
		Long: `dev runs the whole stack, edge and appserver, from the program in this
directory (run it in your project: go run . dev). It builds the program
with go build into run_dir/dev/app, and the appserver's workers run that
build. It then watches the project's files:

  - a .go file, go.mod, go.sum or an embedded file changed: rebuild, then
    chain-reload the workers on the new build; the edge keeps its clients'
    connections. A failed build is printed here (and, with the app's debug
    on, shown over the page), while the last good build keeps serving;
  - a template changed: no rebuild (in debug the workers re-read it);
  - a file under an edge static root changed: nothing to rebuild.

With the app's debug on, HTML pages get a small script that reloads them
after each of these (server-sent events at /__stack/dev/events).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if v, _ := cmd.Flags().GetStringSlice("listen"); len(v) > 0 {
				c.sets = append(c.sets, "edge.listen="+strings.Join(v, ","))
			}
			// The dev loop reloads the workers of an in-process master.
			c.sets = append(c.sets, "mode=inprocess")
			f, err := c.loadFor("up")
			if err != nil {
				return err
			}
			if f.Appserver.Processes == 0 {
				c.sets = append(c.sets, "appserver.processes=1")
				if f, err = c.loadFor("up"); err != nil {
					return err
				}
			}
			for _, w := range f.Warnings {
				c.logger.Warn(w)
			}
			d, err := c.newDev(context.Background(), f, pkg, ldflags)
			if err != nil {
				return err
			}
			c.dev = d
			return c.runStack(f, tiers{edge: true, appserver: true, processes: true})
		},
	}
	cmd.Flags().StringVar(&pkg, "package", ".", "the main package to build (go build's argument)")
	// Without DWARF the link takes about half as long, and the link is
	// most of a rebuild; panics still print their stack traces.
	cmd.Flags().StringVar(&ldflags, "ldflags", "-s -w", "go build's -ldflags for the dev builds (\"\" keeps the debug information, for a debugger)")
	cmd.Flags().StringSlice("listen", nil, "edge addresses, overriding edge.listen")
	return cmd
}

// newDev makes the first build and prepares the loop. Without a go.mod
// here there is no program to build: dev is run in the user's project.
func (c *cmdEnv) newDev(ctx context.Context, f *config.File, pkg, ldflags string) (*devState, error) {
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
	d := &devState{binary: filepath.Join(dir, "app")}
	logger := c.logger.With("tier", "dev")
	if appDebug(f.Apps[f.Appserver.App]) {
		d.hub = &devloop.Hub{}
		d.sock = filepath.Join(dir, "dev.sock")
	}
	d.adjust(f)
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
		fmt.Fprintf(c.stderr, "stack dev: build failed; serving this program's own build until it is fixed:\n%s\n", strings.TrimRight(string(out), "\n"))
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
		Out:            c.stderr,
	}
	return d, nil
}

// adjust adds to a configuration what dev serves besides it: with the
// app in debug, the edge's location for the dev loop's URLs.
func (d *devState) adjust(f *config.File) {
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

// wire adds the loop (and, in debug, the hub's server) to the stack, with
// the appserver's chain reload as the loop's restart and SIGHUP's reload
// for a change to the configuration file.
func (d *devState) wire(sup *supervisor.Supervisor, app *appserverTier, reload *reloadSet, stderr io.Writer) error {
	d.loop.Restart = func() error {
		if app == nil || app.master == nil {
			return errors.New("no appserver master to reload")
		}
		return app.master.Reload()
	}
	d.loop.ReloadConfig = reload.reload
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

// close releases what wire opened, also when the stack failed before it
// ran (the server's Shutdown has closed it otherwise).
func (d *devState) close() {
	if d.lis != nil {
		d.lis.Close()
	}
}

// workerArgv is the dev workers' command: the last good build.
func (d *devState) workerArgv(childArgs []string) []string {
	argv := []string{d.binary, workerCommandName}
	if d.hub != nil {
		argv = append(argv, "--"+devWorkerFlag)
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
