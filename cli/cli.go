// Package cli is the stack command line: `stack up`, `stack edge`, `stack
// appserver`, `stack config`, `stack check`, `stack migrate`, `stack
// routes`, `stack collectstatic` and `stack version`. cmd/stack calls Main with the
// built-in apps; a program of your own calls it with yours, so the same
// commands run your code.
package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/stack-web/stack/cli/internal/memtune"
	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/internal/earlyhup"
	"github.com/stack-web/stack/internal/earlyworker"
	"github.com/stack-web/stack/internal/earlyworker/launch"
	"github.com/stack-web/stack/internal/heldconfig"
)

// Version and Commit are set at build time:
//
//	go build -ldflags "-X github.com/stack-web/stack/cli.Version=1.2.3 -X github.com/stack-web/stack/cli.Commit=abc123"
var (
	Version = "dev"
	Commit  = ""
)

// Main runs the command line with the given apps and exits with its status.
func Main(apps ...App) {
	// A process started early to be a worker (package earlyworker) gets
	// its command line and environment from its master here.
	earlyworker.Await()
	// First of all, before the flags and the configuration are read: a
	// SIGHUP, SIGINT or SIGTERM from here on is held (starthup.go), not
	// Go's default exit. A worker ignores them instead (see package
	// earlyhup): they reach it only as its process group's, and its master
	// acts on them.
	var hups startHangups
	if launch.IsWorker(os.Args) {
		earlyhup.IgnoreAsWorker()
	} else {
		hups = holdStartHangups()
	}
	var trimLog atomic.Pointer[slog.Logger]
	stopTrim := memtune.Tune(&trimLog) // cli/internal/memtune
	code := runLogging(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, &trimLog, hups, apps...)
	stopTrim()
	os.Exit(code)
}

// Run runs the command line with args and returns the exit status: 0 on
// success (including a stop by SIGINT or SIGTERM), 1 on failure.
func Run(args []string, stdout, stderr io.Writer, apps ...App) int {
	return run(args, os.Stdin, stdout, stderr, apps...)
}

// run is Run with the standard input given (the user commands read it).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, apps ...App) int {
	return runLogging(args, stdin, stdout, stderr, nil, nil, apps...)
}

// runLogging is run that also stores the command's logger in trimLog, if
// not nil, for the memory trimmer, and hands the SIGHUPs held since Main's
// start, if any, to the command that runs the stack (or lets them act as
// Go's default for any other command).
func runLogging(args []string, stdin io.Reader, stdout, stderr io.Writer, trimLog *atomic.Pointer[slog.Logger], hups startHangups, apps ...App) int {
	reg, err := newRegistry(apps)
	if err != nil {
		fmt.Fprintln(stderr, "stack:", err)
		return 1
	}
	// A child of the stack (a worker, a tier child, migrate's child) loads
	// the configuration its parent holds, not the file (heldconfig).
	inherited, err := heldconfig.FromEnv()
	if err != nil {
		fmt.Fprintln(stderr, "stack:", err)
		return 1
	}
	env := &cmdEnv{apps: reg, stdin: stdin, stdout: stdout, stderr: stderr, trimLog: trimLog, hups: hups, inherited: inherited}
	defer env.heldCfg.Close()
	defer func() { env.takeHangups().handOver(syscall.SIGHUP) }() // a command that failed before running the stack
	if _, ok := reg["polls"]; !ok && len(apps) > 0 {
		env.defaultApp = apps[0].Name
	}
	root := newRoot(env)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "stack:", err)
		return 1
	}
	return 0
}

// cmdEnv is what every command shares: the flags and the app registry.
type cmdEnv struct {
	apps       registry
	defaultApp string // polls if built in, else the first app registered
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
	logger     *slog.Logger
	cfgPath    string
	sets       []string
	logLevel   string
	logFormat  string                       // the logger's log_format, once the configuration is read
	dev        *devState                    // stack dev's loop (dev.go), nil otherwise
	trimLog    *atomic.Pointer[slog.Logger] // the memory trimmer's (memtune.Tune), or nil
	hups       startHangups                 // SIGHUPs held since Main's start, until runStack takes them
	inherited  *heldconfig.Inherited        // the parent's configuration, which this child loads; nil: read the file
	heldCfg    heldconfig.Holder            // the configuration this process's children load
}

