// Command stack runs the three-tier web stack (edge → uwsgi → appserver →
// app) with the apps built into it: hello, echo and polls.
package main

import (
	"github.com/stack-web/stack/cli"
	// A SIGHUP from the first packages' initialisation on is held for
	// cli.Main (a reload right after a start), not Go's default exit.
	_ "github.com/stack-web/stack/internal/earlyhup/hold"
	// `stack up` and `stack appserver` start their first worker process
	// from here: its package init runs beside this one's.
	_ "github.com/stack-web/stack/internal/earlyworker/start"
)

func main() {
	cli.Main(builtinApps()...)
}
