package main

import (
	"context"
	"io"
	"net/http"

	"github.com/stack-web/stack/cli"
	"github.com/stack-web/stack/examples/echo"
	"github.com/stack-web/stack/examples/hello"
	"github.com/stack-web/stack/examples/polls"
	"github.com/stack-web/stack/framework"
)

// builtinApps is the registry of apps that appserver.app can name.
func builtinApps() []cli.App {
	return []cli.App{
		{
			Name:    "hello",
			Summary: `every path answers "Hello, web!"`,
			New:     func(cli.Env) (http.Handler, error) { return hello.New(), nil },
		},
		{
			Name:    "polls",
			Summary: "Django's tutorial app: questions, choices and votes in SQLite",
			Settings: func() any {
				s := polls.DefaultSettings()
				return &s
			},
			Migrate: func(ctx context.Context, env cli.Env) error {
				return polls.Migrate(ctx, *env.Settings.(*framework.Settings), env.RunDir, env.Out)
			},
			NewWaitsForRelease: true,
			New: func(env cli.Env) (http.Handler, error) {
				return polls.NewAfterRelease(*env.Settings.(*framework.Settings), env.RunDir, env.Logger, env.Released)
			},
			Users: func(env cli.Env) (cli.Users, io.Closer, error) {
				return polls.OpenUsers(*env.Settings.(*framework.Settings), env.RunDir, env.Logger)
			},
		},
		{
			Name:    "echo",
			Summary: "answers with the request as JSON; /delay/S, /status/CODE, /stream/N",
			New:     func(cli.Env) (http.Handler, error) { return echo.New(), nil },
		},
	}
}
