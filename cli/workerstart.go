package cli

import (
	"errors"
	"slices"
	"sync"

	"github.com/stack-web/stack/appserver/prefork"
	"github.com/stack-web/stack/config"
)

// A worker started before its master had the socket (prespawned, or from
// the binary's init) waits for it (prefork.AwaitStart) while the master
// runs the release. Its app's build (polls: the SQLite database opened,
// the templates parsed and escaped, ~4 ms) used to follow the socket,
// then the first request waited for it. When the release is only the
// app's own Migrate (the default) or nothing, the app may build while it
// waits: the build calls Env.Released before it touches what the release
// changes (polls: a database not yet at its schema version), and the
// worker takes the socket after the build. A build that fails (a broken
// template, a database that cannot be opened) still fails before the
// worker serves anything. Any other release (a script that may replace
// the database or write what the app reads at build) keeps the order:
// the socket, then the build.

// startGate is a worker's wait for its master's socket, taken once: by
// the app's build (Env.Released) or after it.
type startGate struct {
	once    sync.Once
	started bool
	err     error
}

func (g *startGate) wait() (started bool, err error) {
	g.once.Do(func() { g.started, g.err = prefork.AwaitStart() })
	return g.started, g.err
}

// errNoStart is Env.Released's error when the master stopped before it
// handed the socket over: the worker exits 0 without serving.
var errNoStart = errors.New("appserver: the master stopped before this worker started")

// released is Env.Released for a build beside the release.
func (g *startGate) released() error {
	started, err := g.wait()
	if err == nil && !started {
		err = errNoStart
	}
	return err
}

// buildsBeforeStart reports whether a worker of f may build its app before
// it has the socket: the release is nothing, or exactly the default one
// (the app's own Migrate) and the app's New waits for it
// (App.NewWaitsForRelease; an app that does not know Env.Released may
// migrate in New, at the same time as the release).
func (c *cmdEnv) buildsBeforeStart(f *config.File) bool {
	if len(f.Release) == 0 {
		return true
	}
	return c.apps[f.Appserver.App].NewWaitsForRelease && slices.EqualFunc(f.Release, c.defaultRelease(f.Appserver.App), slices.Equal)
}
