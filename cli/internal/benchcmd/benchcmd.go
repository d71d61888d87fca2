// Package benchcmd is `stack bench protocols`, which measures the ways of
// serving an app on this machine (package bench does the measuring), and
// the two hidden commands its CGI way runs: the front (serve-cgi), and the
// cgi-child it runs once per request. It stands alone because it is a
// measurement harness beside the stack, not part of it: cli hands it the
// way to build an app and the flags a child of this binary takes.
package benchcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-web/stack/bench"
)

// Env is what the commands need of the stack's command line.
type Env struct {
	Stderr io.Writer
	// ChildArgs returns the configuration flags a child of this binary
	// is given, so that it reads the same configuration.
	ChildArgs func() []string
	// App builds the named app from the configuration, for cgi-child.
	App func(name string) (http.Handler, error)
}

// Command is `stack bench protocols`, and the two hidden commands
// its CGI way runs: the front (serve-cgi), which runs this binary's
// cgi-child once per request, as a CGI server runs a program.
func Command(c Env) *cobra.Command {
	root := &cobra.Command{Use: "bench", Short: "Measure the ways of serving an app on this machine"}
	root.AddCommand(protocolsCommand(c), serveCGICommand(c), cgiChildCommand(c))
	return root
}

func protocolsCommand(c Env) *cobra.Command {
	o := bench.Options{}
	var quick bool
	cmd := &cobra.Command{
		Use:   "protocols",
		Short: "Serve one app through CGI, FastCGI, uwsgi, HTTP and one tier, load each, and report rps, latency, CPU, memory and bytes on the wire",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if quick {
				// --quick's durations, unless given too.
				d, w := o.Duration, o.Warmup
				o.Quick()
				if cmd.Flags().Changed("duration") {
					o.Duration = d
				}
				if cmd.Flags().Changed("warmup") {
					o.Warmup = w
				}
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: finding this binary: %w", err)
			}
			o.Binary, o.Progress = exe, c.Stderr
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := bench.Run(ctx, o)
			if rep == nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprint(out, rep.Table())
			fmt.Fprintln(out)
			for _, s := range rep.Conclusions {
				fmt.Fprintf(out, "- %s\n", s)
			}
			for _, s := range rep.Failures {
				fmt.Fprintf(out, "- failed: %s\n", s)
			}
			fmt.Fprintf(out, "\nresults.md, results.json, results.csv, throughput.svg and p99.svg are in %s\n", o.Out)
			if err != nil {
				return err // interrupted: the table above is partial
			}
			if len(rep.Failures) > 0 {
				return errors.New("bench: some ways could not be measured")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.Duration, "duration", 5*time.Second, "measured time per way and concurrency")
	f.DurationVar(&o.Warmup, "warmup", time.Second, "load run and discarded before each measurement")
	f.IntSliceVar(&o.Connections, "connections", []int{1, 8, 64, 256}, "concurrencies (keep-alive connections)")
	f.StringVar(&o.App, "app", "hello", "hello or polls")
	f.StringVar(&o.Out, "out", "bench-results", "directory for the table, JSON, CSV and SVG plots")
	f.BoolVar(&quick, "quick", false, "about one second per cell")
	f.BoolVar(&o.WithPeers, "with-peers", false, "add nginx → uWSGI → Python hello and nginx → FastCGI → stack appserver")
	f.StringSliceVar(&o.Only, "ways", nil, "run only these ways (cgi, fastcgi, uwsgi-p0, uwsgi-p2, http, one-tier, one-tier-slow, three-tier-slow, nginx-uwsgi-python, nginx-fastcgi-stack)")
	return cmd
}

// serveCGICommand is the CGI way's server: net/http in front, the
// app in a new process of this binary for every request (net/http/cgi).
func serveCGICommand(c Env) *cobra.Command {
	var listen, app string
	cmd := &cobra.Command{
		Use:    "serve-cgi",
		Short:  "Internal: the CGI way of `stack bench protocols`",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			argv := append([]string{"bench", "cgi-child", "--app", app}, c.ChildArgs()...)
			srv := &http.Server{Handler: &cgi.Handler{Path: exe, Args: argv, Stderr: c.Stderr}}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(sctx)
			}()
			if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8000", "address")
	cmd.Flags().StringVar(&app, "app", "hello", "app to run per request")
	return cmd
}

// cgiChildCommand serves one CGI request with the app.
func cgiChildCommand(c Env) *cobra.Command {
	var app string
	cmd := &cobra.Command{
		Use:    "cgi-child",
		Short:  "Internal: one CGI request of `stack bench protocols`",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := c.App(app)
			if err != nil {
				return err
			}
			return cgi.Serve(h)
		},
	}
	cmd.Flags().StringVar(&app, "app", "hello", "app to serve")
	return cmd
}
