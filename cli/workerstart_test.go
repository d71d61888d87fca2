package cli

import (
	"context"
	"testing"

	"github.com/stack-web/stack/config"
)

// A worker builds its app before the socket only when the release is
// nothing or the app's own migrate: any other command may change what the
// build reads (a restored database file, data the app caches).
func TestWorkerBuildsBeforeStartOnlyBesideTheAppsOwnMigrate(t *testing.T) {
	c := &cmdEnv{apps: registry{"polls": {Name: "polls", Migrate: func(ctx context.Context, env Env) error { return nil }, NewWaitsForRelease: true}}}
	for _, tc := range []struct {
		release [][]string
		want    bool
	}{
		{nil, true},
		{[][]string{{"stack", "migrate"}}, true},
		{[][]string{{"stack", "migrate"}, {"sh", "-c", "cp backup.sqlite3 polls.sqlite3"}}, false},
		{[][]string{{"sh", "-c", "./load-fixtures"}}, false},
		{[][]string{{"stack", "migrate", "--fake"}}, false},
	} {
		f := &config.File{Release: tc.release}
		f.Appserver.App = "polls"
		if got := c.buildsBeforeStart(f); got != tc.want {
			t.Errorf("release %q: buildsBeforeStart = %v, want %v", tc.release, got, tc.want)
		}
	}
}
