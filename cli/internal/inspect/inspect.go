// Package inspect is the commands that look at the app without serving
// it: `stack routes` (its URL patterns) and `stack collectstatic` (its
// static files copied out, for the edge or an image). It stands alone
// because it knows nothing of the tiers: cli hands it the way to build the
// configured app.
package inspect

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
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

// Env is what the commands write to and how they get the app.
type Env struct {
	Stdout io.Writer
	// App builds the configured app for looking at it, and returns the
	// cleanup that closes it and removes what building it made.
	App func() (http.Handler, func(), error)
}

// RoutesCommand is `stack routes`.
func RoutesCommand(c *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "routes",
		Short: "List the app's URL patterns with their names and views",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			h, cleanup, err := c.App()
			if err != nil {
				return err
			}
			defer cleanup()
			rl, ok := h.(routeLister)
			if !ok {
				return fmt.Errorf("the app is a plain http.Handler (%T): it has no URL patterns to list", h)
			}
			tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
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

// CollectstaticCommand is `stack collectstatic DIR`.
func CollectstaticCommand(c *Env) *cobra.Command {
	var precompress bool
	cmd := &cobra.Command{
		Use:   "collectstatic DIR",
		Short: "Copy the app's static files into DIR, for the edge or an image to serve",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(args[0]) == "" {
				return errors.New("collectstatic: DIR is empty; name the directory to copy into, e.g. collectstatic static")
			}
			h, cleanup, err := c.App()
			if err != nil {
				return err
			}
			defer cleanup()
			sp, ok := h.(staticProvider)
			if !ok || sp.StaticFS() == nil {
				return errors.New("the app has no static files")
			}
			fmt.Fprintf(c.Stdout, "Copying the app's static files to %s\n", args[0])
			n, err := staticfiles.Copy(sp.StaticFS(), args[0], c.Stdout)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Stdout, "%d static files copied to %s\n", n, args[0])
			if precompress {
				_, err = staticfiles.Precompress(sp.StaticFS(), args[0], c.Stdout)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&precompress, "compress", false, "also write X.gz and X.zst beside each text file X, for the edge to serve precompressed")
	return cmd
}
