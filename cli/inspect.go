package cli

import (
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/spf13/cobra"

	"github.com/stack-web/stack/cli/internal/inspect"
	"github.com/stack-web/stack/framework"
)

// inspectCommands are `stack routes` and `stack collectstatic`
// (cli/internal/inspect), on the configured app built by inspectApp.
func (c *cmdEnv) inspectCommands() []*cobra.Command {
	e := &inspect.Env{Stdout: c.stdout, App: c.inspectApp}
	return []*cobra.Command{inspect.RoutesCommand(e), inspect.CollectstaticCommand(e)}
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
