package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stack-web/stack/cli/internal/staticfiles"
	"github.com/stack-web/stack/framework"
)

// routeLister is implemented by apps that can list their URL patterns;
// every framework app does.
type routeLister interface {
	Routes() []framework.RouteInfo
}

// staticProvider is implemented by apps that ship static files.
type staticProvider interface {
	StaticFS() fs.FS
}

// inspectApp builds the configured app for a command that only looks at
// it, with a throw-away run directory so that looking creates nothing.
func (c *cmdEnv) inspectApp() (http.Handler, func(), error) {
	f, err := c.loadFor("inspect")
	if err != nil {
		return nil, nil, err
	}
	if s, ok := f.Apps[f.Appserver.App].(*framework.Settings); ok && !s.Debug {
		// Looking serves no request, so it needs no secret_key or
		// allowed_hosts (as Django's collectstatic runs without them):
		// build the app as in debug, where they may be empty. Every other
		// setting is still checked by framework.New.
		s.Debug = true
	}
	tmp, err := os.MkdirTemp("", "stack-inspect-")
	if err != nil {
		return nil, nil, err
	}
	f.RunDir = tmp
	// Looking at the app uses no secret key: its warnings about one (a
	// random key in debug) would only alarm.
	quiet := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	h, err := c.buildAppWith(f, quiet)
	cleanup := func() {
		if cl, ok := h.(io.Closer); ok {
			cl.Close()
		}
		os.RemoveAll(tmp)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, err
	}
	return h, cleanup, nil
}

func (c *cmdEnv) routesCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "routes",
		Short: "List the app's URL patterns with their names and views",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			h, cleanup, err := c.inspectApp()
			if err != nil {
				return err
			}
			defer cleanup()
			rl, ok := h.(routeLister)
			if !ok {
				return fmt.Errorf("the app is a plain http.Handler (%T): it has no URL patterns to list", h)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PATTERN\tNAME\tVIEW\tMETHODS")
			for _, r := range rl.Routes() {
				pattern := r.Pattern
				if r.Mount {
					pattern += "…"
				}
				methods := strings.Join(r.Methods, ",")
				if methods == "" {
					methods = "any"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", pattern, orDash(r.Name), r.View, methods)
			}
			return tw.Flush()
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *cmdEnv) collectstaticCommand() *cobra.Command {
	var precompress bool
	cmd := &cobra.Command{
		Use:   "collectstatic DIR",
		Short: "Copy the app's static files into DIR, for the edge or an image to serve",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(args[0]) == "" {
				return errors.New("collectstatic: DIR is empty; name the directory to copy into, e.g. collectstatic static")
			}
			h, cleanup, err := c.inspectApp()
			if err != nil {
				return err
			}
			defer cleanup()
			sp, ok := h.(staticProvider)
			if !ok || sp.StaticFS() == nil {
				return errors.New("the app has no static files")
			}
			fmt.Fprintf(c.stdout, "Copying the app's static files to %s\n", args[0])
			n, err := staticfiles.Copy(sp.StaticFS(), args[0], c.stdout)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "%d static files copied to %s\n", n, args[0])
			if precompress {
				_, err = staticfiles.Precompress(sp.StaticFS(), args[0], c.stdout)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&precompress, "compress", false, "also write X.gz and X.zst beside each text file X, for the edge to serve precompressed")
	return cmd
}
