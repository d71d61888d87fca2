package cli

import (
	"fmt"
	"slices"

	"github.com/stack-web/stack/config"
)

// deployChecker is implemented by app settings that know Django's deploy
// checks (framework.Settings does); cli needs nothing else of them.
type deployChecker interface {
	DeployWarnings() []string
}

// deployCheck prints the served app's deployment warnings, as Django's
// `check --deploy`, or says that there are none.
func (c *cmdEnv) deployCheck(f *config.File) {
	app := f.Appserver.App
	dc, ok := f.Apps[app].(deployChecker)
	if !ok {
		fmt.Fprintf(c.stderr, "deploy: app %q has no deployment checks\n", app)
		return
	}
	ws := dc.DeployWarnings()
	for _, w := range ws {
		if !slices.Contains(f.Warnings, w) { // check printed it already
			fmt.Fprintln(c.stderr, "warning:", w)
		}
	}
	fmt.Fprintf(c.stderr, "deploy: %d issue(s) found for app %q\n", len(ws), app)
}