func newRoot(c *cmdEnv) *cobra.Command {
	root := &cobra.Command{
		Use:   "stack",
		Short: "Nginx + uWSGI + Django's topology in one binary: edge → uwsgi → appserver → app",
		Long: `stack runs the classic three-tier web topology on one machine:

  client ──HTTP──▶ edge ──uwsgi over a Unix socket──▶ appserver ──http.Handler──▶ app

The configuration comes from stack.yaml (or --config), STACK_* environment
variables (STACK_EDGE_LISTEN=0.0.0.0:8000) and --set key=value flags.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if !runsTheStack(cmd) {
				// Only the stack makes a SIGHUP a reload; for the others it
				// is the terminal hanging up.
				c.takeHangups().handOver(earlyhup.Signals...)
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: use debug, info, warn or error", c.logLevel)
			}
			c.logger = slog.New(newLogHandler(c.stderr, "text", level))
			c.logFormat = "text"
			c.shareLogger()
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&c.cfgPath, "config", "c", "", "configuration file (default ./stack.yaml; without one, built-in defaults serve polls)")
	pf.StringArrayVar(&c.sets, "set", nil, "override a configuration key, e.g. --set edge.listen=127.0.0.1:9000 (repeatable)")
	pf.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")

	root.AddCommand(
		c.serveCommand("up", "Run the whole stack: edge, appserver and extra processes", tiers{edge: true, appserver: true, processes: true}),
		c.serveCommand("edge", "Run the edge (reverse proxy) alone", tiers{edge: true}),
		c.serveCommand("appserver", "Run the app server alone", tiers{appserver: true}),
		c.configCommand(),
		c.checkCommand(),
		c.migrateCommand(),
		c.versionCommand(),
		c.newCommand(), // new.go
		c.workerCommand(),
		c.devCommand(),
		c.benchCommand(),
	)
	root.AddCommand(c.controlCommands()...) // admincmd.go
	root.AddCommand(c.userCommands()...)    // users.go
	root.AddCommand(c.inspectCommands()...) // inspect.go
	return root
}

// load reads the configuration with the command's flags and validates it
// as `stack up` uses it.
func (c *cmdEnv) load() (*config.File, error) { return c.loadFor("up") }

// loadFor reads the configuration with the command's flags, validating
// what the command runs (scope: see config.Options.Scope).
func (c *cmdEnv) loadFor(scope string) (*config.File, error) {
	f, err := c.loadOnly(scope, false)
	if err == nil {
		c.useLogFormat(f)
	}
	return f, err
}

// loadOnly is loadFor without taking the log format: a reload's, which a
// restart applies (reload.go), refusing a blank file if refuseBlank.
func (c *cmdEnv) loadOnly(scope string, refuseBlank bool) (*config.File, error) {
	opts := c.loadOptions(scope)
	opts.RefuseBlank = refuseBlank
	if c.inherited != nil {
		// The parent's, as it holds it now: at start, and on a reload
		// (a tier child, told once its parent has taken the new one).
		held, err := c.inherited.Latest()
		if err != nil {
			return nil, err
		}
		opts.Held = &held
	}
	return config.Load(opts)
}

func (c *cmdEnv) loadOptions(scope string) config.Options {
	return config.Options{Path: c.cfgPath, Set: c.sets, Apps: c.apps.settings(), DefaultApp: c.defaultApp, DefaultRelease: c.defaultRelease, Scope: scope}
}

func (c *cmdEnv) serveCommand(name, short string, which tiers) *cobra.Command {
	cmd := &cobra.Command{
		Use:   name,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := c.loadFor(name)
			if err != nil {
				return err
			}
			for _, w := range f.Warnings {
				c.logger.Warn(w)
			}
			if f.DevelopmentDebug && which.appserver {
				c.logger.Warn(config.DevelopmentDebugWarning)
			}
			return c.runStack(f, which)
		},
	}
	switch name {
	case "up", "edge":
		cmd.Flags().StringSlice("listen", nil, "edge addresses, overriding edge.listen")
	case "appserver":
		cmd.Flags().String("app", "", "app to serve, overriding appserver.app")
		cmd.Flags().String("protocol", "", "uwsgi, fastcgi or http, overriding appserver.protocol")
	}
	if name == "up" {
		cmd.Flags().String("app", "", "app to serve, overriding appserver.app")
	}
	// The shortcuts are --set in disguise, so they take the same path.
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		if v, _ := cmd.Flags().GetStringSlice("listen"); len(v) > 0 {
			c.sets = append(c.sets, "edge.listen="+strings.Join(v, ","))
		}
		if v, _ := cmd.Flags().GetString("app"); v != "" {
			c.sets = append(c.sets, "appserver.app="+v)
		}
		if v, _ := cmd.Flags().GetString("protocol"); v != "" {
			c.sets = append(c.sets, "appserver.protocol="+v)
		}
		return nil
	}
	return cmd
}

func (c *cmdEnv) configCommand() *cobra.Command {
	var showSecrets, explain bool
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration (file + environment + flags) as YAML, secrets redacted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if explain {
				return c.explain(showSecrets)
			}
			f, err := c.load()
			if err != nil {
				return err
			}
			out, err := f.YAML(showSecrets)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "# effective configuration from %s\n", f.Source)
			_, err = c.stdout.Write(out)
			return err
		},
	}
	cmd.Flags().BoolVar(&showSecrets, "show-secrets", false, "print secret keys, passwords and tokens instead of ********")
	cmd.Flags().BoolVar(&explain, "explain", false, "print each value with where it came from: default, FILE:LINE, STACK_* variable or --set")
	return cmd
}

func (c *cmdEnv) checkCommand() *cobra.Command {
	var deploy bool
	cmd := &cobra.Command{
		Use:   "check [up|edge|appserver]",
		Short: "Validate the configuration as the command (default up) would at start; exit non-zero listing every problem",
		Long: `check validates the configuration exactly as the named command (default: up)
does before it starts anything, including what it can see on this machine:
addresses, ports, socket paths, run_dir, the access log, static roots. What
check calls valid, the command does not refuse at start.

With --deploy it also lists what Django's check --deploy would: the served
app's settings that are fine for development but not for a public site
(debug on, a weak secret_key, no allowed_hosts, no HTTPS redirect or HSTS,
an insecure session cookie). They are warnings: the exit status stays 0.`,
		Args:      cobra.MatchAll(cobra.MaximumNArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"up", "edge", "appserver"},
		RunE: func(cmd *cobra.Command, args []string) error {
			scope := "up"
			if len(args) == 1 {
				scope = args[0]
			}
			f, err := c.loadFor(scope)
			var ce *config.Error
			if errors.As(err, &ce) {
				fmt.Fprintln(c.stderr, ce.Error())
				return errors.New("configuration is not valid")
			}
			if err != nil {
				return err
			}
			for _, w := range f.Warnings {
				fmt.Fprintln(c.stderr, "warning:", w)
			}
			if f.DevelopmentDebug && scope != "edge" {
				fmt.Fprintln(c.stderr, "warning:", config.DevelopmentDebugWarning)
			}
			if deploy {
				c.deployCheck(f)
			}
			fmt.Fprintf(c.stdout, "%s: configuration is valid\n", f.Source)
			return nil
		},
	}
	cmd.Flags().BoolVar(&deploy, "deploy", false, "also list the served app's settings that are unsafe for production (Django's check --deploy)")
	return cmd
}

func (c *cmdEnv) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			commit := Commit
			if commit == "" {
				if bi, ok := debug.ReadBuildInfo(); ok {
					for _, s := range bi.Settings {
						if s.Key == "vcs.revision" {
							commit = s.Value
						}
					}
				}
			}
			if commit == "" {
				commit = "unknown"
			}
			fmt.Fprintf(c.stdout, "stack %s\ncommit %s\n%s %s/%s\n", Version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}
