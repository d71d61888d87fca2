package cli

import (
	"context"
	"testing"

	"github.com/stack-web/stack/config"
)

// An app with a Migrate whose New does not wait for Env.Released (one
// made by `stack new` before this, whose New runs its own migrate: the
// scaffold's openStore) must not be built beside the default release:
// its worker would migrate the database at the same time as the release's
// `stack migrate` (the worker, not the release, applying and not reporting
// the migrations; two SQLite transactions upgrading to write at once, one
// failing "database is locked", which fails the release or the worker).
// Only an app that says it waits (App.NewWaitsForRelease, as polls) is
// built beside it; with no release at all any app may build first.
func TestWorkerBuildsBesideTheReleaseOnlyAnAppThatWaitsForIt(t *testing.T) {
	migrate := func(ctx context.Context, env Env) error { return nil }
	c := &cmdEnv{apps: registry{
		"notes": {Name: "notes", Migrate: migrate},
		"polls": {Name: "polls", Migrate: migrate, NewWaitsForRelease: true},
	}}
	for _, tc := range []struct {
		app     string
		release [][]string
		want    bool
	}{
		{"notes", [][]string{{"stack", "migrate"}}, false},
		{"notes", nil, true},
		{"polls", [][]string{{"stack", "migrate"}}, true},
	} {
		f := &config.File{Release: tc.release}
		f.Appserver.App = tc.app
		if got := c.buildsBeforeStart(f); got != tc.want {
			t.Errorf("app %s, release %q: buildsBeforeStart = %v, want %v", tc.app, tc.release, got, tc.want)
		}
	}
}
